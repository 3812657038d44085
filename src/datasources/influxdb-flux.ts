/**
 * InfluxDB Flux (InfluxDB 2.x, and 1.8+ with flux enabled): `POST .../api/v2/query` through Grafana's
 * datasource proxy (`api/datasources/proxy/<id>/api/v2/query?org=...`) or directly. The query's time
 * range (`v.timeRangeStart`/`v.timeRangeStop`, or the arguments of `range()`) is rewritten to the range
 * we need, and the annotated CSV answer is parsed in one pass.
 *
 * Web APIs only: runs on Node and in workerd.
 */
import type { Series } from '../learn/detectors/types';
import { seriesFromPoints } from '../learn/series';
import { asObject, authHeadersFor, datasourceUrl, fetchWithTimeout, isDirectDatasourceUrl } from './grafana';
import { EMPTY_SERIES, selectSeries, seriesName, unitTarget, type NamedSeries } from './select-series';
import { DatasourceError, type Datasource, type DatasourceSpec, type FetchContext, type FetchedSeries, type MetricSource } from './types';

const FLUX_PATH = /(?:^|\/)api\/v2\/query\/?(?:[?#].*)?$/i;

/**
 * True when an `influxdb` datasource spec holds a Flux query rather than InfluxQL: its url ends in
 * `api/v2/query`, or it carries `params.query` / `data.query` (Flux) and no `params.q` (InfluxQL).
 */
export function isFluxSpec(spec: DatasourceSpec): boolean {
  if (FLUX_PATH.test(String(spec.url ?? '').trim())) return true;
  const params = spec.params ?? {};
  if (typeof params.q === 'string' && params.q) return false;
  const data = asObject(spec.data);
  return typeof params.query === 'string' || typeof data?.query === 'string';
}

/** The Flux text of a unit: `data.query`, `params.query`, else its target's `query`. */
export function fluxQueryOf(source: MetricSource): string {
  const data = asObject(source.datasource.data);
  const params = source.datasource.params ?? {};
  const target = unitTarget(source.targets);
  const q = [data?.query, params.query, target?.query].find((x): x is string => typeof x === 'string' && x.trim() !== '');
  if (!q) throw new DatasourceError('bad_query', 'the datasource has no Flux query (data.query, params.query or the target\'s query)');
  return q;
}

/** An RFC3339 time literal Flux reads without quotes. */
const fluxTime = (ms: number) => new Date(ms).toISOString();

/** A Flux duration literal for `ms`. */
function fluxDuration(ms: number): string {
  const x = Math.max(1, Math.round(ms));
  return x % 1000 === 0 ? `${x / 1000}s` : `${x}ms`;
}

/** The index just past the `)` matching the `(` at `open`, skipping strings and comments. */
function closingParen(q: string, open: number): number {
  let depth = 0;
  for (let i = open; i < q.length; i++) {
    const c = q[i];
    if (c === '"') {
      for (i++; i < q.length && q[i] !== '"'; i++) if (q[i] === '\\') i++;
    } else if (c === '/' && q[i + 1] === '/') {
      while (i < q.length && q[i] !== '\n') i++;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i + 1;
  }
  return -1;
}

/**
 * Rewrites the time range of a Flux query to `[fromMs, toMs)`: every `range(start: ..., stop: ...)`
 * call (any arguments) becomes `range(start: <from>, stop: <to>)`, and `v.timeRangeStart`,
 * `v.timeRangeStop` and `v.windowPeriod` (Grafana's variables) become literals elsewhere too.
 *
 * @throws DatasourceError 'bad_query' when the query has neither a `range()` nor `v.timeRange*`.
 * @example
 * fluxQueryForRange('from(bucket: "b") |> range(start: -1h)', 0, 60000)
 * // 'from(bucket: "b") |> range(start: 1970-01-01T00:00:00.000Z, stop: 1970-01-01T00:01:00.000Z)'
 */
export function fluxQueryForRange(query: string, fromMs: number, toMs: number, intervalMs = 60_000): string {
  const start = fluxTime(Math.floor(fromMs));
  const stop = fluxTime(Math.ceil(toMs));
  let found = false;
  let out = '';
  let at = 0;
  // Strings and comments blanked (same length), so a "range(" or "v.timeRangeStart" inside one is kept.
  const mask = query.replace(/"(?:[^"\\]|\\.)*"|\/\/[^\n]*/g, (m) => ' '.repeat(m.length));
  const call = /(?<![\w.])range\s*\(/g;
  for (let m = call.exec(mask); m; m = call.exec(mask)) {
    const open = m.index + m[0].length - 1;
    const close = closingParen(query, open);
    if (close < 0) break;
    if (!/\bstart\s*:/.test(mask.slice(open, close))) continue;
    out += `${query.slice(at, m.index)}range(start: ${start}, stop: ${stop})`;
    at = close;
    call.lastIndex = close;
    found = true;
  }
  out += query.slice(at);
  const outMask = out.replace(/"(?:[^"\\]|\\.)*"|\/\/[^\n]*/g, (m) => ' '.repeat(m.length));
  const variable = /\bv\.(timeRangeStart|timeRangeStop|windowPeriod)\b/g;
  let replaced = '';
  let last = 0;
  for (let m = variable.exec(outMask); m; m = variable.exec(outMask)) {
    const value = m[1] === 'timeRangeStart' ? start : m[1] === 'timeRangeStop' ? stop : fluxDuration(intervalMs);
    if (m[1] !== 'windowPeriod') found = true;
    replaced += out.slice(last, m.index) + value;
    last = m.index + m[0].length;
  }
  out = replaced + out.slice(last);
  if (!found) throw new DatasourceError('bad_query', 'the Flux query has no range() to rewrite: add |> range(start: v.timeRangeStart, stop: v.timeRangeStop)');
  return out;
}

/** The interval of the unit's query (for `v.windowPeriod`), in ms. */
function intervalOf(source: MetricSource): number {
  const target = unitTarget(source.targets);
  const data = asObject(source.datasource.data);
  const x = Number(target?.intervalMs ?? data?.intervalMs);
  return Number.isFinite(x) && x > 0 ? x : 60_000;
}

/**
 * The request for one range: `POST <base>/api/v2/query` (appended unless `datasource.url` already
 * ends there; `params.org`/`params.orgID` become query parameters), JSON body `{query, type: 'flux',
 * dialect}` asking for annotated CSV.
 */
export function fluxRequest(source: MetricSource, fromMs: number, toMs: number, ctx: FetchContext): { url: URL; init: RequestInit } {
  const query = fluxQueryForRange(fluxQueryOf(source), fromMs, toMs, intervalOf(source));
  const url = datasourceUrl(source);
  if (!/\/api\/v2\/query\/?$/i.test(url.pathname)) url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/v2/query`;
  const params = source.datasource.params ?? {};
  for (const k of ['org', 'orgID']) if (typeof params[k] === 'string' && params[k]) url.searchParams.set(k, params[k] as string);
  return {
    url,
    init: {
      method: 'POST',
      headers: { Accept: 'application/csv', 'Content-Type': 'application/json', ...authHeadersFor(source, url, ctx) },
      body: JSON.stringify({
        query,
        type: 'flux',
        dialect: { header: true, delimiter: ',', annotations: ['datatype', 'group', 'default'], commentPrefix: '#', dateTimeFormat: 'RFC3339' },
      }),
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Annotated CSV

const DAYS_BEFORE_MONTH = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

function digits(s: string, at: number, count: number): number {
  let x = 0;
  for (let k = 0; k < count; k++) {
    const d = s.charCodeAt(at + k) - 48;
    if (d < 0 || d > 9) return NaN;
    x = x * 10 + d;
  }
  return x;
}

/**
 * Epoch ms of an RFC3339 time `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` in `s[from, to)`, without
 * allocating (Date.parse needs a substring and is several times slower); sub-millisecond digits are
 * truncated. Anything else goes to `Date.parse`.
 */
export function parseRfc3339(s: string, from = 0, to = s.length): number {
  const y = digits(s, from, 4);
  const mo = digits(s, from + 5, 2);
  const d = digits(s, from + 8, 2);
  const h = digits(s, from + 11, 2);
  const mi = digits(s, from + 14, 2);
  const se = digits(s, from + 17, 2);
  const sep = s.charCodeAt(from + 10);
  if (
    !(y >= 0 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && se <= 60) ||
    s.charCodeAt(from + 4) !== 45 || s.charCodeAt(from + 7) !== 45 || (sep !== 84 && sep !== 116 && sep !== 32) ||
    s.charCodeAt(from + 13) !== 58 || s.charCodeAt(from + 16) !== 58
  ) {
    return Date.parse(s.slice(from, to));
  }
  let p = from + 19;
  let ms = 0;
  if (s.charCodeAt(p) === 46) {
    p++;
    let scale = 100;
    for (let c = s.charCodeAt(p); c >= 48 && c <= 57; c = s.charCodeAt(++p)) {
      ms += (c - 48) * scale;
      scale /= 10;
    }
    ms = Math.floor(ms + 1e-9);
  }
  let offset = 0;
  const z = s.charCodeAt(p);
  if (z === 90 || z === 122) p++;
  else if (z === 43 || z === 45) {
    const oh = digits(s, p + 1, 2);
    const om = digits(s, p + 4, 2);
    if (!(oh >= 0 && om >= 0) || s.charCodeAt(p + 3) !== 58) return Date.parse(s.slice(from, to));
    offset = (z === 43 ? 1 : -1) * (oh * 60 + om) * 60_000;
    p += 6;
  } else return Date.parse(s.slice(from, to));
  if (p !== to) return Date.parse(s.slice(from, to));
  // Days from civil (proleptic Gregorian), as in Howard Hinnant's algorithm.
  const leap = mo > 2 && ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0) ? 1 : 0;
  const yy = y - 1;
  const days = 365 * (y - 1970) + (Math.floor(yy / 4) - Math.floor(yy / 100) + Math.floor(yy / 400) - 477) + DAYS_BEFORE_MONTH[mo - 1] + leap + d - 1;
  return ((days * 24 + h) * 60 + mi) * 60_000 + se * 1000 + ms - offset;
}

const NON_LABEL = new Set(['', 'result', 'table', '_start', '_stop', '_time', '_value']);
const NUMERIC = /^(double|long|unsignedLong)$/;

interface Table {
  result: string;
  labels: Record<string, string>;
  column: string;
  t: Float64Array;
  v: Float64Array;
  n: number;
}

/** Doubles a table's capacity (its columns are filled up to `n`). */
function grow(tb: Table): void {
  const t = new Float64Array(tb.n * 2);
  t.set(tb.t);
  tb.t = t;
  const v = new Float64Array(tb.n * 2);
  v.set(tb.v);
  tb.v = v;
}

function cellNumber(text: string, from: number, to: number): number {
  if (to === from) return NaN;
  // Fast path for plain decimals (what Flux writes for double and long).
  let p = from;
  let c = text.charCodeAt(p);
  let neg = false;
  if (c === 45) {
    neg = true;
    c = text.charCodeAt(++p);
  }
  let mant = 0;
  let digitsSeen = 0;
  let frac = 0;
  while (p < to && c >= 48 && c <= 57) {
    mant = mant * 10 + (c - 48);
    digitsSeen++;
    c = text.charCodeAt(++p);
  }
  if (p < to && c === 46) {
    c = text.charCodeAt(++p);
    while (p < to && c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
      digitsSeen++;
      frac++;
      c = text.charCodeAt(++p);
    }
  }
  if (p === to && digitsSeen > 0 && digitsSeen <= 15) {
    const x = frac === 0 ? mant : mant / 10 ** frac;
    return neg ? -x : x;
  }
  const s = text.slice(from, to);
  const x = Number(s);
  if (x === x) return x;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return NaN;
}

/**
 * The cells of one CSV record as offsets into the text (no substring per cell). Unquoted lines are
 * split with `indexOf` (native, fast); a line with a quote goes through the full RFC 4180 reader
 * (`""` escapes, commas and newlines inside quotes).
 */
class CsvCursor {
  p = 0;
  count = 0;
  starts = new Int32Array(64);
  ends = new Int32Array(64);
  quoted = new Uint8Array(64);
  /** Position of the next `"` at or after `p` (n when none), so finding quotes stays linear. */
  private nextQuote = -1;

  constructor(readonly text: string) {}

  private grow(): void {
    const cap = this.starts.length * 2;
    const s = new Int32Array(cap);
    s.set(this.starts);
    this.starts = s;
    const e = new Int32Array(cap);
    e.set(this.ends);
    this.ends = e;
    const q = new Uint8Array(cap);
    q.set(this.quoted);
    this.quoted = q;
  }

  /** Start and end (before `\r\n`) of the current line, and whether it was split only in part. */
  lineStart = 0;
  private lineEnd = 0;
  partial = false;

  /**
   * Reads the next record; false at the end of the text. With `limit`, an unquoted line is split
   * into its first `limit` cells only (`partial`; `full()` splits the rest): the hot loop of a big
   * answer needs a few leading columns, and most of the time goes into finding commas. A last line
   * without a newline is always split in full, so an answer cut short is noticed.
   */
  next(limit = Infinity): boolean {
    const text = this.text;
    const n = text.length;
    const p = this.p;
    if (p >= n) return false;
    let eol = text.indexOf('\n', p);
    if (eol < 0) {
      eol = n;
      limit = Infinity;
    }
    let lineEnd = eol;
    if (lineEnd > p && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    if (this.nextQuote < p) {
      this.nextQuote = text.indexOf('"', p);
      if (this.nextQuote < 0) this.nextQuote = n;
    }
    if (this.nextQuote < lineEnd) {
      this.partial = false;
      return this.nextQuoted();
    }
    this.lineStart = p;
    this.lineEnd = lineEnd;
    this.split(p, limit);
    this.p = eol + 1;
    return true;
  }

  private split(from: number, limit: number): void {
    const text = this.text;
    const lineEnd = this.lineEnd;
    let p = from;
    let count = 0;
    this.partial = false;
    for (;;) {
      if (count === this.starts.length) this.grow();
      let c = text.indexOf(',', p);
      if (c < 0 || c > lineEnd) c = lineEnd;
      this.starts[count] = p;
      this.ends[count] = c;
      this.quoted[count] = 0;
      count++;
      if (c === lineEnd) break;
      if (count === limit) {
        this.partial = true;
        break;
      }
      p = c + 1;
    }
    this.count = count;
  }

  /** Splits the rest of a line read with a `limit`. */
  full(): void {
    if (this.partial) this.split(this.lineStart, Infinity);
  }

  private nextQuoted(): boolean {
    const text = this.text;
    const n = text.length;
    let p = this.p;
    this.lineStart = p;
    let count = 0;
    for (;;) {
      if (count === this.starts.length) this.grow();
      let c = text.charCodeAt(p);
      if (c === 34) {
        const s = ++p;
        for (;;) {
          const e = text.indexOf('"', p);
          if (e < 0) throw new DatasourceError('bad_response', 'InfluxDB answered CSV with an unterminated quoted cell: the answer was cut short');
          if (text.charCodeAt(e + 1) === 34) {
            p = e + 2;
            continue;
          }
          this.starts[count] = s;
          this.ends[count] = e;
          this.quoted[count] = 1;
          p = e + 1;
          break;
        }
        c = text.charCodeAt(p);
      } else {
        const s = p;
        while (p < n && c !== 44 && c !== 10 && c !== 13) c = text.charCodeAt(++p);
        this.starts[count] = s;
        this.ends[count] = p;
        this.quoted[count] = 0;
      }
      count++;
      if (c === 44) {
        p++;
        continue;
      }
      if (c === 13) p++;
      if (text.charCodeAt(p) === 10) p++;
      this.count = count;
      this.p = p;
      this.nextQuote = -1;
      return true;
    }
  }

  cell(k: number): string {
    if (k < 0 || k >= this.count) return '';
    const s = this.text.slice(this.starts[k], this.ends[k]);
    return this.quoted[k] ? s.replace(/""/g, '"') : s;
  }

  /** Whether cell k equals `value` (no substring). */
  cellIs(k: number, value: string): boolean {
    if (k < 0 || k >= this.count) return value === '';
    if (this.quoted[k]) return this.cell(k) === value;
    const len = this.ends[k] - this.starts[k];
    return len === value.length && this.text.startsWith(value, this.starts[k]);
  }

  row(): string[] {
    return Array.from({ length: this.count }, (_, k) => this.cell(k));
  }
}

/**
 * Reads InfluxDB's annotated CSV (`#datatype`, `#group`, `#default` rows, a header, data rows; tables
 * separated by blank lines; quoted cells with `""` escapes and newlines). Every Flux table is a
 * candidate series: its `_value` column (or each numeric column when there is none, e.g. after
 * `pivot()`) against `_time`, labelled by its group key (`_measurement`, `_field`, tags) and named
 * `measurement{_field="...",tag="..."}`; `refId` is the `result` (the `yield` name).
 *
 * @throws DatasourceError 'bad_query' for an error table (`error,reference` columns), 'bad_response'
 * for a row cut short or without `_time`.
 */
export function parseFluxCsv(text: string, fromMs = -Infinity, toMs = Infinity): NamedSeries[] {
  const cur = new CsvCursor(text);
  const tables: Table[] = [];
  let datatypes: string[] = [];
  let groups: string[] = [];
  let defaults: string[] = [];
  let header: string[] | null = null;
  let ti = -1;
  let valueCols: number[] = [];
  let resultCol = -1;
  let tableCol = -1;
  let labelCols: number[] = [];
  let errorCol = -1;
  let current: Table[] = [];
  let currentResult = '';
  let currentTable: string | null = null;

  let needed = Infinity;
  // Rows of one table repeat everything before `_time` (result, table, _start, _stop): while a row
  // starts with that prefix, only its time and value cells are looked at.
  let prefix: string | null = null;
  for (;;) {
    if (prefix !== null && text.startsWith(prefix, cur.p)) {
      const ts = cur.p + prefix.length;
      const te = text.indexOf(',', ts);
      const eol = te < 0 ? -1 : text.indexOf('\n', te);
      if (eol > 0 && text.charCodeAt(ts) !== 34 && text.charCodeAt(te + 1) !== 34) {
        const lineEnd = text.charCodeAt(eol - 1) === 13 ? eol - 1 : eol;
        let ve = text.indexOf(',', te + 1);
        if (ve < 0 || ve > lineEnd) ve = lineEnd;
        if (header && ve - te - 1 >= 0 && (ve < lineEnd || header.length === valueCols[0] + 1)) {
          cur.p = eol + 1;
          const time = parseRfc3339(text, ts, te);
          if (!(time >= fromMs && time < toMs)) continue;
          const tb = current[0];
          if (tb.n === tb.t.length) grow(tb);
          tb.t[tb.n] = time;
          tb.v[tb.n] = cellNumber(text, te + 1, ve);
          tb.n++;
          continue;
        }
      }
    }
    if (!cur.next(needed)) break;
    const { starts, ends, quoted } = cur;
    let count = cur.count;
    if (count === 1 && starts[0] === ends[0]) {
      // Blank line: a new section (annotations and header follow).
      header = null;
      needed = Infinity;
      prefix = null;
      datatypes = [];
      groups = [];
      defaults = [];
      continue;
    }
    if (!quoted[0] && ends[0] > starts[0] && text.charCodeAt(starts[0]) === 35) {
      cur.full();
      const row = cur.row();
      needed = Infinity;
      prefix = null;
      // Annotations without a blank line also start a new section.
      header = null;
      if (row[0] === '#datatype') datatypes = row;
      else if (row[0] === '#group') groups = row;
      else if (row[0] === '#default') defaults = row;
      continue;
    }
    if (!header) {
      header = cur.row();
      ti = header.indexOf('_time');
      resultCol = header.indexOf('result');
      tableCol = header.indexOf('table');
      errorCol = header.indexOf('error');
      const vi = header.indexOf('_value');
      valueCols =
        vi >= 0
          ? [vi]
          : header
              .map((h, k) => (NUMERIC.test(datatypes[k] ?? '') && groups[k] !== 'true' && !NON_LABEL.has(h) ? k : -1))
              .filter((k) => k >= 0);
      labelCols = header.map((h, k) => (groups[k] === 'true' && !NON_LABEL.has(h) ? k : -1)).filter((k) => k >= 0);
      currentTable = null;
      current = [];
      needed = Math.max(ti, resultCol, tableCol, errorCol, ...valueCols) + 1;
      prefix = null;
      if (needed >= header.length) needed = Infinity;
      continue;
    }
    if (errorCol >= 0 && ti < 0) {
      throw new DatasourceError('bad_query', `InfluxDB: ${cur.cell(errorCol) || 'unknown error'}`);
    }
    if (cur.partial ? count < needed : count < header.length) {
      throw new DatasourceError('bad_response', `InfluxDB answered a CSV row with ${count} of ${header.length} cells: the answer was cut short`);
    }
    if (ti < 0) throw new DatasourceError('bad_response', 'InfluxDB answered a table without _time: keep _time in the Flux query (no drop/keep of it)');
    if (!valueCols.length) continue;
    const fieldOr = (k: number) => (k < 0 ? '' : starts[k] === ends[k] ? (defaults[k] ?? '') : cur.cell(k));
    // Same table as the previous row? Compared in place: no substring per row.
    const sameTable =
      currentTable !== null &&
      cur.cellIs(tableCol, currentTable) &&
      (resultCol < 0 || starts[resultCol] === ends[resultCol] ? (defaults[resultCol] ?? '') === currentResult : cur.cellIs(resultCol, currentResult));
    if (!sameTable) {
      cur.full();
      count = cur.count;
      if (count < header.length) {
        throw new DatasourceError('bad_response', `InfluxDB answered a CSV row with ${count} of ${header.length} cells: the answer was cut short`);
      }
      currentTable = tableCol < 0 ? '' : cur.cell(tableCol);
      currentResult = fieldOr(resultCol);
      const labels: Record<string, string> = {};
      for (const k of labelCols) labels[header[k]] = fieldOr(k);
      const result = currentResult;
      current = valueCols.map((vc) => {
        const existing = tables.find((t) => t.result === result && t.column === header![vc] && sameLabels(t.labels, labels));
        if (existing) return existing;
        const table: Table = { result, labels, column: header![vc], t: new Float64Array(1024), v: new Float64Array(1024), n: 0 };
        tables.push(table);
        return table;
      });
      const plainLead = ti > 0 && Array.from({ length: ti }, (_, k) => quoted[k] === 0).every(Boolean);
      prefix =
        plainLead && errorCol < 0 && valueCols.length === 1 && valueCols[0] === ti + 1 && resultCol < ti && tableCol < ti
          ? text.slice(cur.lineStart, starts[ti])
          : null;
    }
    const time = parseRfc3339(text, starts[ti], ends[ti]);
    if (!(time >= fromMs && time < toMs)) continue;
    for (let j = 0; j < valueCols.length; j++) {
      const tb = current[j];
      if (tb.n === tb.t.length) grow(tb);
      const vc = valueCols[j];
      tb.t[tb.n] = time;
      if (quoted[vc]) {
        const x = cur.cell(vc);
        tb.v[tb.n] = cellNumber(x, 0, x.length);
      } else tb.v[tb.n] = cellNumber(text, starts[vc], ends[vc]);
      tb.n++;
    }
  }
  return tables.map((tb) => {
    const { _measurement: measurement, ...rest } = tb.labels;
    const labels = tb.column === '_value' ? tb.labels : { ...tb.labels, _field: tb.column };
    const nameLabels = tb.column === '_value' ? rest : { ...rest, _field: tb.column };
    const series: Series = seriesFromPoints(tb.t.subarray(0, tb.n), tb.v.subarray(0, tb.n));
    return { name: seriesName(measurement, nameLabels), labels, refId: tb.result, series };
  });
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}

/** Keeps CSV as text; JSON (InfluxDB's `{code, message}` errors) is parsed so its message is shown. */
function parseFluxBody(text: string): unknown {
  return /^\s*[{[]/.test(text) ? JSON.parse(text) : text;
}

/**
 * The `flux` datasource (also `influxdb` with a Flux query, see `isFluxSpec`).
 *
 * @example
 * await influxdbFlux.query({ panelUrl: 'http://grafana:3000/d/x', targets: [],
 *   datasource: { type: 'influxdb', url: 'api/datasources/proxy/3/api/v2/query', params: { org: 'acme',
 *     query: 'from(bucket: "m") |> range(start: v.timeRangeStart, stop: v.timeRangeStop) |> filter(fn: (r) => r._field == "v")' } } },
 *   from, to, ctx);
 */
export const influxdbFlux: Datasource = {
  async query(source, fromMs, toMs, ctx): Promise<FetchedSeries> {
    if (!(toMs > fromMs)) return EMPTY_SERIES();
    const { url, init } = fluxRequest(source, fromMs, toMs, ctx);
    const label = isDirectDatasourceUrl(source.datasource.url) ? 'InfluxDB' : 'Grafana';
    const body = await fetchWithTimeout(url, init, ctx, parseFluxBody, label);
    if (typeof body !== 'string') {
      throw new DatasourceError('bad_response', 'InfluxDB answered JSON instead of annotated CSV: is datasource.url the Flux endpoint (api/v2/query)?');
    }
    const chosen = selectSeries(parseFluxCsv(body, fromMs, toMs), source.targets);
    if (!chosen) return EMPTY_SERIES();
    return { ...chosen.series, name: chosen.name };
  },
};
