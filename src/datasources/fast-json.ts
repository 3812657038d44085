/**
 * Fast JSON parsing for metric answers that carry up to millions of points: the same result as
 * `JSON.parse`, except that the big numeric arrays become typed arrays. Shared by the InfluxDB
 * (row-major `values`) and Grafana data-frame (columnar `data.values`) adapters.
 *
 * Web APIs only: runs on Node and in workerd.
 */

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

/**
 * A number written as text, as metric APIs write cells: "1.5", "-0", "NaN", "+Inf" and "-Inf"
 * (Prometheus's sample values), "Infinity"; an RFC3339 time becomes epoch ms; anything else is NaN.
 */
function numberFromText(s: string): number {
  const x = Number(s);
  if (x === x) return s.trim() === '' ? NaN : x; // Number('') is 0
  const word = s.trim().toLowerCase();
  if (word === '+inf' || word === 'inf') return Infinity;
  if (word === '-inf') return -Infinity;
  return Date.parse(s);
}

/**
 * One JSON cell of a metric answer as a number: numbers as they are, strings read by
 * `numberFromText`, booleans 0/1, null and anything else NaN. The fast parser reads cells this way,
 * and adapters use it on what `JSON.parse` returned when the fast path fell back.
 */
export function cellNumber(x: unknown): number {
  if (typeof x === 'number') return x;
  if (typeof x === 'string') return numberFromText(x);
  if (typeof x === 'boolean') return x ? 1 : 0;
  return NaN;
}

/**
 * Rows (`[[cell, ...], ...]`, as `JSON.parse` returns them) as a `ValueColumns`, cells read by
 * `cellNumber` and short rows padded with NaN; a `ValueColumns` as it is; null for anything else.
 */
export function rowColumns(raw: unknown): ValueColumns | null {
  if (raw instanceof ValueColumns) return raw;
  if (!Array.isArray(raw)) return null;
  let width = 0;
  for (const row of raw) {
    if (!Array.isArray(row)) return null;
    width = Math.max(width, row.length);
  }
  const columns = Array.from({ length: width }, () => new Float64Array(raw.length).fill(NaN));
  raw.forEach((row: unknown[], r) => row.forEach((cell, k) => (columns[k][r] = cellNumber(cell))));
  return new ValueColumns(raw.length, columns);
}

/** The value `simpleNumberEnd` read (a typed array: a double returned from a call would be boxed). */
const simpleValue = new Float64Array(1);

/**
 * Reads the number at `p` when it is simple, `[-]digits[.digits]` with at most 15 digits and no
 * exponent (optionally in double quotes when `quoted` allows it, as Prometheus writes values), into
 * `simpleValue[0]`, and returns the position after it; -1 when it is anything else (the caller takes
 * the slow path). Exact: the mantissa is below 2^53 and 10^frac is exact, so one division is
 * correctly rounded, as JSON.parse. A module function (not a closure) so the hot loops keep their
 * position in registers.
 */
function simpleNumberEnd(text: string, p: number, quoted: boolean): number {
  let c = text.charCodeAt(p);
  const inQuotes = c === 34;
  if (inQuotes) {
    if (!quoted) return -1;
    c = text.charCodeAt(++p);
  }
  const neg = c === 45;
  if (neg) c = text.charCodeAt(++p);
  let mant = 0;
  let digits = 0;
  let frac = -1;
  while (c >= 48 && c <= 57) {
    mant = mant * 10 + (c - 48);
    digits++;
    c = text.charCodeAt(++p);
  }
  if (c === 46) {
    frac = 0;
    c = text.charCodeAt(++p);
    while (c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
      digits++;
      frac++;
      c = text.charCodeAt(++p);
    }
  }
  if (digits === 0 || digits > 15 || frac === 0 || (inQuotes ? c !== 34 : c === 101 || c === 69)) return -1;
  const x = frac <= 0 ? mant : mant / POW10[frac];
  simpleValue[0] = neg ? -x : x;
  return inQuotes ? p + 1 : p;
}

