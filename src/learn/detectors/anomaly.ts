import {
  Candidates,
  clampFromIndex,
  confidenceFromMargin,
  finalizeDetections,
  thresholdPastNegative,
} from './candidates';
import { labelIndexRanges, mergedSpans } from './label-ranges';
import {
  type AnomalyScanSettings,
  DEFAULT_SCAN_SETTINGS,
  SCORE_CONTEXT,
  scanAnomaly,
} from './anomaly-scores';
import type { Detection, Detector, Labels, Model, Series, Span } from './types';

/**
 * Unsupervised, causal anomaly detection (see `anomaly-scores.ts` for the views): each point is
 * compared with what the points before it predict, the recent level or, when the data has a daily
 * rhythm, the same time yesterday, giving z = |residual| / scale under the view that explains it best,
 * and with the values the series took lately (value rarity). `anomalyScores` turns these into a
 * per-point score, once per episode, led by value rarity; `anomalyResidualScores` is the residual
 * views' score alone (how rare and how large the surprise is). `detect` reports from those scores: a
 * segment starts where either reaches `SCORE_THRESHOLD` and the point itself stands out
 * (z > threshold; the residual score also needs a rare surprise, `MIN_SURPRISE_RARITY`; the value
 * score also starts one where the last few points together stand out, `SUSTAINED_POINTS`), and extends while the points stay anomalous (z > half the threshold). A point's
 * verdict depends only on earlier points. Labels are optional: positives can lower the z threshold,
 * removed detections raise it (and are filtered out as a last resort).
 */
export interface AnomalyModel extends Model, AnomalyScanSettings {
  type: 'anomaly';
  version: 2;
  /** Residual over scale (z) a point must exceed to start a detection (half of it to extend one). */
  threshold: number;
  /** Points per day of the learned series (median step), for the daily view's context; 0 when unknown. */
  pointsPerDay: number;
  /** Labeled positives and removed detections, sorted and merged: never reported. */
  excluded: Span[];
}

const ANOMALY_VERSION = 2;
const DEFAULT_THRESHOLD = 6;
const MIN_THRESHOLD = 3;
const MAX_THRESHOLD = 1e6;
/** Anomalous points at most this many points apart form one segment (a shift flickers as it settles). */
const MERGE_GAP = 5;
/**
 * Score (`anomalyScores`, or `anomalyResidualScores`) at which a detection starts: one global value,
 * not tuned per series, since the scores are already relative to each series' own history (rarity
 * within it). 0.9 is a round value near the best global threshold of the NAB sweep (0.89 to 0.91 for
 * the three profiles, `npm run bench -- nab`; 0.88 and 0.89 raise more false alarms in detect). The z
 * threshold still gates it: on plain noise the residual score reaches 0.9 at every new record of z
 * (tens of times in 20 000 points), and on a trend the values keep being new; the z gate keeps those
 * quiet.
 */
export const SCORE_THRESHOLD = 0.9;
/** `SCORE_THRESHOLD` as a raw score (before the map s / (1 + s) to [0, 1)). */
const RAW_SCORE_THRESHOLD = SCORE_THRESHOLD / (1 - SCORE_THRESHOLD);
/**
 * The residual path (a sharp spike among familiar values) also needs the surprise itself to be rare:
 * -log of the share of recent points (within `SCORE_SETTINGS.memory`) whose z was at least as large,
 * here e^-5.5, about 1 point in 250. The residual score is that rarity times log(1 + z), so a huge z
 * reaches `SCORE_THRESHOLD` even where one point in seven is as large: the routine spikes of a spiky
 * series (NAB's disk, network and load-balancer series), which the value score rightly finds familiar.
 * On NAB (`npm run bench -- nab`) this drops the served alarms from 236 to 152 (standard 61.0 -> 63.0,
 * low FP 47.3 -> 55.8); a rarity of 5, 6 and 7 scores 62.2, 63.1 and 62.6. Planted ±15σ spikes every
 * 700 points (seven or so in the memory) have a rarity of 6.2 to 8, so they still start a detection.
 */
