import { describe, expect, it } from 'vitest';
import { dropDetector } from '../../../src/learn/detectors/drop';
import { jumpDetector } from '../../../src/learn/detectors/jump';
import type { LevelShiftModel } from '../../../src/learn/detectors/level-shift';
import type { Detector } from '../../../src/learn/detectors/types';
import { detectOnOtherFixture, expectNegativesRespected } from './behaviour';
import { fixtureFor, matchDetections } from './fixtures';
import { addSpike, addStep, background, indexOf, spanOf } from './synthetic';

/** The jump and drop detectors are one level-shift detector, mirrored: every case runs both ways. */
const cases: { type: 'jump' | 'drop'; detector: Detector<LevelShiftModel>; up: number }[] = [
  { type: 'jump', detector: jumpDetector, up: 1 },
  { type: 'drop', detector: dropDetector, up: -1 },
];

describe.each(cases)('$type detector', ({ type, detector, up }) => {
  it.each([7, 11, 23])('finds level shifts of its direction, of varied size and ramp, after two labels (seed %i)', (seed) => {
    const fx = fixtureFor(type, 8000, seed);
    const model = detector.learn(fx.series, fx.labels);
    const found = detector.detect(model, fx.series);
    expect(found).toHaveLength(fx.expected.length);
    expect(matchDetections(found, fx.expected, 0)).toEqual({ missed: [], extra: [] });
    // The reported segment is centred on the step within the labeled transition's half width.
    found.forEach((d, i) => {
      const centre = (indexOf(d.start) + indexOf(d.finish)) / 2;
      expect(Math.abs(centre - fx.expected[i])).toBeLessThanOrEqual(model.halfGap + 2);
    });
  });

  it('finds nothing where there are only peaks, troughs or plain seasonal noise, nor on shifts the other way', () => {
    for (const other of ['peak', 'trough', 'background'] as const) expect(detectOnOtherFixture(type, other)).toEqual([]);
    const s = background({ n: 4000, seed: 3 });
    for (const c of [1000, 2000, 3000]) addStep(s, c, up * -10);
    addStep(s, 500, up * 10);
    const model = detector.learn(s, { positive: [spanOf(s, 497, 503)], negative: [] });
    expect(detector.detect(model, s)).toEqual([]);
  });

  it('does not take a short plateau or a spike for a level shift', () => {
    const s = background({ n: 4000, seed: 4 });
    addStep(s, 500, up * 10);
    addStep(s, 1500, up * 10, 2); // a real one to find
    addStep(s, 2500, up * 10);
    addStep(s, 2530, up * -10); // back after 30 points
    addSpike(s, 3300, up * 15, 11);
    const model = detector.learn(s, { positive: [spanOf(s, 497, 503)], negative: [] });
    expect(detector.detect(model, s).map((d) => indexOf(d.start))).toEqual([expect.any(Number)]);
    const [only] = detector.detect(model, s);
    expect(Math.abs(indexOf(only.start) - 1500)).toBeLessThanOrEqual(8);
  });

  it('does not find a removed detection again and raises its threshold past it', () => {
    const { decoysBefore, decoysAfter } = expectNegativesRespected(type, (s, c) => {
      addStep(s, c + 300, up * 4);
      addStep(s, c + 450, up * -4);
      return c + 300;
    });
    expect(decoysAfter).toBeLessThanOrEqual(decoysBefore / 2);
  });

  it('still detects with a stored version 1 model (size over noise only)', () => {
    const fx = fixtureFor(type);
    const m = detector.learn(fx.series, fx.labels);
    const { unitShift, unitSnr, seasonsMs, seasonPoints, ...rest } = m;
    const v1 = { ...rest, version: 1, threshold: 3, maxScore: null } as unknown as typeof m;
    const found = detector.detect(v1, fx.series);
    expect(matchDetections(found, fx.expected, 0)).toEqual({ missed: [], extra: [] });
    expect(detector.contextPoints(v1)).toBeGreaterThan(0);
  });

  it('finds shifts out of a stretch shorter than its windows, with a peak and a trough on the new level', () => {
    // Every 150 points: a shift of ±30% height, a peak and a trough on the new level, and a step back
    // after 112 points, so the level before each shift held only 38 points (the median still sees it).
    const s = background({ n: 3000, seed: 5 });
    const centres: number[] = [];
    for (let c = 300; c + 150 < 3000; c += 150) {
      const h = 10 * (1 + 0.3 * Math.sin(c));
      addStep(s, c, up * h, 1 + (c % 3));
      addSpike(s, c + 50, up * 10, 12);
      addSpike(s, c + 75, up * -10, 12);
      addStep(s, c + 112, up * -h, 2);
      centres.push(c);
    }
    const model = detector.learn(s, { positive: [spanOf(s, centres[0] - 4, centres[0] + 4)], negative: [] });
    const found = detector.detect(model, s).map((d) => (indexOf(d.start) + indexOf(d.finish)) / 2);
    expect(found).toHaveLength(centres.length - 1);
    found.forEach((c, i) => expect(Math.abs(c - centres[i + 1])).toBeLessThanOrEqual(12));
  });

  it('learns from a label close to a larger change the other way (shorter side windows)', () => {
    const s = background({ n: 4000, seed: 6 });
    addStep(s, 480, up * -30);
    addStep(s, 500, up * 10);
    for (const c of [1500, 2500]) {
      addStep(s, c, up * 10);
      addStep(s, c + 300, up * -10);
    }
    const model = detector.learn(s, { positive: [spanOf(s, 496, 504)], negative: [] });
    expect(model.sideWindow).toBeLessThan(40);
    const found = detector.detect(model, s).map((d) => (indexOf(d.start) + indexOf(d.finish)) / 2);
    expect(found).toHaveLength(2);
    found.forEach((c, i) => expect(Math.abs(c - [1500, 2500][i])).toBeLessThanOrEqual(6));
  });

  it('skips a daily pattern of shifts but not two siblings that happen to fall a day apart', () => {
    const day = 1440;
    const s = background({ n: 6 * day, seed: 8 });
    for (let k = 0; k < 6; k++) {
      addStep(s, k * day + 540, up * 10);
      addStep(s, k * day + 1020, up * -10);
    }
    const siblings = [2 * day + 1200, 3 * day + 1200, 5 * day + 100];
    for (const c of [200, ...siblings]) {
      addStep(s, c, up * 10);
      addStep(s, c + 150, up * -10);
    }
    const model = detector.learn(s, { positive: [spanOf(s, 196, 204)], negative: [] });
    const found = detector.detect(model, s).map((d) => (indexOf(d.start) + indexOf(d.finish)) / 2);
    expect(found).toHaveLength(siblings.length);
    found.forEach((c, i) => expect(Math.abs(c - siblings[i])).toBeLessThanOrEqual(6));
  });

  it('reports each shift at its step when swings both ways follow it within a window', () => {
    // Every 103 points: a shift, then within 40 points a swing back towards the old level and one past
    // the new level (width 12 each), and the step back after 77 points. The best mean boundary lands up
    // to 21 points off the step; medians keep it within the 20 points either side a person accepts.
    for (const seed of [1, 3, 4]) {
      const s = background({ n: 2000, seed });
      const centres: number[] = [];
      for (let c = 200; c + 103 < 2000; c += 103) {
        const h = 10 * (1 + 0.3 * Math.sin(c));
        addStep(s, c, up * h, 1 + (c % 3));
        addSpike(s, c + 36, up * -10, 12);
        addSpike(s, c + 51, up * 10, 12);
        addStep(s, c + 77, up * -h, 2);
        centres.push(c);
      }
      const model = detector.learn(s, { positive: [spanOf(s, centres[0] - 4, centres[0] + 4)], negative: [] });
      const found = detector.detect(model, s).map((d) => (indexOf(d.start) + indexOf(d.finish)) / 2);
      const near = centres.slice(1).filter((c) => found.some((f) => Math.abs(f - c) <= 20));
      expect(near.length).toBeGreaterThanOrEqual(centres.length - 3);
      expect(found.length).toBeLessThanOrEqual(centres.length);
    }
  });

  it('finds a shift that lands on the daily step of the same direction, but not the daily step alone', () => {
    const day = 1440;
    const s = background({ n: 6 * day, seed: 10 });
    for (let k = 0; k < 6; k++) {
      addStep(s, k * day + 540, up * 20);
      addStep(s, k * day + 1020, up * -20);
    }
    addStep(s, 200, up * 10);
    addStep(s, 350, up * -10);
    // 8 points after that day's step: one step half again the daily one, which a person still sees
    const sibling = 3 * day + 548;
    addStep(s, sibling, up * 10);
    addStep(s, sibling + 150, up * -10);
    const model = detector.learn(s, { positive: [spanOf(s, 196, 204)], negative: [] });
    const found = detector.detect(model, s).map((d) => (indexOf(d.start) + indexOf(d.finish)) / 2);
    expect(found).toHaveLength(1);
    expect(Math.abs(found[0] - sibling)).toBeLessThanOrEqual(12);
  });

  it('keeps skipping the daily pattern when only one of two labels has a sibling a day away', () => {
    const day = 1440;
    const s = background({ n: 6 * day, seed: 11 });
    for (let k = 0; k < 6; k++) {
      addStep(s, k * day + 540, up * 10);
      addStep(s, k * day + 1020, up * -10);
    }
    const labeled = [200, 2 * day + 300];
    const siblings = [3 * day + 300, 5 * day + 100];
    for (const c of [...labeled, ...siblings]) {
      addStep(s, c, up * 10);
      addStep(s, c + 150, up * -10);
    }
    const positive = labeled.map((c) => spanOf(s, c - 4, c + 4));
    const model = detector.learn(s, { positive, negative: [] });
    const found = detector.detect(model, s).map((d) => (indexOf(d.start) + indexOf(d.finish)) / 2);
    expect(found).toHaveLength(siblings.length);
    found.forEach((c, i) => expect(Math.abs(c - siblings[i])).toBeLessThanOrEqual(6));
  });
});
