import { describe, expect, it } from 'vitest';
import { NAB_PROFILES, nabNormalized, nabRawScore, nabRowWeights, nabSigmoid, sweepNab } from '../../bench/lib/nab-score';

const n = 1000;
const windows: [number, number][] = [
  [200, 259],
  [500, 519],
  [800, 899],
];

describe('NAB score', () => {
  it.each(Object.keys(NAB_PROFILES) as (keyof typeof NAB_PROFILES)[])('a perfect detector scores 100, one that never fires 0 (%s)', (name) => {
    const profile = NAB_PROFILES[name];
    const perfect = new Float64Array(n);
    for (const [L] of windows) perfect[L] = 1;
    const never = new Float64Array(n);
    const files = (scores: Float64Array) => [{ scores, windows }, { scores: new Float64Array(300), windows: [] }];
    expect(sweepNab(files(perfect), profile).normalized).toBeCloseTo(100, 10);
    expect(sweepNab(files(perfect), profile).theta).toBe(1);
    const r = nabRawScore(files(perfect), profile, 1);
    expect(nabNormalized(r.score, r.windows, profile)).toBeCloseTo(100, 10);
    expect(sweepNab(files(never), profile).normalized).toBe(0);
  });

  it('weighs a window by how early it is hit and false alarms by their distance to the last window', () => {
    expect(nabSigmoid(4)).toBe(-1);
    expect(nabSigmoid(0)).toBe(0);
    const { weight, window } = nabRowWeights(100, [[40, 49]]);
    expect(window[10]).toBe(-2); // probation: 15 rows
    expect(weight[40]).toBeCloseTo(1, 12);
    expect(weight[20]).toBe(-1);
    expect(weight[49]).toBeCloseTo(0.244919 / 0.986614, 5); // A(-1/10) / A(-1): the last row is worth a quarter
    expect(weight[50]).toBeCloseTo(-0.270847, 5); // A(1 / 9): just after the window, a cheap false alarm
    expect(weight[99]).toBeCloseTo(-0.9999, 3); // far from it: the full cost
  });

  it('matches a hand-computed case, and the sweep picks the best threshold', () => {
    // 100 rows (15 in probation), one window [40, 49] of width 10.
    const scores = new Float64Array(100);
    scores[5] = 1; // probation: ignored
    scores[20] = 0.7; // before the first window ended: -0.11
    scores[45] = 0.9; // A(-0.5) / A(-1) = 0.848283 / 0.986614 = 0.859792
    scores[60] = 0.5; // 0.11 * A(11 / 9) = 0.11 * -0.995573 = -0.109513
    const files = [{ scores, windows: [[40, 49]] as [number, number][] }];
    const p = NAB_PROFILES.standard;
    const at = (theta: number) => nabRawScore(files, p, theta).score;
    expect(at(0.9)).toBeCloseTo(0.859792, 5);
    expect(at(0.7)).toBeCloseTo(0.859792 - 0.11, 5);
    expect(at(0.5)).toBeCloseTo(0.859792 - 0.11 - 0.109513, 5);
    expect(nabNormalized(at(0.5), 1, p)).toBeCloseTo(82.014, 2);
    const best = sweepNab(files, p);
    expect(best.theta).toBe(0.9);
    expect(best.normalized).toBeCloseTo(92.99, 2);
    // Low-FN profile: a miss costs 2, so the same hit gives (0.859792 + 2) / 3.
    expect(sweepNab(files, NAB_PROFILES.reward_low_FN_rate).normalized).toBeCloseTo((100 * 2.859792) / 3, 3);
  });

  it('the sweep agrees with scoring at its threshold on random scores', () => {
    let seed = 3;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const scores = Float64Array.from({ length: n }, () => Math.floor(rand() * 50) / 50);
    const files = [{ scores, windows }];
    for (const p of Object.values(NAB_PROFILES)) {
      const best = sweepNab(files, p);
      expect(nabRawScore(files, p, best.theta).score).toBeCloseTo(best.rawScore, 9);
      for (let th = 0; th <= 1; th += 0.02) expect(nabRawScore(files, p, th).score).toBeLessThanOrEqual(best.rawScore + 1e-9);
    }
  });
});
