import type { IndexRange } from './label-ranges';
import type { Detection, Series, Span } from './types';

/**
 * Candidate segments collected during a scan, as index ranges into a (possibly offset) window of the
 * series. Candidates are few (one per shape found), so plain arrays are fine here.
 */
export class Candidates {
  readonly from: number[] = [];
  readonly to: number[] = [];
  readonly confidence: number[] = [];

  add(from: number, to: number, confidence: number): void {
    this.from.push(from);
    this.to.push(to);
    this.confidence.push(confidence);
  }
}

/**
 * Maps a score at or above its threshold to a confidence in [0.5, 1): 0.5 at the threshold, rising
 * with the margin. NaN or negative input gives 0.
 *
 * @example
 * confidenceFromMargin(2); // score twice the threshold -> ~0.82
 */
export function confidenceFromMargin(scoreOverThreshold: number): number {
  if (!(scoreOverThreshold > 0)) return 0;
  const c = 1 - 0.5 * Math.exp(-(scoreOverThreshold - 1));
  return c < 0 ? 0 : c > 1 ? 1 : c;
}

function overlapsAny(sorted: readonly Span[], start: number, finish: number): boolean {
  // First span whose finish >= start; it overlaps when its start <= finish.
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid].finish < start) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo].start <= finish;
}

/**
 * Turns candidates into the detector output: clamps them into the data, drops the ones overlapping an
 * excluded span (labeled positives and removed detections, sorted and merged), keeps the most confident
 * of each group of overlapping candidates, and reports only segments ending at or after `fromIndex`.
 * `offset` is the series index of candidate index 0.
 */
export function finalizeDetections(
  series: Series,
  offset: number,
  c: Candidates,
  fromIndex: number,
  excluded: readonly Span[],
): Detection[] {
  const n = series.t.length;
  const t = series.t;
  const k = c.from.length;
  const order: number[] = [];
  for (let j = 0; j < k; j++) {
    let a = c.from[j] + offset;
    let b = c.to[j] + offset;
    if (a < 0) a = 0;
    if (b > n - 1) b = n - 1;
    if (a > b) continue;
    c.from[j] = a;
    c.to[j] = b;
    if (excluded.length > 0 && overlapsAny(excluded, t[a], t[b])) continue;
    order.push(j);
  }
  order.sort((x, y) => c.from[x] - c.from[y] || c.to[x] - c.to[y]);

  const accepted: number[] = [];
  let group: number[] = [];
  let groupEnd = -1;
  const flush = () => {
    if (group.length === 1) accepted.push(group[0]);
    else if (group.length > 1) {
      // Greedy non-maximum suppression inside a chain of overlapping candidates.
      group.sort((x, y) => c.confidence[y] - c.confidence[x] || c.from[x] - c.from[y]);
      const kept: number[] = [];
      for (const j of group) {
        if (kept.every((q) => c.to[q] < c.from[j] || c.to[j] < c.from[q])) kept.push(j);
      }
      accepted.push(...kept);
    }
    group = [];
  };
  for (const j of order) {
    if (c.from[j] > groupEnd) {
      flush();
      groupEnd = c.to[j];
    } else if (c.to[j] > groupEnd) groupEnd = c.to[j];
    group.push(j);
  }
  flush();
  accepted.sort((x, y) => c.from[x] - c.from[y]);

  const out: Detection[] = [];
  for (const j of accepted) {
    if (c.to[j] < fromIndex) continue;
    let conf = c.confidence[j];
    if (!(conf >= 0)) conf = 0;
    if (conf > 1) conf = 1;
    out.push({ start: t[c.from[j]], finish: t[c.to[j]], confidence: conf });
  }
  return out;
}

/**
 * The threshold after a person removed a detection that scored `negative`: raised just past it (a
 * quarter of the way to `ceiling`, or 25% above it for unbounded ratio scores) but never beyond halfway
 * to the weakest labeled positive, so siblings of the positives are still found. Returns `current`
 * when the negative scores at or above the weakest positive (only the overlap filter can help then).
 *
 * @example
 * thresholdPastNegative(3, 4, 8); // 5
 */
export function thresholdPastNegative(
  current: number,
  negative: number,
  weakestPositive: number,
  ceiling = Infinity,
): number {
  if (!(negative < weakestPositive) || !Number.isFinite(negative)) return current;
  const past = Number.isFinite(ceiling) ? negative + 0.25 * (ceiling - negative) : negative + 0.25 * Math.abs(negative);
  const halfway = Number.isFinite(weakestPositive) ? (negative + weakestPositive) / 2 : past;
  return Math.max(current, Math.min(past, halfway));
}

/** `fromIndex` as an integer index in [0, n]; anything non-numeric means "from the start". */
export function clampFromIndex(fromIndex: number, n: number): number {
  if (!Number.isFinite(fromIndex)) return fromIndex === Infinity ? n : 0;
  return Math.max(0, Math.min(n, Math.floor(fromIndex)));
}

/** The score band a threshold detector reports: `threshold <= score <= maxScore`. */
export interface ScoreBand {
  threshold: number;
  maxScore: number | null;
}

/**
 * Moves a score band past the removed detections among `found` (a scan at the current threshold): a
 * negative weaker than every positive raises the threshold (never beyond halfway to the weakest); one
 * over twice as strong as every positive caps scores at the geometric mean. A single label says little
 * about how much one shape's score varies, so closer strong negatives are kept out by the overlap
 * filter only, rather than losing the positives' siblings.
 */
export function fitBandToNegatives(
  band: ScoreBand,
  found: Candidates,
  negatives: readonly IndexRange[],
  weakestPositive: number,
  strongestPositive: number,
): void {
  for (let j = 0; j < found.from.length; j++) {
    const s = found.confidence[j];
    if (!negatives.some((r) => r.from <= found.to[j] && found.from[j] <= r.to)) continue;
    if (s < weakestPositive) band.threshold = thresholdPastNegative(band.threshold, s, weakestPositive);
    else if (s > 2 * strongestPositive) band.maxScore = Math.min(band.maxScore ?? Infinity, Math.sqrt(s * strongestPositive));
  }
}

/**
 * The score band of a version-1 spike or level-shift model (size over noise only, in units of its
 * `threshold`) restated in the current shape: a noise ratio with that unit, no size ratio (the caller
 * sets its size unit to 0) and no seasonal filter, so stored models keep detecting until the next learn.
 */
export function bandFromVersion1(old: { threshold: number; maxScore: number | null }) {
  const unit = old.threshold > 0 ? old.threshold : 1;
  return {
    unitSnr: unit,
    threshold: 1,
    maxScore: old.maxScore === null ? null : old.maxScore / unit,
    seasonsMs: [] as number[],
    seasonPoints: 0,
  };
}
