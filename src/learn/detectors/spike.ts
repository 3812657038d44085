import {
  Candidates,
  clampFromIndex,
  confidenceFromMargin,
  finalizeDetections,
  bandFromVersion1,
  fitBandToNegatives,
} from './candidates';
import { labelIndexRanges, median, mergedSpans, requirePositiveLabels } from './label-ranges';
import { heightInNormalizedUnits, NOISE_FLOOR, normalizationHalfRange, signedNormalizedValues } from './normalize';
import { echoesRecurringly, pointsIn, seasonsToFilter, type EchoScorer } from './seasonal';
import { SlidingWindowStats } from './sliding-window-stats';
import { LearningError, type Detection, type Labels, type Model, type Series, type Span } from './types';

/**
 * Shared maths of the peak and trough detectors. At point i, `core` is the mean of the 2 * coreRadius + 1
 * points around it (a matched filter for the spike's top; the smoothed series). The spike's base is
 * the higher of its two feet: on each side, the lowest smoothed value within `baseReach` points and
 * before the first one over the top. So the height is how far the top stands over the side it falls
 * back least to (its prominence): a spike on the edge of a step or next to one keeps its own height
 * (side means would mix in the other level), a step's edge falls back to about itself on its high
 * side, so it has no height, and on a slope the height only loses the slope over the spike's half width.
 *
 * A spike is judged on two ratios, both like the labeled ones: its height in value units (so a sibling
 * in a noisier hour of the day is still found, and on a noise-free series the score does not explode)
 * and its height over local noise (mean absolute difference of neighbours in wider side windows,
 * which ignores level and slow trends), so noise alone does not pass. The score is the smaller of the
 * two ratios over their thresholds; 1 passes.
 * A candidate is the highest point of a run of scores over the threshold; it is kept when its width at
 * half height is like the labeled ones, it stays low past its feet, and it does not recur with the
 * day or week (see `echoesRecurringly`). Bounds come from the typical (median) labeled spike.
 */
export interface SpikeModel extends Model {
  type: 'peak' | 'trough';
  version: 3;
  /** Points skipped on each side of the scored point before the noise windows start. */
  halfExclusion: number;
  /** Noise windows are `NOISE_SPAN` times this long on each side. */
  sideWindow: number;
  /** Points searched on each side of the top for the spike's foot. */
  baseReach: number;
  /** Radius of the spike's core, averaged before scoring (2r + 1 points). */
  coreRadius: number;
  /** Height (value units) that scores 1 on the height ratio. */
  unitHeight: number;
  /** Height over local noise that scores 1 on the noise ratio. */
  unitSnr: number;
  /** Minimum score (1 unless a removed detection raised it). */
  threshold: number;
  /** Maximum score, set when a removed detection was taller than every labeled spike; null = none. */
  maxScore: number | null;
  /** Accepted width at half height, in points. */
  minWidth: number;
  maxWidth: number;
  /** Half the typical labeled width in points, used to size reported segments. */
  segmentHalfWidth: number;
  /** Seasons (ms) whose echoes are dropped: a spike that recurs a day or a week apart is the normal pattern. */
  seasonsMs: number[];
  /** Points in the longest filtered season (context for the echo check); 0 when none is filtered. */
  seasonPoints: number;
  /** Labeled positives and removed detections, sorted and merged: never reported. */
  excluded: Span[];
}

const SPIKE_VERSION = 3;
/**
 * Share of the typical (median) labeled spike's height a detection must reach: siblings vary by about
 * ±30%, so the lowest sibling can be 0.7 / 1.3 = 0.54 of a label; 0.4 leaves room for noise on top.
 */
const THRESHOLD_SHARE = 0.4;
/** Noise is estimated over side windows this many times longer than the level's: a steadier scale. */
const NOISE_SPAN = 4;
/**
 * Height over noise that noise alone almost never reaches (about 6 standard deviations of Gaussian
 * noise at one point); the noise ratio's unit, unless the weakest labeled spike is closer to noise.
 */
