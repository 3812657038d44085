import {
  Candidates,
  clampFromIndex,
  confidenceFromMargin,
  finalizeDetections,
  fitBandToNegatives,
} from './candidates';
import { labelIndexRanges, mergedSpans, requirePositiveLabels } from './label-ranges';
import { NOISE_FLOOR, signedNormalizedValues } from './normalize';
import { SlidingWindowStats } from './sliding-window-stats';
import { LearningError, type Detection, type Labels, type Model, type Series, type Span } from './types';

/**
 * Shared maths of the jump and drop detectors. The score of a boundary at index c is the difference
 * of the mean level after and before it, in units of local noise (mean absolute difference of
 * neighbours inside the two windows, so the step itself does not count as noise). The windows skip
 * `halfGap` points on each side of c, the transition a person labels. Side windows are long compared
 * with the labeled transition, so a short spike moves the means little and does not look like a step;
 * a candidate must also persist one window further on (see `persists`), which rejects bumps up to
 * about twice the window wide.
 */
export interface LevelShiftModel extends Model {
  type: 'jump' | 'drop';
  version: 1;
  /** Points skipped on each side of the boundary (half the labeled transition). */
  halfGap: number;
  /** Length in points of the level windows before and after. */
  sideWindow: number;
  /** Minimum score (level change over local noise). */
  threshold: number;
  /** Maximum score, set when a removed detection was larger than every labeled shift; null = none. */
  maxScore: number | null;
  /** Labeled positives and removed detections, sorted and merged: never reported. */
  excluded: Span[];
}

const LEVEL_SHIFT_VERSION = 1;
/** Share of the weakest labeled shift's score a detection must reach (siblings vary by about ±30%). */
const THRESHOLD_SHARE = 0.4;
/**
 * Score that noise alone practically never reaches: a difference of two means of `sideWindow` points
 * has a standard deviation of about 0.3 in these units. The threshold is raised towards it, but never
 * above 90% of the weakest labeled shift.
 */
const NOISE_SCORE = 3;


/** Each window must hold at least this many values for a boundary to be scored. */
function minWindowCount(B: number): number {
  return Math.max(1, Math.ceil(B / 2));
}

function scoreFromWindows(left: SlidingWindowStats, right: SlidingWindowStats, minCount: number): number {
  if (left.count < minCount || right.count < minCount) return -Infinity;
  const dc = left.diffCount + right.diffCount;
  let noise = dc > 0 ? (left.absDiffSum + right.absDiffSum) / dc : 0;
  if (!(noise >= NOISE_FLOOR)) noise = NOISE_FLOOR;
  return (right.sum / right.count - left.sum / left.count) / noise;
}

/** Highest boundary score for c in [from, to]; the windows slide, so this is O(to - from + B). */
function maxScoreIn(x: Float64Array, from: number, to: number, g: number, B: number): number {
  const left = new SlidingWindowStats(x);
  const right = new SlidingWindowStats(x);
  const minCount = minWindowCount(B);
  let best = -Infinity;
  for (let c = Math.max(1, from); c <= to && c < x.length; c++) {
    left.moveTo(c - g - B, c - g);
    right.moveTo(c + g, c + g + B);
    best = Math.max(best, scoreFromWindows(left, right, minCount));
  }
  return best;
}

/** Mean of the finite values in [from, to), or NaN when fewer than `minCount` are finite. */
function meanOf(x: Float64Array, from: number, to: number, minCount: number): number {
  let sum = 0;
  let count = 0;
  for (let i = Math.max(0, from); i < to && i < x.length; i++) {
    if (x[i] === x[i]) {
      sum += x[i];
      count++;
    }
  }
  return count >= minCount ? sum / count : NaN;
}

/**
 * Whether the shift at `c` is a lasting change of level rather than an edge of a bump a little wider
 * than the windows: the level one window further after must keep at least half the shift, and the
 * level one window further before must not already be where the series goes (a drop back). Checks
 * with too little data (the ends of the series) pass.
 */
function persists(x: Float64Array, c: number, g: number, B: number): boolean {
  const minCount = minWindowCount(B);
  const before = meanOf(x, c - g - B, c - g, minCount);
  const after = meanOf(x, c + g, c + g + B, minCount);
  const shift = after - before;
  const farAfter = meanOf(x, c + g + B, c + g + 2 * B, minCount);
  if (farAfter === farAfter && farAfter - before < shift / 2) return false;
  const farBefore = meanOf(x, c - g - 2 * B, c - g - B, minCount);
  if (farBefore === farBefore && after - farBefore < shift / 2) return false;
  return true;
}

/**
 * A clean step scores about the same for every boundary within `halfGap` of it (neither window sees
 * the transition), so the best boundary is anywhere on that plateau; the middle of the plateau (scores
 * within 10% of the best) is where the step is.
 */
