/**
 * InfluxDB 1.x (InfluxQL) through Grafana's datasource proxy.
 *
 * The panel sends the datasource as Grafana used it: `{ type: 'influxdb', url: 'api/datasources/proxy/1/query',
 * params: { db, q, epoch }, method?, data? }`. We rewrite the time clause of `q` to the range we need,
 * force `epoch=ms`, and read the first numeric column of the first series.
 */
import type { Series } from '../learn/detectors/types';
import { seriesFromPoints } from '../learn/series';
import { parseJsonFast, ValueColumns } from './fast-json';
import { authHeaders, datasourceProxyUrl, fetchWithTimeout } from './grafana';
import { DatasourceError, type Datasource, type FetchContext, type MetricSource } from './types';

// ---------------------------------------------------------------------------------------------------
// Time clause rewriting

const DURATION = String.raw`(?:\d+(?:ns|u|µ|ms|s|m|h|d|w))+`;
/** A time literal Grafana may leave in a query: epoch with unit, now(), an RFC3339 string, $__from. */
const TIME_VALUE =
  String.raw`(?:now\(\s*\)|'[^']*'|\d+(?:\.\d+)?(?:ns|u|µ|ms|s|m|h|d|w)?|\$\{?__(?:from|to)(?::\w+)?\}?(?:ms)?)` +
  String.raw`(?:\s*[-+]\s*${DURATION})*`;
/** `time >= <value>`; not `response_time > 5`, not `time(1m)`. */
const TIME_ATOM = String.raw`(?<![\w."$])(?:"time"|time)\s*(?:>=|<=|>|<|=)\s*${TIME_VALUE}`;
const TIME_CLAUSE = new RegExp(
  String.raw`${TIME_ATOM}(?:\s*\band\b\s*${TIME_ATOM})?|\$timeFilter\b|\$__timeFilter\b`,
  'gi',
);

/** The clause that replaces every time condition of the query: `fromMs <= t < toMs`. */
export function influxTimeClause(fromMs: number, toMs: number): string {
  return `time >= ${Math.floor(fromMs)}ms AND time < ${Math.ceil(toMs)}ms`;
}

/**
 * Rewrites every time condition of an InfluxQL query (a single `time <op> x`, a pair joined by AND in
 * any order, or an unsubstituted `$timeFilter`) to `time >= {fromMs}ms AND time < {toMs}ms`. Subqueries
 * keep working because every occurrence is replaced.
 *
 * @throws DatasourceError 'bad_query' when the query has no time clause.
 * @example
 * influxQueryForRange('SELECT mean("v") FROM "cpu" WHERE time > now() - 6h GROUP BY time(1m)', 0, 60000)
 * // 'SELECT mean("v") FROM "cpu" WHERE time >= 0ms AND time < 60000ms GROUP BY time(1m)'
 */
export function influxQueryForRange(q: string, fromMs: number, toMs: number): string {
  let found = false;
  const clause = influxTimeClause(fromMs, toMs);
  const out = q.replace(TIME_CLAUSE, () => {
    found = true;
    return clause;
  });
  if (!found) {
    throw new DatasourceError('bad_query', 'the query has no time clause to rewrite: add WHERE $timeFilter');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Request building

function stringParams(params: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v === undefined || v === null) continue;
    out[k] = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  return out;
}

/** Form fields of `datasource.data` (Grafana's POST mode sends `q=...` as a form string). */
function dataParams(data: unknown): Record<string, string> {
  if (typeof data === 'string') return Object.fromEntries(new URLSearchParams(data));
  if (data && typeof data === 'object' && !Array.isArray(data)) return stringParams(data as Record<string, unknown>);
  return {};
}

/**
 * The HTTP request for one range: GET with everything in the query string, or POST (when
 * `datasource.method` is POST, Grafana's "httpMode: POST") with `q` in a form body and the rest
 * (`db`, `rp`, `epoch`) in the query string. `epoch=ms` is always forced.
 */
export function influxRequest(
  source: MetricSource,
  fromMs: number,
  toMs: number,
  ctx: FetchContext,
): { url: URL; init: RequestInit } {
  const ds = source.datasource;
  const params = { ...dataParams(ds.data), ...stringParams(ds.params) };
  const q = params.q;
  if (typeof q !== 'string' || q.trim() === '') {
    throw new DatasourceError('bad_query', 'the datasource has no InfluxQL query (params.q is empty)');
  }
  params.q = influxQueryForRange(q, fromMs, toMs);
  params.epoch = 'ms';

  const url = datasourceProxyUrl(source);
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders(ctx) };
  const post = (ds.method ?? 'GET').toUpperCase() === 'POST';
  for (const [k, v] of Object.entries(params)) {
    if (post && k === 'q') continue;
    url.searchParams.set(k, v);
  }
  if (!post) return { url, init: { method: 'GET', headers } };
  headers['Content-Type'] = 'application/x-www-form-urlencoded';
  return { url, init: { method: 'POST', headers, body: new URLSearchParams({ q: params.q }).toString() } };
}

// ---------------------------------------------------------------------------------------------------
// Response parsing