const NOISE_SCORE = 5.5;
/**
 * How far the feet are searched, in labeled half widths: siblings up to 1.3 / 0.7 times as wide as
 * the label still have their foot in reach, and a broad hill under the spike stays out of it.
 */
const BASE_REACH = 2;
/**
 * Past its feet a spike stays below this share of its height, but for `GUARD_SLACK` of the points
 * (noise); the level between two spikes the other way is back at its full height there.
 */
const GUARD_SHARE = 0.75;
const GUARD_SLACK = 0.25;
/** Least height over local noise of a labeled spike (mean absolute differences of neighbours). */
const MIN_LABEL_SNR = 2;

/** Mean of the finite values in [i - r, i + r] (NaN when none): the spike's smoothed core. */
function coreMeanAt(x: Float64Array, i: number, r: number): number {
  let sum = 0;
  let count = 0;
  for (let j = Math.max(0, i - r); j <= i + r && j < x.length; j++) {
    if (x[j] === x[j]) {
      sum += x[j];
      count++;
    }
  }
  return count > 0 ? sum / count : NaN;
}

/**
 * Measures spikes at single points (learning, seasonal echoes) into its fields, reusing its windows: no
 * allocation per measured point.
 */
class SpikeProbe {
  /** Height over the base (-Infinity when a side lacks data). */
  height = NaN;
  /** `height` over local noise. */
  snr = NaN;
  /** The base: the higher foot; NaN when a side lacks data. */
  level = NaN;
  private readonly noiseLeft: SlidingWindowStats;
  private readonly noiseRight: SlidingWindowStats;

  constructor(private readonly x: Float64Array) {
    this.noiseLeft = new SlidingWindowStats(x);
    this.noiseRight = new SlidingWindowStats(x);
  }

  /**
   * Height over the base, that height over noise, and the base at `i` (O(baseReach + sideWindow));
   * the noise windows are skipped (snr -Infinity) when the height is under `minHeight`.
   */
  measure(i: number, m: SpikeModel, minHeight = -Infinity): void {
    const x = this.x;
    const n = x.length;
    const h = m.halfExclusion;
    const B = m.sideWindow;
    const W = m.baseReach;
    const r = m.coreRadius;
    this.height = -Infinity;
    this.snr = -Infinity;
    this.level = NaN;
    const core = coreMeanAt(x, i, r);
    if (!judgeable(i, n, h, minSideCount(B)) || x[i] !== x[i] || core !== core) return;
    // The walks of `scanSpikes`, each side up to the first point over the top (ties end the left walk
    // only), with the core mean slid along rather than recomputed at every point.
    let footL = core;
    let sum = 0;
    let cnt = 0;
    for (let q = Math.max(0, i - r); q <= i + r && q < n; q++) if (x[q] === x[q]) (sum += x[q]), cnt++;
    const sumI = sum;
    const cntI = cnt;
    for (let j = i - 1; j >= i - W && j >= 0; j--) {
      let q = j - r; // enters the core of j
      if (q >= 0 && x[q] === x[q]) (sum += x[q]), cnt++;
      q = j + r + 1; // leaves it
      if (q < n && x[q] === x[q]) (sum -= x[q]), cnt--;
      if (cnt === 0) continue;
      const c = sum / cnt;
      if (c >= core) break;
      if (c < footL) footL = c;
    }
    if (!(core - footL > minHeight)) return;
    let footR = core;
    sum = sumI;
    cnt = cntI;
    for (let j = i + 1; j <= i + W && j < n; j++) {
      let q = j + r; // enters the core of j
      if (q < n && x[q] === x[q]) (sum += x[q]), cnt++;
      q = j - r - 1; // leaves it
      if (q >= 0 && x[q] === x[q]) (sum -= x[q]), cnt--;
      if (cnt === 0) continue;
      const c = sum / cnt;
      if (c > core) break;
      if (c < footR) footR = c;
    }
    const level = footL > footR ? footL : footR;
    const height = core - level;
    this.height = height;
    this.level = level;
    if (!(height >= minHeight)) return;
    const { noiseLeft, noiseRight } = this;
    // Reset windows recompute from scratch on their next move, exactly as new ones would.
    noiseLeft.reset(x);
    noiseRight.reset(x);
    noiseLeft.moveTo(i - h - NOISE_SPAN * B, i - h);
    noiseRight.moveTo(i + h + 1, i + h + 1 + NOISE_SPAN * B);
    this.snr = height / sideNoise(noiseLeft, noiseRight);
  }
}

