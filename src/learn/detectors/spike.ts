import {
  Candidates,
  clampFromIndex,
  confidenceFromMargin,
  finalizeDetections,
  fitBandToNegatives,
} from './candidates';
import { labelIndexRanges, median, mergedSpans, requirePositiveLabels } from './label-ranges';
import { NOISE_FLOOR, signedNormalizedValues } from './normalize';
import { SlidingWindowStats } from './sliding-window-stats';
import { LearningError, type Detection, type Labels, type Model, type Series, type Span } from './types';

/**
 * Shared maths of the peak and trough detectors. A spike's score at point i is its height over the
 * local baseline in units of local noise: (core - level) / noise, where core is the mean of the
 * 2 * coreRadius + 1 points around i (a matched filter for the spike's top). Level is the higher of the means of
 * two side windows that skip `halfExclusion` points around i (so the spike does not raise its own
 * baseline, and a step, whose higher side is level with it, scores about zero); noise is the mean
 * absolute difference of neighbours in both windows, which ignores level and slow trends.
 * A candidate is the highest point of a run of scores over the threshold; it is kept when its width at
 * half height is like the labeled ones.
 */
export interface SpikeModel extends Model {
  type: 'peak' | 'trough';
  version: 1;
  /** Points skipped on each side of the scored point before the side windows start. */
  halfExclusion: number;
  /** Length in points of each side window. */
  sideWindow: number;
  /** Radius of the spike's core, averaged before scoring (2r + 1 points). */
  coreRadius: number;
  /** Minimum score (core height over local noise). */
  threshold: number;
  /** Maximum score, set when a removed detection was taller than every labeled spike; null = none. */
  maxScore: number | null;
  /** Accepted width at half height, in points. */
  minWidth: number;
  maxWidth: number;
  /** Half the typical labeled width in points, used to size reported segments. */
  segmentHalfWidth: number;
  /** Labeled positives and removed detections, sorted and merged: never reported. */
  excluded: Span[];
}

const SPIKE_VERSION = 1;
/** Share of the weakest labeled spike's score a detection must reach (siblings vary by about ±30%). */
const THRESHOLD_SHARE = 0.4;
/** Noise is estimated over side windows this many times longer than the level's: a steadier scale. */
const NOISE_SPAN = 4;
/**
 * Score that noise alone almost never reaches (about 6 standard deviations of Gaussian noise at one
 * point); the threshold is raised towards it, but never above 90% of the weakest labeled spike.
 */
const NOISE_SCORE = 5.5;


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

/** Score and baseline level at `i`, computed directly (O(sideWindow)); used while learning. */
function spikeScoreAt(x: Float64Array, i: number, m: SpikeModel): { score: number; level: number } {
  const h = m.halfExclusion;
  const B = m.sideWindow;
  const left = new SlidingWindowStats(x);
  const right = new SlidingWindowStats(x);
  const noiseLeft = new SlidingWindowStats(x);
  const noiseRight = new SlidingWindowStats(x);
  left.moveTo(i - h - B, i - h);
  right.moveTo(i + h + 1, i + h + 1 + B);
  noiseLeft.moveTo(i - h - NOISE_SPAN * B, i - h);
  noiseRight.moveTo(i + h + 1, i + h + 1 + NOISE_SPAN * B);
  const level = sideLevel(left, right, minSideCount(B));
  const core = coreMeanAt(x, i, m.coreRadius);
  if (level !== level || core !== core) return { score: -Infinity, level: NaN };
  return { score: (core - level) / sideNoise(noiseLeft, noiseRight), level };
}

/** Each side window must hold this many values: a spike is only judged once both sides are known. */
function minSideCount(B: number): number {
  return Math.max(1, Math.ceil(B / 4));
}

/**
 * The higher of the two side means (NaN when a side is too empty). Measuring the spike above the
 * higher side makes a step score about zero at its edge, so level shifts are not taken for spikes.
 */
function sideLevel(left: SlidingWindowStats, right: SlidingWindowStats, minCount: number): number {
  if (left.count < minCount || right.count < minCount) return NaN;
  const l = left.sum / left.count;
  const r = right.sum / right.count;
  return l > r ? l : r;
}

function sideNoise(left: SlidingWindowStats, right: SlidingWindowStats): number {
  const dc = left.diffCount + right.diffCount;
  const noise = dc > 0 ? (left.absDiffSum + right.absDiffSum) / dc : 0;
  return noise >= NOISE_FLOOR ? noise : NOISE_FLOOR;
}

/**
 * Width at half height of the spike at `p` over `level`, on core means (smoothed like the score);
 * stops counting past `limit` per side.
 */
function widthAtHalfHeight(
  x: Float64Array,
  p: number,
  level: number,
  r: number,
  limit: number,
): { l: number; r: number } {
  const half = (coreMeanAt(x, p, r) - level) / 2;
  let lo = p;
  while (lo > 0 && p - lo <= limit && coreMeanAt(x, lo - 1, r) - level >= half) lo--;
  let hi = p;
  while (hi < x.length - 1 && hi - p <= limit && coreMeanAt(x, hi + 1, r) - level >= half) hi++;
  return { l: lo, r: hi };
}

