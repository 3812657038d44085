/**
 * Synthetic few-shot cases: one shape (peak, trough, jump, drop, or a custom double bump for general)
 * recurring 10 times on top of a real NAB series, with height varied by ±30%, width varied, extra noise
 * on the shape, and other shapes in between as distractors. Seeded, so every run is the same.
 * The real series' own anomaly windows are "ignore" zones: a detection there is neither right nor wrong.
 */
import { type FewShotCase, nabCase } from './fewshot-eval';
import type { NabFile } from './nab-data';
import { mulberry32 as rng } from '../../test/support/random';

export const SHAPES = ['peak', 'trough', 'jump', 'drop', 'general'] as const;
export type Shape = (typeof SHAPES)[number];
const OCCURRENCES = 10;

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * Height of the inserted shapes, so a person would see them anywhere on the series: the largest of 8
 * noise sigmas (from the median neighbour difference), 6 mean neighbour differences (series that sit
 * still and then jitter, like quantized CPU metrics, have a median difference of 0), 6 mean neighbour
 * differences of the noisiest tenth of the day, and a quarter of the 5-95% spread.
 */
function shapeHeight(v: Float64Array): number {
  const d: number[] = [];
  for (let i = 1; i < v.length; i++) if (Number.isFinite(v[i]) && Number.isFinite(v[i - 1])) d.push(Math.abs(v[i] - v[i - 1]));
  const meanDiff = d.length ? d.reduce((a, b) => a + b, 0) / d.length : 0;
  const inOrder = d.slice();
  d.sort((a, b) => a - b);
  const sigma = d.length ? Math.max((1.4826 * d[d.length >> 1]) / Math.SQRT2, (6 / 8) * meanDiff) : 0;
  // Noise changes over the day: shapes must also stand out where it is high (90th percentile of the
  // mean neighbour difference over 48-point blocks).
  const blocks: number[] = [];
  for (let b = 0; b + 48 <= d.length; b += 48) {
    let sum = 0;
    for (let i = b; i < b + 48; i++) sum += inOrder[i];
    blocks.push(sum / 48);
  }
  blocks.sort((a, b) => a - b);
  const noisyHours = blocks.length ? blocks[Math.floor(0.9 * (blocks.length - 1))] : 0;
  const s = Array.from(v).filter(Number.isFinite).sort((a, b) => a - b);
  const spread = s.length ? s[Math.floor(0.95 * (s.length - 1))] - s[Math.floor(0.05 * (s.length - 1))] : 0;
  const h = Math.max(8 * sigma, 6 * noisyHours, 0.25 * spread);
  return h > 0 ? h : 1;
}

type Add = (v: Float64Array, c: number, h: number, w: number) => void;
const triangle: Add = (v, c, h, w) => {
  const half = w / 2;
  for (let i = Math.ceil(c - half); i <= Math.floor(c + half); i++) if (i >= 0 && i < v.length) v[i] += h * Math.max(0, 1 - Math.abs(i - c) / (half + 0.5));
};
const step: Add = (v, c, h, ramp) => {
  for (let i = c; i < v.length; i++) v[i] += h * Math.min(1, (i - c + 1) / ramp);
};
const doubleBump: Add = (v, c, h, w) => {
  const start = c - (w >> 1);
  for (let k = 0; k < w; k++) {
    const p = k / (w - 1);
    const hump = p < 0.5 ? Math.sin(2 * Math.PI * p) : 0.6 * Math.sin(2 * Math.PI * (p - 0.5));
    if (start + k >= 0 && start + k < v.length) v[start + k] += h * Math.max(0, hump);
  }
};

/** The synthetic case for `shape` on NAB file `f`. */
export function syntheticCase(f: NabFile, shape: Shape): FewShotCase {
  const base = nabCase(f);
  const v = base.series.v.slice();
  const n = v.length;
  const next = rng(hash(`${f.key}:${shape}`));
  const noise = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const h0 = shapeHeight(v);
  const from = Math.floor(0.05 * n);
  const slot = Math.floor((0.97 * n - from) / OCCURRENCES);
  const windows: [number, number][] = [];
  const labels: number[] = [];
  const jitter = (spread: number) => 1 + spread * (2 * next() - 1);
  for (let k = 0; k < OCCURRENCES; k++) {
    // A level shift must last well beyond its transition to be one: steps start early in their slot
    // and the distractors sit on the new level until the step back at the end of the slot.
    const stepShape = shape === 'jump' || shape === 'drop';
    const c = from + k * slot + Math.floor((stepShape ? 0.1 : 0.3) * slot);
    const d = from + k * slot + Math.floor((stepShape ? 0.85 : 0.7) * slot);
    const h = h0 * jitter(0.3);
    const extra = h * 0.1 * next(); // extra noise on the shape, up to 10% of its height
    let w = 0;
    switch (shape) {
      case 'peak':
      case 'trough':
        w = Math.max(3, Math.round(12 * jitter(0.3)));
        triangle(v, c, shape === 'peak' ? h : -h, w);
        break;
      case 'jump':
      case 'drop':
        w = 8; // the transition a person would see, ramping over 1..3 points
        step(v, c, shape === 'jump' ? h : -h, 1 + Math.floor(3 * next()));
        break;
      case 'general':
        w = Math.max(8, Math.round(40 * jitter(0.2)));
        doubleBump(v, c, h, w);
        break;
    }
    for (let i = c - (w >> 1); i <= c + (w >> 1); i++) if (i >= 0 && i < n) v[i] += extra * noise();
    windows.push([Math.max(0, c - Math.round(2.5 * w)), Math.min(n - 1, c + Math.round(2.5 * w))]);
    labels.push(c);
    // Distractors: other shapes of similar size.
    const dh = h0 * jitter(0.3);
    switch (shape) {
      case 'peak':
        triangle(v, d, -dh, 12);
        step(v, d + Math.floor(0.1 * slot), dh, 1);
        step(v, d + Math.floor(0.25 * slot), -dh, 1);
        break;
      case 'trough':
        triangle(v, d, dh, 12);
        step(v, d + Math.floor(0.1 * slot), -dh, 1);
        step(v, d + Math.floor(0.25 * slot), dh, 1);
        break;
      case 'jump':
        step(v, d, -h, 2); // back down, so the level stays put
        triangle(v, d - Math.floor(0.4 * slot), dh, 12);
        triangle(v, d - Math.floor(0.25 * slot), -dh, 12);
        break;
      case 'drop':
        step(v, d, h, 2);
        triangle(v, d - Math.floor(0.4 * slot), dh, 12);
        triangle(v, d - Math.floor(0.25 * slot), -dh, 12);
        break;
      case 'general':
        triangle(v, d, dh, 40); // one wide hump
        triangle(v, d + Math.floor(0.15 * slot), -dh, 12);
        break;
    }
  }
  return { key: `${f.key}+${shape}`, series: { t: base.series.t, v }, windows, labels, ignore: base.windows };
}