/**
 * The score of a point computed directly, for seasonal echoes (series index `j` is `x` index j - base);
 * -Infinity outside x or where no spike like the labeled ones is.
 */
class SpikeEchoScorer implements EchoScorer {
  private readonly probe: SpikeProbe;
  private readonly span = new Int32Array(2);

  constructor(
    private readonly x: Float64Array,
    private readonly base: number,
    private readonly m: SpikeModel,
    private readonly invHeight: number,
    private readonly invSnr: number,
  ) {
    this.probe = new SpikeProbe(x);
  }

  scoreAt(j: number, need: number): number {
    const x = this.x;
    const m = this.m;
    const i = j - this.base;
    if (i < 0 || i >= x.length || x[i] !== x[i]) return -Infinity;
    this.probe.measure(i, m, need / this.invHeight);
    const a = this.probe.height * this.invHeight;
    const b = this.probe.snr * this.invSnr;
    const s = a < b ? a : b;
    if (!(s >= need)) return s;
    // Only a spike like the labeled ones is an echo: a narrow blip a day away says nothing about
    // whether this spike belongs to the daily pattern.
    widthAtHalfHeight(x, i, this.probe.level, m.coreRadius, m.maxWidth, this.span);
    const w = this.span[1] - this.span[0] + 1;
    return w >= m.minWidth && w <= m.maxWidth ? s : -Infinity;
  }
}

/** Each side must hold this many points past the spike's half width: a spike is only judged once both sides are known. */
function minSideCount(B: number): number {
  return Math.max(1, Math.ceil(B / 4));
}

/** Whether point i of n has `halfExclusion + minCount` points on each side. */
function judgeable(i: number, n: number, h: number, minCount: number): boolean {
  return i - h - minCount >= 0 && i + h + minCount <= n - 1;
}

function sideNoise(left: SlidingWindowStats, right: SlidingWindowStats): number {
  const dc = left.diffCount + right.diffCount;
  const noise = dc > 0 ? (left.absDiffSum + right.absDiffSum) / dc : 0;
  return noise >= NOISE_FLOOR ? noise : NOISE_FLOOR;
}

/**
 * Width at half height of the spike at `p` over `level`: the height is the core mean's (smoothed like
 * the score), the walk goes over raw values (gaps do not end it), so a one-point blip, which smoothing
 * would widen to the core's width, keeps its width of one. Stops counting past `limit` per side.
 * Writes the first and last index into `out` (scratch, so candidates allocate nothing).
 */
function widthAtHalfHeight(x: Float64Array, p: number, level: number, r: number, limit: number, out: Int32Array): void {
  const cut = level + (coreMeanAt(x, p, r) - level) / 2;
  // Walk from the highest raw point of the core: from a dip between two one-point blips, the walk
  // would span both and take them for one spike as wide as the core.
  let top = p;
  for (let j = Math.max(0, p - r); j <= p + r && j < x.length; j++) if (x[j] > x[top] || x[top] !== x[top]) top = j;
  let lo = top;
  while (lo > 0 && top - lo <= limit && !(x[lo - 1] < cut)) lo--;
  let hi = top;
  while (hi < x.length - 1 && hi - top <= limit && !(x[hi + 1] < cut)) hi++;
  out[0] = lo;
  out[1] = hi;
}

