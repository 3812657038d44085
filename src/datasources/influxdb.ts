/**
 * InfluxDB 1.x (InfluxQL) through Grafana's datasource proxy, or directly (`url: 'http://influx:8086/query'`
 * with its origin in HASTIC_DATASOURCE_ORIGINS).
 *
 * The panel sends the datasource as Grafana used it: `{ type: 'influxdb', url: 'api/datasources/proxy/1/query',
 * params: { db, q, epoch }, method?, data? }`. We rewrite the time clause of `q` to the range we need,
 * force `epoch=ms`, add `LIMIT` so one answer holds at most `INFLUX_PAGE_POINTS` rows per series (and
 * read the rest a page at a time), and take the first value column of the series the panel's target
 * names (`selectSeries`: GROUP BY tags -> `labels`, several statements -> `refId`).
 */
import type { Series } from '../learn/detectors/types';
import { seriesFromPoints } from '../learn/series';
import { parseJsonFast, rowColumns, ValueColumns } from './fast-json';
import { authHeadersFor, datasourceUrl, fetchWithTimeout, isDirectDatasourceUrl } from './grafana';
import { grafanaQuery, isGrafanaQueryUrl } from './grafana-query';
import { influxdbFlux, isFluxSpec } from './influxdb-flux';
import { concatPages } from './paging';
import { selectSeries, seriesName, type NamedSeries } from './select-series';
import { DatasourceError, type Datasource, type FetchContext, type FetchedSeries, type MetricSource } from './types';

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

  const url = datasourceUrl(source);
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeadersFor(source, url, ctx) };
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

/** One series of an InfluxDB answer, as points, with what paging needs to know about the raw rows. */
interface InfluxPoints {
  series: Series;
  /** Rows InfluxDB sent for this series (before dropping those outside the range). */
  rows: number;
  /** The largest time among those rows (-Infinity when none). */
  lastTime: number;
}

function checkAnswer(body: unknown): Array<{ error?: unknown; series?: unknown; statement_id?: unknown; partial?: unknown } | null> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new DatasourceError('bad_response', 'InfluxDB answered JSON that is not an object');
  }
  const b = body as { results?: unknown; error?: unknown };
  if (typeof b.error === 'string' && b.error) throw new DatasourceError('bad_query', `InfluxDB: ${b.error}`);
  if (!Array.isArray(b.results)) {
    throw new DatasourceError('bad_response', 'InfluxDB answered JSON without "results": is this an InfluxDB datasource?');
  }
  const results = b.results as Array<{ error?: unknown; series?: unknown; partial?: unknown } | null>;
  for (const r of results) {
    if (r && typeof r.error === 'string' && r.error) throw new DatasourceError('bad_query', `InfluxDB: ${r.error}`);
    // Statement-level `partial` is InfluxDB's max-row-limit cutting the answer. A series-level
    // `partial` is not: 1.x leaves it on series it merged from internal 10 000-row chunks.
    if (r?.partial === true) {
      throw new DatasourceError(
        'bad_response',
        'InfluxDB answered a partial page (its max-row-limit cut the answer): set max-row-limit = 0 in influxdb.conf, or narrow the query',
      );
    }
  }
  return results;
}

function pointsOf(first: InfluxSeries, fromMs: number, toMs: number): InfluxPoints {
  const empty = { series: { t: new Float64Array(0), v: new Float64Array(0) }, rows: 0, lastTime: -Infinity };
  const columns = Array.isArray(first.columns) ? (first.columns as unknown[]) : [];
  let ti = columns.indexOf('time');
  if (ti < 0) ti = 0;
  const vi = ti === 0 ? 1 : 0;
  const cells = rowColumns(first.values);
  const rows = cells?.length ?? 0;
  if (!cells || rows === 0) return empty;
  if (vi >= Math.max(cells.columns.length, columns.length)) {
    throw new DatasourceError('bad_query', `InfluxDB series "${first.name ?? ''}" has no value column`);
  }

  const t = new Float64Array(rows);
  const v = new Float64Array(rows);
  let m = 0;
  let lastTime = -Infinity;
  const tc = cells.columns[ti];
  const vc = cells.columns[vi];
  for (let i = 0; i < rows; i++) {
    const time = tc[i];
    if (time > lastTime) lastTime = time;
    if (!(time >= fromMs && time < toMs)) continue;
    t[m] = time;
    v[m] = vc === undefined ? NaN : vc[i];
    m++;
  }
  // Sorts and dedupes (last wins) when InfluxDB's order is not strictly increasing; one copy otherwise.
  return { series: seriesFromPoints(t.subarray(0, m), v.subarray(0, m)), rows, lastTime };
}

