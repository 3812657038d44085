import { Candidates, clampFromIndex, finalizeDetections, thresholdPastNegative } from './candidates';
import { labelIndexRanges, median, mergedSpans, requirePositiveLabels } from './label-ranges';
import { NOISE_FLOOR, normalizedValues } from './normalize';
import { LearningError, type Detection, type Detector, type Model, type Series, type Span } from './types';

/**
 * Any shape a person marks (a double bump, a sawtooth, ...). The labeled segments are resampled to a
 * common number of points, z-normalised and averaged into a template. Detection slides windows of a
 * few widths around the labeled ones over the series, resamples and z-normalises each window and
 * scores it by its Pearson correlation with the template, so level and amplitude do not matter.
 * Correlation alone would let pure noise match a short template by chance, so a window must also
 * stand out from its own noise: its standard deviation over the mean absolute difference of
 * neighbouring samples must be at least `minContrast` (learned from the labels). Removed detections
 * become counter-templates: a match that correlates better with one of them is dropped.
 */
export interface GeneralModel extends Model {
  type: 'general';
  version: 1;
  /** The z-normalised template (mean 0, mean square 1). */
  template: number[];
  /** Window widths in points scanned at every position. */
  widths: number[];
  /** Minimum correlation with the template. */
  threshold: number;
  /** Minimum window contrast (std over mean absolute neighbour difference). */
  minContrast: number;
  /** Removed detections, z-normalised like the template: a window closer to one of them is rejected. */
  negativeTemplates: number[][];
  /** Labeled positives and removed detections, sorted and merged: never reported. */
  excluded: Span[];
}

const GENERAL_VERSION = 1;
/** At most this many samples per window: keeps detection O(n * 32 * widths). */
const MAX_TEMPLATE_POINTS = 32;
/** How far below the threshold a coarse score may be and still get its neighbourhood scored. */
const COARSE_SLACK = 0.15;
/** How far below the siblings' expected correlation the threshold sits. */
const THRESHOLD_MARGIN = 0.05;
/**
 * Expected correlation of siblings with a template made from one label (its noise is baked in): siblings
 * vary in height, width and noise, and on the few-shot benchmark 0.8 finds them while a 0.9 missed a
 * quarter; a window must also pass the contrast test, which keeps noise out.
 */
const SINGLE_LABEL_CORRELATION = 0.8;

/** Precomputed sampling of a window of `width` points at `m` positions, by linear interpolation. */
interface Sampling {
  width: number;
  offset: Int32Array;
  frac: Float64Array;
}

function sampling(width: number, m: number): Sampling {
  const offset = new Int32Array(m);
  const frac = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    const pos = m === 1 ? 0 : (k * (width - 1)) / (m - 1);
    let i0 = Math.floor(pos);
    if (i0 > width - 2) i0 = Math.max(0, width - 2);
    offset[k] = i0;
    frac[k] = Math.min(1, pos - i0);
  }
  return { width, offset, frac };
}

/**
 * Correlation with `tmpl` and contrast of the window starting at `start`; written into `out`
 * ([correlation, contrast]); correlation is NaN when the window has gaps or is flat.
 */
function windowScore(x: Float64Array, start: number, s: Sampling, tmpl: Float64Array, out: Float64Array): void {
  const m = tmpl.length;
  const off = s.offset;
  const frac = s.frac;
  // Values are shifted by the window's first sample so the one-pass variance does not cancel.
  const first = x[start];
  let s1 = 0;
  let s2 = 0;
  let dot = 0;
  let ad = 0;
  let prev = 0;
  for (let k = 0; k < m; k++) {
    const j = start + off[k];
    const a = x[j];
    const f = frac[k];
    const v = a + f * (x[j + 1] - a) - first;
    s1 += v;
    s2 += v * v;
    dot += v * tmpl[k];
    if (k > 0) ad += Math.abs(v - prev);
    prev = v;
  }
  const mean = s1 / m;
  const variance = s2 / m - mean * mean;
  const std = variance > 0 ? Math.sqrt(variance) : 0;
  if (!(std > NOISE_FLOOR * 1e-3)) {
    out[0] = NaN;
    out[1] = 0;
    return;
  }
  out[0] = dot / (m * std);
  let noise = m > 1 ? ad / (m - 1) : 0;
  if (!(noise >= NOISE_FLOOR)) noise = NOISE_FLOOR;
  out[1] = std / noise;
}