/**
 * Scans `x` from `start`, adding candidates whose score is stored as their confidence. `unitHeight` is
 * the model's unit height in the units of `x`.
 */
function scanSpikes(
  x: Float64Array,
  t: Float64Array,
  base: number,
  m: SpikeModel,
  unitHeight: number,
  start: number,
  threshold: number,
  out: Candidates,
): void {
  const n = x.length;
  const W = m.baseReach;
  // The smoothed series is computed at a lead j = i + W and kept in a ring; the lowest smoothed value
  // of [j - W, j] comes from a monotonic deque of indices (O(1) amortised) and is kept in a second
  // ring: for point i the lowest of each side's reach is that minimum at i and the one at i + W. Past
  // the end the lead goes on without new values, so the right side covers [i, n) only.
  let size = 4;
  while (size < 2 * W + 2) size <<= 1;
  const scan: SpikeScan = {
    x,
    t,
    base,
    m,
    out,
    noiseLeft: new SlidingWindowStats(x),
    noiseRight: new SlidingWindowStats(x),
    echo: new SpikeEchoScorer(x, base, m, unitHeight > 0 ? 1 / unitHeight : Infinity, 1 / m.unitSnr),
    smooth: new Float64Array(size),
    lowest: new Float64Array(size),
    deque: new Int32Array(size),
    ints: new Int32Array(SPIKE_INTS),
    doubles: new Float64Array(SPIKE_DOUBLES),
  };
  const first = start < 0 ? 0 : start;
  const lead0 = first - W > 0 ? first - W : 0;
  const end = n + W;
  // In chunks: a function called once per detect with one long loop is optimized on the stack from a
  // single call's feedback and deoptimizes at the next call's first untaken branch, so every detect
  // started in the interpreter again; called per chunk, it is optimized as a whole and stays so.
  for (let j = lead0; j < end; j += SPIKE_CHUNK) {
    scanSpikesChunk(scan, unitHeight, threshold, first, lead0, j, j + SPIKE_CHUNK < end ? j + SPIKE_CHUNK : end);
  }
  const ints = scan.ints;
  const doubles = scan.doubles;
  if (ints[SI_IN_RUN] !== 0) {
    emitSpike(x, t, base, m, scan.echo, doubles[SD_BEST_S], ints[SI_BEST_I], doubles[SD_BEST_L], ints[SI_BEST_AT_L], ints[SI_BEST_AT_R], out);
  }
}

/** Points of `scanSpikes` per chunk; the scan state is saved and restored once a chunk (exact). */
const SPIKE_CHUNK = 4096;
// Integer and double slots of the scan state kept between chunks.
const SI_IN_RUN = 0;
const SI_LAST_ABOVE = 1;
const SI_BEST_I = 2;
const SI_AT_L = 3;
const SI_AT_R = 4;
const SI_BEST_AT_L = 5;
const SI_BEST_AT_R = 6;
const SI_HEAD = 7;
const SI_TAIL = 8;
const SI_CNT_C = 9;
const SI_SINCE_RECOMPUTE = 10;
const SPIKE_INTS = 11;
const SD_BEST_S = 0;
const SD_BEST_L = 1;
const SD_SUM_C = 2;
const SPIKE_DOUBLES = 3;

/** What a spike scan works with, and its state between chunks. */
interface SpikeScan {
  x: Float64Array;
  t: Float64Array;
  base: number;
  m: SpikeModel;
  out: Candidates;
  noiseLeft: SlidingWindowStats;
  noiseRight: SlidingWindowStats;
  echo: SpikeEchoScorer;
  smooth: Float64Array;
  lowest: Float64Array;
  deque: Int32Array;
  ints: Int32Array;
  doubles: Float64Array;
}

