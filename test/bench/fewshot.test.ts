import { describe, expect, it } from 'vitest';
import { baselineDetect } from '../../bench/lib/fewshot-baseline';
import { type FewShotCase, f1, labelHalfWidth, labelRange, revealedLabels, scoreDetections, summarize } from '../../bench/lib/fewshot-eval';

/** A flat series with three triangular bumps of 9 points and their windows (flat windows have no correlation). */
function bumps(): FewShotCase {
  const n = 600;
  const t = Float64Array.from({ length: n }, (_, i) => i * 60_000);
  const v = new Float64Array(n);
  for (const c of [100, 300, 500]) for (let i = c - 4; i <= c + 4; i++) v[i] = 10 * (1 - Math.abs(i - c) / 5);
  return { key: 'bumps', series: { t, v }, windows: [[80, 120], [280, 320], [480, 520]], labels: [100, 300, 500], ignore: [] };
}

describe('few-shot protocol', () => {
  it('draws the label max(2, round(0.1 * window)) rows around the anomaly', () => {
    expect(labelHalfWidth([0, 9])).toBe(2);
    expect(labelHalfWidth([0, 40])).toBe(4);
    expect(labelRange(bumps(), 1)).toEqual([296, 304]);
    expect(revealedLabels(bumps(), [0]).positive).toEqual([{ start: 96 * 60_000, finish: 104 * 60_000 }]);
  });

  it('counts only detections after the k-th window; one hit per window, others are false alarms', () => {
    const c = bumps();
    const at = (a: number, b: number) => ({ start: a * 60_000, finish: b * 60_000, confidence: 1 });
    expect(scoreDetections(c, 1, [at(90, 95), at(290, 300), at(305, 310), at(400, 410)])).toEqual({ tp: 1, fp: 1, fn: 1 });
    expect(scoreDetections(c, 1, [])).toEqual({ tp: 0, fp: 0, fn: 2 });
    expect(scoreDetections(c, 2, [at(500, 505)])).toEqual({ tp: 1, fp: 0, fn: 0 });
  });

  it('pools counts and averages F1 over series', () => {
    const s = summarize([{ tp: 1, fp: 0, fn: 0 }, { tp: 0, fp: 1, fn: 1 }]);
    expect(s.pooled).toEqual(f1({ tp: 1, fp: 1, fn: 1 }));
    expect(s.mean.f1).toBeCloseTo(0.5);
  });

  it('baseline template matching finds the repeated bump and nothing in the flat part', () => {
    const c = bumps();
    expect(scoreDetections(c, 1, baselineDetect(c, [0]))).toEqual({ tp: 2, fp: 0, fn: 0 });
  });
});
