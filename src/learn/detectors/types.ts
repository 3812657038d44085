/**
 * The detector contract. Detectors are pure: no I/O, no clock, deterministic, and they never allocate
 * per point in hot loops. The same code runs on Node and in workerd.
 */

/** A time series: `t` in epoch milliseconds, strictly increasing; `v` may hold NaN for gaps. */
export interface Series {
  t: Float64Array;
  v: Float64Array;
}

/** A closed time interval in epoch milliseconds. */
export interface Span {
  start: number;
  finish: number;
}

/** What a person told us: shapes to find (`positive`) and detections they removed (`negative`). */
export interface Labels {
  positive: Span[];
  negative: Span[];
}

/** A segment found by a detector; `confidence` is in [0, 1]. */
export interface Detection extends Span {
  confidence: number;
}

export const DETECTOR_TYPES = ['peak', 'trough', 'jump', 'drop', 'general', 'anomaly'] as const;
export type DetectorType = (typeof DETECTOR_TYPES)[number];

/** Every model is plain JSON (stored in the database) and carries its detector type and version. */
export interface Model {
  type: DetectorType;
  version: number;
}

export interface Detector<M extends Model = Model> {
  type: DetectorType;
  /** Learns a model from the whole history and the labels. Throws `LearningError` on unusable input. */
  learn(series: Series, labels: Labels): M;
  /**
   * Finds segments in `series`, reporting only those that end at or after index `fromIndex` (the points
   * before it are context). Segments are sorted by start, do not overlap, and lie inside the data.
   */
  detect(model: M, series: Series, fromIndex?: number): Detection[];
  /** How many points before `fromIndex` `detect` needs as context. */
  contextPoints(model: M): number;
}

/** Input a detector cannot learn from, with a message a user can act on. */
export class LearningError extends Error {
  override name = 'LearningError';
}