/** Lead positions [from, to) of `scanSpikes` (point i = j - baseReach). */
function scanSpikesChunk(
  scan: SpikeScan,
  unitHeight: number,
  threshold: number,
  first: number,
  lead0: number,
  from: number,
  to: number,
): void {
  const { x, t, base, m, out, noiseLeft, noiseRight, echo, smooth, lowest, deque, ints, doubles } = scan;
  const n = x.length;
  const h = m.halfExclusion;
  const B = m.sideWindow;
  const rc = m.coreRadius;
  const W = m.baseReach;
  const NB = NOISE_SPAN * B;
  const minCount = minSideCount(B);
  const invHeight = unitHeight > 0 ? 1 / unitHeight : Infinity;
  const invSnr = 1 / m.unitSnr;
  // A run of scores over the threshold ends after this many points below it (noise dips).
  const patience = rc + 1;
  // Run state lives in locals and a finished run goes to `emitSpike`, a module function: a closure made
  // per scan was a new call target on every detect, so the optimized loop deoptimized each time.
  let inRun = ints[SI_IN_RUN] !== 0;
  let lastAbove = ints[SI_LAST_ABOVE];
  let bestS = doubles[SD_BEST_S];
  let bestI = ints[SI_BEST_I];
  let bestL = doubles[SD_BEST_L];
  // Where the feet of the scored point and of the run's best point are.
  let atL = ints[SI_AT_L];
  let atR = ints[SI_AT_R];
  let bestAtL = ints[SI_BEST_AT_L];
  let bestAtR = ints[SI_BEST_AT_R];
  const mask = smooth.length - 1;
  let head = ints[SI_HEAD];
  let tail = ints[SI_TAIL];
  // The core window slides by one point per step: its sum and count are kept in locals, the entering
  // and leaving points added and removed, and recomputed every 65536 steps so rounding cannot drift.
  let sumC = doubles[SD_SUM_C];
  let cntC = ints[SI_CNT_C];
  let sinceRecompute = ints[SI_SINCE_RECOMPUTE];
  const lo = h + minCount;
  const hi = n - 1 - h - minCount;
  for (let j = from; j < to; j++) {
    if (j < n) {
      if (j === lead0 || sinceRecompute >= 65536) {
        sumC = cntC = 0;
        for (let q = Math.max(0, j - rc); q <= j + rc && q < n; q++) if (x[q] === x[q]) (sumC += x[q]), cntC++;
        sinceRecompute = 0;
      } else {
        sinceRecompute++;
        let q = j + rc; // enters the core
        if (q < n && x[q] === x[q]) (sumC += x[q]), cntC++;
        q = j - rc - 1; // leaves it
        if (q >= 0 && x[q] === x[q]) (sumC -= x[q]), cntC--;
      }
      const c = cntC > 0 ? sumC / cntC : NaN;
      smooth[j & mask] = c;
      if (c === c) {
        while (tail > head && smooth[deque[(tail - 1) & mask] & mask] >= c) tail--;
        deque[tail & mask] = j;
        tail++;
      }
    }
    while (tail > head && deque[head & mask] < j - W) head++;
    lowest[j & mask] = tail > head ? smooth[deque[head & mask] & mask] : NaN;
    const i = j - W;
    if (i < first) continue;
    let s = -Infinity;
    let level = NaN;
    if (i >= lo && i <= hi && x[i] === x[i]) {
      const top = smooth[i & mask];
      let footL = lowest[i & mask];
      let footR = lowest[j & mask];
      // Cheap test first: the lowest values in reach bound the height from above, and most points are
      // nowhere near a spike.
      // Only a local maximum of the smoothed series can have a height (the walks below stop at once
      // otherwise): that skips the walks on every flank.
      if (
        (top - (footL > footR ? footL : footR)) * invHeight >= threshold &&
        !(smooth[(i - 1) & mask] >= top) &&
        !(i + 1 < n && smooth[(i + 1) & mask] > top)
      ) {
        // The feet: the lowest points before the first one over the top on each side (a prominence
        // within reach). A point of a baseline between two deeper spikes the other way meets a higher
        // neighbour at once, so it is no spike; a flat top counts at its first point.
        footL = footR = top;
        atL = atR = i;
        for (let q = i - 1; q >= i - W && q >= 0; q--) {
          const v = smooth[q & mask];
          if (v >= top) break;
          if (v < footL) (footL = v), (atL = q);
        }
        for (let q = i + 1; q <= i + W && q < n; q++) {
          const v = smooth[q & mask];
          if (v > top) break;
          if (v < footR) (footR = v), (atR = q);
        }
        level = footL > footR ? footL : footR;
      }
      const height = top - level;
      if (height * invHeight >= threshold) {
        noiseLeft.moveTo(i - h - NB, i - h);
        noiseRight.moveTo(i + h + 1, i + h + 1 + NB);
        // sideNoise, inlined so no double crosses a call boundary in the hot loop.
        const dc = noiseLeft.diffCount + noiseRight.diffCount;
        let noise = dc > 0 ? (noiseLeft.absDiffSum + noiseRight.absDiffSum) / dc : 0;
        if (!(noise >= NOISE_FLOOR)) noise = NOISE_FLOOR;
        const snr = (height / noise) * invSnr;
        const a = height * invHeight;
        s = a < snr ? a : snr;
      }
    }
    if (s >= threshold) {
      if (!inRun || s > bestS) {
        bestS = s;
        bestI = i;
        bestL = level;
        bestAtL = atL;
        bestAtR = atR;
      }
      inRun = true;
      lastAbove = i;
    } else if (inRun && i - lastAbove > patience) {
      inRun = false;
      emitSpike(x, t, base, m, echo, bestS, bestI, bestL, bestAtL, bestAtR, out);
    }
  }
  ints[SI_IN_RUN] = inRun ? 1 : 0;
  ints[SI_LAST_ABOVE] = lastAbove;
  doubles[SD_BEST_S] = bestS;
  ints[SI_BEST_I] = bestI;
  doubles[SD_BEST_L] = bestL;
  ints[SI_AT_L] = atL;
  ints[SI_AT_R] = atR;
  ints[SI_BEST_AT_L] = bestAtL;
  ints[SI_BEST_AT_R] = bestAtR;
  ints[SI_HEAD] = head;
  ints[SI_TAIL] = tail;
  doubles[SD_SUM_C] = sumC;
  ints[SI_CNT_C] = cntC;
  ints[SI_SINCE_RECOMPUTE] = sinceRecompute;
}

