/**
 * Prometheus (and VictoriaMetrics, which speaks the same HTTP API) through Grafana's datasource proxy.
 *
 * The panel sends `{ type: 'prometheus', url: 'api/datasources/proxy/3' | '.../api/v1/query_range',
 * params?: { query?, step? } }` and targets like `{ refId: 'A', expr: 'up{job="x"}', interval?: '30s' }`.
 * We ask `/api/v1/query_range` at step-aligned instants, in sub-ranges below Prometheus's
 * 11,000-points-per-series limit, and read the JSON with a scanner that puts `values` straight into
 * typed arrays (no per-point objects or strings).
 *
 * Web APIs only: runs on Node and in workerd.
 */
import type { Series } from '../learn/detectors/types';
import { seriesFromPoints } from '../learn/series';
import { authHeaders, datasourceProxyUrl, fetchWithTimeout } from './grafana';
import { queryTarget, selectSeries, type NamedSeries } from './select-series';
import { DatasourceError, type Datasource, type FetchContext, type FetchedSeries, type MetricSource } from './types';

/** Prometheus refuses a `query_range` whose result would exceed this many points per series. */
export const PROMETHEUS_MAX_POINTS = 11_000;
/** Points per series we ask for in one request (a margin below the limit). */
export const POINTS_PER_REQUEST = 10_000;
/** The step when neither the panel nor the datasource gives one: a week fits in one request. */
export const DEFAULT_STEP_MS = 60_000;
/** Sub-range requests in flight at once. */
const CONCURRENCY = 4;

// ---------------------------------------------------------------------------------------------------
// Fast JSON scanning of `[[x, y], ...]` pair arrays (shared with the Graphite datasource)

/** A `[[x, y], ...]` array read into two columns (null, missing and non-numeric cells are NaN). */
export class PairColumns {
  constructor(
    readonly length: number,
    readonly x: Float64Array,
    readonly y: Float64Array,
  ) {}
}

const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/** A number given as a string, as Prometheus writes sample values: "1.5", "NaN", "+Inf", "-Inf". */
function numberFromString(s: string): number {
  const x = s.trim() === '' ? NaN : Number(s); // Number('') is 0
  if (x === x) return x;
  const l = s.toLowerCase();
  if (l === '+inf' || l === 'inf' || l === '+infinity') return Infinity;
  if (l === '-inf' || l === '-infinity') return -Infinity;
  return NaN;
}

/**
 * `JSON.parse`, except that the value of every key in `pairKeys` that is an array of 2-element arrays
 * of scalars (numbers, numeric strings, null) becomes a `PairColumns`. Throws a SyntaxError on anything
 * that is not JSON; callers fall back to `JSON.parse`, which then decides.
 */
