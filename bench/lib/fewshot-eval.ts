/**
 * The few-shot protocol of ../shared/bench/README.md: reveal the first k anomalies of a series as
 * labeled segments, learn, detect, and score only detections that start after the k-th revealed window.
 * Series here are strictly increasing (as the server reads them); windows and labels are series indices.
 */
import { indexAtOrAfter, indexAtOrBefore, seriesFromPoints } from '../../src/learn/series';
import type { Detection, Labels, Series, Span } from '../../src/learn/detectors/types';
import type { NabFile } from './nab-data';

export interface FewShotCase {
  key: string;
  series: Series;
  /** Inclusive index windows, sorted, one per anomaly. */
  windows: [number, number][];
  /** Index of each anomaly's labeled timestamp (one per window). */
  labels: number[];
  /** Windows where detections count neither way (real anomalies under synthetic shapes). */
  ignore: [number, number][];
}

export interface Counts {
  tp: number;
  fp: number;
  fn: number;
}

/** NAB file -> strictly increasing series (duplicates: last value wins; disorder sorted). */
export function nabCase(f: NabFile): FewShotCase {
  const series = seriesFromPoints(f.t, f.v);
  const windows: [number, number][] = f.windows.map(([l, r]) => [indexAtOrAfter(series, f.t[l]), indexAtOrBefore(series, f.t[r])]);
  const labels = f.labels.map((row) => indexAtOrAfter(series, f.t[row]));
  return { key: f.key, series, windows, labels, ignore: [] };
}

/** Half width of the segment a person draws around a labeled anomaly: max(2, round(0.1 * window length)). */
export function labelHalfWidth(window: [number, number]): number {
  return Math.max(2, Math.round(0.1 * (window[1] - window[0] + 1)));
}

/** The labeled segment of anomaly j as index range. */
export function labelRange(c: FewShotCase, j: number): [number, number] {
  const h = labelHalfWidth(c.windows[j]);
  const n = c.series.t.length;
  return [Math.max(0, c.labels[j] - h), Math.min(n - 1, c.labels[j] + h)];
}

/** Labels revealing the anomalies `which` (indices into windows). */
export function revealedLabels(c: FewShotCase, which: number[]): Labels {
  const positive: Span[] = which.map((j) => {
    const [a, b] = labelRange(c, j);
    return { start: c.series.t[a], finish: c.series.t[b] };
  });
  return { positive, negative: [] };
}

const overlaps = (d: Detection, t: Float64Array, [a, b]: [number, number]) => d.start <= t[b] && d.finish >= t[a];

/** Event counts of `found` on the part after the k-th revealed window. */
export function scoreDetections(c: FewShotCase, k: number, found: readonly Detection[]): Counts {
  const t = c.series.t;
  const after = t[c.windows[k - 1][1]];
  const counted = found.filter((d) => d.start > after);
  const hidden = c.windows.slice(k);
  const tp = hidden.filter((w) => counted.some((d) => overlaps(d, t, w))).length;
  const fp = counted.filter((d) => !hidden.some((w) => overlaps(d, t, w)) && !c.ignore.some((w) => overlaps(d, t, w))).length;
  return { tp, fp, fn: hidden.length - tp };
}

/**
 * What a method may learn from without peeking: false alarms in the training part (detections that
 * start at or before the end of the k-th window and overlap no window up to it).
 */
export function trainingFalseAlarms(c: FewShotCase, k: number, found: readonly Detection[]): number {
  const t = c.series.t;
  const end = t[c.windows[k - 1][1]];
  const seen = c.windows.slice(0, k);
  return found.filter((d) => d.start <= end && !seen.some((w) => overlaps(d, t, w)) && !c.ignore.some((w) => overlaps(d, t, w)))
    .length;
}

export function f1(x: Counts): { precision: number; recall: number; f1: number } {
  const precision = x.tp + x.fp > 0 ? x.tp / (x.tp + x.fp) : 0;
  const recall = x.tp + x.fn > 0 ? x.tp / (x.tp + x.fn) : 0;
  return { precision, recall, f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 };
}

export interface Summary {
  series: number;
  tp: number;
  fp: number;
  fn: number;
  pooled: { precision: number; recall: number; f1: number };
  mean: { precision: number; recall: number; f1: number };
}

/** Pooled (sum of counts) and mean-over-series precision, recall, F1. */
export function summarize(perSeries: Counts[]): Summary {
  const sum = perSeries.reduce((a, x) => ({ tp: a.tp + x.tp, fp: a.fp + x.fp, fn: a.fn + x.fn }), { tp: 0, fp: 0, fn: 0 });
  const m = perSeries.map(f1);
  const avg = (k: 'precision' | 'recall' | 'f1') => (m.length ? m.reduce((a, x) => a + x[k], 0) / m.length : 0);
  return { series: perSeries.length, ...sum, pooled: f1(sum), mean: { precision: avg('precision'), recall: avg('recall'), f1: avg('f1') } };
}
