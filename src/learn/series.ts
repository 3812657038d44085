import type { Series, Span } from './detectors/types';

/**
 * Builds a `Series` from raw points: sorted by time, duplicate timestamps collapsed to the value that
 * came last in the input, non-finite timestamps dropped, `null` and non-finite values turned into NaN.
 * Already-sorted input (the usual case) is copied in one pass without sorting.
 *
 * @example
 * seriesFromPoints([2000, 1000, 2000], [5, null, 7]); // t = [1000, 2000], v = [NaN, 7]
 */
export function seriesFromPoints(t: ArrayLike<number>, v: ArrayLike<number | null>): Series {
  const n = Math.min(t.length, v.length);
  let sorted = true;
  let last = -Infinity;
  for (let i = 0; i < n; i++) {
    const ti = t[i];
    if (!Number.isFinite(ti)) continue;
    if (ti < last) {
      sorted = false;
      break;
    }
    last = ti;
  }

  // `order` lists input indices by time; among equal timestamps the input order is kept, so the last
  // one of a run is the value that came last.
  let order: Uint32Array | null = null;
  let count = 0;
  if (!sorted) {
    const idx = new Uint32Array(n);
    for (let i = 0; i < n; i++) if (Number.isFinite(t[i])) idx[count++] = i;
    order = idx.subarray(0, count).sort((a, b) => t[a] - t[b] || a - b);
  } else {
    for (let i = 0; i < n; i++) if (Number.isFinite(t[i])) count++;
  }

  const outT = new Float64Array(count);
  const outV = new Float64Array(count);
  let m = 0;
  let k = 0;
  for (let i = 0; i < n && k < count; i++) {
    const j = order ? order[k] : i;
    const tj = t[j];
    if (!Number.isFinite(tj)) continue;
    k++;
    const raw = v[j];
    const value = typeof raw === 'number' && Number.isFinite(raw) ? raw : NaN;
    if (m > 0 && outT[m - 1] === tj) {
      outV[m - 1] = value;
    } else {
      outT[m] = tj;
      outV[m] = value;
      m++;
    }
  }
  return m === count ? { t: outT, v: outV } : { t: outT.slice(0, m), v: outV.slice(0, m) };
}

/** An empty series. */
export function emptySeries(): Series {
  return { t: new Float64Array(0), v: new Float64Array(0) };
}

/**
 * Index of the first point at or after `tMs` (binary search); `series.t.length` when there is none.
 *
 * @example
 * indexAtOrAfter(series, Date.parse('2024-01-01'));
 */
export function indexAtOrAfter(series: Series, tMs: number): number {
  return firstIndexAtOrAfter(series.t, tMs);
}

/** `indexAtOrAfter` on the times alone (for scans that hold `t`, not a series). */
export function firstIndexAtOrAfter(t: Float64Array, tMs: number): number {
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid] < tMs) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the last point at or before `tMs` (binary search); -1 when there is none. */
export function indexAtOrBefore(series: Series, tMs: number): number {
  const t = series.t;
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid] <= tMs) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * The closed index range `[from, to]` of the points inside `span`, or `null` when no point is inside.
 *
 * @example
 * spanToIndices(series, { start: 1000, finish: 5000 }); // { from: 1, to: 5 }
 */
export function spanToIndices(series: Series, span: Span): { from: number; to: number } | null {
  if (!(span.start <= span.finish)) return null;
  const from = indexAtOrAfter(series, span.start);
  const to = indexAtOrBefore(series, span.finish);
  return from <= to ? { from, to } : null;
}
