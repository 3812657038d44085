import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptySeries, indexAtOrAfter, indexAtOrBefore, seriesFromPoints, spanToIndices } from '../../src/learn/series';

describe('seriesFromPoints', () => {
  it('sorts by time, keeps the last value of a duplicate timestamp and turns null into NaN', () => {
    const s = seriesFromPoints([3000, 1000, 2000, 1000, 3000], [3, 1, null, 11, 33]);
    expect(Array.from(s.t)).toEqual([1000, 2000, 3000]);
    expect(Array.from(s.v)).toEqual([11, NaN, 33]);
  });

  it('keeps the last duplicate on already-sorted input too', () => {
    const s = seriesFromPoints([1, 2, 2, 3], [1, 2, 5, 3]);
    expect(Array.from(s.t)).toEqual([1, 2, 3]);
    expect(Array.from(s.v)).toEqual([1, 5, 3]);
  });

  it('drops non-finite timestamps and maps non-finite values to NaN', () => {
    const s = seriesFromPoints([NaN, 1, Infinity, 2, 3], [9, Infinity, 9, -Infinity, 4]);
    expect(Array.from(s.t)).toEqual([1, 2, 3]);
    expect(Array.from(s.v)).toEqual([NaN, NaN, 4]);
  });

  it('uses the shorter of the two arrays and handles empty input', () => {
    expect(Array.from(seriesFromPoints([1, 2, 3], [5]).t)).toEqual([1]);
    const e = seriesFromPoints([], []);
    expect(e.t.length).toBe(0);
    expect(e.v).toBeInstanceOf(Float64Array);
    expect(emptySeries().t.length).toBe(0);
  });

  it('yields strictly increasing times whose values are the last given for each time (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.option(fc.double(), { nil: null })), { maxLength: 80 }),
        (points) => {
          const s = seriesFromPoints(
            points.map((p) => p[0]),
            points.map((p) => p[1]),
          );
          const last = new Map<number, number | null>();
          for (const [t, v] of points) last.set(t, v);
          expect(s.t.length).toBe(last.size);
          for (let i = 1; i < s.t.length; i++) expect(s.t[i]).toBeGreaterThan(s.t[i - 1]);
          for (let i = 0; i < s.t.length; i++) {
            const v = last.get(s.t[i]);
            expect(s.v[i]).toBe(typeof v === 'number' && Number.isFinite(v) ? v : NaN);
          }
        },
      ),
      { seed: 20240101 },
    );
  });
});

describe('index helpers', () => {
  const s = seriesFromPoints([10, 20, 30, 40], [1, 2, 3, 4]);

  it('indexAtOrAfter finds the first point at or after a time', () => {
    expect([5, 10, 11, 40, 41].map((t) => indexAtOrAfter(s, t))).toEqual([0, 0, 1, 3, 4]);
  });

  it('indexAtOrBefore finds the last point at or before a time', () => {
    expect([5, 10, 11, 40, 41].map((t) => indexAtOrBefore(s, t))).toEqual([-1, 0, 0, 3, 3]);
  });

  it('spanToIndices gives the points inside a closed span, or null', () => {
    expect(spanToIndices(s, { start: 15, finish: 40 })).toEqual({ from: 1, to: 3 });
    expect(spanToIndices(s, { start: 10, finish: 10 })).toEqual({ from: 0, to: 0 });
    expect(spanToIndices(s, { start: 21, finish: 29 })).toBeNull();
    expect(spanToIndices(s, { start: 50, finish: 60 })).toBeNull();
    expect(spanToIndices(s, { start: 30, finish: 20 })).toBeNull();
    expect(spanToIndices(emptySeries(), { start: 0, finish: 1 })).toBeNull();
  });
});