/**
 * Whether the spike at `p` stays low past its feet (at `atL` and `atR`) for `minWidth` points on both
 * sides: a level between two spikes the other way, which are its "feet", rises right back past them;
 * a spike's flanks end on a baseline.
 */
function standsAlone(x: Float64Array, atL: number, atR: number, p: number, level: number, m: SpikeModel): boolean {
  const cut = level + GUARD_SHARE * (coreMeanAt(x, p, m.coreRadius) - level);
  const g = m.minWidth;
  const allowed = GUARD_SLACK * g;
  let over = 0;
  for (let q = Math.max(0, atL - g); q < atL; q++) if (x[q] >= cut) over++;
  if (over > allowed) return false;
  over = 0;
  for (let q = atR + 1; q <= atR + g && q < x.length; q++) if (x[q] >= cut) over++;
  return over <= allowed;
}

/** First and last index of a width at half height (scratch for `widthAtHalfHeight`). */
const halfHeightSpan = new Int32Array(2);

/**
 * Adds the candidate of a finished run (best point `bestI`, score `bestS`, baseline `bestL`) unless it
 * scores over the band, its width at half height is unlike the labeled ones, or it echoes a season.
 */
function emitSpike(
  x: Float64Array,
  t: Float64Array,
  base: number,
  m: SpikeModel,
  echo: SpikeEchoScorer,
  bestS: number,
  bestI: number,
  bestL: number,
  atL: number,
  atR: number,
  out: Candidates,
): void {
  if (m.maxScore !== null && bestS > m.maxScore) return;
  widthAtHalfHeight(x, bestI, bestL, m.coreRadius, m.maxWidth, halfHeightSpan);
  const l = halfHeightSpan[0];
  const r = halfHeightSpan[1];
  const w = r - l + 1;
  if (w < m.minWidth || w > m.maxWidth) return;
  if (!standsAlone(x, atL, atR, bestI, bestL, m)) return;
  if (echoesRecurringly(t, base + bestI, bestS, m.seasonsMs, m.segmentHalfWidth, base, echo)) return;
  out.add(Math.min(l, bestI - m.segmentHalfWidth), Math.max(r, bestI + m.segmentHalfWidth), bestS);
}

