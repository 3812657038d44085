import { describe, expect, it } from 'vitest';
import { generalDetector } from '../../../src/learn/detectors/general';
import type { Series } from '../../../src/learn/detectors/types';
import { detectOnOtherFixture, expectNegativesRespected } from './behaviour';
import { fixtureFor, matchDetections } from './fixtures';
import { addDoubleBump, addSpike, background, indexOf, spanOf } from './synthetic';

/** A double bump whose second hump is `second` times the first (the fixture's is 0.6). */
function addBumps(s: Series, start: number, height: number, width: number, second: number): void {
  for (let k = 0; k < width; k++) {
    const p = k / (width - 1);
    const hump = p < 0.5 ? Math.sin(2 * Math.PI * p) : second * Math.sin(2 * Math.PI * (p - 0.5));
    s.v[start + k] += height * Math.max(0, hump);
  }
}

describe('general detector', () => {
  it.each([7, 11, 23])('finds double bumps of varied height and width after two labels (seed %i)', (seed) => {
    const fx = fixtureFor('general', 8000, seed);
    const found = generalDetector.detect(generalDetector.learn(fx.series, fx.labels), fx.series);
    expect(found).toHaveLength(fx.expected.length);
    expect(matchDetections(found, fx.expected, 0)).toEqual({ missed: [], extra: [] });
    for (const d of found) expect(indexOf(d.finish) - indexOf(d.start) + 1).toBeGreaterThanOrEqual(30);
  });

  it('does not take single peaks, steps, other bump proportions or seasonal noise for the shape', () => {
    for (const other of ['peak', 'trough', 'jump', 'drop', 'background'] as const) {
      expect(detectOnOtherFixture('general', other)).toEqual([]);
    }
    const fx = fixtureFor('general');
    const model = generalDetector.learn(fx.series, fx.labels);
    const s = background({ n: 6000, seed: 9 });
    addBumps(s, 1000, 12, 40, 0); // one hump
    addBumps(s, 2000, 12, 40, 1); // two equal humps
    addBumps(s, 3000, 12, 40, 1.6); // the second hump taller
    addSpike(s, 4000, 12, 40); // a wide triangle
    addBumps(s, 5000, 12, 40, 0.6); // the real thing, as a control
    expect(generalDetector.detect(model, s).map((d) => indexOf(d.start))).toEqual([expect.closeTo(5000, 3)]);
  });

  it('is independent of level and amplitude', () => {
    const s = background({ n: 4000, seed: 5 });
    addDoubleBump(s, 500, 12, 40);
    addDoubleBump(s, 1500, 36, 40); // three times taller
    for (let i = 2300; i < 2700; i++) s.v[i] += 1e4; // on a far higher level
    addDoubleBump(s, 2480, 12, 40);
    for (let i = 3300; i < 3700; i++) s.v[i] = -5e3 + (s.v[i] - 100) * 0.2; // lower and quieter
    addDoubleBump(s, 3480, 2.4, 40);
    const model = generalDetector.learn(s, { positive: [spanOf(s, 500, 539)], negative: [] });
    const starts = generalDetector.detect(model, s).map((d) => indexOf(d.start));
    expect(starts).toEqual([expect.closeTo(1500, 3), expect.closeTo(2480, 3), expect.closeTo(3480, 3)]);
  });

  it('does not find a removed detection again nor shapes closer to it than to the labels', () => {
    const { decoysBefore, decoysAfter } = expectNegativesRespected('general', (s, c) => {
      addBumps(s, c + 330, 12, 40, 0.3);
      return c + 350;
    });
    expect(decoysAfter).toBeLessThanOrEqual(decoysBefore / 2);
  });
});