/** What `parseJsonFast` turns into typed arrays. */
export interface FastJsonOptions {
  /**
   * Keys whose value, an array of arrays of scalars (rows), becomes a `ValueColumns` (InfluxDB's
   * `"values"`). Strings in cells are read as numbers, or RFC3339 times in epoch ms; null is NaN.
   */
  rowKeys?: readonly string[];
  /**
   * Every array of numbers and nulls becomes a `Float64Array` (null -> NaN; Grafana data frames'
   * columnar `data.values`). Arrays holding anything else, and empty arrays, stay plain arrays.
   */
  numberArrays?: boolean;
  /**
   * Keys whose value, an array of objects (no arrays inside), becomes an `ObjectColumns`: one
   * Float64Array per leaf path (`"key"`, `"1.value"`; numbers, null -> NaN, booleans -> 0/1; strings
   * are skipped). Elasticsearch's `"buckets"`. An array holding anything else stays a plain array.
   */
  objectRowKeys?: readonly string[];
}

/** An array of objects as columns, one per numeric leaf path (see `FastJsonOptions.objectRowKeys`). */
export class ObjectColumns {
  constructor(
    readonly length: number,
    readonly columns: ReadonlyMap<string, Float64Array>,
  ) {}
  /** The column of a leaf path, or undefined when no object had a number there. */
  get(path: string): Float64Array | undefined {
    return this.columns.get(path);
  }
}

/**
 * A JSON parser for large metric answers: same result as `JSON.parse`, except that the arrays
 * `options` names become typed arrays (no per-row objects), which makes reading a million points
 * several times faster and lighter on the GC than JSON.parse. Anything the fast path does not expect
 * falls back to `JSON.parse` (which then decides whether the text is JSON).
 *
 * @example
 * parseJsonFast('{"values":[[1,2],[3,null]]}', { rowKeys: ['values'] }) // { values: ValueColumns(2 rows) }
 * parseJsonFast('{"v":[1,null,3]}', { numberArrays: true })            // { v: Float64Array [1, NaN, 3] }
 */
export function parseJsonFast(text: string, options: FastJsonOptions = {}): unknown {
  try {
    return parseColumnar(text, new Set(options.rowKeys ?? []), options.numberArrays === true, new Set(options.objectRowKeys ?? []));
  } catch {
    return JSON.parse(text);
  }
}

