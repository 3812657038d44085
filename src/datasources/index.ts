/**
 * Datasource registry and the two ways the learn runner reads data: the whole history (backwards, a
 * chunk at a time) and one range for a detection tick.
 */
import type { Series } from '../learn/detectors/types';
import { elasticsearch } from './elasticsearch';
import { grafanaQuery, isGrafanaQueryUrl } from './grafana-query';
import { graphite } from './graphite';
import { influxdb } from './influxdb';
import { influxdbFlux, isFluxSpec } from './influxdb-flux';
import { prometheus } from './prometheus';
import {
  DatasourceError,
  type Datasource,
  type DatasourceSpec,
  type FetchContext,
  type FetchedSeries,
  type MetricSource,
} from './types';
import { concatPages } from './paging';

export { DatasourceError } from './types';
export type { Datasource, DatasourceErrorKind, DatasourceSpec, FetchContext, MetricSource } from './types';
export { ForbiddenOriginError, assertAllowedOrigin, assertAllowedTarget, datasourceUrl, grafanaOrigin } from './grafana';
export { influxdb } from './influxdb';
export { grafanaQuery, isGrafanaQueryUrl } from './grafana-query';
export { elasticsearch } from './elasticsearch';
export { influxdbFlux, isFluxSpec } from './influxdb-flux';
export { prometheus } from './prometheus';
export { graphite } from './graphite';

const DATASOURCES: Record<string, Datasource> = {
  influxdb,
  prometheus,
  // VictoriaMetrics speaks Prometheus's query API; the ids of its Grafana plugins are accepted too.
  victoriametrics: prometheus,
  'victoriametrics-datasource': prometheus,
  'victoriametrics-metrics-datasource': prometheus,
  graphite,
  // Grafana's unified query API (also chosen by a datasource.url ending in api/ds/query, any type).
  grafana: grafanaQuery,
  elasticsearch,
  flux: influxdbFlux,
  'influxdb-flux': influxdbFlux,
};

/** Datasource types `getDatasource` knows, in the order they are listed to users. */
export const SUPPORTED_DATASOURCES = Object.keys(DATASOURCES);

/**
 * The datasource for a unit: give it the whole `datasource` spec when you have it, since the URL
 * decides before the type does —
 *
 * - `datasource.url` ending in `api/ds/query`: Grafana's unified query API (`grafana`), whatever the
 *   type (a Grafana 10/11 panel's request, for any datasource plugin);
 * - `type: 'influxdb'` with a Flux query (`params.query`/`data.query`/`dialect`, or a url ending in
 *   `api/v2/query`): InfluxDB Flux;
 * - otherwise by `type` (case-insensitive).
 *
 * @throws DatasourceError 'unsupported' for any other type.
 * @example
 * const series = await getDatasource(source.datasource).query(source, from, to, ctx);
 */
export function getDatasource(spec: string | DatasourceSpec): Datasource {
  if (typeof spec === 'object' && spec !== null) {
    if (isGrafanaQueryUrl(spec.url)) return grafanaQuery;
    if (String(spec.type).toLowerCase() === 'influxdb' && isFluxSpec(spec)) return influxdbFlux;
  }
  const type = typeof spec === 'object' && spec !== null ? spec.type : spec;
  const key = String(type).toLowerCase();
  if (Object.hasOwn(DATASOURCES, key)) return DATASOURCES[key];
  throw new DatasourceError(
    'unsupported',
    `datasource type ${type} is not supported yet (supported: ${SUPPORTED_DATASOURCES.join(', ')})`,
  );
}

export const WEEK_MS = 7 * 24 * 3600 * 1000;

export interface LoadHistoryOptions {
  /** The end of the history (exclusive), usually the wall clock when learning starts. */
  nowMs: number;
  /** How far back to go at most (`HASTIC_MAX_HISTORY` days in ms). */
  maxHistoryMs: number;
  /** Size of one request; default one week, as the original server did. */
  chunkMs?: number;
}

/** Joins sorted, successive series into one (the same join paged adapters use). */
export const concatSeries = concatPages;

/**
 * Loads the history of a metric backwards from `nowMs`, one `chunkMs` (a week) per request, until a
 * chunk comes back empty or `maxHistoryMs` is covered, and returns it as one sorted series in
 * `[nowMs - maxHistoryMs, nowMs)`. Like the original server, the first empty chunk ends the walk, so
 * a metric with a gap longer than a chunk is only loaded back to the gap.
 *
 * Errors of `ds.query` propagate unchanged (typed `DatasourceError`s).
 *
 * @example
 * const history = await loadHistory(source, getDatasource('influxdb'), ctx, {
 *   nowMs: Date.now(), maxHistoryMs: 90 * 24 * 3600 * 1000 });
 */
export async function loadHistory(
  source: MetricSource,
  ds: Datasource,
  ctx: FetchContext,
  { nowMs, maxHistoryMs, chunkMs = WEEK_MS }: LoadHistoryOptions,
): Promise<FetchedSeries> {
  if (!(chunkMs > 0)) throw new RangeError(`chunkMs must be positive, got ${chunkMs}`);
  const oldest = nowMs - Math.max(0, maxHistoryMs);
  const chunks: Series[] = [];
  let to = nowMs;
  while (to > oldest) {
    const from = Math.max(oldest, to - chunkMs);
    const chunk = await ds.query(source, from, to, ctx);
    if (chunk.t.length === 0) break;
    chunks.push(chunk);
    to = from;
  }
  if (chunks.length === 0) return { t: new Float64Array(0), v: new Float64Array(0) };
  const name = (chunks[0] as FetchedSeries).name; // the newest chunk's choice of series
  return { ...concatSeries(chunks.reverse()), name };
}
