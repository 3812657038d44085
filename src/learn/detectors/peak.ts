import { detectSpikes, learnSpike, spikeContextPoints, type SpikeModel } from './spike';
import type { Detector } from './types';

/** Peak model: see `SpikeModel`. */
export type PeakModel = SpikeModel & { type: 'peak' };

/**
 * Finds spikes up whose height over the local baseline (in units of local noise) and width are like
 * the labeled ones.
 *
 * @example
 * const model = peakDetector.learn(series, { positive: [{ start, finish }], negative: [] });
 * const found = peakDetector.detect(model, series);
 */
export const peakDetector: Detector<PeakModel> = {
  type: 'peak',
  learn: (series, labels) => learnSpike('peak', series, labels) as PeakModel,
  detect: (model, series, fromIndex = 0) => detectSpikes(model, series, fromIndex),
  contextPoints: spikeContextPoints,
};