/**
 * Scans window starts from `start`; candidates carry their correlation as confidence. Correlation
 * changes slowly with the window position (by a few percent per point for the widths we use), so
 * positions are first scored every `stride` points and only the neighbourhood of coarse scores within
 * `COARSE_SLACK` of the threshold is scored point by point.
 */
function scanShapes(x: Float64Array, m: GeneralModel, start: number, threshold: number, out: Candidates): void {
  const n = x.length;
  const tmpl = Float64Array.from(m.template);
  const samplings = m.widths.map((w) => sampling(w, tmpl.length));
  const minWidth = Math.min(...m.widths);
  const stride = Math.max(1, Math.floor(minWidth / 16));
  const negatives = m.negativeTemplates.map((t) => Float64Array.from(t));
  // [correlation, contrast] of the last window scored, then the best score at a position and the width
  // that last raised a position's best (kept across positions, as a closure variable was before).
  const score = new Float64Array(4);
  // Run state lives in locals and a finished run goes to `emitShape`, a module function: a closure made
  // per scan was a new call target on every detect, so the optimized loop deoptimized each time.
  let inRun = false;
  let bestS = 0;
  let bestI = 0;
  let bestW = 0;
  const first = start < 0 ? 0 : start;
  let done = first - 1; // last position fed
  for (let i = first; i < n; i += stride) {
    bestWindowScore(x, i, samplings, tmpl, m.minContrast, score);
    const si = score[SCORE_BEST];
    // Positions fed for this coarse position: none, i alone, or the neighbourhood of a near miss.
    let from = i;
    let to = i;
    let below = false; // feed -Infinity (a coarse miss ends a run)
    if (stride === 1) done = i;
    else if (si >= threshold - COARSE_SLACK) {
      from = Math.max(done + 1, i - stride + 1);
      to = Math.min(n - 1, i + stride - 1);
      done = to;
    } else if (inRun) below = true;
    else continue;
    for (let j = from; j <= to; j++) {
      let s: number;
      if (below) s = -Infinity;
      else if (j === i) s = si;
      else {
        bestWindowScore(x, j, samplings, tmpl, m.minContrast, score);
        s = score[SCORE_BEST];
      }
      if (s >= threshold) {
        if (!inRun || s > bestS) {
          bestS = s;
          bestI = j;
          bestW = score[SCORE_WIDTH];
        }
        inRun = true;
      } else if (inRun) {
        emitShape(x, samplings, negatives, bestS, bestI, bestW, score, out);
        inRun = false;
      }
    }
  }
  if (inRun) emitShape(x, samplings, negatives, bestS, bestI, bestW, score, out);
}

/** Slots of `scanShapes`' scratch after the `windowScore` pair. */
const SCORE_BEST = 2;
const SCORE_WIDTH = 3;

/**
 * The best correlation at window start `i` over the widths whose window passes the contrast test,
 * written to `score[SCORE_BEST]` (-Infinity when none); `score[SCORE_WIDTH]` becomes the width of that
 * window when there is one and is left as it was otherwise.
 */
function bestWindowScore(
  x: Float64Array,
  i: number,
  samplings: readonly Sampling[],
  tmpl: Float64Array,
  minContrast: number,
  score: Float64Array,
): void {
  const n = x.length;
  let s = -Infinity;
  for (let q = 0; q < samplings.length; q++) {
    const smp = samplings[q];
    if (i + smp.width > n) continue;
    windowScore(x, i, smp, tmpl, score);
    if (score[0] > s && score[1] >= minContrast) {
      s = score[0];
      score[SCORE_WIDTH] = smp.width;
    }
  }
  score[SCORE_BEST] = s;
}

