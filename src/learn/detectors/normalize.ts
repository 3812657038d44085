/**
 * Values mapped affinely into [-1, 1] so the detectors' running sums neither overflow (1e300) nor
 * underflow (1e-300). Every detector score is a ratio (height over local noise, correlation), so the
 * map changes no verdict. Non-finite values become NaN; a constant series becomes all zeros.
 */
export function normalizedValues(v: Float64Array, from = 0, to = v.length): Float64Array {
  minMaxOf(v, from, to);
  const min = minMax[0];
  const max = minMax[1];
  const out = new Float64Array(Math.max(0, to - from));
  // Halves first: max - min would overflow for values near ±1.8e308.
  const mid = min / 2 + max / 2;
  const half = max / 2 - min / 2;
  const scale = half > 0 && Number.isFinite(half) ? 1 / half : 0;
  for (let i = from; i < to; i++) {
    const x = v[i];
    if (!Number.isFinite(x)) out[i - from] = NaN;
    else if (scale === 0) out[i - from] = 0;
    else {
      const y = (x - mid) * scale;
      // x - mid can overflow when the halves straddle zero at huge magnitudes; fall back to halves.
      out[i - from] = Number.isFinite(y) ? y : (x / 2 - mid / 2) * 2 * scale;
    }
  }
  return out;
}

/** Smallest and largest value of `v[from, to)` (NaN ignored; Infinity and -Infinity when none), written to `minMax`. */
const minMax = new Float64Array(2);
function minMaxOf(v: Float64Array, from: number, to: number): void {
  let min = Infinity;
  let max = -Infinity;
  for (let i = from; i < to; i++) {
    const x = v[i];
    if (x < min) min = x;
    if (x > max) max = x;
  }
  minMax[0] = min;
  minMax[1] = max;
}

/** `normalizedValues` from `from` on, mirrored when `sign` is -1 (troughs and drops look up). */
export function signedNormalizedValues(v: Float64Array, sign: 1 | -1, from: number): Float64Array {
  const x = normalizedValues(v, from, v.length);
  if (sign < 0) for (let i = 0; i < x.length; i++) x[i] = -x[i];
  return x;
}

/**
 * Smallest noise level (in normalized units, where the data spans [-1, 1]) a score divides by, so a
 * locally flat series yields large but finite scores instead of Infinity or NaN.
 */
export const NOISE_FLOOR = 1e-9;

/**
 * Half the range that `normalizedValues(v, from, to)` maps onto [-1, 1] (0 when it maps everything to
 * 0): multiply a normalized height by it to get value units, divide a value-unit height by it to get
 * normalized units. Models store heights in value units, so a scan that normalizes a different part of
 * the series (detection from `fromIndex`) still compares like with like.
 */
export function normalizationHalfRange(v: Float64Array, from = 0, to = v.length): number {
  minMaxOf(v, from, to);
  const min = minMax[0];
  const max = minMax[1];
  const half = max / 2 - min / 2;
  return half > 0 && Number.isFinite(half) ? half : 0;
}

/** A value-unit height in the units of `normalizedValues(v, from)`; 0 when that map is degenerate. */
export function heightInNormalizedUnits(height: number, v: Float64Array, from: number): number {
  const half = normalizationHalfRange(v, from, v.length);
  if (!(half > 0) || !(height > 0)) return 0;
  const h = height / half;
  return Number.isFinite(h) ? h : 0;
}
