import { expect } from 'vitest';
import { detectors } from '../../../src/learn/detectors/index';
import type { DetectorType, Series } from '../../../src/learn/detectors/types';
import { fixtureFor, matchDetections } from './fixtures';
import { background, indexOf } from './synthetic';

/**
 * Checks that a removed detection teaches the detector: `addDecoy` puts a weaker or different shape
 * near every fixture shape; without negatives most decoys are found; after removing one detected decoy
 * it is never found again, fewer decoys are found overall (the threshold moved, not just the filter),
 * and every sibling of the positives is still found.
 */
export function expectNegativesRespected(
  type: DetectorType,
  addDecoy: (s: Series, centre: number) => number,
  seed = 7,
): { decoysBefore: number; decoysAfter: number } {
  const detector = detectors[type];
  const fx = fixtureFor(type, 8000, seed);
  const s: Series = { t: fx.series.t.slice(), v: fx.series.v.slice() };
  const centres = type === 'anomaly' ? fx.expected : [...fx.expected];
  const decoys = centres.map((c) => addDecoy(s, c));

  const before = detector.detect(detector.learn(s, fx.labels), s);
  const decoysFound = (found: typeof before) =>
    decoys.length - matchDetections(found, decoys, fx.tolerance).missed.length;
  const decoysBefore = decoysFound(before);
  expect(decoysBefore).toBeGreaterThanOrEqual(Math.ceil(decoys.length / 2));

  const removed = before.find((d) => matchDetections([d], [decoys[0]], fx.tolerance).missed.length === 0)
    ?? before.find((d) => matchDetections([d], decoys, fx.tolerance).missed.length < decoys.length)!;
  expect(removed).toBeDefined();
  const labels = { positive: fx.labels.positive, negative: [{ start: removed.start, finish: removed.finish }] };
  const after = detector.detect(detector.learn(s, labels), s);
  for (const d of after) expect(d.finish < removed.start || d.start > removed.finish).toBe(true);
  const decoysAfter = decoysFound(after);
  expect(decoysAfter).toBeLessThan(decoysBefore);
  expect(matchDetections(after, fx.expected, fx.tolerance).missed).toEqual([]);
  return { decoysBefore, decoysAfter };
}

/** Learns on the detector's own fixture and detects on another detector's fixture series. */
export function detectOnOtherFixture(type: DetectorType, other: DetectorType | 'background'): number[] {
  const detector = detectors[type];
  const fx = fixtureFor(type);
  const model = detector.learn(fx.series, fx.labels);
  const target = other === 'background' ? background({ n: 8000, seed: 7 }) : fixtureFor(other).series;
  return detector.detect(model, target).map((d) => indexOf(d.start));
}
