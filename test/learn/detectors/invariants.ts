import { expect } from 'vitest';
import type { Detection, Series, Span } from '../../../src/learn/detectors/types';

/** Asserts the output contract of `detect`: sorted, disjoint, inside the data, clear of `excluded`. */
export function expectValidDetections(
  found: Detection[],
  series: Series,
  excluded: readonly Span[] = [],
  fromIndex = 0,
): void {
  const n = series.t.length;
  if (n === 0 || fromIndex >= n) {
    expect(found).toEqual([]);
    return;
  }
  for (let i = 0; i < found.length; i++) {
    const d = found[i];
    expect(Number.isFinite(d.start) && Number.isFinite(d.finish)).toBe(true);
    expect(d.start).toBeLessThanOrEqual(d.finish);
    expect(d.start).toBeGreaterThanOrEqual(series.t[0]);
    expect(d.finish).toBeLessThanOrEqual(series.t[n - 1]);
    expect(d.finish).toBeGreaterThanOrEqual(series.t[Math.max(0, fromIndex)]);
    expect(d.confidence).toBeGreaterThanOrEqual(0);
    expect(d.confidence).toBeLessThanOrEqual(1);
    if (i > 0) expect(d.start).toBeGreaterThan(found[i - 1].finish);
    for (const e of excluded) {
      if (e.start <= e.finish) expect(d.start > e.finish || d.finish < e.start).toBe(true);
    }
  }
}
