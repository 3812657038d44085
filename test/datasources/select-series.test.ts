import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { selectSeries, seriesName, unitTarget, type NamedSeries } from '../../src/datasources/select-series';
import { DatasourceError } from '../../src/datasources/types';

const one = (name: string, labels: Record<string, string> = {}, refId?: string): NamedSeries => ({
  name,
  labels,
  ...(refId ? { refId } : {}),
  series: { t: Float64Array.of(1), v: Float64Array.of(name.length) },
});
const A = one('cpu{host="a"}', { host: 'a', dc: 'x' }, 'A');
const B = one('cpu{host="b"}', { host: 'b', dc: 'x' }, 'A');
const C = one('mem{host="a"}', { host: 'a', dc: 'y' }, 'B');

function error(f: () => unknown): DatasourceError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DatasourceError);
    return e as DatasourceError;
  }
  throw new Error('expected a DatasourceError');
}

describe('seriesName', () => {
  it.each([
    ['cpu', {}, 'cpu'],
    ['cpu', { host: 'a' }, 'cpu{host="a"}'],
    ['cpu', { z: '1', a: '2' }, 'cpu{a="2",z="1"}'],
    [undefined, { host: 'a' }, '{host="a"}'],
    [undefined, {}, 'series'],
    ['m', { q: 'say "hi"\n' }, 'm{q="say \\"hi\\"\\n"}'],
  ] as const)('%s %j -> %s', (metric, labels, name) => {
    expect(seriesName(metric, labels)).toBe(name);
  });
});

describe('unitTarget', () => {
  it('the first visible object target', () => {
    expect(unitTarget([null, 'x', [1], { refId: 'A', hide: true }, { refId: 'B' }, { refId: 'C' }])).toEqual({ refId: 'B' });
    expect(unitTarget([])).toBeUndefined();
  });
});

describe('selectSeries', () => {
  it('none: undefined; one: that one, whatever the target says', () => {
    expect(selectSeries([], [{ refId: 'A' }])).toBeUndefined();
    expect(selectSeries([A], [])).toBe(A);
    expect(selectSeries([A], [{ labels: { host: 'zzz' }, series: 'other', alias: 'x' }])).toBe(A);
  });
  it('by refId', () => {
    expect(selectSeries([A, C], [{ refId: 'B' }])).toBe(C);
  });
  it('the first visible target decides (hidden targets are skipped)', () => {
    expect(selectSeries([A, C], [{ refId: 'A', hide: true }, { refId: 'B' }])).toBe(C);
  });
  it('a refId nobody has does not narrow', () => {
    const e = error(() => selectSeries([A, B], [{ refId: 'Z' }]));
    expect(e.message).toContain('cpu{host="a"}, cpu{host="b"}');
  });
  it('by labels (all of them must match)', () => {
    expect(selectSeries([A, B, C], [{ labels: { host: 'a', dc: 'y' } }])).toBe(C);
    expect(selectSeries([A, B, C], [{ refId: 'A', labels: { host: 'a' } }])).toBe(A);
  });
  it('label values are compared as strings', () => {
    const s1 = one('x{cpu="1"}', { cpu: '1' });
    const s2 = one('x{cpu="2"}', { cpu: '2' });
    expect(selectSeries([s1, s2], [{ labels: { cpu: 2 } }])).toBe(s2);
  });
  it('labels that match nothing: an error listing the candidates', () => {
    const e = error(() => selectSeries([A, B], [{ labels: { host: 'c' } }]));
    expect(e.kind).toBe('bad_query');
    expect(e.message).toMatch(/no series of the query has the labels \{host="c"\}.*cpu\{host="a"\}, cpu\{host="b"\}/);
  });
  it('labels that still match several: ambiguous', () => {
    const e = error(() => selectSeries([A, B, C], [{ labels: { dc: 'x' } }]));
    expect(e.message).toMatch(/returned 2 series/);
  });
  it('by series name (exact), an unknown name is an error', () => {
    expect(selectSeries([A, B], [{ series: 'cpu{host="b"}' }])).toBe(B);
    expect(error(() => selectSeries([A, B], [{ series: 'cpu{host="c"}' }])).message).toMatch(/no series of the query is named cpu\{host="c"\}/);
  });
  it('alias / legendFormat equal to a name choose it; otherwise they are ignored', () => {
    expect(selectSeries([A, B], [{ alias: 'cpu{host="b"}' }])).toBe(B);
    expect(selectSeries([A, B], [{ legendFormat: 'cpu{host="a"}' }])).toBe(A);
    expect(error(() => selectSeries([A, B], [{ alias: '$tag_host' }])).message).toMatch(/returned 2 series/);
  });
  it('empty or blank hints are ignored', () => {
    expect(error(() => selectSeries([A, B], [{ refId: ' ', alias: '', series: '  ', labels: {} }])).message).toMatch(/returned 2 series/);
  });
  it('no target at all: ambiguous, with a hint how to name one', () => {
    const e = error(() => selectSeries([A, B], []));
    expect(e.message).toMatch(/set the target's "labels" \(e\.g\. \{"host": "a"\}\) or "series"/);
  });
  it('lists at most 10 candidates and says how many there are', () => {
    const many = Array.from({ length: 25 }, (_, k) => one(`s${k}`));
    const e = error(() => selectSeries(many, []));
    expect(e.message).toContain('s9, … (25 in all)');
    expect(e.message).not.toContain('s10');
  });
  it('property: a target naming a candidate by its full labels always gets that candidate', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.constantFrom('x', 'y', 'z')), { minLength: 2, maxLength: 12, selector: ([h, d]) => `${h}/${d}` }),
        fc.nat(),
        (keys, pick) => {
          const candidates = keys.map(([host, dc]) => one(seriesName('m', { host, dc }), { host, dc }));
          const wanted = candidates[pick % candidates.length];
          return selectSeries(candidates, [{ labels: wanted.labels }]) === wanted && selectSeries(candidates, [{ series: wanted.name }]) === wanted;
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  });
  it('property: it never returns a series that does not match the labels asked for', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.constantFrom('x', 'y')), { minLength: 2, maxLength: 8 }),
        fc.constantFrom('a', 'b'),
        (keys, host) => {
          const candidates = keys.map(([h, d], k) => one(`m${k}`, { host: h, dc: d }));
          try {
            const got = selectSeries(candidates, [{ labels: { host } }]);
            return got !== undefined && got.labels.host === host;
          } catch (e) {
            return e instanceof DatasourceError;
          }
        },
      ),
      { seed: 12, numRuns: 300 },
    );
  });
});