const MIN_SURPRISE_RARITY = 5.5;
/** A segment extends over points with z above this fraction of the threshold (the episode, not its first point). */
const EXTEND_FRACTION = 0.5;
/**
 * Where the value score reaches `SCORE_THRESHOLD` but the point's z is below the threshold, a
 * detection still starts when the last this-many points (the point included) average z above
 * `EXTEND_FRACTION` of the threshold: a deviation sustained at the level that extends a segment (a
 * move into a band the series does not visit, a few moderate surprises in a row), where a single
 * moderate point on a new value (a trend's new high plus noise) starts nothing. On NAB the served
 * standard score rises 63.0 -> 64.4 (low FP 55.8 -> 57.1, low FN 67.5 -> 69.0) for 2 more alarms.
 */
const SUSTAINED_POINTS = 5;
/** The daily view wants three days of points before the scan start; beyond this many it is left out of the context. */
const MAX_DAY_CONTEXT = 100_000;

/**
 * Values scaled by the power of two that brings the first finite one near 1: exact (so verdicts are
 * the same wherever the scan starts) and causal, unlike a min/max normalisation, while keeping sums of
 * residuals of 1e300-sized data finite. Non-finite values become NaN.
 */
function causallyScaled(v: Float64Array, from: number): Float64Array {
  const x = new Float64Array(v.length - from);
  let factor = 0;
  for (let i = from; i < v.length; i++) {
    const vi = v[i];
    if (!Number.isFinite(vi)) {
      x[i - from] = NaN;
      continue;
    }
    if (factor === 0 && vi !== 0) factor = 2 ** -Math.floor(Math.log2(Math.abs(vi)));
    x[i - from] = factor === 0 ? vi : vi * factor;
  }
  return x;
}

/**
 * A stored model with any setting it lacks taken from the defaults: version 1 models (level, scale,
 * threshold, warm-up and exclusions only) keep working with the new views; until relearned their
 * context leaves out the days the daily view would like (`pointsPerDay` 0).
 */
function upgraded(m: AnomalyModel): AnomalyModel {
  return m.version === ANOMALY_VERSION ? m : { ...DEFAULT_SCAN_SETTINGS, ...m, pointsPerDay: m.pointsPerDay ?? 0 };
}

/** z of every point of `series` from `base` (see `scanAnomaly`), indexed from `base`. */
function zFrom(series: Series, m: AnomalyModel, base: number): Float64Array {
  const x = causallyScaled(series.v, base);
  const z = new Float64Array(x.length);
  scanAnomaly(base === 0 ? series.t : series.t.subarray(base), x, m, z);
  return z;
}

/**
 * Runs the model over the series, calling `onPoint(i, z)` for every finite point with a verdict
 * (z = |residual| / scale).
 */
function scanResiduals(series: Series, m: AnomalyModel, onPoint: (i: number, z: number) => void): void {
  const z = zFrom(series, m, 0);
  for (let i = 0; i < z.length; i++) if (z[i] > 0) onPoint(i, z[i]);
}

/** Points per day at the median step of the series (0 when it has fewer than two points). */
function pointsPerDayOf(t: Float64Array): number {
  const steps: number[] = [];
  const every = Math.max(1, Math.floor(t.length / 1000));
  for (let i = every; i < t.length; i += every) steps.push(t[i] - t[i - 1]);
  if (steps.length === 0) return 0;
  steps.sort((a, b) => a - b);
  const step = steps[steps.length >> 1];
  return step > 0 ? Math.ceil(86_400_000 / step) : 0;
}

function defaultModel(excluded: Span[], pointsPerDay = 0): AnomalyModel {
  return {
    type: 'anomaly',
    version: ANOMALY_VERSION,
    ...DEFAULT_SCAN_SETTINGS,
    threshold: DEFAULT_THRESHOLD,
    pointsPerDay,
    excluded,
  };
}

