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
import { echoesRecurringly, pointsIn, recursSeasonally, seasonsToFilter, type EchoScorer } from './seasonal';
import { SlidingWindowStats } from './sliding-window-stats';
import { LearningError, type Detection, type Labels, type Model, type Series, type Span } from './types';

/**
 * Shared maths of the jump and drop detectors. The score of a boundary at index c is the difference
 * of the mean level after and before it, in units of local noise (mean absolute difference of
 * neighbours inside the two windows, so the step itself does not count as noise). The windows skip
 * `halfGap` points on each side of c, the transition a person labels. Side windows are long compared
 * with the labeled transition (shorter only when the labels sit that close to other changes of level),
 * so a short spike moves the means little and does not look like a step; a candidate must also pass
 * on medians and persist half a window further on (see `LevelCheck`), which rejects bumps up to about
 * twice the window wide.
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
/** Share of a label's largest measured shift that its side windows must keep (see `chooseSideWindow`). */
const CLEAN_SHARE = 0.6;
/**
 * Share of the smallest labeled shift by which a candidate must exceed its seasonal echo to be more
 * than the daily step: about the smallest sibling (±30% heights go down to 0.54 of the smallest label).
 */
const EXCESS_SHARE = 0.5;

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

/** Slot of position p (any integer) in a ring of L slots. */
function ringSlot(p: number, L: number): number {
  const k = p % L;
  return k < 0 ? k + L : k;
}

/**
 * Score of the boundary at series index j (`x` index j - base), computed directly (O(B)): for seasonal
 * echoes. Reuses its two windows, so an echo check allocates nothing.
 */
class LevelShiftEchoScorer implements EchoScorer {
  private readonly left: SlidingWindowStats;
  private readonly right: SlidingWindowStats;
  /** Windows of the sweep that locates an echo's step; they only move forward between resets. */
  private readonly sweepLeft: SlidingWindowStats;
  private readonly sweepRight: SlidingWindowStats;
  /**
   * Scores of the sweep, a ring indexed by boundary (relative to `base`): the positions from
   * `sweptFrom` to `swept` are known. Echo positions that follow one another need the same
   * neighbourhood shifted by one, so a sweep continues the previous one instead of starting over.
   */
  private readonly around: Float64Array;
  private sweptFrom = 0;
  private swept = -Infinity;
  /** The candidate the sweep was made for: each candidate's check starts afresh, so what it decides does not depend on the candidates checked before it (a detect with context checks fewer). */
  private sweptFor = -1;
  /** The candidate `scoreOf`'s windows have slid for (see there). */
  private scoredFor = -2;

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
    this.sweepLeft = new SlidingWindowStats(x);
    this.sweepRight = new SlidingWindowStats(x);
    this.around = new Float64Array(2 * (g + (B >> 1)) + 1);
  }

  /** Series index of the candidate being checked: its own step is not its echo. */
  candidate = -1;
  /**
   * The candidate's shift (units of x), or NaN: an echo explains the candidate only when the candidate
   * is not larger by at least `EXCESS_SHARE` of the smallest labeled shift (then a sibling sits on top
   * of the daily step, and a person sees it).
   */
  candidateShift = NaN;
  /** Shift (units of x) at the boundary `scoreOf` last scored. */
  private lastShift = NaN;

  /** Shift (units of x) at series index j. */
  shiftAt(j: number): number {
    this.scoreOf(j - this.base);
    return this.lastShift;
  }

  /**
   * The score at j, or -Infinity when the step that j sees lies elsewhere: with windows this long a
   * step up to a window away (the previous sibling, or on hourly data the candidate itself a day
   * earlier) still scores over half, which is no echo. The step is located as candidates are (the
   * middle of the plateau of near-best scores around the best boundary within half a window), and must
   * lie within `halfGap` of j and beyond the candidate's own windows.
   */
  scoreAt(j: number, need: number): number {
    const { g, B } = this;
    if (this.candidate >= 0 && Math.abs(j - this.candidate) <= g + B) return -Infinity;
    const c = j - this.base;
    const s = this.scoreOf(c);
    if (!(s >= need)) return s;
    // invShift = 1 / (THRESHOLD_SHARE * smallest labeled shift); a version 1 model has no size unit.
    if (this.invShift < Infinity && this.candidateShift - this.lastShift >= EXCESS_SHARE / THRESHOLD_SHARE / this.invShift) {
      return -Infinity;
    }
    // The scores of the neighbourhood [c - R, c + R], swept forward (continuing the last sweep when it
    // reaches into the neighbourhood), then the best boundary and its plateau of near-best scores.
    const around = this.around;
    const L = around.length;
    const R = (L - 1) >> 1;
    this.sweepTo(c - R, c + R);
    let best = c;
    let bestScore = s;
    for (let p = c - R; p <= c + R; p++) {
      const sp = around[ringSlot(p, L)];
      if (sp > bestScore) {
        bestScore = sp;
        best = p;
      }
    }
    const floor = bestScore - 0.1 * Math.abs(bestScore);
    let l = best;
    while (l > c - R && around[ringSlot(l - 1, L)] >= floor) l--;
    let r = best;
    while (r < c + R && around[ringSlot(r + 1, L)] >= floor) r++;
    return Math.abs((l + r) / 2 - c) <= g ? s : -Infinity;
  }

  /** Makes the scores of boundaries `from..to` known in `around` (see there). */
  private sweepTo(from: number, to: number): void {
    const { sweepLeft: left, sweepRight: right, x, around, g, B } = this;
    const L = around.length;
    let p = this.swept + 1;
    if (this.sweptFor !== this.candidate || !(this.sweptFrom <= from && from <= p && to >= this.swept)) {
      this.sweptFor = this.candidate;
      left.reset(x);
      right.reset(x);
      p = from;
      this.sweptFrom = from;
    }
    const minCount = minWindowCount(B);
    for (; p <= to; p++) {
      let sp = -Infinity;
      if (p >= 1 && p < x.length) {
        left.moveTo(p - g - B, p - g);
        right.moveTo(p + g, p + g + B);
        sp = scoreFromWindows(left, right, minCount, this.invShift, this.invSnr);
      }
      around[ringSlot(p, L)] = sp;
    }
    this.swept = to;
    if (this.sweptFrom < to - L + 1) this.sweptFrom = to - L + 1;
  }

  private scoreOf(c: number): number {
    const x = this.x;
    if (c < 1 || c >= x.length) return -Infinity;
    const { left, right, g, B } = this;
    // Within one candidate's check the windows slide on (echo positions mostly follow one another);
    // a new candidate starts from scratch, so its verdict does not depend on the ones checked before.
    if (this.scoredFor !== this.candidate) {
      left.reset(x);
      right.reset(x);
      this.scoredFor = this.candidate;
    }
    left.moveTo(c - g - B, c - g);
    right.moveTo(c + g, c + g + B);
    const minCount = minWindowCount(B);
    this.lastShift = left.count >= minCount && right.count >= minCount ? shiftOf(left, right) : NaN;
    return scoreFromWindows(left, right, minCount, this.invShift, this.invSnr);
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

/**
 * The k-th smallest of a[0..n) (0-based), moving it to a[k] with smaller-or-equal values before it and
 * larger-or-equal after (Hoare's selection, in place; expected O(n)).
 */
function selectInPlace(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const tmp = a[i];
        a[i] = a[j];
        a[j] = tmp;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k];
}