export function parseJsonWithPairs(text: string, pairKeys: readonly string[]): unknown {
  const n = text.length;
  let i = 0;
  const fail = (): never => {
    throw new SyntaxError(`unexpected character at ${i}`);
  };
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 10 || c === 13 || c === 9) i++;
      else return;
    }
  };
  const str = (): string => {
    const start = ++i;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return text.slice(start, i - 1);
      }
      if (c === 92) {
        let j = i;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (d === 92) j += 2;
          else if (d === 34) break;
          else j++;
        }
        if (j >= n) fail();
        const s = JSON.parse(text.slice(start - 1, j + 1)) as string;
        i = j + 1;
        return s;
      }
      if (!(c >= 32)) fail();
      i++;
    }
  };
  const num = (): number => {
    const start = i;
    let c = text.charCodeAt(i);
    if (c === 45) c = text.charCodeAt(++i);
    if (!(c >= 48 && c <= 57)) fail();
    while (c >= 48 && c <= 57) c = text.charCodeAt(++i);
    if (c === 46) {
      c = text.charCodeAt(++i);
      if (!(c >= 48 && c <= 57)) fail();
      while (c >= 48 && c <= 57) c = text.charCodeAt(++i);
    }
    if (c === 101 || c === 69) {
      c = text.charCodeAt(++i);
      if (c === 43 || c === 45) c = text.charCodeAt(++i);
      if (!(c >= 48 && c <= 57)) fail();
      while (c >= 48 && c <= 57) c = text.charCodeAt(++i);
    }
    return Number(text.slice(start, i));
  };
  const literal = (word: string, v: unknown): unknown => {
    if (!text.startsWith(word, i)) fail();
    i += word.length;
    return v;
  };
  const value = (): unknown => {
    ws();
    const c = text.charCodeAt(i);
    if (c === 123) return obj();
    if (c === 91) return arr();
    if (c === 34) return str();
    if (c === 116) return literal('true', true);
    if (c === 102) return literal('false', false);
    if (c === 110) return literal('null', null);
    return num();
  };
  const arr = (): unknown[] => {
    i++;
    const a: unknown[] = [];
    ws();
    if (text.charCodeAt(i) === 93) {
      i++;
      return a;
    }
    for (;;) {
      a.push(value());
      ws();
      const c = text.charCodeAt(i++);
      if (c === 44) continue;
      if (c === 93) return a;
      i--;
      fail();
    }
  };
  /**
   * One scalar cell at `p` (a number, a number in quotes, or null), parsed inline; writes the position
   * after it to `end` and returns the value, or returns undefined (and leaves `end`) when the cell is
   * anything else. Numbers with at most 15 significant digits and no exponent are exact (one division
   * by an exact power of ten is correctly rounded, as JSON.parse); others go through `Number`.
   */
  let end = 0;
  const cell = (p: number): number | undefined => {
    let c = text.charCodeAt(p);
    let quoted = false;
    if (c === 34) {
      quoted = true;
      c = text.charCodeAt(++p);
    } else if (c === 110) {
      if (text.charCodeAt(p + 1) === 117 && text.charCodeAt(p + 2) === 108 && text.charCodeAt(p + 3) === 108) {
        end = p + 4;
        return NaN;
      }
      return undefined;
    }
    const s0 = p;
    let neg = false;
    if (c === 45 || c === 43) {
      neg = c === 45;
      c = text.charCodeAt(++p);
    }
    let mant = 0;
    let digits = 0;
    let frac = 0;
    while (c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
      digits++;
      c = text.charCodeAt(++p);
    }
    if (c === 46) {
      c = text.charCodeAt(++p);
      while (c >= 48 && c <= 57) {
        mant = mant * 10 + (c - 48);
        digits++;
        frac++;
        c = text.charCodeAt(++p);
      }
      if (frac === 0 && !quoted) return undefined;
    }
    let x: number;
    if (!quoted) {
      if (digits === 0 || text.charCodeAt(s0) === 43) return undefined;
      if (c === 101 || c === 69 || digits > 15) {
        i = s0;
        x = num();
        p = i;
      } else {
        x = frac === 0 ? mant : mant / POW10[frac];
        if (neg) x = -x;
      }
      end = p;
      return x;
    }
    if (c === 34 && digits > 0 && digits <= 15) {
      x = frac === 0 ? mant : mant / POW10[frac];
      end = p + 1;
      return neg ? -x : x;
    }
    // "NaN", "+Inf", "1e+06", long mantissas, escapes...
    i = s0 - 1;
    const s = str();
    end = i;
    return numberFromString(s);
  };
  /** `[[x, y], ...]` into columns; null (position unchanged) when a row is anything else. */
  const pairs = (): PairColumns | null => {
    const start = i;
    let p = i + 1;
    let cap = 1024;
    let rows = 0;
    let xs = new Float64Array(cap);
    let ys = new Float64Array(cap);
    let c = text.charCodeAt(p);
    while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++p);
    if (c === 93) {
      i = p + 1;
      return new PairColumns(0, xs.subarray(0, 0), ys.subarray(0, 0));
    }
    for (;;) {
      if (c !== 91) {
        i = start;
        return null;
      }
      p++;
      while ((c = text.charCodeAt(p)) === 32 || c === 10 || c === 13 || c === 9) p++;
      let x: number | undefined;
      {
        // Inline fast path: [-]digits[.digits], quoted or not, at most 15 digits, no exponent.
        let q = p;
        let ch = c;
        const quoted = ch === 34;
        if (quoted) ch = text.charCodeAt(++q);
        const neg = ch === 45;
        if (neg) ch = text.charCodeAt(++q);
        let mant = 0;
        let digits = 0;
        let frac = -1;
        while (ch >= 48 && ch <= 57) {
          mant = mant * 10 + (ch - 48);
          digits++;
          ch = text.charCodeAt(++q);
        }
        if (ch === 46) {
          frac = 0;
          ch = text.charCodeAt(++q);
          while (ch >= 48 && ch <= 57) {
            mant = mant * 10 + (ch - 48);
            digits++;
            frac++;
            ch = text.charCodeAt(++q);
          }
        }
        if (digits > 0 && digits <= 15 && frac !== 0 && (quoted ? ch === 34 : ch !== 101 && ch !== 69)) {
          x = frac <= 0 ? mant : mant / POW10[frac];
          if (neg) x = -x;
          p = quoted ? q + 1 : q;
        } else {
          x = cell(p);
          if (x === undefined) {
            i = start;
            return null;
          }
          p = end;
        }
      }
      while ((c = text.charCodeAt(p)) === 32 || c === 10 || c === 13 || c === 9) p++;
      if (c !== 44) {
        i = start;
        return null;
      }
      p++;
      while ((c = text.charCodeAt(p)) === 32 || c === 10 || c === 13 || c === 9) p++;
      let y: number | undefined;
      {
        // Inline fast path: [-]digits[.digits], quoted or not, at most 15 digits, no exponent.
        let q = p;
        let ch = c;
        const quoted = ch === 34;
        if (quoted) ch = text.charCodeAt(++q);
        const neg = ch === 45;
        if (neg) ch = text.charCodeAt(++q);
        let mant = 0;
        let digits = 0;
        let frac = -1;
        while (ch >= 48 && ch <= 57) {
          mant = mant * 10 + (ch - 48);
          digits++;
          ch = text.charCodeAt(++q);
        }
        if (ch === 46) {
          frac = 0;
          ch = text.charCodeAt(++q);
          while (ch >= 48 && ch <= 57) {
            mant = mant * 10 + (ch - 48);
            digits++;
            frac++;
            ch = text.charCodeAt(++q);
          }
        }
        if (digits > 0 && digits <= 15 && frac !== 0 && (quoted ? ch === 34 : ch !== 101 && ch !== 69)) {
          y = frac <= 0 ? mant : mant / POW10[frac];
          if (neg) y = -y;
          p = quoted ? q + 1 : q;
        } else {
          y = cell(p);
          if (y === undefined) {
            i = start;
            return null;
          }
          p = end;
        }
      }
      while ((c = text.charCodeAt(p)) === 32 || c === 10 || c === 13 || c === 9) p++;
      if (c !== 93) {
        i = start;
        return null;
      }
      if (rows === cap) {
        cap *= 2;
        const gx = new Float64Array(cap);
        gx.set(xs);
        xs = gx;
        const gy = new Float64Array(cap);
        gy.set(ys);
        ys = gy;
      }
      xs[rows] = x;
      ys[rows] = y;
      rows++;
      c = text.charCodeAt(++p);
      while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++p);
      if (c === 44) {
        c = text.charCodeAt(++p);
        while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++p);
        continue;
      }
      if (c === 93) break;
      i = p;
      fail();
    }
    i = p + 1;
    return new PairColumns(rows, xs.subarray(0, rows), ys.subarray(0, rows));
  };
  const obj = (): Record<string, unknown> => {
    i++;
    const o: Record<string, unknown> = {};
    ws();
    if (text.charCodeAt(i) === 125) {
      i++;
      return o;
    }
    for (;;) {
      ws();
      if (text.charCodeAt(i) !== 34) fail();
      const k = str();
      ws();
      if (text.charCodeAt(i) !== 58) fail();
      i++;
      ws();
      const v = text.charCodeAt(i) === 91 && pairKeys.includes(k) ? (pairs() ?? arr()) : value();
      if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
      else o[k] = v;
      ws();
      const c = text.charCodeAt(i++);
      if (c === 44) continue;
      if (c === 125) return o;
      i--;
      fail();
    }
  };
  const out = value();
  ws();
  if (i !== n) fail();
  return out;
}

