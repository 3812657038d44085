import { describe, expect, it } from 'vitest';
import { troughDetector } from '../../../src/learn/detectors/trough';
import { detectOnOtherFixture, expectNegativesRespected } from './behaviour';
import { fixtureFor, matchDetections } from './fixtures';
import { addSpike, background, indexOf, spanOf } from './synthetic';

describe('trough detector', () => {
  it.each([7, 11, 23])('finds troughs of varied height and width after two labels (seed %i)', (seed) => {
    const fx = fixtureFor('trough', 8000, seed);
    const found = troughDetector.detect(troughDetector.learn(fx.series, fx.labels), fx.series);
    expect(found).toHaveLength(fx.expected.length);
    expect(matchDetections(found, fx.expected, 0)).toEqual({ missed: [], extra: [] });
    for (const d of found) expect(indexOf(d.finish) - indexOf(d.start)).toBeLessThanOrEqual(20);
  });

  it('finds nothing where there are only peaks, jumps, drops or plain seasonal noise', () => {
    for (const other of ['peak', 'jump', 'drop', 'background'] as const) expect(detectOnOtherFixture('trough', other)).toEqual([]);
  });

  it('learns from a single label and reports the trough centred', () => {
    const s = background({ n: 3000, seed: 2 });
    for (const c of [500, 1200, 2200]) addSpike(s, c, -12, 15);
    const model = troughDetector.learn(s, { positive: [spanOf(s, 490, 510)], negative: [] });
    const found = troughDetector.detect(model, s);
    const centres = found.map((d) => (indexOf(d.start) + indexOf(d.finish)) / 2);
    expect(centres).toHaveLength(2);
    expect(Math.abs(centres[0] - 1200)).toBeLessThanOrEqual(2);
    expect(Math.abs(centres[1] - 2200)).toBeLessThanOrEqual(2);
  });

  it('does not take the level between two blips up for a trough', () => {
    const s = background({ n: 3000, seed: 8, noise: 0, daily: 0, trend: 0 });
    addSpike(s, 500, -8, 12);
    addSpike(s, 1500, -6, 14);
    // On both sides of the flat level between them the blips fall deeper than the troughs' feet.
    for (const c of [2000, 2300]) {
      s.v[c] += 10;
      s.v[c + 6] += 10;
    }
    const found = troughDetector.detect(troughDetector.learn(s, { positive: [spanOf(s, 494, 506)], negative: [] }), s);
    expect(found.map((d) => Math.round((indexOf(d.start) + indexOf(d.finish)) / 2))).toEqual([1500]);
  });

  it('does not find a removed detection again and raises its threshold past it', () => {
    const { decoysBefore, decoysAfter } = expectNegativesRespected('trough', (s, c) => {
      addSpike(s, c + 350, -4.5, 11);
      return c + 350;
    });
    expect(decoysAfter).toBeLessThanOrEqual(decoysBefore / 2);
  });
});
