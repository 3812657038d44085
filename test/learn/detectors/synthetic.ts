import type { Series, Span } from '../../../src/learn/detectors/types';
import { mulberry32 as rng } from '../../support/random';

export { rng };

/** Standard normal samples from a seeded PRNG (Box-Muller). */
export function gaussian(seed: number): () => number {
  const u = rng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

export const STEP_MS = 60_000;
export const T0 = Date.UTC(2024, 0, 1);

export interface Background {
  n: number;
  seed?: number;
  noise?: number;
  level?: number;
  /** Change per point. */
  trend?: number;
  /** Amplitude of a daily sine (1440 points per day). */
  daily?: number;
}

/** Noise + level + trend + daily seasonality, one point a minute. */
export function background({ n, seed = 1, noise = 1, level = 100, trend = 0.002, daily = 3 }: Background): Series {
  const g = gaussian(seed);
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    t[i] = T0 + i * STEP_MS;
    v[i] = level + trend * i + daily * Math.sin((2 * Math.PI * i) / 1440) + noise * g();
  }
  return { t, v };
}

/** Adds a triangular bump of `height` (negative for a trough) and total `width` points centred at `c`. */
export function addSpike(s: Series, c: number, height: number, width: number): void {
  const half = width / 2;
  for (let i = Math.ceil(c - half); i <= Math.floor(c + half); i++) {
    if (i < 0 || i >= s.v.length) continue;
    s.v[i] += height * Math.max(0, 1 - Math.abs(i - c) / (half + 0.5));
  }
}

/** Adds a level shift of `height` from index `at` on, ramping over `ramp` points. */
export function addStep(s: Series, at: number, height: number, ramp = 1): void {
  for (let i = at; i < s.v.length; i++) s.v[i] += height * Math.min(1, (i - at + 1) / ramp);
}

/** Adds a double bump (two sine humps, the second smaller) of `width` points starting at `start`. */
export function addDoubleBump(s: Series, start: number, height: number, width: number): void {
  for (let k = 0; k < width; k++) {
    const p = k / (width - 1);
    const hump = p < 0.5 ? Math.sin(2 * Math.PI * p) : 0.6 * Math.sin(2 * Math.PI * (p - 0.5));
    if (start + k < s.v.length) s.v[start + k] += height * Math.max(0, hump);
  }
}

/** The closed time span of indices [from, to]. */
export function spanOf(s: Series, from: number, to: number): Span {
  return { start: s.t[from], finish: s.t[to] };
}

/** Index of the point at time `ms` (series on the regular grid). */
export function indexOf(ms: number): number {
  return Math.round((ms - T0) / STEP_MS);
}