/** `parseJsonWithPairs(text, ['values'])`, falling back to `JSON.parse` (which decides what is JSON). */
export function parsePrometheusJson(text: string): unknown {
  try {
    return parseJsonWithPairs(text, ['values']);
  } catch {
    return JSON.parse(text);
  }
}

/** The two columns of a pair array as parsed by either parser (rows from JSON.parse are converted). */
export function pairColumns(raw: unknown): PairColumns | null {
  if (raw instanceof PairColumns) return raw;
  if (!Array.isArray(raw)) return null;
  const n = raw.length;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const num = (c: unknown) =>
    typeof c === 'number' ? c : typeof c === 'string' ? numberFromString(c) : NaN;
  for (let k = 0; k < n; k++) {
    const row = raw[k] as unknown;
    if (!Array.isArray(row)) return null;
    x[k] = num(row[0]);
    y[k] = num(row[1]);
  }
  return new PairColumns(n, x, y);
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
    const cols = pairColumns(r?.values ?? []);
    if (!cols) throw new DatasourceError('bad_response', 'Prometheus answered a series whose values are not [time, "value"] pairs');
    const t = new Float64Array(cols.length);
    const v = new Float64Array(cols.length);
    let m = 0;
    for (let k = 0; k < cols.length; k++) {
      const time = Math.round(cols.x[k] * 1000);
      if (!(time >= fromMs && time < toMs)) continue;
      t[m] = time;
      v[m] = cols.y[k];
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
