/**
 * The README's sanity baseline: z-normalised template matching. Each revealed segment is a template;
 * a window's score is its best Pearson correlation with a template of the same length (the same as
 * z-normalised Euclidean distance). The threshold is the best score reached in the training part
 * (before the end of the k-th window, away from the windows), so the training part has no false alarm.
 * Runs of scores over the threshold become one detection at their best position.
 */
import type { Detection, Series } from '../../src/learn/detectors/types';
import { type FewShotCase, labelRange } from './fewshot-eval';

function zTemplate(v: Float64Array, a: number, b: number): Float64Array | null {
  const m = b - a + 1;
  let s = 0;
  for (let i = a; i <= b; i++) s += v[i];
  const mean = s / m;
  let ss = 0;
  for (let i = a; i <= b; i++) ss += (v[i] - mean) ** 2;
  const sd = Math.sqrt(ss / m);
  if (!(sd > 0)) return null;
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) out[i] = (v[a + i] - mean) / sd;
  return out;
}

/** Correlation of series window [i, i + m) with `tmpl`, NaN on gaps or flat windows. */
function corrAt(v: Float64Array, i: number, tmpl: Float64Array): number {
  const m = tmpl.length;
  let s1 = 0;
  let s2 = 0;
  let dot = 0;
  const first = v[i];
  for (let k = 0; k < m; k++) {
    const x = v[i + k] - first;
    s1 += x;
    s2 += x * x;
    dot += x * tmpl[k];
  }
  const mean = s1 / m;
  const varc = s2 / m - mean * mean;
  if (!(varc > 1e-12 * (Math.abs(first) + 1) ** 2 * 1e-12)) return NaN;
  return dot / (m * Math.sqrt(varc));
}

export function baselineDetect(c: FewShotCase, which: number[]): Detection[] {
  const { t, v } = c.series as Series;
  const n = t.length;
  const templates = which.map((j) => labelRange(c, j)).map(([a, b]) => ({ a, b, z: zTemplate(v, a, b) })).filter((x) => x.z);
  if (templates.length === 0) return [];
  const trainEnd = c.windows[Math.max(...which)][1];
  const guard = c.windows.slice(0, Math.max(...which) + 1);
  let threshold = -Infinity;
  const scores = templates.map(({ z }) => {
    const m = z!.length;
    const s = new Float64Array(n).fill(NaN);
    for (let i = 0; i + m <= n; i++) s[i] = corrAt(v, i, z!);
    return s;
  });
  for (let q = 0; q < templates.length; q++) {
    const m = templates[q].z!.length;
    for (let i = 0; i + m - 1 <= trainEnd; i++) {
      if (guard.some(([a, b]) => i <= b && i + m - 1 >= a)) continue;
      if (scores[q][i] > threshold) threshold = scores[q][i];
    }
  }
  if (threshold === -Infinity) threshold = 0.9;
  const out: Detection[] = [];
  let lastEnd = -1;
  for (let q = 0; q < templates.length; q++) void q;
  // Best score over templates at each start, with the matching template's length.
  let inRun = false;
  let best = -Infinity;
  let bi = 0;
  let bm = 0;
  const flush = () => {
    if (bi > lastEnd) {
      out.push({ start: t[bi], finish: t[Math.min(n - 1, bi + bm - 1)], confidence: Math.max(0, Math.min(1, best)) });
      lastEnd = bi + bm - 1;
    }
    inRun = false;
  };
  for (let i = 0; i < n; i++) {
    let s = -Infinity;
    let m = 0;
    for (let q = 0; q < templates.length; q++) {
      const x = scores[q][i];
      if (x > s) {
        s = x;
        m = templates[q].z!.length;
      }
    }
    const inLabel = templates.some(({ a, b }) => i <= b && i + m - 1 >= a);
    if (s > threshold && !inLabel) {
      if (!inRun || s > best) {
        best = s;
        bi = i;
        bm = m;
      }
      inRun = true;
    } else if (inRun) flush();
  }
  if (inRun) flush();
  return out;
}
