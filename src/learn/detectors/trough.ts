import { detectSpikes, learnSpike, spikeContextPoints, type SpikeModel } from './spike';
import type { Detector } from './types';

/** Trough model: see `SpikeModel`. */
export type TroughModel = SpikeModel & { type: 'trough' };

/**
 * Finds spikes down whose depth under the local baseline (in units of local noise) and width are like
 * the labeled ones.
 *
 * @example
 * const model = troughDetector.learn(series, { positive: [{ start, finish }], negative: [] });
 * const found = troughDetector.detect(model, series);
 */
export const troughDetector: Detector<TroughModel> = {
  type: 'trough',
  learn: (series, labels) => learnSpike('trough', series, labels) as TroughModel,
  detect: (model, series, fromIndex = 0) => detectSpikes(model, series, fromIndex),
  contextPoints: spikeContextPoints,
};
