import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectors, getDetector } from '../../../src/learn/detectors/index';
import { DETECTOR_TYPES, LearningError, type Labels, type Series } from '../../../src/learn/detectors/types';
import { emptySeries, seriesFromPoints } from '../../../src/learn/series';
import { fixtureFor, matchDetections } from './fixtures';
import { expectValidDetections } from './invariants';
import { rng } from './synthetic';

const scaled = (s: Series, f: (v: number) => number): Series => ({ t: s.t.slice(), v: s.v.map(f) });
const positions = (found: { start: number; finish: number }[]) => found.map((d) => [d.start, d.finish]);

/** Arbitrary series: structured shapes (walks, spikes, steps, plateaus) with gaps, extremes and odd steps. */
const arbSeries = fc
  .record({
    n: fc.integer({ min: 0, max: 400 }),
    seed: fc.integer(),
    kind: fc.constantFrom('walk', 'spiky', 'steps', 'flat', 'extreme', 'raw'),
    nanRate: fc.constantFrom(0, 0, 0.05, 0.5),
    raw: fc.array(fc.oneof(fc.double(), fc.constantFrom(NaN, 0, 1e300, -1e300, 1e-300, 5e-324)), { maxLength: 400 }),
    maxStep: fc.integer({ min: 1, max: 5 }),
  })
  .map(({ n, seed, kind, nanRate, raw, maxStep }) => {
    const next = rng(seed);
    const t = new Float64Array(n);
    const v = new Float64Array(n);
    let level = 0;
    let acc = 1e12;
    for (let i = 0; i < n; i++) {
      t[i] = acc += 1000 * (1 + Math.floor(next() * maxStep));
      const noise = next() - 0.5;
      if (kind === 'walk') level += noise;
      if (kind === 'steps' && next() < 0.03) level += (next() - 0.5) * 40;
      const spike = kind === 'spiky' && next() < 0.03 ? (next() - 0.5) * 60 : 0;
      v[i] =
        kind === 'flat' ? 3 : kind === 'raw' ? (raw[i] ?? 0) : kind === 'extreme' ? (next() < 0.5 ? 1e300 : -1e300) * next() : level + noise + spike;
      if (next() < nanRate) v[i] = NaN;
    }
    return { t, v } as Series;
  });
const arbIndexSpan = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 30 }));

