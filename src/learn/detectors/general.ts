import { Candidates, clampFromIndex, finalizeDetections, thresholdPastNegative } from './candidates';
import { labelIndexRanges, median, mergedSpans, requirePositiveLabels } from './label-ranges';
import { heightInNormalizedUnits, NOISE_FLOOR, normalizationHalfRange, normalizedValues } from './normalize';
import { LearningError, type Detection, type Detector, type Model, type Series, type Span } from './types';

/**
 * Any shape a person marks (a double bump, a sawtooth, ...). The labeled segments are resampled to a
 * common number of points and z-normalised; labels that look alike are averaged into one template (less
 * noise than any one label), labels that do not (the same bump on a rising and on a falling part of a
 * daily cycle, or two kinds of shape) each keep their own, and a window matches the closest template:
 * averaging unlike labels would give a template like neither of them. Detection slides windows of a
 * few widths around the labeled ones over the series, resamples and z-normalises each window and
 * scores it by its best Pearson correlation with the templates, so level and amplitude do not matter.
 * Correlation alone would let pure noise match a short template by chance, so a window must also
 * stand out from its own noise: its standard deviation over the mean absolute difference of
 * neighbouring samples must be at least `minContrast` (learned from the labels). A labeled segment is
 * something that stood out, so a match must also be of comparable size: its standard deviation at least
 * half the smallest label's (`minStd`, in value units); a look-alike in the ordinary noise is not one.
 * Removed detections
 * become counter-templates: a match that correlates better with one of them is dropped.
 */
export interface GeneralModel extends Model {
  type: 'general';
  version: 2;
  /** The z-normalised templates (mean 0, mean square 1), all of the same length. */
  templates: number[][];
  /** Window widths in points scanned at every position. */
  widths: number[];
  /** Minimum correlation with a template (plus that template's offset). */
  threshold: number;
  /**
   * Per template, how much more than `threshold` its correlation must reach (>= 0): labels that agree
   * closely make a stricter template than a single label.
   */
  offsets: number[];
  /** Minimum window contrast (std over mean absolute neighbour difference). */
  minContrast: number;
  /**
   * Minimum standard deviation of a window, in value units: half the smallest labeled shape's. Siblings
   * vary in height (a third either way is common); a chance likeness in the series' ordinary noise is
   * far smaller than the shape a person marked. 0 = no minimum (version-1 models).
   */
  minStd: number;
  /** Removed detections, z-normalised like the template: a window closer to one of them is rejected. */
  negativeTemplates: number[][];
  /** Labeled positives and removed detections, sorted and merged: never reported. */
  excluded: Span[];
}

/** Version 1 stored a single `template`; it is read as `templates: [template]`. */
export type GeneralModelV1 = Omit<GeneralModel, 'version' | 'templates' | 'offsets' | 'minStd'> & {
  version: 1;
  template: number[];
};

const GENERAL_VERSION = 2;
/** At most this many templates (one per group of alike labels): detection time grows with their number. */
const MAX_TEMPLATES = 4;
/** A match's standard deviation must be at least this share of the smallest labeled shape's. */
const MIN_STD_SHARE = 0.5;
/** Labels never make siblings expected to correlate better than this: shapes always vary a little. */
const MAX_EXPECTED_CORRELATION = 0.95;
/**
 * Windows are also checked beside their slope when a template's line holds at least `MIN_SLOPE_SHARE`
 * of its variance (the shape was labeled on a slope, which a plain slope would match) and the rest at
 * least `MIN_SHAPE_BESIDE_SLOPE` (below it the template is essentially a ramp, and the rest is noise).
 * Templates with little slope need no check: a slope does not correlate with them.
 */
const MIN_SLOPE_SHARE = 0.3;
const MIN_SHAPE_BESIDE_SLOPE = 0.2;
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
 * ([correlation, contrast]); correlation is NaN when the window has gaps or is flat. With `flat` (the
 * template without its least-squares line, z-normalised) the correlation is the lower of the plain one
 * and the window's correlation with `flat` once its own line is removed: a match must have the shape
 * both with its slope and beside it, so a plain slope does not match a shape labeled on a slope.
 */