/** Learns a peak (or, mirrored, trough) model; throws `LearningError` without usable positives. */
export function learnSpike(type: 'peak' | 'trough', series: Series, labels: Labels): SpikeModel {
  const sign = type === 'peak' ? 1 : -1;
  requirePositiveLabels(labels.positive, type);
  const pos = labelIndexRanges(series, labels.positive, 'positive');
  const neg = labelIndexRanges(series, labels.negative, 'negative');
  const x = signedNormalizedValues(series.v, sign, 0);
  const half = normalizationHalfRange(series.v);

  const widths = pos.map((r) => r.to - r.from + 1);
  const h = Math.min(5000, Math.max(1, Math.ceil(Math.max(...widths) / 2)));
  // The top of a spike spans roughly a quarter of its labeled width; averaging it is a matched filter.
  const coreRadius = Math.min(h - 1, Math.floor(Math.min(...widths) / 8));
  const model: SpikeModel = {
    type,
    version: SPIKE_VERSION,
    halfExclusion: h,
    sideWindow: Math.max(2 * h + 2, 10),
    baseReach: BASE_REACH * h,
    coreRadius,
    unitHeight: 0,
    unitSnr: 1,
    threshold: 1,
    maxScore: null,
    minWidth: 1,
    maxWidth: 1,
    segmentHalfWidth: Math.max(1, Math.round(median(widths) / 2)),
    seasonsMs: [],
    seasonPoints: 0,
    excluded: mergedSpans([...labels.positive, ...labels.negative]),
  };
  const heights: number[] = [];
  const snrs: number[] = [];
  const spikeWidths: number[] = [];
  const tops: number[] = [];
  const probe = new SpikeProbe(x);
  for (const r of pos) {
    // The labeled spike's top: the highest point over its own baseline within the label.
    let found = false;
    let bestHeight = 0;
    let bestSnr = 0;
    let bestLevel = 0;
    let p = -1;
    for (let i = r.from; i <= r.to; i++) {
      if (x[i] !== x[i]) continue;
      probe.measure(i, model);
      if (probe.height > 0 && (!found || probe.height > bestHeight)) {
        found = true;
        bestHeight = probe.height;
        bestSnr = probe.snr;
        bestLevel = probe.level;
        p = i;
      }
    }
    // A label whose top stands barely over the noise marks no spike a detector could tell from noise.
    if (!found || !(bestSnr >= MIN_LABEL_SNR)) continue;
    widthAtHalfHeight(x, p, bestLevel, coreRadius, 4 * h + 4, halfHeightSpan);
    heights.push(bestHeight);
    tops.push(p);
    snrs.push(bestSnr);
    spikeWidths.push(halfHeightSpan[1] - halfHeightSpan[0] + 1);
  }
  if (heights.length === 0 || !(half > 0)) {
    throw new LearningError(
      `None of the labeled segments ${type === 'peak' ? 'rises above' : 'dips below'} its surroundings; ` +
        `label segments that contain a ${type}.`,
    );
  }
  // Noise in a core mean of 2r + 1 points is smaller by sqrt(2r + 1).
  const noiseScore = NOISE_SCORE / Math.sqrt(2 * coreRadius + 1);
  // Bounds around the typical labeled spike, not the most extreme one: a measurement spoiled by noise
  // or a neighbouring blip in one label must not loosen the model, so more labels never find more
  // unlike spikes.
  model.unitHeight = THRESHOLD_SHARE * median(heights) * half;
  model.unitSnr = Math.min(0.9 * Math.min(...snrs), noiseScore);
  const typicalWidth = median(spikeWidths);
  model.minWidth = Math.max(1, Math.floor(typicalWidth / 2));
  model.maxWidth = Math.ceil(typicalWidth * 2) + 1;

  // Filter the seasons that the labeled spikes do not all recur in themselves (one label near a like
  // shape a day away is a coincidence).
  const invHeight = half / model.unitHeight;
  const invSnr = 1 / model.unitSnr;
  const echo = new SpikeEchoScorer(x, 0, model, invHeight, invSnr);
  model.seasonsMs = seasonsToFilter(series.t, (P) =>
    tops.every((p, j) =>
      echoesRecurringly(series.t, p, Math.min(heights[j] * invHeight, snrs[j] * invSnr), [P], model.segmentHalfWidth, 0, echo),
    ),
  );
  model.seasonPoints = model.seasonsMs.length > 0 ? pointsIn(series.t, Math.max(...model.seasonsMs)) : 0;
  if (neg.length > 0) {
    // Find what detection would report, then move the score band past the removed detections.
    const scores = heights.map((hh, j) => Math.min(hh / (model.unitHeight / half), snrs[j] / model.unitSnr));
    const c = new Candidates();
    scanSpikes(x, series.t, 0, model, model.unitHeight / half, 0, model.threshold, c);
    fitBandToNegatives(model, c, neg, Math.min(...scores), Math.max(...scores));
  }
  return model;
}