/** Adds the candidate of a finished run unless its window correlates as well with a removed detection. */
function emitShape(
  x: Float64Array,
  samplings: readonly Sampling[],
  negatives: readonly Float64Array[],
  bestS: number,
  bestI: number,
  bestW: number,
  score: Float64Array,
  out: Candidates,
): void {
  let smp = samplings[0];
  for (let q = 0; q < samplings.length; q++) {
    if (samplings[q].width === bestW) {
      smp = samplings[q];
      break;
    }
  }
  for (let k = 0; k < negatives.length; k++) {
    windowScore(x, bestI, smp, negatives[k], score);
    if (score[0] >= bestS) return;
  }
  out.add(bestI, bestI + bestW - 1, bestS);
}

function zNormalised(values: Float64Array): Float64Array | null {
  const m = values.length;
  let mean = 0;
  for (let k = 0; k < m; k++) mean += values[k];
  mean /= m;
  let ss = 0;
  for (let k = 0; k < m; k++) ss += (values[k] - mean) ** 2;
  const std = Math.sqrt(ss / m);
  if (!(std > 0) || !Number.isFinite(std)) return null;
  const out = new Float64Array(m);
  for (let k = 0; k < m; k++) out[k] = (values[k] - mean) / std;
  return out;
}

function learnGeneral(series: Series, labels: { positive: Span[]; negative: Span[] }): GeneralModel {
  requirePositiveLabels(labels.positive, 'shape');
  const n = series.t.length;
  const pos = labelIndexRanges(series, labels.positive, 'positive').map((r) => {
    // A shape needs at least three points; widen tiny labels around their centre.
    if (r.to - r.from >= 2 || n < 3) return r;
    const from = Math.max(0, Math.min(r.from - 1, n - 3));
    return { from, to: from + 2 };
  });
  const neg = labelIndexRanges(series, labels.negative, 'negative');
  const x = normalizedValues(series.v);
  const widths = pos.map((r) => r.to - r.from + 1);
  const wMed = Math.round(median(widths));
  const m = Math.max(2, Math.min(MAX_TEMPLATE_POINTS, wMed));

  const shapes: Float64Array[] = [];
  for (const r of pos) {
    const raw = resampled(x, r.from, r.to, m);
    const z = raw && zNormalised(raw);
    if (z) shapes.push(z);
  }
  if (shapes.length === 0) {
    throw new LearningError('The labeled segments are flat or have gaps; label segments that contain the shape.');
  }
  const mean = new Float64Array(m);
  for (const z of shapes) for (let k = 0; k < m; k++) mean[k] += z[k] / shapes.length;
  const template = zNormalised(mean);
  if (!template) {
    throw new LearningError('The labeled shapes cancel each other out; label segments that show the same shape.');
  }

  const wMin = Math.min(...widths);
  const wMax = Math.max(...widths);
  const scanWidths = [Math.round(0.85 * wMin), wMin, wMed, wMax, Math.round(1.2 * wMax)]
    .map((w) => Math.max(m, 3, w))
    .filter((w, k, all) => all.indexOf(w) === k)
    .sort((a, b) => a - b);

  const score = new Float64Array(2);
  const corrs: number[] = [];
  const contrasts: number[] = [];
  for (const r of pos) {
    windowScore(x, r.from, sampling(r.to - r.from + 1, m), template, score);
    if (score[0] === score[0]) {
      corrs.push(score[0]);
      contrasts.push(score[1]);
    }
  }
  // How well an unseen sibling matches: each label against the template of the others. A single label
  // matches itself perfectly, so it gets a fixed allowance for noise instead.
  let minPos = corrs.length > 0 ? Math.min(...corrs) : 1;
  if (shapes.length >= 2) {
    let loo = Infinity;
    const rest = new Float64Array(m);
    for (let i = 0; i < shapes.length; i++) {
      rest.fill(0);
      for (let j = 0; j < shapes.length; j++) if (j !== i) for (let k = 0; k < m; k++) rest[k] += shapes[j][k];
      const zRest = zNormalised(rest);
      let corr = 0;
      if (zRest) for (let k = 0; k < m; k++) corr += (shapes[i][k] * zRest[k]) / m;
      loo = Math.min(loo, corr);
    }
    // A sibling is matched against the template of all labels, which is steadier than the others'
    // template each label is checked against here: never below the single-label allowance.
    minPos = Math.min(minPos, Math.max(loo, SINGLE_LABEL_CORRELATION));
  } else minPos = Math.min(minPos, SINGLE_LABEL_CORRELATION);
  const model: GeneralModel = {
    type: 'general',
    version: GENERAL_VERSION,
    template: Array.from(template),
    widths: scanWidths,
    threshold: Math.min(0.95, Math.max(0.5, minPos - THRESHOLD_MARGIN)),
    minContrast: contrasts.length > 0 ? 0.5 * Math.min(...contrasts) : 0,
    negativeTemplates: [],
    excluded: mergedSpans([...labels.positive, ...labels.negative]),
  };
  if (neg.length > 0) {
    // A removed detection becomes a counter-template: windows closer to it than to the template are not
    // the shape. Its window is the detection's own when the model finds it, otherwise the labeled span.
    const c = new Candidates();
    scanShapes(x, model, 0, model.threshold, c);
    for (const r of neg) {
      const j = c.from.findIndex((from, q) => from <= r.to && r.from <= c.to[q]);
      const shape = resampled(x, j >= 0 ? c.from[j] : r.from, j >= 0 ? c.to[j] : r.to, m);
      const z = shape && zNormalised(shape);
      if (z) model.negativeTemplates.push(Array.from(z));
      else if (j >= 0) model.threshold = thresholdPastNegative(model.threshold, c.confidence[j], minPos, 1);
    }
  }
  return model;
}

