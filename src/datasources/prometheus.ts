/**
 * Prometheus (and VictoriaMetrics, which speaks the same HTTP API) through Grafana's datasource proxy.
 *
 * The panel sends `{ type: 'prometheus', url: 'api/datasources/proxy/3' | '.../api/v1/query_range',
 * params?: { query?, step? } }` and targets like `{ refId: 'A', expr: 'up{job="x"}', interval?: '30s' }`.
 * We ask `/api/v1/query_range` at step-aligned instants, in sub-ranges below Prometheus's
 * 11,000-points-per-series limit, and read the JSON with `parseJsonFast`, which puts `values` straight
 * into typed arrays (no per-point objects or strings).
 *
 * Web APIs only: runs on Node and in workerd.
 */
import type { Series } from '../learn/detectors/types';
import { seriesFromPoints } from '../learn/series';
import { authHeaders, datasourceProxyUrl, fetchWithTimeout } from './grafana';
import { queryTarget, selectSeries, type NamedSeries } from './select-series';
import { parseJsonFast, rowColumns } from './fast-json';
import { DatasourceError, type Datasource, type FetchContext, type FetchedSeries, type MetricSource } from './types';

/** Prometheus refuses a `query_range` whose result would exceed this many points per series. */
export const PROMETHEUS_MAX_POINTS = 11_000;
/** Points per series we ask for in one request (a margin below the limit). */
export const POINTS_PER_REQUEST = 10_000;
/** The step when neither the panel nor the datasource gives one: a week fits in one request. */
export const DEFAULT_STEP_MS = 60_000;
/** Sub-range requests in flight at once. */
const CONCURRENCY = 4;

/** Prometheus's answer as JSON, each series' `values` pairs read straight into typed columns. */
export function parsePrometheusJson(text: string): unknown {
  return parseJsonFast(text, { rowKeys: ['values'] });
}

// ---------------------------------------------------------------------------------------------------
// Request building

/** `{job="x", instance="a"}` as Prometheus prints it: `up{instance="a", job="x"}` (labels sorted). */
export function prometheusSeriesName(metric: Record<string, string>): string {
  const name = metric.__name__ ?? '';
  const labels = Object.keys(metric)
    .filter((k) => k !== '__name__')
    .sort()
    .map((k) => `${k}=${JSON.stringify(metric[k])}`);
  return labels.length || !name ? `${name}{${labels.join(', ')}}` : name;
}

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/**
 * A step or interval in milliseconds from what panels carry: a number of seconds (`30`), a number
 * string (`"30"`), a Prometheus duration (`"1m30s"`), or Grafana's `">10s"` (a lower bound, used as
 * is). Template variables (`$__interval`) and anything else give undefined.
 */
export function durationMs(x: unknown): number | undefined {
  if (typeof x === 'number') return x > 0 && Number.isFinite(x) ? x * 1000 : undefined;
  if (typeof x !== 'string') return undefined;
  const s = x.trim().replace(/^>/, '').trim();
  if (s === '') return undefined;
  if (/^\d+(?:\.\d+)?$/.test(s)) return durationMs(Number(s));
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(DURATION_PART)) {
    if (m.index !== consumed) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]];
    consumed += m[0].length;
  }
  return consumed === s.length && total > 0 ? total : undefined;
}

interface PromTarget {
  refId?: unknown;
  expr?: unknown;
  query?: unknown;
  hide?: unknown;
  interval?: unknown;
  step?: unknown;
  intervalMs?: unknown;
}

/** The first visible panel target that has a query (`expr`), if any. */
function promTarget(source: MetricSource): PromTarget | undefined {
  return queryTarget(source.targets, 'expr') as PromTarget | undefined;
}

/** The PromQL to run: `datasource.params.query` (our additive field) or the panel target's `expr`. */
export function prometheusExpr(source: MetricSource): string {
  const p = source.datasource.params?.query;
  if (typeof p === 'string' && p.trim()) return p.trim();
  const t = promTarget(source);
  const e = typeof t?.expr === 'string' ? t.expr : typeof t?.query === 'string' ? t.query : '';
  if (e.trim()) return e.trim();
  throw new DatasourceError('bad_query', 'the panel target has no PromQL query (targets[].expr is empty)');
}

/**
 * The step: `datasource.params.step`, else the target's `step`, `interval` or `intervalMs`, else
 * `DEFAULT_STEP_MS` (one minute: a week is 10,080 points, one request). Never below 1 ms.
 */
export function prometheusStepMs(source: MetricSource): number {
  const t = promTarget(source);
  const intervalMs = typeof t?.intervalMs === 'number' && t.intervalMs > 0 ? t.intervalMs : undefined;
  const step =
    durationMs(source.datasource.params?.step) ?? durationMs(t?.step) ?? durationMs(t?.interval) ?? intervalMs ?? DEFAULT_STEP_MS;
  return Math.max(1, Math.round(step));
}

