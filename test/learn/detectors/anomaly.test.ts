import { describe, expect, it } from 'vitest';
import { anomalyDetector } from '../../../src/learn/detectors/anomaly';
import type { Series } from '../../../src/learn/detectors/types';
import { expectNegativesRespected } from './behaviour';
import { fixtureFor, matchDetections } from './fixtures';
import { addSpike, addStep, background, indexOf, spanOf } from './synthetic';

const noLabels = { positive: [], negative: [] };

describe('anomaly detector', () => {
  it.each([7, 11, 23])('finds spikes up and down without labels (seed %i)', (seed) => {
    const fx = fixtureFor('anomaly', 8000, seed);
    const found = anomalyDetector.detect(anomalyDetector.learn(fx.series, noLabels), fx.series);
    expect(found).toHaveLength(fx.expected.length);
    expect(matchDetections(found, fx.expected, 2)).toEqual({ missed: [], extra: [] });
  });

  it.each([1, 2, 3])('stays quiet on trend, daily seasonality and noise (seed %i)', (seed) => {
    const s = background({ n: 20_000, seed });
    expect(anomalyDetector.detect(anomalyDetector.learn(s, noLabels), s)).toEqual([]);
  });

  it('flags the start of a level shift, then adapts to the new level', () => {
    const s = background({ n: 4000, seed: 8 });
    addStep(s, 2000, 20);
    const found = anomalyDetector.detect(anomalyDetector.learn(s, noLabels), s);
    expect(found).toHaveLength(1);
    expect(indexOf(found[0].start)).toBe(2000);
    expect(indexOf(found[0].finish)).toBeLessThan(2100);
  });

  it('is causal: verdicts before a point do not change with what comes after it', () => {
    const fx = fixtureFor('anomaly', 8000, 7);
    const model = anomalyDetector.learn(fx.series, noLabels);
    const full = anomalyDetector.detect(model, fx.series);
    for (const k of [1000, 3333, 6001]) {
      const altered: Series = { t: fx.series.t.slice(), v: fx.series.v.slice() };
      for (let i = k; i < altered.v.length; i++) altered.v[i] = i % 2 ? 1e6 : -1e6;
      const prefix: Series = { t: fx.series.t.slice(0, k), v: fx.series.v.slice(0, k) };
      const before = (found: typeof full) => found.filter((d) => d.finish < fx.series.t[k - 6]);
      expect(before(anomalyDetector.detect(model, altered))).toEqual(before(full));
      expect(before(anomalyDetector.detect(model, prefix))).toEqual(before(full));
    }
  });

  it('lowers its threshold towards labeled subtle anomalies, within a budget of false alarms', () => {
    const s = background({ n: 6000, seed: 4 });
    const siblings = [2000, 3000, 4000, 5000];
    for (const c of [1000, ...siblings]) addSpike(s, c, 4.2, 1);
    const plain = anomalyDetector.detect(anomalyDetector.learn(s, noLabels), s);
    const model = anomalyDetector.learn(s, { positive: [spanOf(s, 999, 1001)], negative: [] });
    expect(model.threshold).toBeLessThan(6);
    expect(model.threshold).toBeGreaterThanOrEqual(3);
    const found = anomalyDetector.detect(model, s);
    expect(matchDetections(found, siblings, 1).missed.length).toBeLessThan(matchDetections(plain, siblings, 1).missed.length);
    expect(matchDetections(found, siblings, 1).missed).toEqual([]);
    // At most a handful of points exceed the lowered threshold: the budget is 5 for one label.
    expect(found.length).toBeLessThanOrEqual(6);
  });

  it('does not find a removed detection again and raises its threshold past it', () => {
    const { decoysBefore, decoysAfter } = expectNegativesRespected('anomaly', (s, c) => {
      addSpike(s, c + 350, 5.5, 1);
      return c + 350;
    });
    expect(decoysAfter).toBeLessThanOrEqual(decoysBefore / 2);
  });
});