/** Highest z inside each range (ranges as closed index ranges), one scan. */
function maxZPerRange(x: Series, m: AnomalyModel, ranges: { from: number; to: number }[]): number[] {
  const best = ranges.map(() => 0);
  const first = Math.min(...ranges.map((r) => r.from));
  const last = Math.max(...ranges.map((r) => r.to));
  scanResiduals(x, m, (i, z) => {
    if (i < first || i > last) return;
    for (let j = 0; j < ranges.length; j++) if (ranges[j].from <= i && i <= ranges[j].to && z > best[j]) best[j] = z;
  });
  return best;
}

/** Smallest z (to 0.1) that at most `count` points of the series exceed. */
function zExceededBy(x: Series, m: AnomalyModel, count: number): number {
  const binsPerUnit = 10;
  const bins = new Float64Array(100 * binsPerUnit + 1);
  scanResiduals(x, m, (_, z) => {
    bins[Math.min(bins.length - 1, Math.floor(z * binsPerUnit))]++;
  });
  let above = 0;
  for (let b = bins.length - 1; b >= 0; b--) {
    if (above + bins[b] > count) return (b + 1) / binsPerUnit;
    above += bins[b];
  }
  return 0;
}

function learnAnomaly(series: Series, labels: Labels): AnomalyModel {
  const pos = labelIndexRanges(series, labels.positive, 'positive');
  const neg = labelIndexRanges(series, labels.negative, 'negative');
  const model = defaultModel(mergedSpans([...labels.positive, ...labels.negative]), pointsPerDayOf(series.t));
  if (pos.length === 0 && neg.length === 0) return model;
  const x = series;
  const posZ = maxZPerRange(x, model, pos).filter((z) => z > 0);
  const minPos = posZ.length > 0 ? Math.min(...posZ) : Infinity;
  // Positives weaker than the default threshold lower it, but only as far as the series allows: below
  // the level that a few points per labeled positive exceed, it would flood the user with noise.
  if (minPos < model.threshold) {
    const budget = Math.max(5, 3 * pos.length);
    model.threshold = Math.max(MIN_THRESHOLD, 0.9 * minPos, zExceededBy(x, model, budget));
  }
  // Removed detections below the weakest positive raise it just past them.
  const negZ = maxZPerRange(x, model, neg);
  for (const z of negZ) {
    if (z < model.threshold) continue;
    model.threshold = Math.min(MAX_THRESHOLD, thresholdPastNegative(model.threshold, z, minPos));
  }
  return model;
}

function anomalyContextPoints(model: AnomalyModel): number {
  const m = upgraded(model);
  // The level forgets (1 - alpha)^(10 / alpha) ≈ e^-10 of a point this far back; the daily view starts
  // a day in, then needs a few daily rhythm steps to be trusted (see SUPPORT_ALPHA): three days. The
  // score's histograms then need SCORE_CONTEXT points of settled z.
  return (
    Math.ceil(10 / Math.min(m.levelAlpha, m.scaleAlpha)) +
    2 * m.warmup +
    Math.min(MAX_DAY_CONTEXT, 3 * m.pointsPerDay) +
    SCORE_CONTEXT
  );
}

/** Whether z over the `SUSTAINED_POINTS` points ending at i (fewer at the start) sums to more than `sum`. */
function sustained(z: Float64Array, i: number, sum: number): boolean {
  let total = 0;
  for (let j = Math.max(0, i - SUSTAINED_POINTS + 1); j <= i; j++) total += z[j];
  return total > sum;
}

function detectAnomalies(model: AnomalyModel, series: Series, fromIndex = 0): Detection[] {
  const m = upgraded(model);
  const n = series.t.length;
  if (n === 0) return [];
  const from = clampFromIndex(fromIndex, n);
  const base = Math.max(0, from - anomalyContextPoints(m));
  const x = causallyScaled(series.v, base);
  const z = new Float64Array(x.length);
  const score = new Float64Array(x.length);
  const residual = new Float64Array(x.length);
  scanAnomaly(base === 0 ? series.t : series.t.subarray(base), x, m, z, score, residual);
  const c = new Candidates();
  collectRuns(z, score, residual, m.threshold, c);
  return finalizeDetections(series, base, c, from, m.excluded);
}