describe.each(DETECTOR_TYPES)('%s detector (shared suite)', (type) => {
  let learned = 0;
  const detector = detectors[type];
  const fx = fixtureFor(type);
  const model = detector.learn(fx.series, fx.labels);
  const reference = detector.detect(model, fx.series);

  it('finds every unlabeled shape of the fixture and nothing else', () => {
    expect(matchDetections(reference, fx.expected, fx.tolerance)).toEqual({ missed: [], extra: [] });
    expectValidDetections(reference, fx.series, fx.labels.positive);
  });

  it('makes a plain-JSON model with its type and version', () => {
    const copy = JSON.parse(JSON.stringify(model));
    expect(copy).toEqual(model);
    expect(copy.type).toBe(type);
    expect(Number.isInteger(copy.version)).toBe(true);
    expect(detector.detect(copy, fx.series)).toEqual(reference);
  });

  it('is deterministic', () => {
    expect(detector.learn(fx.series, fx.labels)).toEqual(model);
    expect(detector.detect(model, fx.series)).toEqual(reference);
  });

  if (type === 'anomaly') {
    it('learns without labels, also on an empty series', () => {
      expect(detector.learn(emptySeries(), { positive: [], negative: [] }).type).toBe('anomaly');
    });
  } else {
    it('refuses to learn without positive labels', () => {
      expect(() => detector.learn(fx.series, { positive: [], negative: [] })).toThrow(LearningError);
      expect(() => detector.learn(fx.series, { positive: [], negative: [] })).toThrow(/label at least one segment/i);
    });
  }

  it('refuses labels that fall outside the data', () => {
    const after = fx.series.t[fx.series.t.length - 1] + 1e6;
    const outside: Labels = { positive: [...fx.labels.positive, { start: after, finish: after + 1e6 }], negative: [] };
    expect(() => detector.learn(fx.series, outside)).toThrow(LearningError);
    const badNegative: Labels = { positive: fx.labels.positive, negative: [{ start: -5e6, finish: -4e6 }] };
    expect(() => detector.learn(fx.series, badNegative)).toThrow(LearningError);
    expect(() => detector.learn(emptySeries(), { positive: [{ start: 0, finish: 1 }], negative: [] })).toThrow(LearningError);
    const farFuture: Labels = { positive: [{ start: 1e20, finish: 2e20 }], negative: [] };
    expect(() => detector.learn(fx.series, farFuture)).toThrow(LearningError);
    const reversed: Labels = { positive: [{ start: fx.series.t[20], finish: fx.series.t[10] }], negative: [] };
    expect(() => detector.learn(fx.series, reversed)).toThrow(/invalid time range/);
  });

  it('is registered under its type', () => {
    expect(getDetector(type)).toBe(detector);
    expect(detector.type).toBe(type);
  });

  it('treats an out-of-range or non-numeric fromIndex sensibly', () => {
    expect(detector.detect(model, fx.series, -5)).toEqual(reference);
    expect(detector.detect(model, fx.series, NaN)).toEqual(reference);
    expect(detector.detect(model, fx.series, fx.series.t.length + 10)).toEqual([]);
  });

  it('returns nothing on an empty series', () => {
    expect(detector.detect(model, emptySeries())).toEqual([]);
    expect(detector.detect(model, emptySeries(), 5)).toEqual([]);
  });

  it('still finds the shapes across NaN gaps, and survives scattered NaNs', () => {
    const gapped = scaled(fx.series, (v) => v);
    for (const c of [...fx.expected, ...fx.expected.map((c) => c - 700)]) gapped.v.fill(NaN, c + 150, c + 200);
    const found = detector.detect(model, gapped);
    expect(matchDetections(found, fx.expected, fx.tolerance)).toEqual({ missed: [], extra: [] });
    expectValidDetections(found, gapped, fx.labels.positive);

    const sprinkled = scaled(fx.series, (v) => v);
    for (let i = 0; i < sprinkled.v.length; i += 37) sprinkled.v[i] = NaN;
    expectValidDetections(detector.detect(model, sprinkled), sprinkled, fx.labels.positive);
    const allNaN = scaled(fx.series, () => NaN);
    expect(detector.detect(model, allNaN)).toEqual([]);
  });

  it('still finds the shapes when time steps are uneven (missing points)', () => {
    const keep: number[] = [];
    for (let i = 0; i < fx.series.t.length; i++) if (i % 700 < 150 || i % 700 > 260 || i % 3 !== 0) keep.push(i);
    const uneven: Series = { t: Float64Array.from(keep, (i) => fx.series.t[i]), v: Float64Array.from(keep, (i) => fx.series.v[i]) };
    const found = detector.detect(model, uneven);
    expect(matchDetections(found, fx.expected, fx.tolerance)).toEqual({ missed: [], extra: [] });
    expectValidDetections(found, uneven, fx.labels.positive);
  });

  it('finds nothing on a constant series and never yields NaN', () => {
    const flat = scaled(fx.series, () => 42);
    expect(detector.detect(model, flat)).toEqual([]);
    let flatModel;
    try {
      flatModel = detector.learn(flat, fx.labels);
    } catch (e) {
      expect(e).toBeInstanceOf(LearningError);
    }
    if (flatModel) expect(detector.detect(flatModel, flat)).toEqual([]);
  });

  it('copes with a 3-point series', () => {
    const tiny: Series = { t: Float64Array.of(0, 60_000, 120_000), v: Float64Array.of(1, 5, 2) };
    expectValidDetections(detector.detect(model, tiny), tiny);
    let tinyModel;
    try {
      tinyModel = detector.learn(tiny, { positive: [{ start: 60_000, finish: 60_000 }], negative: [] });
    } catch (e) {
      expect(e).toBeInstanceOf(LearningError);
    }
    if (tinyModel) expectValidDetections(detector.detect(tinyModel, tiny), tiny, [{ start: 60_000, finish: 60_000 }]);
  });

  it.each([
    ['huge', 1e300],
    ['tiny', 1e-300],
    ['negative', -1],
  ])('gives the same segments for %s magnitudes', (_, factor) => {
    const shifted = scaled(fx.series, (v) => (v - 1e4) * factor);
    // Mirrored data mirrors the shapes: compare peak with trough, jump with drop.
    const mirror = { peak: 'trough', trough: 'peak', jump: 'drop', drop: 'jump' } as const;
    const other = factor < 0 && type in mirror ? detectors[mirror[type as keyof typeof mirror]] : detector;
    if (factor < 0 && type === 'general') return; // a mirrored double bump is another shape
    const m = other.learn(shifted, fx.labels);
    const found = other.detect(m, shifted);
    expect(positions(found)).toEqual(positions(reference));
    found.forEach((d, i) => expect(d.confidence).toBeCloseTo(reference[i].confidence, 6));
  });

  it('gives the same segments for data far below zero', () => {
    const low = scaled(fx.series, (v) => v - 1e6);
    const found = detector.detect(detector.learn(low, fx.labels), low);
    expect(positions(found)).toEqual(positions(reference));
  });

  it('reads duplicates and disorder through seriesFromPoints like the clean series', () => {
    const next = rng(5);
    const n = fx.series.t.length;
    const order = Array.from({ length: n }, (_, i) => i).sort(() => next() - 0.5);
    const stale = order.filter((i) => i % 10 === 0);
    const t = [...stale.map((i) => fx.series.t[i]), ...order.map((i) => fx.series.t[i])];
    const v = [...stale.map(() => 1e9), ...order.map((i) => fx.series.v[i])];
    const s = seriesFromPoints(t, v);
    expect(detector.detect(detector.learn(s, fx.labels), s)).toEqual(reference);
  });

  it('reports from fromIndex on exactly what a full scan reports there', () => {
    const n = fx.series.t.length;
    for (const k of [0, 1, fx.expected[3], fx.expected[3] + 3, n - 300, n - 1, n]) {
      const part = detector.detect(model, fx.series, k);
      const full = reference.filter((d) => k < n && d.finish >= fx.series.t[k]);
      expect(positions(part)).toEqual(positions(full));
      expectValidDetections(part, fx.series, fx.labels.positive, k);
    }
    expect(detector.contextPoints(model)).toBeGreaterThan(0);
  });

  it('keeps the output contract on random series and labels (property)', () => {
    fc.assert(
      fc.property(arbSeries, fc.array(arbIndexSpan, { maxLength: 3 }), fc.array(arbIndexSpan, { maxLength: 2 }), fc.nat(), (s, pos, neg, from) => {
        const n = s.t.length;
        const k = n ? from % (n + 1) : 0;
        // The fixture's model on arbitrary data.
        expectValidDetections(detector.detect(model, s, k), s, [], k);
        // A model learned on the arbitrary data itself, with labels inside it.
        const toSpan = ([a, w]: [number, number]) => ({ start: s.t[a % n], finish: s.t[Math.min(n - 1, (a % n) + w)] });
        const labels = n ? { positive: pos.map(toSpan), negative: neg.map(toSpan) } : { positive: [], negative: [] };
        let m;
        try {
          m = detector.learn(s, labels);
        } catch (e) {
          expect(e).toBeInstanceOf(LearningError);
          return;
        }
        learned++;
        const found = detector.detect(m, s, k);
        expectValidDetections(found, s, [...labels.positive, ...labels.negative], k);
        expect(detector.detect(JSON.parse(JSON.stringify(m)), s, k)).toEqual(found);
      }),
      { numRuns: 200, seed: 20240101 },
    );
    // The property must exercise learning, not only its errors.
    expect(learned).toBeGreaterThan(10);
  });

  it('handles 10^6 points quickly', () => {
    const big = fixtureFor(type, 1_000_000, 3);
    const m = detector.learn(big.series, big.labels);
    const t0 = performance.now();
    const found = detector.detect(m, big.series);
    const ms = performance.now() - t0;
    const { missed, extra } = matchDetections(found, big.expected, big.tolerance);
    expect(missed.length).toBeLessThanOrEqual(big.expected.length * 0.005);
    expect(extra.length).toBeLessThanOrEqual(big.expected.length * 0.005);
    expect(ms).toBeLessThan(10_000);
  });
});

describe('getDetector', () => {
  it('throws on an unknown type', () => {
    expect(() => getDetector('spike')).toThrow(/unknown detector type/i);
  });
});