/**
 * Robust checks of a candidate shift, with medians rather than means: a peak, trough or spike inside a
 * window (shapes a person does not take for a change of level) barely moves a median, while it can pull
 * a mean over the threshold or hide a real shift. Per candidate, not per point: one scratch buffer per
 * scan.
 */
class LevelCheck {
  private readonly scratch: Float64Array;
  /** Median shifts sampled by `locate`. */
  private readonly shifts: Float64Array;

  constructor(
    private readonly x: Float64Array,
    private readonly g: number,
    private readonly B: number,
  ) {
    this.scratch = new Float64Array(B);
    this.shifts = new Float64Array(B + 2);
  }

  /** Local noise at boundary c as the scan measures it (mean absolute neighbour difference, both windows). */
  private noiseAt(c: number): number {
    const x = this.x;
    const { g, B } = this;
    let sum = 0;
    let count = 0;
    for (let side = 0; side < 2; side++) {
      const from = Math.max(0, side === 0 ? c - g - B : c + g);
      const to = Math.min(x.length, side === 0 ? c - g : c + g + B);
      for (let i = from + 1; i < to; i++) {
        const d = x[i] - x[i - 1];
        if (d === d) {
          sum += d < 0 ? -d : d;
          count++;
        }
      }
    }
    const noise = count > 0 ? sum / count : 0;
    return noise >= NOISE_FLOOR ? noise : NOISE_FLOOR;
  }