/**
 * Reads InfluxDB's `{results:[{series:[{name,columns,values}], error}]}` and returns the first series
 * of the first statement that has one (see `parseInfluxSeries` for all of them).
 *
 * - any `error` (top level or per statement) -> DatasourceError 'bad_query' with InfluxDB's message;
 * - a `partial` answer (InfluxDB's max-row-limit cut it) -> 'bad_response';
 * - no series -> an empty series;
 * - the first column that is not `time`; `null` values -> NaN;
 * - points outside `[fromMs, toMs)` (e.g. a GROUP BY time() bucket that starts before `fromMs`) are dropped.
 *
 * Accepts `values` as rows (from JSON.parse) or as `ValueColumns` (from `parseInfluxJson`, the fast
 * path `query` uses); one pass into typed arrays either way.
 */
export function parseInfluxResponse(body: unknown, fromMs = -Infinity, toMs = Infinity): Series {
  let first: InfluxSeries | undefined;
  for (const r of checkAnswer(body)) {
    if (!first && r && Array.isArray(r.series) && r.series.length > 0) first = r.series[0] as InfluxSeries;
  }
  if (!first) return { t: new Float64Array(0), v: new Float64Array(0) };
  return pointsOf(first, fromMs, toMs).series;
}

/** A candidate series of an InfluxDB answer (see `parseInfluxSeries`). */
export interface InfluxCandidate extends NamedSeries, Omit<InfluxPoints, 'series'> {}

/**
 * Every series of an InfluxDB answer, for `selectSeries`: named `measurement{tag="value",...}`,
 * labelled by its GROUP BY tags, and given the `refId` of the panel target its statement came from
 * (Grafana joins the visible targets' queries with `;`, so statement k is visible target k).
 */