/** Scans `x` from `start`, adding candidates whose raw score is stored as their confidence. */
function scanSpikes(x: Float64Array, m: SpikeModel, start: number, threshold: number, out: Candidates): void {
  const n = x.length;
  const h = m.halfExclusion;
  const B = m.sideWindow;
  const rc = m.coreRadius;
  const left = new SlidingWindowStats(x);
  const right = new SlidingWindowStats(x);
  const noiseLeft = new SlidingWindowStats(x);
  const noiseRight = new SlidingWindowStats(x);
  const core = new SlidingWindowStats(x);
  const NB = NOISE_SPAN * B;
  const limit = m.maxWidth;
  const minCount = minSideCount(B);
  // A run of scores over the threshold ends after this many points below it (noise dips).
  const patience = rc + 1;
  let inRun = false;
  let lastAbove = 0;
  let bestS = 0;
  let bestI = 0;
  let bestL = 0;
  const emit = () => {
    inRun = false;
    if (m.maxScore !== null && bestS > m.maxScore) return;
    const { l, r } = widthAtHalfHeight(x, bestI, bestL, rc, limit);
    const w = r - l + 1;
    if (w < m.minWidth || w > m.maxWidth) return;
    out.add(Math.min(l, bestI - m.segmentHalfWidth), Math.max(r, bestI + m.segmentHalfWidth), bestS);
  };
  for (let i = start < 0 ? 0 : start; i < n; i++) {
    left.moveTo(i - h - B, i - h);
    right.moveTo(i + h + 1, i + h + 1 + B);
    noiseLeft.moveTo(i - h - NB, i - h);
    noiseRight.moveTo(i + h + 1, i + h + 1 + NB);
    core.moveTo(i - rc, i + rc + 1);
    const level = sideLevel(left, right, minCount);
    const s =
      x[i] === x[i] && core.count > 0 && level === level
        ? (core.sum / core.count - level) / sideNoise(noiseLeft, noiseRight)
        : -Infinity;
    if (s >= threshold) {
      if (!inRun || s > bestS) {
        bestS = s;
        bestI = i;
        bestL = level;
      }
      inRun = true;
      lastAbove = i;
    } else if (inRun && i - lastAbove > patience) emit();
  }
  if (inRun) emit();
}

/** Learns a peak (or, mirrored, trough) model; throws `LearningError` without usable positives. */
export function learnSpike(type: 'peak' | 'trough', series: Series, labels: Labels): SpikeModel {
  const sign = type === 'peak' ? 1 : -1;
  requirePositiveLabels(labels.positive, type);
  const pos = labelIndexRanges(series, labels.positive, 'positive');
  const neg = labelIndexRanges(series, labels.negative, 'negative');
  const x = signedNormalizedValues(series.v, sign, 0);

  const widths = pos.map((r) => r.to - r.from + 1);
  const h = Math.min(5000, Math.max(1, Math.ceil(Math.max(...widths) / 2)));
  // The top of a spike spans roughly a quarter of its labeled width; averaging it is a matched filter.
  const coreRadius = Math.min(h - 1, Math.floor(Math.min(...widths) / 8));
  const model: SpikeModel = {
    type,
    version: SPIKE_VERSION,
    halfExclusion: h,
    sideWindow: Math.max(2 * h + 2, 10),
    coreRadius,
    threshold: 0,
    maxScore: null,
    minWidth: 1,
    maxWidth: 1,
    segmentHalfWidth: Math.max(1, Math.round(median(widths) / 2)),
    excluded: mergedSpans([...labels.positive, ...labels.negative]),
  };
  const scores: number[] = [];
  const spikeWidths: number[] = [];
  for (const r of pos) {
    let p = -1;
    let top = -Infinity;
    for (let i = r.from; i <= r.to; i++) {
      const c = coreMeanAt(x, i, coreRadius);
      if (c > top) {
        top = c;
        p = i;
      }
    }
    if (p < 0) continue;
    const { score, level } = spikeScoreAt(x, p, model);
    if (!(score > 0)) continue;
    const { l, r: rr } = widthAtHalfHeight(x, p, level, coreRadius, 4 * h + 4);
    scores.push(score);
    spikeWidths.push(rr - l + 1);
  }
  if (scores.length === 0) {
    throw new LearningError(
      `None of the labeled segments ${type === 'peak' ? 'rises above' : 'dips below'} its surroundings; ` +
        `label segments that contain a ${type}.`,
    );
  }
  const minPos = Math.min(...scores);
  const maxPos = Math.max(...scores);
  // Noise in a core mean of 2r + 1 points is smaller by sqrt(2r + 1).
  const noiseScore = NOISE_SCORE / Math.sqrt(2 * coreRadius + 1);
  model.threshold = Math.max(THRESHOLD_SHARE * minPos, Math.min(0.9 * minPos, noiseScore));
  model.minWidth = Math.max(1, Math.floor(Math.min(...spikeWidths) / 2));
  model.maxWidth = Math.ceil(Math.max(...spikeWidths) * 2) + 1;

  if (neg.length > 0) {
    // Find what detection would report, then move the score band past the removed detections.
    const c = new Candidates();
    scanSpikes(x, model, 0, model.threshold, c);
    fitBandToNegatives(model, c, neg, minPos, maxPos);
  }
  return model;
}

/** Points before `fromIndex` that `detectSpikes` reads. */
export function spikeContextPoints(m: SpikeModel): number {
  return m.halfExclusion + NOISE_SPAN * m.sideWindow + m.maxWidth + m.segmentHalfWidth + 1;
}

/** Finds spikes like the learned ones that end at or after `fromIndex`. */
export function detectSpikes(m: SpikeModel, series: Series, fromIndex = 0): Detection[] {
  const n = series.t.length;
  if (n === 0) return [];
  const from = clampFromIndex(fromIndex, n);
  const ctx = spikeContextPoints(m);
  const base = Math.max(0, from - 2 * ctx);
  const x = signedNormalizedValues(series.v, m.type === 'peak' ? 1 : -1, base);
  const c = new Candidates();
  scanSpikes(x, m, from - ctx - base, m.threshold, c);
  for (let j = 0; j < c.confidence.length; j++) c.confidence[j] = confidenceFromMargin(c.confidence[j] / m.threshold);
  return finalizeDetections(series, base, c, from, m.excluded);
}