  /** Median of the finite values in [from, to) (at most B of them), or NaN when fewer than `minCount`. */
  private median(from: number, to: number, minCount: number): number {
    const x = this.x;
    const buf = this.scratch;
    let k = 0;
    for (let i = Math.max(0, from); i < to && i < x.length && k < buf.length; i++) if (x[i] === x[i]) buf[k++] = x[i];
    if (k < minCount || k === 0) return NaN;
    const h = k >> 1;
    const upper = selectInPlace(buf, k, h);
    if (k & 1) return upper;
    // After selection everything before h is <= the h-th value: the lower middle is their maximum.
    let lower = buf[0];
    for (let i = 1; i < h; i++) if (buf[i] > lower) lower = buf[i];
    return (lower + upper) / 2;
  }

  /** Median after minus median before the boundary at c; NaN with too little data. */
  private medianShift(c: number): number {
    const { g, B } = this;
    const minCount = minWindowCount(B);
    return this.median(c + g, c + g + B, minCount) - this.median(c - g - B, c - g, minCount);
  }

  /**
   * Where the step near `c` is: the middle of the boundaries within half a window of c whose median
   * shift is within 10% of the largest (sampled every half `halfGap`, so the step's plateau of about
   * 2 * halfGap is always hit). Means locate a step off-centre when a peak or trough enters a window;
   * medians barely move.
   */
  locate(c: number): number {
    const { g, B, shifts } = this;
    const R = B >> 1;
    const stride = Math.max(1, g >> 1);
    let n = 0;
    let best = -Infinity;
    for (let p = c - R; p <= c + R && n < shifts.length; p += stride) {
      const d = this.medianShift(p);
      shifts[n++] = d;
      if (d > best) best = d;
    }
    if (!(best > 0)) return c;
    const floor = 0.9 * best;
    let first = -1;
    let last = -1;
    for (let j = 0; j < n; j++) {
      if (shifts[j] >= floor) {
        if (first < 0) first = j;
        last = j;
      }
    }
    const at = c - R + Math.round(((first + last) / 2) * stride);
    return at < 0 ? 0 : at >= this.x.length ? this.x.length - 1 : at;
  }

  /**
   * Whether the boundary at `c` is a lasting change of level that still passes `threshold` when its
   * size is measured robustly: the median after minus the median before, scored like the scan does
   * (size ratio and size over the windows' noise). The level half a window beyond the after window
   * must keep at least half that shift, so the edge of a bump a little wider than the windows is not
   * a shift. The level before is only required to hold over the before window: a shift up out of a
   * low stretch at least half a window long is a jump (the median sees the low level), however the
   * series got there. Checks with too little data (the ends of the series) pass.
   */
  holds(c: number, threshold: number, invShift: number, invSnr: number): boolean {
    const { g, B } = this;
    const noise = this.noiseAt(c);
    const minCount = minWindowCount(B);
    const before = this.median(c - g - B, c - g, minCount);
    const after = this.median(c + g, c + g + B, minCount);
    if (before !== before || after !== after) return true;
    const shift = after - before;
    const a = shift * invShift;
    const b = (shift / noise) * invSnr;
    if ((a < b ? a : b) < threshold) return false;
    const H = B >> 1;
    const farAfter = this.median(c + g + B, c + g + B + H, Math.max(1, Math.ceil(minCount / 2)));
    return !(farAfter === farAfter && farAfter - before < shift / 2);
  }
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
  const check = new LevelCheck(x, g, B);
  // Run state lives in locals and a finished run goes to `emitLevelShift`, a module function: a closure made
  // per scan was a new call target on every detect, so the optimized loop deoptimized each time.
  let inRun = false;
  let lastAbove = 0;
  let bestS = 0;
  let bestC = 0;
  let runFirst = 0;
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
      if (!inRun) runFirst = c;
      inRun = true;
      lastAbove = c;
    } else if (inRun && c - lastAbove > patience) {
      inRun = false;
      emitLevelShift(x, t, base, m, echo, check, threshold, bestS, bestC, runFirst, lastAbove, invShift, invSnr, out);
    }
  }
  if (inRun) emitLevelShift(x, t, base, m, echo, check, threshold, bestS, bestC, runFirst, lastAbove, invShift, invSnr, out);
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
  check: LevelCheck,
  threshold: number,
  bestS: number,
  bestC: number,
  runFirst: number,
  runLast: number,
  invShift: number,
  invSnr: number,
  out: Candidates,
): void {
  const g = m.halfGap;
  const B = m.sideWindow;
  if (m.maxScore !== null && bestS > m.maxScore) return;
  // The best mean score can sit off the step when a peak or trough enters a window: the step may hold
  // at the middle of the run of scores over the threshold (its ends are where the step enters and
  // leaves the windows) instead, and it is located on medians either way.
  let at = bestC;
  if (!check.holds(at, threshold, invShift, invSnr)) {
    at = Math.round((runFirst + runLast) / 2);
    if (at === bestC || !check.holds(at, threshold, invShift, invSnr)) return;
  } else at = plateauCentre(x, bestC, bestS, g, B, invShift, invSnr);
  const centre = check.locate(at);
  echo.candidate = base + centre;
  echo.candidateShift = echo.shiftAt(base + centre);
  if (echoesRecurringly(t, base + centre, bestS, m.seasonsMs, g + 1, base, echo)) return;
  out.add(centre - g, centre + g, bestS);
}