/**
 * Segments from the scan's per-point verdicts, into `c`. A module function keeping its run in locals:
 * a closure over them would box every double it stores, once per point.
 */
function collectRuns(z: Float64Array, score: Float64Array, residual: Float64Array, threshold: number, c: Candidates): void {
  const extend = EXTEND_FRACTION * threshold;
  const sustainedSum = SUSTAINED_POINTS * extend;
  let runStart = -1;
  let runEnd = -1;
  let runMax = 0;
  for (let i = 0; i < z.length; i++) {
    const zi = z[i];
    const si = score[i];
    if (runStart >= 0) {
      if (zi > extend) {
        runEnd = i;
        if (si > runMax) runMax = si;
        if (residual[i] > runMax) runMax = residual[i];
        continue;
      }
      // NaN points (z 0) neither extend nor end a segment.
      if (zi === 0 || i - runEnd <= MERGE_GAP) continue;
      c.add(runStart, runEnd, confidenceFromMargin(runMax / RAW_SCORE_THRESHOLD));
      runStart = -1;
    }
    // Two ways to start: the score (led by value rarity) with the point standing out of the recent
    // level, or, as before the value view, the residual score with the point clearly beyond the
    // threshold (a sharp spike among familiar values; labels move this threshold) and a surprise rare
    // in itself, not only large (see MIN_SURPRISE_RARITY).
    const ri = residual[i];
    const valueLed = si >= RAW_SCORE_THRESHOLD && (zi > threshold || sustained(z, i, sustainedSum));
    const residualLed = zi > threshold && ri >= RAW_SCORE_THRESHOLD && ri >= MIN_SURPRISE_RARITY * Math.log1p(zi);
    if (valueLed || residualLed) {
      runStart = i;
      runEnd = i;
      runMax = si > ri ? si : ri;
    }
  }
  if (runStart >= 0) c.add(runStart, runEnd, confidenceFromMargin(runMax / RAW_SCORE_THRESHOLD));
}

/**
 * Causal per-point anomaly score in [0, 1): mainly how rarely the recent past took the point's value
 * (where the point also surprises the recent level), else, at a lower weight, the rarity of the point's
 * surprise times its size; kept only at the start of an episode (lower scores within
 * `SCORE_SETTINGS.refractory` points after a higher one are 0). Only the model's scan settings are
 * used, not its threshold or labels: this ranks points for a threshold chosen elsewhere (e.g. one
 * global threshold in a benchmark).
 *
 * @example
 * const s = anomalyScores(anomalyDetector.learn(series, noLabels), series); // s[i] uses points 0..i only
 */
export function anomalyScores(model: AnomalyModel, series: Series): Float64Array {
  return scoresOf(model, series, false);
}

/**
 * The residual views' score alone (rarity of z times its size, at full weight), per point in [0, 1),
 * once per episode: `detect` also starts a segment where it reaches `SCORE_THRESHOLD`, z is over
 * the model's threshold and few recent points were as surprising (a sharp spike among values the
 * series has seen before, not one of its routine spikes).
 */
export function anomalyResidualScores(model: AnomalyModel, series: Series): Float64Array {
  return scoresOf(model, series, true);
}

function scoresOf(model: AnomalyModel, series: Series, residual: boolean): Float64Array {
  const n = series.t.length;
  const x = causallyScaled(series.v, 0);
  const z = new Float64Array(n);
  const out = new Float64Array(n);
  if (residual) scanAnomaly(series.t, x, upgraded(model), z, undefined, out);
  else scanAnomaly(series.t, x, upgraded(model), z, out);
  for (let i = 0; i < n; i++) out[i] = out[i] / (1 + out[i]);
  return out;
}

/**
 * Flags points far from what the points before them predict; needs no labels.
 *
 * @example
 * const model = anomalyDetector.learn(series, { positive: [], negative: [] });
 * const found = anomalyDetector.detect(model, series, series.t.length - 100);
 */
export const anomalyDetector: Detector<AnomalyModel> = {
  type: 'anomaly',
  learn: learnAnomaly,
  detect: detectAnomalies,
  contextPoints: anomalyContextPoints,
};