function windowScore(
  x: Float64Array,
  start: number,
  s: Sampling,
  tmpl: Float64Array,
  flat: Float64Array | null,
  out: Float64Array,
): void {
  const m = tmpl.length;
  const off = s.offset;
  const frac = s.frac;
  // Values are shifted by the window's first sample so the one-pass variance does not cancel.
  const first = x[start];
  let s1 = 0;
  let s2 = 0;
  let dot = 0;
  let sk = 0;
  let dotFlat = 0;
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
    if (flat !== null) {
      sk += k * v;
      dotFlat += v * flat[k];
    }
    if (k > 0) ad += Math.abs(v - prev);
    prev = v;
  }
  const mean = s1 / m;
  const variance = s2 / m - mean * mean;
  const std = variance > 0 ? Math.sqrt(variance) : 0;
  if (!(std > NOISE_FLOOR * 1e-3)) {
    out[0] = NaN;
    out[1] = 0;
    out[SCORE_STD] = 0;
    return;
  }
  out[0] = dot / (m * std);
  if (flat !== null) {
    // Residual variance after the window's line: minus cov(v, k)^2 / var(k), sum (k - kbar)^2 = m(m^2-1)/12.
    const cov = sk - ((m - 1) / 2) * s1;
    const rv = variance - (cov * cov) / ((m * (m * m - 1)) / 12) / m;
    const c = rv > 0 ? dotFlat / (m * Math.sqrt(rv)) : 0;
    if (c < out[0]) out[0] = c;
  }
  let noise = m > 1 ? ad / (m - 1) : 0;
  if (!(noise >= NOISE_FLOOR)) noise = NOISE_FLOOR;
  out[1] = std / noise;
  out[SCORE_STD] = std;
}

/**
 * Scans window starts from `start`; candidates carry their correlation as confidence. Correlation
 * changes slowly with the window position (by a few percent per point for the widths we use), so
 * positions are first scored every `stride` points and only the neighbourhood of coarse scores within
 * `COARSE_SLACK` of the threshold is scored point by point.
 */