function parseColumnar(text: string, rowKeys: ReadonlySet<string>, numberArrays: boolean, objectRowKeys: ReadonlySet<string>): unknown {
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
    const end = simpleNumberEnd(text, i, false);
    if (end >= 0) {
      i = end;
      return simpleValue[0];
    }
    // Exponents and long mantissas: check JSON's number grammar, then let Number round.
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
    if (c === 91) return (numberArrays ? numbers() : null) ?? arr();
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
          if (c === 110 && text.charCodeAt(p + 1) === 117 && text.charCodeAt(p + 2) === 108 && text.charCodeAt(p + 3) === 108) {
            x = NaN;
            p += 4;
          } else {
            const end = simpleNumberEnd(text, p, true);
            if (end >= 0) {
              x = simpleValue[0];
              p = end;
            } else if ((c >= 48 && c <= 57) || c === 45 || c === 34 || c === 116 || c === 102) {
              // Exponents, long mantissas, strings (times, "NaN", "+Inf"), booleans: the slow path.
              i = p;
              x = cellNumber(value());
              p = i;
            } else {
              i = start;
              return null;
            }
          }
          c = text.charCodeAt(p);
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
  /** `[number|null, ...]` straight into a Float64Array; null (position unchanged) for anything else. */
  const numbers = (): Float64Array | null => {
    const start = i;
    let p = i + 1;
    let c = text.charCodeAt(p);
    while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++p);
    if (c === 93) return null;
    let cap = 1024;
    let out = new Float64Array(cap);
    let m = 0;
    for (;;) {
      while (c === 32 || c === 10 || c === 13 || c === 9) c = text.charCodeAt(++p);
      let x: number;
      if (c === 110 && text.charCodeAt(p + 1) === 117 && text.charCodeAt(p + 2) === 108 && text.charCodeAt(p + 3) === 108) {
        x = NaN;
        p += 4;
      } else {
        const end = simpleNumberEnd(text, p, false);
        if (end >= 0) {
          x = simpleValue[0];
          p = end;
        } else if ((c >= 48 && c <= 57) || c === 45) {
          i = p;
          x = num();
          p = i;
        } else {
          i = start;
          return null;
        }
      }
      c = text.charCodeAt(p);
      if (m === cap) {
        cap *= 2;
        const grown = new Float64Array(cap);
        grown.set(out);
        out = grown;
      }
      out[m++] = x;
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
    return out.slice(0, m);
  };
  /**
   * `[{...}, {...}]` straight into one column per leaf path; null (position unchanged) when an element
   * is not an object or holds an array. Keys are matched in place against the previous row's keys
   * (same order in every bucket), so a row allocates nothing.
   */
  const objectRows = (): ObjectColumns | null => {
    const start = i;
    i++;
    ws();
    if (text.charCodeAt(i) === 93) {
      i++;
      return new ObjectColumns(0, new Map());
    }
    let cap = 1024;
    let rows = 0;
    const byPath = new Map<string, number>();
    const paths: string[] = [];
    let cols: Float64Array[] = [];
    // Visit-order caches: key text, its prefix and its column, as seen in the previous row.
    const keyAt: string[] = [];
    const prefixAt: string[] = [];
    const pathAt: string[] = [];
    let k = 0;
    let abort = false;
    const column = (path: string): number => {
      let c = byPath.get(path);
      if (c === undefined) {
        c = cols.length;
        byPath.set(path, c);
        paths.push(path);
        cols.push(new Float64Array(cap).fill(NaN));
      }
      return c;
    };
    const object = (prefix: string): void => {
      i++; // {
      ws();
      if (text.charCodeAt(i) === 125) {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text.charCodeAt(i) !== 34) fail();
        const expected = keyAt[k];
        let key: string;
        let path: string;
        if (expected !== undefined && prefixAt[k] === prefix && text.charCodeAt(i + 1 + expected.length) === 34 && text.startsWith(expected, i + 1) && expected.indexOf('\\') < 0) {
          key = expected;
          path = pathAt[k];
          i += expected.length + 2;
        } else {
          key = str();
          path = prefix ? `${prefix}.${key}` : key;
          keyAt[k] = key;
          prefixAt[k] = prefix;
          pathAt[k] = path;
        }
        k++;
        ws();
        if (text.charCodeAt(i) !== 58) fail();
        i++;
        ws();
        const c = text.charCodeAt(i);
        if (c === 123) {
          object(path);
          if (abort) return;
        } else if (c === 91) {
          abort = true;
          return;
        } else if (c === 34) {
          // Strings are not numbers: skip without a substring.
          let j = i + 1;
          for (;;) {
            const d = text.charCodeAt(j);
            if (d === 34) break;
            if (d === 92) j += 2;
            else if (j >= n) fail();
            else j++;
          }
          i = j + 1;
        } else {
          let x: number;
          if (c === 110) x = literal('null', NaN) as number;
          else if (c === 116) x = literal('true', 1) as number;
          else if (c === 102) x = literal('false', 0) as number;
          else x = num();
          cols[column(path)][rows] = x;
        }
        ws();
        const e = text.charCodeAt(i++);
        if (e === 44) continue;
        if (e === 125) return;
        i--;
        fail();
      }
    };
    for (;;) {
      ws();
      if (text.charCodeAt(i) !== 123) {
        i = start;
        return null;
      }
      if (rows === cap) {
        cap *= 2;
        cols = cols.map((col) => {
          const grown = new Float64Array(cap).fill(NaN);
          grown.set(col);
          return grown;
        });
      }
      k = 0;
      object('');
      if (abort) {
        i = start;
        return null;
      }
      rows++;
      ws();
      const c = text.charCodeAt(i++);
      if (c === 44) continue;
      if (c === 93) break;
      i--;
      fail();
    }
    const out = new Map<string, Float64Array>();
    paths.forEach((path, c) => out.set(path, cols[c].subarray(0, rows)));
    return new ObjectColumns(rows, out);
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
      const v =
        text.charCodeAt(i) !== 91
          ? value()
          : rowKeys.has(k)
            ? (columns() ?? arr())
            : objectRowKeys.has(k)
              ? (objectRows() ?? arr())
              : value();
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
