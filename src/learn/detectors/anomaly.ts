import {
  Candidates,
  clampFromIndex,
  confidenceFromMargin,
  finalizeDetections,
  thresholdPastNegative,
} from './candidates';
import { labelIndexRanges, mergedSpans } from './label-ranges';
import type { Detection, Detector, Labels, Model, Series, Span } from './types';

/**
 * Unsupervised, causal anomaly detection: each point is compared with an exponentially weighted
 * level of the points before it, in units of an exponentially weighted mean absolute residual (the
 * adaptive scale). A point is anomalous when |residual| > threshold * scale. Updates use the residual
 * clipped at threshold * scale, so one outlier barely moves level and scale, while a lasting level
 * shift is absorbed within a few dozen points (the scale grows geometrically until it fits).
 * A point's verdict depends only on earlier points. Labels are optional: positives can lower the
 * threshold, removed detections raise it (and are filtered out as a last resort).
 */
export interface AnomalyModel extends Model {
  type: 'anomaly';
  version: 1;
  /** Weight of the newest point in the level. */
  levelAlpha: number;
  /** Weight of the newest residual in the scale. */
  scaleAlpha: number;
  /** Residual over scale above which a point is anomalous. */
  threshold: number;
  /** Points seen before any verdict (the level and scale settle on them). */
  warmup: number;
  /** Labeled positives and removed detections, sorted and merged: never reported. */
  excluded: Span[];
}

const ANOMALY_VERSION = 1;
const DEFAULT_THRESHOLD = 6;
const MIN_THRESHOLD = 3;
const MAX_THRESHOLD = 1e6;
/** Anomalous points at most this many points apart form one segment (a shift flickers as it settles). */
const MERGE_GAP = 5;

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
 * Runs the model over `x` from `start`, calling `onPoint(i, z)` for every finite point with a verdict
 * (z = |residual| / scale; Infinity on a flat history broken by a change).
 */
function scanResiduals(x: Float64Array, m: AnomalyModel, start: number, onPoint: (i: number, z: number) => void): void {
  const n = x.length;
  const k = m.threshold;
  let level = 0;
  let scale = 0;
  let seen = 0;
  for (let i = Math.max(0, start); i < n; i++) {
    const xi = x[i];
    if (xi !== xi) continue;
    if (seen === 0) {
      level = xi;
      seen = 1;
      continue;
    }
    const r = xi - level;
    const ar = Math.abs(r);
    if (seen >= m.warmup) {
      const z = ar === 0 ? 0 : scale > 0 ? ar / scale : Infinity;
      onPoint(i, z);
    }
    // Clip the update so an outlier barely moves the state; on a flat history (scale 0) take the change.
    const limit = k * scale;
    const rc = scale > 0 && ar > limit ? (r > 0 ? limit : -limit) : r;
    seen++;
    if (seen <= m.warmup) {
      // Running means while warming up: the first points weigh as much as the later ones.
      level += r / seen;
      scale += (ar - scale) / (seen - 1);
    } else {
      level += m.levelAlpha * rc;
      scale += m.scaleAlpha * (Math.abs(rc) - scale);
    }
  }
}

function defaultModel(excluded: Span[]): AnomalyModel {
  return {
    type: 'anomaly',
    version: ANOMALY_VERSION,
    levelAlpha: 0.05,
    scaleAlpha: 0.02,
    threshold: DEFAULT_THRESHOLD,
    warmup: 20,
    excluded,
  };
}

/** Highest z inside each range (ranges as closed index ranges), one scan. */
function maxZPerRange(x: Float64Array, m: AnomalyModel, ranges: { from: number; to: number }[]): number[] {
  const best = ranges.map(() => 0);
  const first = Math.min(...ranges.map((r) => r.from));
  const last = Math.max(...ranges.map((r) => r.to));
  scanResiduals(x, m, 0, (i, z) => {
    if (i < first || i > last) return;
    for (let j = 0; j < ranges.length; j++) if (ranges[j].from <= i && i <= ranges[j].to && z > best[j]) best[j] = z;
  });
  return best;
}

/** Smallest z (to 0.1) that at most `count` points of the series exceed. */
function zExceededBy(x: Float64Array, m: AnomalyModel, count: number): number {
  const binsPerUnit = 10;
  const bins = new Float64Array(100 * binsPerUnit + 1);
  scanResiduals(x, m, 0, (_, z) => {
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
  const model = defaultModel(mergedSpans([...labels.positive, ...labels.negative]));
  if (pos.length === 0 && neg.length === 0) return model;
  const x = causallyScaled(series.v, 0);
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

function anomalyContextPoints(m: AnomalyModel): number {
  // The level forgets (1 - alpha)^(10 / alpha) ≈ e^-10 of a point this far back.
  return Math.ceil(10 / Math.min(m.levelAlpha, m.scaleAlpha)) + m.warmup;
}

function detectAnomalies(m: AnomalyModel, series: Series, fromIndex = 0): Detection[] {
  const n = series.t.length;
  if (n === 0) return [];
  const from = clampFromIndex(fromIndex, n);
  const base = Math.max(0, from - anomalyContextPoints(m));
  const x = causallyScaled(series.v, base);
  const c = new Candidates();
  let runStart = -1;
  let runEnd = -1;
  let runMax = 0;
  const close = () => {
    if (runStart >= 0) c.add(runStart, runEnd, confidenceFromMargin(runMax / m.threshold));
    runStart = -1;
  };
  scanResiduals(x, m, 0, (i, z) => {
    if (z > m.threshold) {
      if (runStart < 0) {
        runStart = i;
        runMax = 0;
      }
      runEnd = i;
      if (z > runMax) runMax = z;
    } else if (runStart >= 0 && i - runEnd > MERGE_GAP) close();
  });
  close();
  return finalizeDetections(series, base, c, from, m.excluded);
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
