import { detectLevelShifts, learnLevelShift, levelShiftContextPoints, type LevelShiftModel } from './level-shift';
import type { Detector } from './types';

/** Drop model: see `LevelShiftModel`. */
export type DropModel = LevelShiftModel & { type: 'drop' };

/**
 * Finds level shifts down whose size (in units of local noise) is like the labeled ones.
 *
 * @example
 * const model = dropDetector.learn(series, { positive: [{ start, finish }], negative: [] });
 * const found = dropDetector.detect(model, series);
 */
export const dropDetector: Detector<DropModel> = {
  type: 'drop',
  learn: (series, labels) => learnLevelShift('drop', series, labels) as DropModel,
  detect: (model, series, fromIndex = 0) => detectLevelShifts(model, series, fromIndex),
  contextPoints: levelShiftContextPoints,
};