export { ValueColumns } from './fast-json';

/**
 * Parses an InfluxDB answer: `JSON.parse`'s result, except that every `"values"` array of rows
 * becomes a `ValueColumns` (typed arrays; see `parseJsonFast`).
 */
export function parseInfluxJson(text: string): unknown {
  return parseJsonFast(text, INFLUX_JSON);
}

const INFLUX_JSON = { rowKeys: ['values'] } as const;

interface InfluxSeries {
  name?: string;
  columns?: unknown;
  values?: unknown[][] | ValueColumns;
}

function toNumber(x: unknown): number {
  if (typeof x === 'number') return x;
  if (x === null || x === undefined) return NaN;
  if (typeof x === 'boolean') return x ? 1 : 0;
  return Number(x);
}

function toTime(x: unknown): number {
  if (typeof x === 'number') return x;
  if (typeof x === 'string') return Date.parse(x); // epoch not applied (RFC3339)
  return NaN;
}

/**
 * Reads InfluxDB's `{results:[{series:[{name,columns,values}], error}]}`.
 *
 * - any `error` (top level or per statement) -> DatasourceError 'bad_query' with InfluxDB's message;
 * - no series -> an empty series;
 * - otherwise the first series of the first statement that has one, and its first column that is not
 *   `time` (issue 4 will let a unit choose the series / column); `null` values -> NaN;
 * - points outside `[fromMs, toMs)` (e.g. a GROUP BY time() bucket that starts before `fromMs`) are dropped.
 *
 * Accepts `values` as rows (from JSON.parse) or as `ValueColumns` (from `parseInfluxJson`, the fast
 * path `query` uses); one pass into typed arrays either way.
 */
export function parseInfluxResponse(body: unknown, fromMs = -Infinity, toMs = Infinity): Series {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new DatasourceError('bad_response', 'InfluxDB answered JSON that is not an object');
  }
  const b = body as { results?: unknown; error?: unknown };
  if (typeof b.error === 'string' && b.error) throw new DatasourceError('bad_query', `InfluxDB: ${b.error}`);
  if (!Array.isArray(b.results)) {
    throw new DatasourceError('bad_response', 'InfluxDB answered JSON without "results": is this an InfluxDB datasource?');
  }
  let first: InfluxSeries | undefined;
  for (const r of b.results as Array<{ error?: unknown; series?: unknown } | null>) {
    if (r && typeof r.error === 'string' && r.error) throw new DatasourceError('bad_query', `InfluxDB: ${r.error}`);
    if (!first && r && Array.isArray(r.series) && r.series.length > 0) first = r.series[0] as InfluxSeries;
  }
  if (!first) return { t: new Float64Array(0), v: new Float64Array(0) };

  const columns = Array.isArray(first.columns) ? (first.columns as unknown[]) : [];
  let ti = columns.indexOf('time');
  if (ti < 0) ti = 0;
  let vi = ti === 0 ? 1 : 0;
  const width = first.values instanceof ValueColumns ? first.values.columns.length : columns.length;
  const rows = first.values instanceof ValueColumns ? first.values.length : Array.isArray(first.values) ? first.values.length : 0;
  if (rows === 0) return { t: new Float64Array(0), v: new Float64Array(0) };
  if (vi >= Math.max(width, columns.length)) {
    throw new DatasourceError('bad_query', `InfluxDB series "${first.name ?? ''}" has no value column`);
  }

  const t = new Float64Array(rows);
  const v = new Float64Array(rows);
  let m = 0;
  if (first.values instanceof ValueColumns) {
    const tc = first.values.columns[ti];
    const vc = first.values.columns[vi];
    for (let i = 0; i < rows; i++) {
      const time = tc[i];
      if (!(time >= fromMs && time < toMs)) continue;
      t[m] = time;
      v[m] = vc === undefined ? NaN : vc[i];
      m++;
    }
  } else {
    const values = first.values as unknown[][];
    for (let i = 0; i < rows; i++) {
      const row = values[i];
      const time = toTime(row[ti]);
      if (!(time >= fromMs && time < toMs)) continue;
      t[m] = time;
      const x = row[vi];
      v[m] = typeof x === 'number' ? x : toNumber(x);
      m++;
    }
  }
  // Sorts and dedupes (last wins) when InfluxDB's order is not strictly increasing; one copy otherwise.
  return seriesFromPoints(t.subarray(0, m), v.subarray(0, m));
}

/**
 * The `influxdb` datasource: `query` returns the points with `fromMs <= t < toMs`, sorted.
 *
 * @example
 * const s = await influxdb.query(source, Date.now() - 3_600_000, Date.now(), { fetch, apiKey, timeoutMs: 10_000 });
 */
export const influxdb: Datasource = {
  async query(source, fromMs, toMs, ctx) {
    if (!(toMs > fromMs)) return { t: new Float64Array(0), v: new Float64Array(0) };
    const { url, init } = influxRequest(source, fromMs, toMs, ctx);
    const body = await fetchWithTimeout(url, init, ctx, parseInfluxJson);
    return parseInfluxResponse(body, fromMs, toMs);
  },
};
