import {
  Candidates,
  clampFromIndex,
  confidenceFromMargin,
  finalizeDetections,
  bandFromVersion1,
  fitBandToNegatives,
} from './candidates';
import { labelIndexRanges, mergedSpans, requirePositiveLabels } from './label-ranges';
import { heightInNormalizedUnits, NOISE_FLOOR, normalizationHalfRange, signedNormalizedValues } from './normalize';
import { echoesSeasonally, pointsIn, seasonsToFilter, type EchoScorer } from './seasonal';
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
 * A shift is judged on two ratios, both like the labeled ones: its size in value units (so a sibling in
 * a noisier hour is still found, and a noise-free series does not make every wiggle score high) and its
 * size over local noise (so noise alone does not pass). The score is the smaller ratio; 1 passes.
 */
export interface LevelShiftModel extends Model {
  type: 'jump' | 'drop';
  version: 2;
  /** Points skipped on each side of the boundary (half the labeled transition). */
  halfGap: number;
  /** Length in points of the level windows before and after. */
  sideWindow: number;
  /** Level change (value units) that scores 1 on the size ratio. */
  unitShift: number;
  /** Level change over local noise that scores 1 on the noise ratio. */
  unitSnr: number;
  /** Minimum score (1 unless a removed detection raised it). */
  threshold: number;
  /** Maximum score, set when a removed detection was larger than every labeled shift; null = none. */
  maxScore: number | null;
  /** Seasons (ms) whose echoes are dropped: a shift that recurs a day or a week apart is the normal pattern. */
  seasonsMs: number[];
  /** Points in the longest filtered season (context for the echo check); 0 when none is filtered. */
  seasonPoints: number;
  /** Labeled positives and removed detections, sorted and merged: never reported. */
  excluded: Span[];
}

const LEVEL_SHIFT_VERSION = 2;
/**
 * Share of the smallest labeled shift a detection must reach. Siblings vary by about ±30% (down to
 * 0.54 of the smallest label); a level is measured as a mean over a window that may hold other shapes,
 * so the bar sits lower than the spikes' (a third): a removed detection raises it where needed.
 */
const THRESHOLD_SHARE = 0.3;
/**
 * Shift over noise that noise alone practically never reaches: a difference of two means of
 * `sideWindow` points has a standard deviation of about 0.3 in these units. The noise ratio's unit,
 * unless the weakest labeled shift is closer to noise (then 90% of it).
 */
const NOISE_SCORE = 3;


/** Each window must hold at least this many values for a boundary to be scored. */
function minWindowCount(B: number): number {
  return Math.max(1, Math.ceil(B / 2));
}

function noiseOf(left: SlidingWindowStats, right: SlidingWindowStats): number {
  const dc = left.diffCount + right.diffCount;
  const noise = dc > 0 ? (left.absDiffSum + right.absDiffSum) / dc : 0;
  return noise >= NOISE_FLOOR ? noise : NOISE_FLOOR;
}

/** Level change across the boundary between two windows: the difference of their means. */
function shiftOf(left: SlidingWindowStats, right: SlidingWindowStats): number {
  return right.sum / right.count - left.sum / left.count;
}

/**
 * The smaller of shift / unitShift and (shift / noise) / unitSnr for the boundary between the windows
 * (`invShift` = 1 / unitShift in the units of x); -Infinity when a window is too empty.
 */
function scoreFromWindows(
  left: SlidingWindowStats,
  right: SlidingWindowStats,
  minCount: number,
  invShift: number,
  invSnr: number,
): number {
  if (left.count < minCount || right.count < minCount) return -Infinity;
  const shift = shiftOf(left, right);
  const a = shift * invShift;
  const b = (shift / noiseOf(left, right)) * invSnr;
  return a < b ? a : b;
}

/**
 * Score of the boundary at series index j (`x` index j - base), computed directly (O(B)): for seasonal
 * echoes. Reuses its two windows, so an echo check allocates nothing.
 */