/** The values of x[from..to] resampled to m points by linear interpolation; null when there are gaps. */
function resampled(x: Float64Array, from: number, to: number, m: number): Float64Array | null {
  const smp = sampling(Math.max(2, to - from + 1), m);
  const out = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    const j = Math.min(x.length - 1, from + smp.offset[k]);
    const a = x[j];
    const f = smp.frac[k];
    out[k] = f === 0 ? a : a + f * (x[Math.min(x.length - 1, j + 1)] - a);
    if (out[k] !== out[k]) return null;
  }
  return out;
}

function generalContextPoints(m: GeneralModel): number {
  return Math.max(...m.widths) + 1;
}

function detectGeneral(m: GeneralModel, series: Series, fromIndex = 0): Detection[] {
  const n = series.t.length;
  if (n === 0) return [];
  const from = clampFromIndex(fromIndex, n);
  const ctx = generalContextPoints(m);
  const base = Math.max(0, from - 2 * ctx);
  const x = normalizedValues(series.v, base, n);
  const c = new Candidates();
  scanShapes(x, m, from - ctx - base, m.threshold, c);
  const span = 1 - m.threshold;
  for (let j = 0; j < c.confidence.length; j++) {
    const margin = span > 0 ? (c.confidence[j] - m.threshold) / span : 1;
    c.confidence[j] = 0.5 + 0.5 * Math.min(1, Math.max(0, margin));
  }
  return finalizeDetections(series, base, c, from, m.excluded);
}

/**
 * Finds segments shaped like the labeled ones, whatever their level and amplitude.
 *
 * @example
 * const model = generalDetector.learn(series, { positive: [{ start, finish }], negative: [] });
 * const found = generalDetector.detect(model, series);
 */
export const generalDetector: Detector<GeneralModel> = {
  type: 'general',
  learn: learnGeneral,
  detect: detectGeneral,
  contextPoints: generalContextPoints,
};