/** Side windows tried while learning, longest first: 8, 4 and 2 half-transitions (at least 20, 10, 5 points). */
function sideWindowChoices(g: number): number[] {
  return [Math.max(8 * g, 20), Math.max(4 * g, 10), Math.max(2 * g, 5)];
}

interface LabeledShift {
  shift: number;
  snr: number;
  at: number;
}

/** The labeled shift: the boundary inside the label with the largest change of level. */
function labeledShift(x: Float64Array, r: { from: number; to: number }, g: number, B: number): LabeledShift {
  let best: LabeledShift = { shift: -Infinity, snr: -Infinity, at: -1 };
  for (let c = Math.max(1, r.from); c <= r.to + 1 && c < x.length; c++) {
    const s = shiftAt(x, c, g, B);
    if (s.shift > best.shift) best = { ...s, at: c };
  }
  return best;
}

/**
 * Index of the longest side window under which every label keeps at least `CLEAN_SHARE` of the largest
 * shift any window measures for it: a shorter window only when a longer one mixes another level in.
 */
function chooseSideWindow(measured: LabeledShift[][]): number {
  const k = measured[0].length;
  for (let w = 0; w < measured.length; w++) {
    let clean = true;
    for (let j = 0; j < k && clean; j++) {
      let most = -Infinity;
      for (const m of measured) if (m[j].shift > most) most = m[j].shift;
      if (most > 0 && !(measured[w][j].shift >= CLEAN_SHARE * most)) clean = false;
    }
    if (clean) return w;
  }
  return measured.length - 1;
}

/** Learns a jump (or, mirrored, drop) model; throws `LearningError` without usable positives. */
export function learnLevelShift(type: 'jump' | 'drop', series: Series, labels: Labels): LevelShiftModel {
  requirePositiveLabels(labels.positive, type);
  const pos = labelIndexRanges(series, labels.positive, 'positive');
  const neg = labelIndexRanges(series, labels.negative, 'negative');
  const x = signedNormalizedValues(series.v, type === 'jump' ? 1 : -1, 0);
  const widths = pos.map((r) => r.to - r.from + 1);
  const g = Math.min(5000, Math.max(1, Math.ceil(Math.max(...widths) / 2)));
  const half = normalizationHalfRange(series.v);
  // Side windows as long as the labeled levels hold: 8 half-transitions, or shorter when another change
  // of level sits that close to a label (the windows would average it into the labeled shift).
  const windows = sideWindowChoices(g);
  const measured = windows.map((B) => pos.map((r) => labeledShift(x, r, g, B)));
  const w = chooseSideWindow(measured);
  const B = windows[w];
  const shifts: number[] = [];
  const snrs: number[] = [];
  const bounds: number[] = [];
  for (const s of measured[w]) {
    if (s.shift > 0 && s.snr > 0) {
      bounds.push(s.at);
      shifts.push(s.shift);
      snrs.push(s.snr);
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
  // Filter the seasons that the labeled shifts do not recur in themselves: a shift this model would
  // report (of any of the siblings' sizes, not only as large as the label) a season from every label.
  // One label with a sibling a day away is a coincidence, and must not let a second label bring the
  // daily pattern back.
  const invShift = 1 / unitShiftN;
  const invSnr = 1 / model.unitSnr;
  const echo = new LevelShiftEchoScorer(x, 0, g, B, invShift, invSnr);
  model.seasonsMs = seasonsToFilter(series.t, (P) =>
    bounds.every((c) => {
      echo.candidate = c;
      return recursSeasonally(series.t, c, model.threshold, [P], g + 1, 0, echo);
    }),
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
  // Two seasons back: a seasonal echo must recur (see `echoesRecurringly`).
  return m.halfGap + 2 * m.sideWindow + 1 + (m.seasonPoints > 0 ? 2 * m.seasonPoints + m.halfGap + 2 : 0);
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
