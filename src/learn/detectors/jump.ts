import { detectLevelShifts, learnLevelShift, levelShiftContextPoints, type LevelShiftModel } from './level-shift';
import type { Detector } from './types';

/** Jump model: see `LevelShiftModel`. */
export type JumpModel = LevelShiftModel & { type: 'jump' };

/**
 * Finds level shifts up whose size (in units of local noise) is like the labeled ones.
 *
 * @example
 * const model = jumpDetector.learn(series, { positive: [{ start, finish }], negative: [] });
 * const found = jumpDetector.detect(model, series);
 */
export const jumpDetector: Detector<JumpModel> = {
  type: 'jump',
  learn: (series, labels) => learnLevelShift('jump', series, labels) as JumpModel,
  detect: (model, series, fromIndex = 0) => detectLevelShifts(model, series, fromIndex),
  contextPoints: levelShiftContextPoints,
};