function scanShapes(
  x: Float64Array,
  m: GeneralModel,
  start: number,
  threshold: number,
  minStd: number,
  out: Candidates,
): void {
  const n = x.length;
  const tmpls = m.templates.map((t) => Float64Array.from(t));
  const flats = tmpls.map(flatTemplate);
  const offsets = Float64Array.from(m.offsets);
  const samplings = m.widths.map((w) => sampling(w, tmpls[0].length));
  const minWidth = Math.min(...m.widths);
  const stride = Math.max(1, Math.floor(minWidth / 16));
  const negatives = m.negativeTemplates.map((t) => Float64Array.from(t));
  // [correlation, contrast, std] of the last window scored, then the best score at a position and the
  // width that last raised a position's best (kept across positions, as a closure variable was before).
  const score = new Float64Array(5);
  // Run state lives in locals and a finished run goes to `emitShape`, a module function: a closure made
  // per scan was a new call target on every detect, so the optimized loop deoptimized each time.
  let inRun = false;
  let bestS = 0;
  let bestI = 0;
  let bestW = 0;
  const first = start < 0 ? 0 : start;
  let done = first - 1; // last position fed
  for (let i = first; i < n; i += stride) {
    bestWindowScore(x, i, samplings, tmpls, flats, offsets, m.minContrast, minStd, score);
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
        bestWindowScore(x, j, samplings, tmpls, flats, offsets, m.minContrast, minStd, score);
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
const SCORE_STD = 2;
const SCORE_BEST = 3;
const SCORE_WIDTH = 4;

/**
 * The best correlation at window start `i` over the templates and the widths whose window passes the
 * contrast test,
 * written to `score[SCORE_BEST]` (-Infinity when none); `score[SCORE_WIDTH]` becomes the width of that
 * window when there is one and is left as it was otherwise.
 */
function bestWindowScore(
  x: Float64Array,
  i: number,
  samplings: readonly Sampling[],
  tmpls: readonly Float64Array[],
  flats: readonly (Float64Array | null)[],
  offsets: Float64Array,
  minContrast: number,
  minStd: number,
  score: Float64Array,
): void {
  const n = x.length;
  let s = -Infinity;
  for (let q = 0; q < samplings.length; q++) {
    const smp = samplings[q];
    if (i + smp.width > n) continue;
    for (let t = 0; t < tmpls.length; t++) {
      windowScore(x, i, smp, tmpls[t], flats[t], score);
      // Contrast and size do not depend on the template: a window failing them fails for all of them.
      if (!(score[1] >= minContrast) || !(score[SCORE_STD] >= minStd)) break;
      const c = score[0] - offsets[t];
      if (c > s) {
        s = c;
        score[SCORE_WIDTH] = smp.width;
      }
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
    windowScore(x, bestI, smp, negatives[k], null, score);
    if (score[0] >= bestS) return;
  }
  out.add(bestI, bestI + bestW - 1, bestS);
}

/**
 * `tmpl` without its least-squares line, z-normalised; null when windows need no check beside their
 * slope (see `MIN_SLOPE_SHARE`).
 */
function flatTemplate(tmpl: Float64Array): Float64Array | null {
  const m = tmpl.length;
  if (m < 4) return null;
  let s1 = 0;
  let sk = 0;
  for (let k = 0; k < m; k++) {
    s1 += tmpl[k];
    sk += (k - (m - 1) / 2) * tmpl[k];
  }
  const mean = s1 / m;
  const slope = sk / ((m * (m * m - 1)) / 12);
  const rest = new Float64Array(m);
  let ss = 0;
  let ssRest = 0;
  for (let k = 0; k < m; k++) {
    rest[k] = tmpl[k] - mean - slope * (k - (m - 1) / 2);
    ss += (tmpl[k] - mean) ** 2;
    ssRest += rest[k] ** 2;
  }
  if (!(ssRest >= MIN_SHAPE_BESIDE_SLOPE * ss) || ssRest > (1 - MIN_SLOPE_SHARE) * ss) return null;
  return zNormalised(rest);
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

/** Mean-square-1 correlation of two z-normalised shapes of the same length. */
function correlation(a: Float64Array, b: Float64Array): number {
  let dot = 0;
  for (let k = 0; k < a.length; k++) dot += a[k] * b[k];
  return dot / a.length;
}

/**
 * Templates from z-normalised label shapes, in label order: a shape joins the group whose template it
 * correlates best with when that reaches the single-label allowance (a sibling would be found by it),
 * else it starts a group; past `MAX_TEMPLATES` groups it joins the closest. Each template is its group's
 * z-normalised mean; `members` lists each group's shapes.
 */
function groupedTemplates(shapes: readonly Float64Array[]): { templates: Float64Array[]; members: number[][] } {
  const m = shapes[0].length;
  const sums: Float64Array[] = [];
  const templates: Float64Array[] = [];
  const members: number[][] = [];
  for (let i = 0; i < shapes.length; i++) {
    const z = shapes[i];
    let best = -1;
    let bestCorr = -Infinity;
    for (let g = 0; g < templates.length; g++) {
      const c = correlation(z, templates[g]);
      if (c > bestCorr) (bestCorr = c), (best = g);
    }
    if (best < 0 || (bestCorr < SINGLE_LABEL_CORRELATION && templates.length < MAX_TEMPLATES)) {
      sums.push(Float64Array.from(z));
      templates.push(z);
      members.push([i]);
      continue;
    }
    for (let k = 0; k < m; k++) sums[best][k] += z[k];
    members[best].push(i);
    // Shapes anticorrelated with every template can only be forced into a group past MAX_TEMPLATES;
    // a mean that cancels out keeps the group's previous template.
    templates[best] = zNormalised(sums[best]) ?? templates[best];
  }
  return { templates, members };
}

/**
 * The correlation a sibling of a group of label shapes is expected to reach with its template. One label
 * says nothing about how much the shape varies: the single-label allowance. Labels that agree (each with
 * the mean of the others, at worst `r`) say siblings agree about as well, but siblings also sit on other
 * backgrounds: the allowance counts as one label's worth of evidence and each of the g labels as one,
 * (allowance + g r) / (g + 1).
 */
function expectedCorrelation(shapes: readonly Float64Array[], group: readonly number[]): number {
  const g = group.length;
  if (g < 2) return SINGLE_LABEL_CORRELATION;
  const m = shapes[0].length;
  const rest = new Float64Array(m);
  let r = Infinity;
  for (const i of group) {
    rest.fill(0);
    for (const j of group) if (j !== i) for (let k = 0; k < m; k++) rest[k] += shapes[j][k];
    const z = zNormalised(rest);
    r = Math.min(r, z ? correlation(shapes[i], z) : 0);
  }
  return (SINGLE_LABEL_CORRELATION + g * Math.max(r, SINGLE_LABEL_CORRELATION)) / (g + 1);
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
  const { templates, members } = groupedTemplates(shapes);
  const expected = members.map((g) => Math.min(MAX_EXPECTED_CORRELATION, expectedCorrelation(shapes, g)));
  const wMin = Math.min(...widths);
  const wMax = Math.max(...widths);
  const scanWidths = [Math.round(0.85 * wMin), wMin, wMed, wMax, Math.round(1.2 * wMax)]
    .map((w) => Math.max(m, 3, w))
    .filter((w, k, all) => all.indexOf(w) === k)
    .sort((a, b) => a - b);

  const score = new Float64Array(3);
  const contrasts: number[] = [];
  const stds: number[] = [];
  for (const r of pos) {
    windowScore(x, r.from, sampling(r.to - r.from + 1, m), templates[0], null, score);
    if (score[0] === score[0]) {
      contrasts.push(score[1]);
      stds.push(score[SCORE_STD]);
    }
  }
  // The loosest template sets the threshold; the others keep their stricter expectation as an offset.
  const minPos = Math.min(...expected);
  const model: GeneralModel = {
    type: 'general',
    version: GENERAL_VERSION,
    templates: templates.map((t) => Array.from(t)),
    widths: scanWidths,
    threshold: minPos - THRESHOLD_MARGIN,
    offsets: expected.map((e) => e - minPos),
    minContrast: contrasts.length > 0 ? 0.5 * Math.min(...contrasts) : 0,
    minStd: stds.length > 0 ? MIN_STD_SHARE * Math.min(...stds) * normalizationHalfRange(series.v) : 0,
    negativeTemplates: [],
    excluded: mergedSpans([...labels.positive, ...labels.negative]),
  };
  if (neg.length > 0) {
    // A removed detection becomes a counter-template: windows closer to it than to the template are not
    // the shape. Its window is the detection's own when the model finds it, otherwise the labeled span.
    const c = new Candidates();
    scanShapes(x, model, 0, model.threshold, heightInNormalizedUnits(model.minStd, series.v, 0), c);
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

/** A stored model in the current shape (version 1 had one `template`). */
function currentModel(m: GeneralModel | GeneralModelV1): GeneralModel {
  if (m.version !== 1) return m;
  const { template, ...rest } = m;
  return { ...rest, version: GENERAL_VERSION, templates: [template], offsets: [0], minStd: 0 };
}

function detectGeneral(stored: GeneralModel, series: Series, fromIndex = 0): Detection[] {
  const m = currentModel(stored as GeneralModel | GeneralModelV1);
  const n = series.t.length;
  if (n === 0) return [];
  const from = clampFromIndex(fromIndex, n);
  const ctx = generalContextPoints(m);
  const base = Math.max(0, from - 2 * ctx);
  const x = normalizedValues(series.v, base, n);
  const c = new Candidates();
  scanShapes(x, m, from - ctx - base, m.threshold, heightInNormalizedUnits(m.minStd, series.v, base), c);
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
