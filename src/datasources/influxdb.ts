/**
 * InfluxDB 1.x (InfluxQL) through Grafana's datasource proxy.
 *
 * The panel sends the datasource as Grafana used it: `{ type: 'influxdb', url: 'api/datasources/proxy/1/query',
 * params: { db, q, epoch }, method?, data? }`. We rewrite the time clause of `q` to the range we need,
 * force `epoch=ms`, and read the first numeric column of the first series.
 */
import type { Series } from '../learn/detectors/types';
import { seriesFromPoints } from '../learn/series';
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

/**
 * The `values` of an InfluxDB series as parsed by `parseInfluxJson`: one Float64Array per column
 * (`length` rows; null, missing and non-numeric cells are NaN, RFC3339 strings are epoch ms).
 */
export class ValueColumns {
  constructor(
    readonly length: number,
    readonly columns: Float64Array[],
  ) {}
}

const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

function cellFromString(s: string): number {
  const x = Number(s);
  return x === x || s === 'NaN' ? x : Date.parse(s);
}

/**
 * A JSON parser for InfluxDB answers: same result as `JSON.parse`, except that every `"values"` array
 * of arrays of scalars becomes a `ValueColumns` (typed arrays, no per-row objects), which makes
 * reading a million points several times faster and lighter on the GC than JSON.parse. Anything the
 * fast path does not expect falls back to `JSON.parse` (which then decides whether the text is JSON).
 */
export function parseInfluxJson(text: string): unknown {
  try {
    return parseColumnar(text);
  } catch {
    return JSON.parse(text);
  }
}

function parseColumnar(text: string): unknown {
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
      if (!(c >= 32)) fail(); // control character or end of text
      i++;
    }
  };
  const num = (): number => {
    const start = i;
    let neg = false;
    let c = text.charCodeAt(i);
    if (c === 45) {
      neg = true;
      c = text.charCodeAt(++i);
    }
    if (!(c >= 48 && c <= 57)) fail();
    let mant = 0;
    let digits = 0;
    let frac = 0;
    while (c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
      digits++;
      c = text.charCodeAt(++i);
    }
    if (c === 46) {
      c = text.charCodeAt(++i);
      if (!(c >= 48 && c <= 57)) fail();
      while (c >= 48 && c <= 57) {
        mant = mant * 10 + (c - 48);
        digits++;
        frac++;
        c = text.charCodeAt(++i);
      }
    }
    if (c === 101 || c === 69) {
      c = text.charCodeAt(++i);
      if (c === 43 || c === 45) c = text.charCodeAt(++i);
      if (!(c >= 48 && c <= 57)) fail();
      while (c >= 48 && c <= 57) c = text.charCodeAt(++i);
      return Number(text.slice(start, i));
    }
    // Exact: mant < 2^53 and 10^frac is exact, so one division is correctly rounded (as JSON.parse).
    if (digits > 15) return Number(text.slice(start, i));
    const x = frac === 0 ? mant : mant / POW10[frac];
    return neg ? -x : x;
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
   * `[[cell, ...], ...]` straight into columns; null when the rows hold anything but scalars. The hot
   * loop keeps its position in locals (`p`, `c`: no closure may capture them, or V8 moves them to the
   * heap) and parses numbers and nulls inline.
   */
  const columns = (): ValueColumns | null => {
    const start = i;
    let p = i + 1;
    let cap = 1024;
    let rows = 0;
    let cols: Float64Array[] = [];
    let c = 0;
    c = text.charCodeAt(p);
    while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++p);
    if (c === 93) {
      i = p + 1;
      return new ValueColumns(0, []);
    }
    for (;;) {
      while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++p);
      if (c !== 91) {
        i = start;
        return null;
      }
      c = text.charCodeAt(++p);
      if (rows === cap) {
        cap *= 2;
        cols = cols.map((col) => {
          const grown = new Float64Array(cap);
          grown.set(col);
          return grown;
        });
      }
      let k = 0;
      while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++p);
      if (c !== 93) {
        for (;;) {
          while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++p);
          let x: number;
          if ((c >= 48 && c <= 57) || c === 45) {
            // Number, inline (see num()).
            const s0 = p;
            let neg = false;
            if (c === 45) {
              neg = true;
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
              if (frac === 0) fail();
            }
            if (digits === 0) fail();
            if (c === 101 || c === 69 || digits > 15) {
              i = s0;
              x = num();
              p = i;
              c = text.charCodeAt(p);
            } else {
              x = frac === 0 ? mant : mant / POW10[frac];
              if (neg) x = -x;
            }
          } else if (c === 110 && text.charCodeAt(p + 1) === 117 && text.charCodeAt(p + 2) === 108 && text.charCodeAt(p + 3) === 108) {
            x = NaN;
            p += 4;
            c = text.charCodeAt(p);
          } else if (c === 34 || c === 116 || c === 102) {
            i = p;
            const y = value();
            x = typeof y === 'string' ? cellFromString(y) : y ? 1 : 0;
            p = i;
            c = text.charCodeAt(p);
          } else {
            i = start;
            return null;
          }
          if (k === cols.length) {
            const col = new Float64Array(cap);
            col.fill(NaN, 0, rows);
            cols.push(col);
          }
          cols[k++][rows] = x;
          while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++p);
          if (c === 44) {
            c = text.charCodeAt(++p);
            continue;
          }
          if (c === 93) break;
          i = p;
          fail();
        }
      }
      c = text.charCodeAt(++p);
      for (; k < cols.length; k++) cols[k][rows] = NaN;
      rows++;
      while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++p);
      if (c === 44) {
        c = text.charCodeAt(++p);
        continue;
      }
      if (c === 93) break;
      i = p;
      fail();
    }
    i = p + 1;
    return new ValueColumns(rows, cols.map((col) => col.subarray(0, rows)));
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
      const v = k === 'values' && text.charCodeAt(i) === 91 ? (columns() ?? arr()) : value();
      // Like JSON.parse: "__proto__" is an own property, not the prototype.
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
