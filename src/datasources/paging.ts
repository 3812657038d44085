/**
 * Splitting a long range into pages so that no single datasource answer grows without bound, and
 * joining the pages back. Shared by the adapters (index.ts's `loadHistory` walks weeks; these split
 * one request further when a week at the query's interval is still too many points).
 */
import type { Series } from '../learn/detectors/types';
import { seriesFromPoints } from '../learn/series';

/**
 * `[from, to)` cut into consecutive ranges of at most `pageMs` (the whole range when `pageMs` is not
 * a positive finite number).
 *
 * @example
 * pageRanges(0, 25, 10) // [[0, 10], [10, 20], [20, 25]]
 */
export function pageRanges(fromMs: number, toMs: number, pageMs: number): Array<[number, number]> {
  if (!(toMs > fromMs)) return [];
  if (!(pageMs > 0) || !Number.isFinite(pageMs)) return [[fromMs, toMs]];
  const out: Array<[number, number]> = [];
  for (let from = fromMs; from < toMs; from += pageMs) out.push([from, Math.min(toMs, from + pageMs)]);
  return out;
}

/** Pages (each sorted) joined into one sorted series; overlaps are sorted and deduped (last wins). */
export function concatPages(parts: Series[]): Series {
  if (parts.length === 0) return { t: new Float64Array(0), v: new Float64Array(0) };
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.t.length;
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  let o = 0;
  for (const p of parts) {
    t.set(p.t, o);
    v.set(p.v, o);
    o += p.t.length;
  }
  return seriesFromPoints(t, v);
}
