/**
 * Grafana's unified query API (`POST /api/ds/query`, Grafana 8+; what every panel of Grafana 10/11
 * sends, whatever the datasource plugin): one adapter for every datasource Grafana can query.
 *
 * A unit uses it when its `datasource.url` ends in `api/ds/query` (whatever `datasource.type` says, e.g.
 * `prometheus` or `grafana-clickhouse-datasource`), or when `datasource.type` is `grafana`. The
 * queries are the panel's request (`datasource.data.queries`) or else the panel's targets
 * (`targets`), each carrying `datasource: {uid, type}`.
 *
 * Web APIs only: runs on Node and in workerd.
 */
import type { Series } from '../learn/detectors/types';
import { seriesFromPoints } from '../learn/series';
import { cellNumber, parseJsonFast } from './fast-json';
import { asObject, authHeadersFor, datasourceUrl, fetchWithTimeout, isDirectDatasourceUrl } from './grafana';
import { concatPages, pageRanges } from './paging';
import { EMPTY_SERIES, selectSeries, seriesName, unitTarget, type NamedSeries } from './select-series';
import { DatasourceError, type Datasource, type FetchContext, type FetchedSeries, type MetricSource } from './types';

/** True when `datasource.url` is Grafana's unified query endpoint (`api/ds/query`, optional query string). */
export function isGrafanaQueryUrl(url: unknown): boolean {
  return /(?:^|\/)api\/ds\/query\/?(?:[?#].*)?$/i.test(String(url ?? '').trim());
}

/** Points per request at the query's interval: below Prometheus' 11 000 points per series. */
export const GRAFANA_PAGE_POINTS = 10_000;
const DEFAULT_INTERVAL_MS = 60_000;

type Query = Record<string, unknown>;

const isQuery = (q: unknown): q is Query => typeof q === 'object' && q !== null && !Array.isArray(q);

function isExpression(q: Query): boolean {
  const ds = q.datasource as { uid?: unknown; type?: unknown } | undefined;
  return ds?.uid === '__expr__' || ds?.type === '__expr__' || q.datasource === '__expr__';
}

/**
 * The queries the unit sends, as the panel sent them: `datasource.data.queries`, else `targets`.
 * Hidden queries are dropped unless a server-side expression may need them.
 */
export function panelQueries(source: MetricSource): Query[] {
  const data = asObject(source.datasource.data);
  const fromData = Array.isArray(data?.queries) ? (data.queries as unknown[]).filter(isQuery) : [];
  const all = fromData.length ? fromData : source.targets.filter(isQuery);
  if (all.some(isExpression)) return all;
  return all.filter((q) => !q.hide);
}

function intervalOf(q: Query, data: Record<string, unknown> | undefined): number {
  const x = Number(q.intervalMs ?? data?.intervalMs);
  return Number.isFinite(x) && x > 0 ? x : DEFAULT_INTERVAL_MS;
}

/**
 * The body of one `POST /api/ds/query` for `[fromMs, toMs)`: `{from, to, queries}` with `from`/`to`
 * as epoch-ms strings (what Grafana's frontend sends) and every query given its `refId`, a datasource
 * reference `{uid, type}` (its own, else the spec's `datasource.uid`), `intervalMs` and a
 * `maxDataPoints` that covers the range at that interval.
 *
 * @throws DatasourceError 'bad_query' when there is no query, or a query has no datasource reference.
 */
export function grafanaQueryBody(source: MetricSource, fromMs: number, toMs: number): { from: string; to: string; queries: Query[] } {
  const spec = source.datasource as MetricSource['datasource'] & { uid?: unknown };
  const data = asObject(spec.data);
  const queries = panelQueries(source);
  if (!queries.length) {
    throw new DatasourceError('bad_query', 'no query to send to api/ds/query: send the panel targets (or datasource.data.queries)');
  }
  const fallback =
    typeof spec.uid === 'string' && spec.uid
      ? { uid: spec.uid, type: spec.type }
      : isQuery(data?.datasource) && typeof data.datasource.uid === 'string'
        ? data.datasource
        : undefined;
  const used = new Set<string>();
  const out = queries.map((q, k) => {
    let refId = typeof q.refId === 'string' && q.refId ? q.refId : String.fromCharCode(65 + (k % 26)) + (k >= 26 ? String(k) : '');
    while (used.has(refId)) refId += '_';
    used.add(refId);
    const ds = isQuery(q.datasource) && (typeof q.datasource.uid === 'string' || q.datasource.type === '__expr__') ? q.datasource : fallback;
    if (!ds && q.datasourceId === undefined) {
      throw new DatasourceError(
        'bad_query',
        `query ${refId} has no datasource {uid, type}: send the panel's targets as Grafana 10+ stores them`,
      );
    }
    const intervalMs = intervalOf(q, data);
    const maxDataPoints = Math.max(1, Math.min(1_000_000, Math.ceil((toMs - fromMs) / intervalMs)));
    return { ...q, refId, ...(ds ? { datasource: ds } : {}), intervalMs, maxDataPoints };
  });
  return { from: String(Math.floor(fromMs)), to: String(Math.ceil(toMs)), queries: out };
}

/** Parses a Grafana answer; the columnar `data.values` arrays become Float64Arrays. */
export function parseGrafanaJson(text: string): unknown {
  return parseJsonFast(text, { numberArrays: true });
}

interface Field {
  name?: unknown;
  type?: unknown;
  labels?: unknown;
  config?: { displayNameFromDS?: unknown; displayName?: unknown } | null;
}
type Entities = { NaN?: ArrayLike<number>; Inf?: ArrayLike<number>; NegInf?: ArrayLike<number> };
interface Frame {
  schema?: { name?: unknown; refId?: unknown; fields?: Field[] };
  data?: { values?: ArrayLike<unknown>[]; entities?: Array<Entities | null> | null };
}

/** A column as numbers, with Grafana's `entities` (NaN, Inf, NegInf positions, since JSON has none) applied. */
function numericColumn(values: ArrayLike<unknown> | undefined, n: number, entities: Entities | null): Float64Array {
  let col: Float64Array;
  if (values instanceof Float64Array && values.length >= n) col = values;
  else {
    col = new Float64Array(n);
    for (let i = 0; i < n; i++) col[i] = values ? cellNumber(values[i]) : NaN;
  }
  if (entities) {
    if (col === values) col = col.slice();
    for (const [key, x] of [['NaN', NaN], ['Inf', Infinity], ['NegInf', -Infinity]] as const) {
      const at = entities[key];
      if (at && typeof at === 'object' && typeof at.length === 'number') {
        for (let j = 0; j < at.length; j++) if (at[j] >= 0 && at[j] < n) col[at[j]] = x;
      }
    }
  }
  return col;
}

const text = (x: unknown) => (typeof x === 'string' && x ? x : undefined);

function fieldLabels(f: Field): Record<string, string> {
  const out: Record<string, string> = {};
  if (f.labels && typeof f.labels === 'object') for (const [k, v] of Object.entries(f.labels)) out[k] = String(v);
  return out;
}

function nameOf(frame: Frame, f: Field, labels: Record<string, string>): { name: string; labels: Record<string, string> } {
  const { __name__: metricName, ...rest } = labels;
  const display = text(f.config?.displayNameFromDS) ?? text(f.config?.displayName);
  const fieldName = text(f.name);
  const metric = metricName ?? (fieldName && fieldName !== 'Value' ? fieldName : (text(frame.schema?.name) ?? fieldName));
  return { name: display ?? seriesName(metric, rest), labels: rest };
}

function slice(t: Float64Array, v: Float64Array, keep: ((i: number) => boolean) | null, fromMs: number, toMs: number): Series {
  const n = t.length;
  const ot = new Float64Array(n);
  const ov = new Float64Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const time = t[i];
    if (!(time >= fromMs && time < toMs)) continue;
    if (keep && !keep(i)) continue;
    ot[m] = time;
    ov[m] = v[i];
    m++;
  }
  return seriesFromPoints(ot.subarray(0, m), ov.subarray(0, m));
}

/**
 * The series of a `/api/ds/query` answer: `{results: {<refId>: {frames: [{schema: {fields}, data:
 * {values}}], error?}}}`. Every number field of every frame is a candidate (its labels, and a name from
 * `displayNameFromDS` or metric + labels); a "long" frame (string fields beside the numbers, as SQL
 * datasources answer) is split into one candidate per distinct combination of its string fields.
 * Points outside `[fromMs, toMs)` are dropped; each candidate is sorted and deduped (last wins).
 *
 * @throws DatasourceError 'bad_query' for a query error (`results.<refId>.error`), 'bad_response' for
 * an answer that is not data frames.
 */
export function parseGrafanaFrames(body: unknown, fromMs = -Infinity, toMs = Infinity): NamedSeries[] {
  const results = (body as { results?: unknown } | null)?.results;
  if (typeof body !== 'object' || body === null || typeof results !== 'object' || results === null || Array.isArray(results)) {
    throw new DatasourceError('bad_response', 'Grafana answered JSON without "results": is datasource.url api/ds/query?');
  }
  const out: NamedSeries[] = [];
  for (const [refId, r] of Object.entries(results as Record<string, { error?: unknown; frames?: unknown } | null>)) {
    if (r && typeof r.error === 'string' && r.error) throw new DatasourceError('bad_query', `Grafana query ${refId}: ${r.error}`);
    if (!r || !Array.isArray(r.frames)) continue;
    for (const frame of r.frames as Frame[]) {
      const fields = Array.isArray(frame?.schema?.fields) ? frame.schema.fields : [];
      const values = Array.isArray(frame?.data?.values) ? frame.data.values : [];
      const ti = fields.findIndex((f) => f?.type === 'time');
      if (ti < 0) continue;
      const n = values[ti]?.length ?? 0;
      const entities = Array.isArray(frame.data?.entities) ? frame.data.entities : [];
      const t = numericColumn(values[ti], n, entities[ti] ?? null);
      const stringFields = fields.map((f, k) => (f?.type === 'string' ? k : -1)).filter((k) => k >= 0);
      const frameRef = text(frame.schema?.refId) ?? refId;
      fields.forEach((f, k) => {
        if (f?.type !== 'number') return;
        const v = numericColumn(values[k], n, entities[k] ?? null);
        const base = fieldLabels(f);
        if (!stringFields.length || n === 0) {
          out.push({ ...nameOf(frame, f, base), refId: frameRef, series: slice(t, v, null, fromMs, toMs) });
          return;
        }
        // Long frame: one series per combination of the string columns.
        const groups = new Map<string, Record<string, string>>();
        const keyOf = new Array<string>(n);
        for (let i = 0; i < n; i++) {
          const labels: Record<string, string> = {};
          for (const s of stringFields) labels[String(fields[s].name ?? s)] = String(values[s]?.[i] ?? '');
          const key = JSON.stringify(labels);
          keyOf[i] = key;
          if (!groups.has(key)) groups.set(key, labels);
        }
        for (const [key, labels] of groups) {
          const all = { ...base, ...labels };
          const metric = text(f.name) !== 'Value' ? text(f.name) : text(frame.schema?.name);
          out.push({ name: seriesName(metric, all), labels: all, refId: frameRef, series: slice(t, v, (i) => keyOf[i] === key, fromMs, toMs) });
        }
      });
    }
  }
  return out;
}

/**
 * The request for one page: `POST <datasourceUrl>` with a JSON body (see `grafanaQueryBody`).
 */
export function grafanaQueryRequest(source: MetricSource, fromMs: number, toMs: number, ctx: FetchContext): { url: URL; init: RequestInit } {
  const url = datasourceUrl(source);
  const body = grafanaQueryBody(source, fromMs, toMs);
  return {
    url,
    init: {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json', ...authHeadersFor(source, url, ctx) },
      body: JSON.stringify(body),
    },
  };
}

/** The interval of the unit's query (for paging), in ms. */
function unitInterval(source: MetricSource): number {
  const data = asObject(source.datasource.data);
  const queries = panelQueries(source);
  const target = unitTarget(source.targets) ?? queries[0];
  return intervalOf(target ?? {}, data);
}

/** The targets that name the series: the panel's targets, else the queries sent. */
function selectionTargets(source: MetricSource): unknown[] {
  return unitTarget(source.targets) ? source.targets : panelQueries(source);
}

/**
 * The `grafana` datasource (Grafana's `/api/ds/query`). Long ranges are split so that one request asks
 * for at most `GRAFANA_PAGE_POINTS` points per series at the query's `intervalMs`.
 *
 * @example
 * await grafanaQuery.query({ panelUrl: 'http://grafana:3000/d/x', datasource: { type: 'prometheus', url: 'api/ds/query' },
 *   targets: [{ refId: 'A', datasource: { uid: 'prom', type: 'prometheus' }, expr: 'up' }] }, from, to, ctx);
 */
export const grafanaQuery: Datasource = {
  async query(source, fromMs, toMs, ctx): Promise<FetchedSeries> {
    if (!(toMs > fromMs)) return EMPTY_SERIES();
    const label = isDirectDatasourceUrl(source.datasource.url) ? 'datasource' : 'Grafana';
    const parts: Series[] = [];
    let name: string | undefined;
    for (const [from, to] of pageRanges(fromMs, toMs, unitInterval(source) * GRAFANA_PAGE_POINTS)) {
      const { url, init } = grafanaQueryRequest(source, from, to, ctx);
      const body = await fetchWithTimeout(url, init, ctx, parseGrafanaJson, label);
      const chosen = selectSeries(parseGrafanaFrames(body, from, to), selectionTargets(source));
      if (!chosen) continue;
      name ??= chosen.name;
      parts.push(chosen.series);
    }
    return { ...concatPages(parts), ...(name !== undefined ? { name } : {}) };
  },
};
