import { anomalyDetector } from './anomaly';
import { dropDetector } from './drop';
import { generalDetector } from './general';
import { jumpDetector } from './jump';
import { peakDetector } from './peak';
import { troughDetector } from './trough';
import { DETECTOR_TYPES, type Detector, type DetectorType } from './types';

/** Every detector by type. */
export const detectors: Record<DetectorType, Detector> = {
  peak: peakDetector as unknown as Detector,
  trough: troughDetector as unknown as Detector,
  jump: jumpDetector as unknown as Detector,
  drop: dropDetector as unknown as Detector,
  general: generalDetector as unknown as Detector,
  anomaly: anomalyDetector as unknown as Detector,
};

/**
 * The detector for `type`; throws on an unknown type (e.g. a corrupt stored model).
 *
 * @example
 * const found = getDetector(model.type).detect(model, series, fromIndex);
 */
export function getDetector(type: string): Detector {
  if (!(DETECTOR_TYPES as readonly string[]).includes(type)) throw new Error(`Unknown detector type: ${type}`);
  return detectors[type as DetectorType];
}

export type { AnomalyModel } from './anomaly';
export type { GeneralModel } from './general';
export type { LevelShiftModel } from './level-shift';
export type { SpikeModel } from './spike';