/** Grafana's template variables that make sense without a dashboard, for a query at `stepMs`. */
export function expandGrafanaVariables(expr: string, stepMs: number, rangeMs: number): string {
  const s = (ms: number) => `${Math.max(1, Math.round(ms / 1000))}s`;
  return expr
    .replace(/\$\{?__rate_interval\}?/g, s(Math.max(4 * stepMs, 60_000)))
    .replace(/\$\{?__interval_ms\}?/g, String(stepMs))
    .replace(/\$\{?__interval\}?/g, s(stepMs))
    .replace(/\$\{?__range_ms\}?/g, String(Math.round(rangeMs)))
    .replace(/\$\{?__range_s\}?/g, String(Math.round(rangeMs / 1000)))
    .replace(/\$\{?__range\}?/g, s(rangeMs));
}

/**
 * The evaluation instants `start + k * stepMs` (multiples of the step, as Grafana aligns them) with
 * `fromMs <= t < toMs`, split into inclusive `[start, end]` ranges of at most `maxPoints` instants.
 * Consecutive ranges never share an instant, so concatenating their answers has no duplicates.
 *
 * @example
 * prometheusRanges(0, 30_000, 10_000, 2); // [[0, 10000], [20000, 20000]]
 */
export function prometheusRanges(fromMs: number, toMs: number, stepMs: number, maxPoints = POINTS_PER_REQUEST): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (!(toMs > fromMs) || !(stepMs > 0) || maxPoints < 1) return out;
  const first = Math.ceil(fromMs / stepMs);
  const last = Math.ceil(toMs / stepMs) - 1; // the last multiple strictly below toMs
  for (let k = first; k <= last; k += maxPoints) {
    out.push([k * stepMs, Math.min(last, k + maxPoints - 1) * stepMs]);
  }
  return out;
}

const seconds = (ms: number) => String(ms / 1000);

/** The proxy URL ending in `/api/v1/query_range` (the panel may give the datasource root or `/api/v1/query`). */
export function queryRangeUrl(source: MetricSource): URL {
  const url = datasourceProxyUrl(source);
  let path = url.pathname.replace(/\/+$/, '');
  if (/\/api\/v1\/query$/.test(path)) path += '_range';
  else if (!/\/api\/v1\/query_range$/.test(path)) path += '/api/v1/query_range';
  url.pathname = path;
  url.search = '';
  return url;
}

/**
 * The HTTP request for the instants `[startMs, endMs]`: GET with `query`, `start`, `end`, `step` in
 * seconds, or a form POST when `datasource.method` is POST (Grafana's default for Prometheus).
 */
export function prometheusRequest(
  source: MetricSource,
  expr: string,
  startMs: number,
  endMs: number,
  stepMs: number,
  ctx: FetchContext,
): { url: URL; init: RequestInit } {
  const url = queryRangeUrl(source);
  const params = new URLSearchParams({ query: expr, start: seconds(startMs), end: seconds(endMs), step: seconds(stepMs) });
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders(ctx) };
  if ((source.datasource.method ?? 'GET').toUpperCase() === 'POST') {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    return { url, init: { method: 'POST', headers, body: params.toString() } };
  }
  url.search = params.toString();
  return { url, init: { method: 'GET', headers } };
}

// ---------------------------------------------------------------------------------------------------
// Response reading

/**
 * Reads `{status, data: {resultType: 'matrix', result: [{metric, values}]}}` into named series (points
 * outside `[fromMs, toMs)` dropped; NaN and ±Inf samples become NaN; out-of-order or duplicate
 * timestamps are sorted, last wins).
 *
 * - `status: 'error'` -> 'bad_query' with Prometheus's `error`;
 * - `isPartial: true` (VictoriaMetrics cluster with a storage node down) -> 'unreachable' (retried);
 * - anything else that is not a matrix -> 'bad_response'.
 */
