import { describe, expect, it } from 'vitest';
import { type GeneralModelV1, generalDetector } from '../../../src/learn/detectors/general';
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

  it('does not take single peaks, steps, a single hump, a taller second hump or seasonal noise for the shape', () => {
    for (const other of ['peak', 'trough', 'jump', 'drop', 'background'] as const) {
      expect(detectOnOtherFixture('general', other)).toEqual([]);
    }
    const fx = fixtureFor('general');
    const model = generalDetector.learn(fx.series, fx.labels);
    const s = background({ n: 6000, seed: 9 });
    addBumps(s, 1000, 12, 40, 0); // one hump
    addBumps(s, 2000, 12, 40, 1); // two equal humps: close enough to a 0.6 second hump to be allowed
    addBumps(s, 3000, 12, 40, 1.6); // the second hump taller
    addSpike(s, 4000, 12, 40); // a wide triangle
    addBumps(s, 5000, 12, 40, 0.6); // the real thing, as a control
    const starts = generalDetector.detect(model, s).map((d) => indexOf(d.start));
    expect(starts.filter((i) => Math.abs(i - 2000) > 3)).toEqual([5000]);
  });

  it('keeps a template per kind of label: the same bump labeled on flat ground and on a ramp', () => {
    // A series rising in steep ramps (a daily load curve); the bump recurs on flat ground and on ramps.
    // One template averaged from both labels matches neither well and takes bare ramps for the shape.
    const s = background({ n: 6000, seed: 3 });
    const onRamp = [700, 1900, 3100, 4300, 5500];
    const onFlat = [300, 1500, 2700, 3900, 5100];
    for (const c of onRamp) {
      for (let i = c - 60; i < s.v.length; i++) {
        s.v[i] += 1.5 * Math.min(120, i - (c - 60)) - (i >= c + 300 ? 1.5 * Math.min(120, i - c - 300) : 0);
      }
    }
    for (const c of [...onRamp, ...onFlat]) addDoubleBump(s, c, 12, 40);
    const labels = { positive: [spanOf(s, onFlat[0], onFlat[0] + 39), spanOf(s, onRamp[0], onRamp[0] + 39)], negative: [] };
    const model = generalDetector.learn(s, labels);
    expect(model.templates).toHaveLength(2);
    const starts = generalDetector.detect(model, s).map((d) => indexOf(d.start));
    const expected = [...onRamp.slice(1), ...onFlat.slice(1)].sort((a, b) => a - b);
    expect(starts).toHaveLength(expected.length);
    starts.forEach((start, j) => expect(Math.abs(start - expected[j])).toBeLessThanOrEqual(3));
  });

  it('makes labels that agree closely stricter than one label, never looser', () => {
    const fx = fixtureFor('general');
    const two = generalDetector.learn(fx.series, fx.labels);
    const one = generalDetector.learn(fx.series, { positive: fx.labels.positive.slice(0, 1), negative: [] });
    expect(two.templates).toHaveLength(1);
    expect(two.threshold).toBeGreaterThan(one.threshold);
    expect(two.threshold).toBeLessThan(0.95);
  });

  it('still detects with a stored version-1 model (one template)', () => {
    const fx = fixtureFor('general');
    const { templates, offsets: _, ...rest } = generalDetector.learn(fx.series, fx.labels);
    const v1: GeneralModelV1 = { ...rest, version: 1, template: templates[0] };
    const found = generalDetector.detect(v1 as never, fx.series);
    expect(matchDetections(found, fx.expected, fx.tolerance)).toEqual({ missed: [], extra: [] });
  });

  it('is independent of level, and of amplitude from half the labeled size up', () => {
    const s = background({ n: 4000, seed: 5 });
    addDoubleBump(s, 500, 12, 40);
    addDoubleBump(s, 1500, 36, 40); // three times taller
    for (let i = 2300; i < 2700; i++) s.v[i] += 1e4; // on a far higher level
    addDoubleBump(s, 2480, 12, 40);
    for (let i = 3300; i < 3700; i++) s.v[i] = -5e3 + (s.v[i] - 100) * 0.2; // lower and quieter
    addDoubleBump(s, 3480, 7.2, 40); // and smaller, but more than half the labeled size
    const model = generalDetector.learn(s, { positive: [spanOf(s, 500, 539)], negative: [] });
    const starts = generalDetector.detect(model, s).map((d) => indexOf(d.start));
    expect(starts).toEqual([1500, 2480, 3480]);
  });

  it('does not take a far smaller look-alike for the labeled shape', () => {
    // A person marked a bump that stood out; one a fifth of its size is ordinary wiggle, whatever its shape
    // (it correlates with the template as well as the labeled one does).
    const s = background({ n: 4000, seed: 5 });
    addDoubleBump(s, 500, 12, 40);
    for (let i = 1400; i < 1700; i++) s.v[i] = 100 + (s.v[i] - 100) * 0.1; // a quiet stretch
    addDoubleBump(s, 1500, 2.4, 40); // the small one, clear in the quiet
    addDoubleBump(s, 2500, 9, 40); // a sibling a quarter smaller, as a control
    const model = generalDetector.learn(s, { positive: [spanOf(s, 500, 539)], negative: [] });
    expect(generalDetector.detect(model, s).map((d) => indexOf(d.start))).toEqual([2500]);
  });

  it('does not find a removed detection again nor shapes closer to it than to the labels', () => {
    const { decoysBefore, decoysAfter } = expectNegativesRespected('general', (s, c) => {
      addBumps(s, c + 330, 12, 40, 0.3);
      return c + 350;
    });
    expect(decoysAfter).toBeLessThanOrEqual(decoysBefore / 2);
  });
});
