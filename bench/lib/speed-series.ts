/**
 * Seeded synthetic one-minute series for the speed bench and the 10^7-point scale test: level, slow
 * trend, daily seasonality and Gaussian noise, with a shape of every detector's kind planted in turn
 * (peak, trough, jump, general double bump, drop, anomaly spike), so every detector has work to do at
 * any length. Jumps and drops alternate, so the level stays put however long the series is.
 */
import type { DetectorType, Labels, Series } from '../../src/learn/detectors/types';
import { mulberry32 as rng } from '../../test/support/random';

export const STEP_MS = 60_000;
export const T0 = Date.UTC(2024, 0, 1);

/** Order in which shapes are planted; one of each per cycle. */
export const PLANT_ORDER: readonly DetectorType[] = ['peak', 'trough', 'jump', 'general', 'drop', 'anomaly'];

export interface PlantedSeries {
  series: Series;
  /** Closed index ranges of the planted shapes, by kind, in order (the range a person would label). */
  planted: Record<DetectorType, { from: number; to: number; centre: number }[]>;
  /** Width in points of the labeled segments (the `width` option). */
  width: number;
  spacing: number;
}

export interface PlantOptions {
  n: number;
  seed?: number;
  /**
   * Width in points of a labeled shape; the shapes are scaled to it. Default: 15 (peaks and troughs
   * 11 points wide, steps ramping over up to 3 points, double bumps 40 points wide: the unit tests' sizes).
   */
  width?: number;
  /** Points between consecutive planted shapes (any kind). Default: max(1500, 16 * width). */
  spacing?: number;
  /** Kinds of shapes to plant, in turn. Default: `PLANT_ORDER` (all of them). */
  kinds?: readonly DetectorType[];
}

/** Height factors (±30%) cycled over the shapes, as in the unit-test fixtures. */
const SIZES = [1, 0.7, 1.3, 0.85, 1.15, 0.75, 1.25];

/**
 * Builds the series in place (two Float64Arrays of `n`, 16 bytes a point, nothing else of size n).
 *
 * @example
 * const { series, planted } = plantedSeries({ n: 1e6, seed: 1 });
 * const labels = labelsFor('peak', series, planted);
 */
export function plantedSeries({ n, seed = 1, width, spacing, kinds = PLANT_ORDER }: PlantOptions): PlantedSeries {
  const w = width ?? 15;
  const gap = spacing ?? Math.max(1500, 16 * w);
  const u = rng(seed);
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  // Box-Muller, both outputs used.
  let spare = NaN;
  for (let i = 0; i < n; i++) {
    let g: number;
    if (spare === spare) {
      g = spare;
      spare = NaN;
    } else {
      const r = Math.sqrt(-2 * Math.log(1 - u()));
      const a = 2 * Math.PI * u();
      g = r * Math.cos(a);
      spare = r * Math.sin(a);
    }
    t[i] = T0 + i * STEP_MS;
    v[i] = 100 + 3 * Math.sin((2 * Math.PI * i) / 1440) + g;
  }
  const planted = { peak: [], trough: [], jump: [], drop: [], general: [], anomaly: [] } as PlantedSeries['planted'];
  const spikeWidth = width === undefined ? 11 : Math.max(3, Math.round(0.75 * w));
  const ramp = (k: number) => (width === undefined ? 1 + (k % 3) : Math.max(1, Math.round(w / 4) - (k % 2)));
  const bumpWidth = width === undefined ? 40 : Math.max(8, w);
  const half = w >> 1;
  // Steps are applied in one pass at the end: adding each to the rest of the series would be O(n) a step.
  const steps: { at: number; height: number; ramp: number }[] = [];
  let k = 0;
  for (let c = gap; c < n - gap; c += gap, k++) {
    const kind = kinds[k % kinds.length];
    // One size per cycle, so each drop cancels the cycle's jump and the level stays put.
    const size = SIZES[Math.floor(k / kinds.length) % SIZES.length];
    switch (kind) {
      case 'peak':
      case 'trough':
        addSpike(v, c, (kind === 'peak' ? 14 : -14) * size, spikeWidth);
        planted[kind].push({ from: c - half, to: c - half + w - 1, centre: c });
        break;
      case 'jump':
      case 'drop': {
        const h = 10 * size * (kind === 'jump' ? 1 : -1);
        const r = ramp(k);
        steps.push({ at: c, height: h, ramp: r });
        // The transition is centred in the labeled range.
        const mid = c + ((r - 1) >> 1);
        planted[kind].push({ from: mid - half, to: mid - half + w - 1, centre: mid });
        break;
      }
      case 'general': {
        const start = c - (bumpWidth >> 1);
        addDoubleBump(v, start, 12 * size, bumpWidth);
        planted.general.push({ from: start, to: start + bumpWidth - 1, centre: c });
        break;
      }
      case 'anomaly':
        addSpike(v, c, (k % 4 < 2 ? 15 : -15) * size, 1 + (k % 3));
        planted.anomaly.push({ from: c - 1, to: c + 1, centre: c });
        break;
    }
  }
  let level = 0;
  for (let q = 0; q < steps.length; q++) {
    const { at, height, ramp: r } = steps[q];
    const end = q + 1 < steps.length ? steps[q + 1].at : n;
    for (let i = at; i < end; i++) v[i] += level + height * Math.min(1, (i - at + 1) / r);
    level += height;
  }
  return { series: { t, v }, planted, width: w, spacing: gap };
}

/** Triangular bump of `height` and total `width` points centred at `c`. */
function addSpike(v: Float64Array, c: number, height: number, width: number): void {
  const half = width / 2;
  for (let i = Math.ceil(c - half); i <= Math.floor(c + half); i++) {
    if (i >= 0 && i < v.length) v[i] += height * Math.max(0, 1 - Math.abs(i - c) / (half + 0.5));
  }
}

/** Two sine humps, the second smaller, `width` points from `start`. */
function addDoubleBump(v: Float64Array, start: number, height: number, width: number): void {
  for (let k = 0; k < width; k++) {
    const p = k / (width - 1);
    const hump = p < 0.5 ? Math.sin(2 * Math.PI * p) : 0.6 * Math.sin(2 * Math.PI * (p - 0.5));
    if (start + k < v.length) v[start + k] += height * Math.max(0, hump);
  }
}

/** The first two planted shapes of the detector's kind as positive labels (none for anomaly). */
export function labelsFor(type: DetectorType, p: PlantedSeries, count = 2): Labels {
  if (type === 'anomaly') return { positive: [], negative: [] };
  const ranges = p.planted[type].slice(0, count);
  if (ranges.length < count) throw new Error(`series too short to label ${count} ${type} shapes`);
  return {
    positive: ranges.map((r) => ({ start: p.series.t[r.from], finish: p.series.t[r.to] })),
    negative: [],
  };
}

/** Index of the point at time `ms` on the series' regular grid. */
export function indexOf(ms: number): number {
  return Math.round((ms - T0) / STEP_MS);
}