export function parsePrometheusResponse(body: unknown, fromMs = -Infinity, toMs = Infinity): NamedSeries[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new DatasourceError('bad_response', 'Prometheus answered JSON that is not an object');
  }
  const b = body as { status?: unknown; error?: unknown; errorType?: unknown; isPartial?: unknown; data?: unknown };
  if (b.status === 'error') {
    const type = typeof b.errorType === 'string' && b.errorType ? ` (${b.errorType})` : '';
    throw new DatasourceError('bad_query', `Prometheus: ${typeof b.error === 'string' && b.error ? b.error : 'query failed'}${type}`);
  }
  if (b.status !== 'success' || typeof b.data !== 'object' || b.data === null) {
    throw new DatasourceError('bad_response', 'the answer is not a Prometheus API response ({"status":"success","data":...}): is this a Prometheus datasource?');
  }
  if (b.isPartial === true) {
    throw new DatasourceError('unreachable', 'VictoriaMetrics answered a partial result (a storage node is unavailable); will retry');
  }
  const data = b.data as { resultType?: unknown; result?: unknown };
  if (data.resultType !== 'matrix' || !Array.isArray(data.result)) {
    throw new DatasourceError('bad_response', `Prometheus answered resultType ${JSON.stringify(data.resultType)}, expected a matrix from query_range`);
  }
  const out: NamedSeries[] = [];
  for (const r of data.result as Array<{ metric?: unknown; values?: unknown }>) {
    const metric: Record<string, string> = {};
    if (r && typeof r.metric === 'object' && r.metric !== null) {
      for (const [k, v] of Object.entries(r.metric)) metric[k] = String(v);
    }
    const cols = rowColumns(r?.values ?? []);
    if (!cols) throw new DatasourceError('bad_response', 'Prometheus answered a series whose values are not [time, "value"] pairs');
    const [times, values] = cols.columns;
    const t = new Float64Array(cols.length);
    const v = new Float64Array(cols.length);
    let m = 0;
    for (let k = 0; k < cols.length; k++) {
      const time = Math.round(times[k] * 1000);
      if (!(time >= fromMs && time < toMs)) continue;
      t[m] = time;
      v[m] = values === undefined ? NaN : values[k];
      m++;
    }
    out.push({ name: prometheusSeriesName(metric), labels: metric, series: seriesFromPoints(t.subarray(0, m), v.subarray(0, m)) });
  }
  return out;
}

/** Runs `tasks` with at most `limit` in flight; results in order; the first failure rejects. */
async function inOrder<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < tasks.length) {
      const k = next++;
      try {
        results[k] = await tasks[k]();
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/** Joins the answers of consecutive sub-ranges series by series (a series may be absent from some). */
function mergeByName(parts: NamedSeries[][]): NamedSeries[] {
  const byName = new Map<string, { first: NamedSeries; pieces: Series[] }>();
  for (const part of parts) {
    for (const s of part) {
      const e = byName.get(s.name);
      if (e) e.pieces.push(s.series);
      else byName.set(s.name, { first: s, pieces: [s.series] });
    }
  }
  return [...byName.values()].map(({ first, pieces }) => {
    if (pieces.length === 1) return first;
    let n = 0;
    for (const p of pieces) n += p.t.length;
    const t = new Float64Array(n);
    const v = new Float64Array(n);
    let o = 0;
    for (const p of pieces) {
      t.set(p.t, o);
      v.set(p.v, o);
      o += p.t.length;
    }
    return { ...first, series: seriesFromPoints(t, v) };
  });
}

/**
 * The `prometheus` datasource (also VictoriaMetrics): the points with `fromMs <= t < toMs` at the
 * panel's step; with several series, the one `selectSeries` picks (its `name` set).
 *
 * @example
 * const s = await prometheus.query(
 *   { panelUrl: 'http://grafana:3000/d/x', datasource: { type: 'prometheus', url: 'api/datasources/proxy/3' },
 *     targets: [{ refId: 'A', expr: 'rate(http_requests_total[5m])', interval: '30s' }] },
 *   Date.now() - 86_400_000, Date.now(), { fetch, apiKey, timeoutMs: 10_000 });
 */
export const prometheus: Datasource = {
  async query(source, fromMs, toMs, ctx): Promise<FetchedSeries> {
    const empty = { t: new Float64Array(0), v: new Float64Array(0) };
    if (!(toMs > fromMs)) return empty;
    const stepMs = prometheusStepMs(source);
    const expr = expandGrafanaVariables(prometheusExpr(source), stepMs, toMs - fromMs);
    const ranges = prometheusRanges(fromMs, toMs, stepMs);
    const parts = await inOrder(
      ranges.map(([start, end]) => async () => {
        const { url, init } = prometheusRequest(source, expr, start, end, stepMs, ctx);
        return parsePrometheusResponse(await fetchWithTimeout(url, init, ctx, parsePrometheusJson), fromMs, toMs);
      }),
      CONCURRENCY,
    );
    const refId = promTarget(source)?.refId;
    const candidates = mergeByName(parts).map((s) => (typeof refId === 'string' ? { ...s, refId } : s));
    const chosen = selectSeries(candidates, source.targets);
    if (!chosen) return empty;
    return { t: chosen.series.t, v: chosen.series.v, name: chosen.name };
  },
};