/**
 * A stored model in the current shape. Version 2 measured heights over side-window means, which a
 * clean spike's height over its feet matches: it gains the feet's reach. Version 1 judged spikes on
 * height over noise only, in units of its `threshold`: it becomes a noise ratio with that unit, no
 * height ratio and no seasonal filter, so stored models keep detecting (about as before) until the
 * next learn.
 */
function upgradedSpikeModel(m: SpikeModel): SpikeModel {
  if (m.version === SPIKE_VERSION) return m;
  const reach = { version: SPIKE_VERSION, baseReach: BASE_REACH * m.halfExclusion } as const;
  if ((m.version as number) === 2) return { ...m, ...reach };
  const v1 = bandFromVersion1(m as unknown as { threshold: number; maxScore: number | null });
  return { ...m, ...reach, unitHeight: 0, ...v1 };
}

/** Points before `fromIndex` that `detectSpikes` reads. */
export function spikeContextPoints(stored: SpikeModel): number {
  const m = upgradedSpikeModel(stored);
  const own = Math.max(m.halfExclusion + NOISE_SPAN * m.sideWindow, m.baseReach + m.coreRadius) + m.maxWidth + m.segmentHalfWidth + 1;
  return own + (m.seasonPoints > 0 ? m.seasonPoints + m.segmentHalfWidth + 2 : 0);
}

/** Finds spikes like the learned ones that end at or after `fromIndex`. */
export function detectSpikes(stored: SpikeModel, series: Series, fromIndex = 0): Detection[] {
  const m = upgradedSpikeModel(stored);
  const n = series.t.length;
  if (n === 0) return [];
  const from = clampFromIndex(fromIndex, n);
  const ctx = spikeContextPoints(m);
  const base = Math.max(0, from - 2 * ctx);
  const x = signedNormalizedValues(series.v, m.type === 'peak' ? 1 : -1, base);
  const c = new Candidates();
  scanSpikes(x, series.t, base, m, heightInNormalizedUnits(m.unitHeight, series.v, base), from - ctx - base, m.threshold, c);
  for (let j = 0; j < c.confidence.length; j++) c.confidence[j] = confidenceFromMargin(c.confidence[j] / m.threshold);
  return finalizeDetections(series, base, c, from, m.excluded);
}