class LevelShiftEchoScorer implements EchoScorer {
  private readonly left: SlidingWindowStats;
  private readonly right: SlidingWindowStats;

  constructor(
    private readonly x: Float64Array,
    private readonly base: number,
    private readonly g: number,
    private readonly B: number,
    private readonly invShift: number,
    private readonly invSnr: number,
  ) {
    this.left = new SlidingWindowStats(x);
    this.right = new SlidingWindowStats(x);
  }

  scoreAt(j: number): number {
    const x = this.x;
    const c = j - this.base;
    if (c < 1 || c >= x.length) return -Infinity;
    const { left, right, g, B } = this;
    // Reset windows recompute from scratch on their next move, exactly as new ones would.
    left.reset(x);
    right.reset(x);
    left.moveTo(c - g - B, c - g);
    right.moveTo(c + g, c + g + B);
    return scoreFromWindows(left, right, minWindowCount(B), this.invShift, this.invSnr);
  }
}

/** Size and size over noise of the boundary at c (O(B)); used while learning. */
function shiftAt(x: Float64Array, c: number, g: number, B: number): { shift: number; snr: number } {
  const left = new SlidingWindowStats(x);
  const right = new SlidingWindowStats(x);
  left.moveTo(c - g - B, c - g);
  right.moveTo(c + g, c + g + B);
  const minCount = minWindowCount(B);
  if (left.count < minCount || right.count < minCount) return { shift: -Infinity, snr: -Infinity };
  const shift = shiftOf(left, right);
  return { shift, snr: shift / noiseOf(left, right) };
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
 * than the windows: the level over half a window further after must keep at least half the shift, and
 * the level half a window further before must not already be where the series goes (a drop back).
 * Half a window (not a whole one) so a shift that lasts twice its windows counts. Checks with too
 * little data (the ends of the series) pass.
 */
function persists(x: Float64Array, c: number, g: number, B: number): boolean {
  const minCount = minWindowCount(B);
  const before = meanOf(x, c - g - B, c - g, minCount);
  const after = meanOf(x, c + g, c + g + B, minCount);
  if (before !== before || after !== after) return true;
  const shift = after - before;
  const H = B >> 1;
  const far = Math.max(1, Math.ceil(minCount / 2));
  const farAfter = meanOf(x, c + g + B, c + g + B + H, far);
  if (farAfter === farAfter && farAfter - before < shift / 2) return false;
  const farBefore = meanOf(x, c - g - B - H, c - g - B, far);
  if (farBefore === farBefore && after - farBefore < shift / 2) return false;
  return true;
}

/**
 * A clean step scores about the same for every boundary within `halfGap` of it (neither window sees
 * the transition), so the best boundary is anywhere on that plateau; the middle of the plateau (scores
 * within 10% of the best) is where the step is.
 */
function plateauCentre(
  x: Float64Array,
  best: number,
  bestScore: number,
  g: number,
  B: number,
  invShift: number,
  invSnr: number,
): number {
  const from = Math.max(1, best - 2 * g - 1);
  const to = Math.min(x.length - 1, best + 2 * g + 1);
  const scores = new Float64Array(to - from + 1);
  const left = new SlidingWindowStats(x);
  const right = new SlidingWindowStats(x);
  const minCount = minWindowCount(B);
  for (let c = from; c <= to; c++) {
    left.moveTo(c - g - B, c - g);
    right.moveTo(c + g, c + g + B);
    scores[c - from] = scoreFromWindows(left, right, minCount, invShift, invSnr);
  }
  const floor = bestScore - 0.1 * Math.abs(bestScore);
  let l = best;
  while (l > from && scores[l - 1 - from] >= floor) l--;
  let r = best;
  while (r < to && scores[r + 1 - from] >= floor) r++;
  return Math.round((l + r) / 2);
}

/** Scans boundaries from `start`; candidates carry their raw score as confidence. */
function scanLevelShifts(
  x: Float64Array,
  t: Float64Array,
  base: number,
  m: LevelShiftModel,
  unitShift: number,
  start: number,
  threshold: number,
  out: Candidates,
): void {
  const n = x.length;
  const g = m.halfGap;
  const B = m.sideWindow;
  const minCount = minWindowCount(B);
  const left = new SlidingWindowStats(x);
  const right = new SlidingWindowStats(x);
  const invShift = unitShift > 0 ? 1 / unitShift : Infinity;
  const invSnr = 1 / m.unitSnr;
  // A run of scores over the threshold ends after this many points below it (noise dips on the plateau).
  const patience = g;
  const echo = new LevelShiftEchoScorer(x, base, g, B, invShift, invSnr);
  // Run state lives in locals and a finished run goes to `emitLevelShift`, a module function: a closure made
  // per scan was a new call target on every detect, so the optimized loop deoptimized each time.
  let inRun = false;
  let lastAbove = 0;
  let bestS = 0;
  let bestC = 0;
  for (let c = start < 1 ? 1 : start; c < n; c++) {
    left.moveTo(c - g - B, c - g);
    right.moveTo(c + g, c + g + B);
    // scoreFromWindows, inlined so no double crosses a call boundary in the hot loop.
    let s = -Infinity;
    if (left.count >= minCount && right.count >= minCount) {
      const shift = right.sum / right.count - left.sum / left.count;
      const dc = left.diffCount + right.diffCount;
      let noise = dc > 0 ? (left.absDiffSum + right.absDiffSum) / dc : 0;
      if (!(noise >= NOISE_FLOOR)) noise = NOISE_FLOOR;
      const a = shift * invShift;
      const b = (shift / noise) * invSnr;
      s = a < b ? a : b;
    }
    if (s >= threshold) {
      if (!inRun || s > bestS) {
        bestS = s;
        bestC = c;
      }
      inRun = true;
      lastAbove = c;
    } else if (inRun && c - lastAbove > patience) {
      inRun = false;
      emitLevelShift(x, t, base, m, echo, bestS, bestC, invShift, invSnr, out);
    }
  }
  if (inRun) emitLevelShift(x, t, base, m, echo, bestS, bestC, invShift, invSnr, out);
}

/**
 * Adds the candidate of a finished run (best boundary `bestC`, score `bestS`) unless it scores over the
 * band, does not persist, or echoes a season.
 */
function emitLevelShift(
  x: Float64Array,
  t: Float64Array,
  base: number,
  m: LevelShiftModel,
  echo: LevelShiftEchoScorer,
  bestS: number,
  bestC: number,
  invShift: number,
  invSnr: number,
  out: Candidates,
): void {
  const g = m.halfGap;
  const B = m.sideWindow;
  if (m.maxScore !== null && bestS > m.maxScore) return;
  if (!persists(x, bestC, g, B)) return;
  const centre = plateauCentre(x, bestC, bestS, g, B, invShift, invSnr);
  if (echoesSeasonally(t, base + centre, bestS, m.seasonsMs, g + 1, base, echo)) return;
  out.add(centre - g, centre + g, bestS);
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
  const half = normalizationHalfRange(series.v);
  const shifts: number[] = [];
  const snrs: number[] = [];
  const bounds: number[] = [];
  for (const r of pos) {
    // The labeled shift: the boundary inside the label with the largest change of level.
    let best = { shift: -Infinity, snr: -Infinity };
    let at = -1;
    for (let c = Math.max(1, r.from); c <= r.to + 1 && c < x.length; c++) {
      const s = shiftAt(x, c, g, B);
      if (s.shift > best.shift) {
        best = s;
        at = c;
      }
    }
    if (best.shift > 0 && best.snr > 0) {
      bounds.push(at);
      shifts.push(best.shift);
      snrs.push(best.snr);
    }
  }
  if (shifts.length === 0 || !(half > 0)) {
    throw new LearningError(
      `None of the labeled segments shows a level shift ${type === 'jump' ? 'up' : 'down'} with enough data ` +
        `around it; label segments that contain a ${type}.`,
    );
  }
  const unitShiftN = THRESHOLD_SHARE * Math.min(...shifts);
  const model: LevelShiftModel = {
    type,
    version: LEVEL_SHIFT_VERSION,
    halfGap: g,
    sideWindow: B,
    unitShift: unitShiftN * half,
    unitSnr: Math.min(0.9 * Math.min(...snrs), NOISE_SCORE),
    threshold: 1,
    maxScore: null,
    seasonsMs: [],
    seasonPoints: 0,
    excluded: mergedSpans([...labels.positive, ...labels.negative]),
  };
  // Filter the seasons that the labeled shifts do not recur in themselves.
  const invShift = 1 / unitShiftN;
  const invSnr = 1 / model.unitSnr;
  const echo = new LevelShiftEchoScorer(x, 0, g, B, invShift, invSnr);
  model.seasonsMs = seasonsToFilter(series.t, (P) =>
    bounds.some((c, j) =>
      echoesSeasonally(series.t, c, Math.min(shifts[j] * invShift, snrs[j] * invSnr), [P], g + 1, 0, echo),
    ),
  );
  model.seasonPoints = model.seasonsMs.length > 0 ? pointsIn(series.t, Math.max(...model.seasonsMs)) : 0;
  if (neg.length > 0) {
    const scores = shifts.map((sh, j) => Math.min(sh / unitShiftN, snrs[j] / model.unitSnr));
    const c = new Candidates();
    scanLevelShifts(x, series.t, 0, model, unitShiftN, 0, model.threshold, c);
    fitBandToNegatives(model, c, neg, Math.min(...scores), Math.max(...scores));
  }
  return model;
}

/**
 * A stored model in the current shape. Version 1 judged shifts on size over noise only, in units of its
 * `threshold`: it becomes a noise ratio with that unit, no size ratio and no seasonal filter, so stored
 * models keep detecting (as before) until the next learn.
 */
function upgradedLevelShiftModel(m: LevelShiftModel): LevelShiftModel {
  if (m.version === LEVEL_SHIFT_VERSION) return m;
  const v1 = bandFromVersion1(m as unknown as { threshold: number; maxScore: number | null });
  return { ...m, version: LEVEL_SHIFT_VERSION, unitShift: 0, ...v1 };
}

/** Points before `fromIndex` that `detectLevelShifts` reads. */
export function levelShiftContextPoints(stored: LevelShiftModel): number {
  const m = upgradedLevelShiftModel(stored);
  return m.halfGap + 2 * m.sideWindow + 1 + (m.seasonPoints > 0 ? m.seasonPoints + m.halfGap + 2 : 0);
}

/** Finds level shifts like the learned ones that end at or after `fromIndex`. */
export function detectLevelShifts(stored: LevelShiftModel, series: Series, fromIndex = 0): Detection[] {
  const m = upgradedLevelShiftModel(stored);
  const n = series.t.length;
  if (n === 0) return [];
  const from = clampFromIndex(fromIndex, n);
  const ctx = levelShiftContextPoints(m);
  const base = Math.max(0, from - 2 * ctx);
  const x = signedNormalizedValues(series.v, m.type === 'jump' ? 1 : -1, base);
  const c = new Candidates();
  scanLevelShifts(x, series.t, base, m, heightInNormalizedUnits(m.unitShift, series.v, base), from - ctx - base, m.threshold, c);
  for (let j = 0; j < c.confidence.length; j++) c.confidence[j] = confidenceFromMargin(c.confidence[j] / m.threshold);
  return finalizeDetections(series, base, c, from, m.excluded);
}
