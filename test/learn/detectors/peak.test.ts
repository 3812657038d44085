import { describe, expect, it } from 'vitest';
import { peakDetector } from '../../../src/learn/detectors/peak';
import { LearningError } from '../../../src/learn/detectors/types';
import { detectOnOtherFixture, expectNegativesRespected } from './behaviour';
import { fixtureFor, matchDetections } from './fixtures';
import { addSpike, addStep, background, indexOf, spanOf } from './synthetic';

describe('peak detector', () => {
  it.each([7, 11, 23])('finds peaks of varied height and width after two labels (seed %i)', (seed) => {
    const fx = fixtureFor('peak', 8000, seed);
    const found = peakDetector.detect(peakDetector.learn(fx.series, fx.labels), fx.series);
    expect(found).toHaveLength(fx.expected.length);
    expect(matchDetections(found, fx.expected, 0)).toEqual({ missed: [], extra: [] });
    for (const d of found) expect(indexOf(d.finish) - indexOf(d.start)).toBeLessThanOrEqual(20);
  });

  it('finds nothing where there are only troughs, jumps, drops or plain seasonal noise', () => {
    for (const other of ['trough', 'jump', 'drop', 'background'] as const) expect(detectOnOtherFixture('peak', other)).toEqual([]);
  });

  it('learns from a single label and reports the peak centred', () => {
    const s = background({ n: 3000, seed: 2 });
    for (const c of [500, 1200, 2200]) addSpike(s, c, 12, 15);
    const model = peakDetector.learn(s, { positive: [spanOf(s, 490, 510)], negative: [] });
    const found = peakDetector.detect(model, s);
    const centres = found.map((d) => (indexOf(d.start) + indexOf(d.finish)) / 2);
    expect(centres).toHaveLength(2);
    expect(Math.abs(centres[0] - 1200)).toBeLessThanOrEqual(2);
    expect(Math.abs(centres[1] - 2200)).toBeLessThanOrEqual(2);
  });

  it('does not take a pair of one-point blips for a peak as wide as the labeled one', () => {
    const s = background({ n: 3000, seed: 4, noise: 0.2, daily: 0 });
    addSpike(s, 500, 8, 12);
    addSpike(s, 1500, 7, 11);
    // Two blips taller than the peaks around one low point: the dip between them is not a wide top.
    s.v[2200] += 20;
    s.v[2202] += 20;
    const found = peakDetector.detect(peakDetector.learn(s, { positive: [spanOf(s, 494, 506)], negative: [] }), s);
    expect(found.map((d) => Math.round((indexOf(d.start) + indexOf(d.finish)) / 2))).toEqual([1500]);
  });

  it('keeps a sibling whose time a day earlier holds a narrow blip, not a spike like it', () => {
    const s = background({ n: 4 * 1440, seed: 5, noise: 0.2, daily: 0 });
    addSpike(s, 600, 8, 12);
    addSpike(s, 600 + 2 * 1440 + 300, 7, 11);
    // A narrow blip taller than the peaks near the same time one day before the sibling.
    s.v[2342] += 20;
    const found = peakDetector.detect(peakDetector.learn(s, { positive: [spanOf(s, 594, 606)], negative: [] }), s);
    const centres = found.map((d) => Math.round((indexOf(d.start) + indexOf(d.finish)) / 2));
    expect(centres).toContain(600 + 2 * 1440 + 300);
  });

  it('finds a lower sibling next to a level shift and one on the edge of a step, but not the step', () => {
    const s = background({ n: 4000, seed: 6, noise: 0.2, daily: 0 });
    addSpike(s, 500, 8, 12);
    // A drop 15 points before a sibling at 0.6 of the label's height: side means would mix in the old level.
    addStep(s, 1485, -30);
    addSpike(s, 1500, 5, 10);
    // Half of this one rises from the low level, half falls back to the high one.
    addSpike(s, 2500, 7, 14);
    addStep(s, 2501, 30);
    addStep(s, 3200, -20);
    const found = peakDetector.detect(peakDetector.learn(s, { positive: [spanOf(s, 494, 506)], negative: [] }), s);
    const centres = found.map((d) => (indexOf(d.start) + indexOf(d.finish)) / 2);
    expect(centres).toHaveLength(2);
    expect(Math.abs(centres[0] - 1500)).toBeLessThanOrEqual(2);
    expect(Math.abs(centres[1] - 2500)).toBeLessThanOrEqual(3);
  });

  it('takes a spike at the same time every day for the daily pattern, but not two siblings a day apart', () => {
    const s = background({ n: 5 * 1440, seed: 15, noise: 0.2, daily: 0 });
    addSpike(s, 600, 8, 12);
    addSpike(s, 1440 + 300, 7, 12);
    addSpike(s, 2 * 1440 + 300, 7, 11);
    for (let d = 0; d < 5; d++) addSpike(s, d * 1440 + 1100, 8, 12);
    const found = peakDetector.detect(peakDetector.learn(s, { positive: [spanOf(s, 594, 606)], negative: [] }), s);
    expect(found.map((d) => Math.round((indexOf(d.start) + indexOf(d.finish)) / 2))).toEqual([1740, 3180]);
  });

  it('does not find narrower spikes after a second label whose top carries a blip', () => {
    const s = background({ n: 4000, seed: 12, noise: 0.2, daily: 0 });
    addSpike(s, 500, 8, 12);
    addSpike(s, 1000, 8, 12);
    s.v[1000] += 6; // measured alone, this label looks narrow
    addSpike(s, 2000, 7, 11);
    for (const c of [2500, 2800, 3100]) {
      s.v[c] += 10;
      s.v[c + 1] += 10;
    }
    const labels = { positive: [spanOf(s, 494, 506), spanOf(s, 994, 1006)], negative: [] };
    const found = peakDetector.detect(peakDetector.learn(s, labels), s);
    expect(found.map((d) => Math.round((indexOf(d.start) + indexOf(d.finish)) / 2))).toEqual([2000]);
  });

  it('refuses a label whose top does not stand out from the noise', () => {
    const s = background({ n: 3000, seed: 9, noise: 1, daily: 0 });
    addSpike(s, 500, 1, 12);
    expect(() => peakDetector.learn(s, { positive: [spanOf(s, 494, 506)], negative: [] })).toThrow(LearningError);
  });

  it('still detects with a stored version 2 model (no foot reach)', () => {
    const fx = fixtureFor('peak');
    const m = peakDetector.learn(fx.series, fx.labels);
    const { baseReach, ...rest } = m;
    const v2 = { ...rest, version: 2 } as unknown as typeof m;
    expect(matchDetections(peakDetector.detect(v2, fx.series), fx.expected, 0)).toEqual({ missed: [], extra: [] });
    expect(peakDetector.contextPoints(v2)).toBe(peakDetector.contextPoints(m));
  });

  it('does not find a removed detection again and raises its threshold past it', () => {
    const { decoysBefore, decoysAfter } = expectNegativesRespected('peak', (s, c) => {
      addSpike(s, c + 350, 4.5, 11);
      return c + 350;
    });
    expect(decoysAfter).toBeLessThanOrEqual(decoysBefore / 2);
  });

  it('still detects with a stored version 1 model (height over noise only)', () => {
    const fx = fixtureFor('peak');
    const m = peakDetector.learn(fx.series, fx.labels);
    const { unitHeight, unitSnr, seasonsMs, seasonPoints, ...rest } = m;
    const v1 = { ...rest, version: 1, threshold: 3, maxScore: null } as unknown as typeof m;
    const found = peakDetector.detect(v1, fx.series);
    expect(matchDetections(found, fx.expected, 0)).toEqual({ missed: [], extra: [] });
    expect(peakDetector.contextPoints(v1)).toBeGreaterThan(0);
  });
});