function plateauCentre(x: Float64Array, best: number, bestScore: number, g: number, B: number): number {
  const from = Math.max(1, best - 2 * g - 1);
  const to = Math.min(x.length - 1, best + 2 * g + 1);
  const scores = new Float64Array(to - from + 1);
  const left = new SlidingWindowStats(x);
  const right = new SlidingWindowStats(x);
  const minCount = minWindowCount(B);
  for (let c = from; c <= to; c++) {
    left.moveTo(c - g - B, c - g);
    right.moveTo(c + g, c + g + B);
    scores[c - from] = scoreFromWindows(left, right, minCount);
  }
  const floor = bestScore - 0.1 * Math.abs(bestScore);
  let l = best;
  while (l > from && scores[l - 1 - from] >= floor) l--;
  let r = best;
  while (r < to && scores[r + 1 - from] >= floor) r++;
  return Math.round((l + r) / 2);
}

/** Scans boundaries from `start`; candidates carry their raw score as confidence. */
function scanLevelShifts(x: Float64Array, m: LevelShiftModel, start: number, threshold: number, out: Candidates): void {
  const n = x.length;
  const g = m.halfGap;
  const B = m.sideWindow;
  const minCount = minWindowCount(B);
  const left = new SlidingWindowStats(x);
  const right = new SlidingWindowStats(x);
  // A run of scores over the threshold ends after this many points below it (noise dips on the plateau).
  const patience = g;
  let inRun = false;
  let lastAbove = 0;
  let bestS = 0;
  let bestC = 0;
  const emit = () => {
    inRun = false;
    if (m.maxScore !== null && bestS > m.maxScore) return;
    if (!persists(x, bestC, g, B)) return;
    const centre = plateauCentre(x, bestC, bestS, g, B);
    out.add(centre - g, centre + g, bestS);
  };
  for (let c = start < 1 ? 1 : start; c < n; c++) {
    left.moveTo(c - g - B, c - g);
    right.moveTo(c + g, c + g + B);
    const s = scoreFromWindows(left, right, minCount);
    if (s >= threshold) {
      if (!inRun || s > bestS) {
        bestS = s;
        bestC = c;
      }
      inRun = true;
      lastAbove = c;
    } else if (inRun && c - lastAbove > patience) emit();
  }
  if (inRun) emit();
}

/** Learns a jump (or, mirrored, drop) model; throws `LearningError` without usable positives. */
export function learnLevelShift(type: 'jump' | 'drop', series: Series, labels: Labels): LevelShiftModel {
  requirePositiveLabels(labels.positive, type);
  const pos = labelIndexRanges(series, labels.positive, 'positive');
  const neg = labelIndexRanges(series, labels.negative, 'negative');
  const x = signedNormalizedValues(series.v, type === 'jump' ? 1 : -1, 0);
  const widths = pos.map((r) => r.to - r.from + 1);
  const g = Math.min(5000, Math.max(1, Math.ceil(Math.max(...widths) / 2)));
  const B = Math.max(8 * g, 20);
  const scores: number[] = [];
  for (const r of pos) {
    const best = maxScoreIn(x, r.from, r.to + 1, g, B);
    if (best > 0) scores.push(best);
  }
  if (scores.length === 0) {
    throw new LearningError(
      `None of the labeled segments shows a level shift ${type === 'jump' ? 'up' : 'down'} with enough data ` +
        `around it; label segments that contain a ${type}.`,
    );
  }
  const minPos = Math.min(...scores);
  const maxPos = Math.max(...scores);
  const model: LevelShiftModel = {
    type,
    version: LEVEL_SHIFT_VERSION,
    halfGap: g,
    sideWindow: B,
    threshold: Math.max(THRESHOLD_SHARE * minPos, Math.min(0.9 * minPos, NOISE_SCORE)),
    maxScore: null,
    excluded: mergedSpans([...labels.positive, ...labels.negative]),
  };
  if (neg.length > 0) {
    const c = new Candidates();
    scanLevelShifts(x, model, 0, model.threshold, c);
    fitBandToNegatives(model, c, neg, minPos, maxPos);
  }
  return model;
}

/** Points before `fromIndex` that `detectLevelShifts` reads. */
export function levelShiftContextPoints(m: LevelShiftModel): number {
  return m.halfGap + 2 * m.sideWindow + 1;
}

/** Finds level shifts like the learned ones that end at or after `fromIndex`. */
export function detectLevelShifts(m: LevelShiftModel, series: Series, fromIndex = 0): Detection[] {
  const n = series.t.length;
  if (n === 0) return [];
  const from = clampFromIndex(fromIndex, n);
  const ctx = levelShiftContextPoints(m);
  const base = Math.max(0, from - 2 * ctx);
  const x = signedNormalizedValues(series.v, m.type === 'jump' ? 1 : -1, base);
  const c = new Candidates();
  scanLevelShifts(x, m, from - ctx - base, m.threshold, c);
  for (let j = 0; j < c.confidence.length; j++) c.confidence[j] = confidenceFromMargin(c.confidence[j] / m.threshold);
  return finalizeDetections(series, base, c, from, m.excluded);
}