export function parseInfluxSeries(body: unknown, targets: readonly unknown[] = [], fromMs = -Infinity, toMs = Infinity): InfluxCandidate[] {
  const visible = targets.filter((t): t is { refId?: unknown } => typeof t === 'object' && t !== null && !(t as { hide?: unknown }).hide);
  const out: InfluxCandidate[] = [];
  checkAnswer(body).forEach((r, k) => {
    if (!r || !Array.isArray(r.series)) return;
    const statement = typeof r.statement_id === 'number' ? r.statement_id : k;
    const refId = visible[statement]?.refId;
    for (const raw of r.series as Array<InfluxSeries & { tags?: Record<string, unknown> }>) {
      const labels: Record<string, string> = {};
      for (const [key, value] of Object.entries(raw.tags ?? {})) labels[key] = String(value ?? '');
      const points = pointsOf(raw, fromMs, toMs);
      out.push({ name: seriesName(raw.name, labels), labels, ...(typeof refId === 'string' ? { refId } : {}), ...points });
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Paging

/** At most this many rows per series in one answer: longer ranges are read a page at a time. */
export const INFLUX_PAGE_POINTS = 100_000;
const MAX_PAGES = 10_000;

/** `q` with quoted strings and identifiers blanked (same length), so keywords can be found safely. */
function masked(q: string): string {
  return q.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, (m) => ' '.repeat(m.length));
}

/**
 * `q` with `LIMIT <limit>` added to every statement (before `SLIMIT`/`SOFFSET`/`tz()` when present),
 * or undefined when a statement already has a `LIMIT`/`OFFSET` or reads newest first (`ORDER BY time
 * DESC`): such a query is sent as written, in one page.
 *
 * @example
 * influxQueryWithLimit('SELECT v FROM m WHERE time >= 0ms fill(none)', 10) // 'SELECT v FROM m WHERE time >= 0ms fill(none) LIMIT 10'
 */
export function influxQueryWithLimit(q: string, limit: number): string | undefined {
  const mask = masked(q);
  if (/\b(?:limit|offset)\b|\border\s+by\s+time\s+desc\b/i.test(mask)) return undefined;
  let out = '';
  let start = 0;
  const ends = [...mask.matchAll(/;/g)].map((m) => m.index!).concat(q.length);
  for (const end of ends) {
    const stmt = q.slice(start, end);
    const smask = mask.slice(start, end);
    if (stmt.trim() === '') {
      out += stmt + (end < q.length ? ';' : '');
      start = end + 1;
      continue;
    }
    const tail = /\s*(?:\b(?:slimit|soffset)\b|\btz\s*\()/i.exec(smask);
    const trailing = /\s*$/.exec(stmt)![0].length;
    const at = tail ? tail.index : stmt.length - trailing;
    out += `${stmt.slice(0, at)} LIMIT ${limit}${stmt.slice(at)}${end < q.length ? ';' : ''}`;
    start = end + 1;
  }
  return out;
}

/**
 * The `influxdb` datasource: `query` returns the points with `fromMs <= t < toMs`, sorted.
 *
 * @example
 * const s = await influxdb.query(source, Date.now() - 3_600_000, Date.now(), { fetch, apiKey, timeoutMs: 10_000 });
 */
export const influxdb: Datasource = influxdbDatasource();

/**
 * An InfluxDB datasource reading at most `pagePoints` rows per series per request (`LIMIT`, then the
 * next page from just after the newest row), and choosing among several series (GROUP BY tags,
 * several statements) with `selectSeries`. Specs for Grafana's api/ds/query or with a Flux query go
 * to those adapters.
 */
export function influxdbDatasource({ pagePoints = INFLUX_PAGE_POINTS }: { pagePoints?: number } = {}): Datasource {
  return {
    async query(source, fromMs, toMs, ctx): Promise<FetchedSeries> {
      // A Grafana 10+ panel's request (api/ds/query) or a Flux query, whatever the type says.
      if (isGrafanaQueryUrl(source.datasource.url)) return grafanaQuery.query(source, fromMs, toMs, ctx);
      if (isFluxSpec(source.datasource)) return influxdbFlux.query(source, fromMs, toMs, ctx);
      if (!(toMs > fromMs)) return { t: new Float64Array(0), v: new Float64Array(0) };
      const label = isDirectDatasourceUrl(source.datasource.url) ? 'InfluxDB' : 'Grafana';
      const parts: Series[] = [];
      let name: string | undefined;
      let from = fromMs;
      for (let page = 0; ; page++) {
        const { url, init, limit } = influxPagedRequest(source, from, toMs, ctx, pagePoints);
        const body = await fetchWithTimeout(url, init, ctx, parseInfluxJson, label);
        const chosen = selectSeries(parseInfluxSeries(body, source.targets, from, toMs), source.targets) as InfluxCandidate | undefined;
        if (!chosen) break;
        name ??= chosen.name;
        parts.push(chosen.series);
        if (limit === undefined || chosen.rows < limit) break;
        // A full page: the rest starts just after its newest row (keyset paging; OFFSET would make
        // InfluxDB skip over all earlier rows again on every page).
        const next = Math.floor(chosen.lastTime) + 1;
        if (!(next > from) || next >= toMs) break;
        if (page + 1 >= MAX_PAGES) {
          throw new DatasourceError('bad_response', `InfluxDB answered more than ${MAX_PAGES} full pages: query a shorter range or a coarser GROUP BY time()`);
        }
        from = next;
      }
      return { ...concatPages(parts), ...(name !== undefined ? { name } : {}) };
    },
  };
}

/** `influxRequest` with `LIMIT INFLUX_PAGE_POINTS` added when the query can be paged (`limit` set then). */
export function influxPagedRequest(
  source: MetricSource,
  fromMs: number,
  toMs: number,
  ctx: FetchContext,
  pagePoints = INFLUX_PAGE_POINTS,
): { url: URL; init: RequestInit; limit?: number } {
  const req = influxRequest(source, fromMs, toMs, ctx);
  const post = req.init.method === 'POST';
  const q = post ? new URLSearchParams(String(req.init.body)).get('q') : req.url.searchParams.get('q');
  const limited = q ? influxQueryWithLimit(q, pagePoints) : undefined;
  if (!limited) return req;
  if (post) req.init.body = new URLSearchParams({ q: limited }).toString();
  else req.url.searchParams.set('q', limited);
  return { ...req, limit: pagePoints };
}
