/**
 * The NAB score as /work/shared/bench/README.md defines it: pure functions, no I/O.
 *
 * A file is rows `0..N-1` with one detector score per row and inclusive windows `[L, R]` (row indices).
 * One global threshold θ turns scores into detections (`score >= θ`); `sweepNab` tries every distinct
 * score (and "no detection") in one pass over all rows sorted by score.
 *
 * @example
 * const best = sweepNab([{ scores, windows: [[100, 140]] }], NAB_PROFILES.standard);
 * best.normalized; // 100 for a 1 at row 100 and 0 elsewhere
 */

export interface NabProfile {
  tpW: number;
  fpW: number;
  fnW: number;
}

export const NAB_PROFILES = {
  standard: { tpW: 1, fpW: 0.11, fnW: 1 },
  reward_low_FP_rate: { tpW: 1, fpW: 0.22, fnW: 1 },
  reward_low_FN_rate: { tpW: 1, fpW: 0.11, fnW: 2 },
} as const satisfies Record<string, NabProfile>;

export type NabProfileName = keyof typeof NAB_PROFILES;

/** One file as the scorer sees it: a score per row and the sorted, inclusive row-index windows. */
export interface NabScoredFile {
  scores: ArrayLike<number>;
  windows: readonly (readonly [number, number])[];
}

/** NAB's scaled sigmoid: `2 / (1 + e^(5y)) - 1` for `y <= 3`, else `-1`. */
export function nabSigmoid(y: number): number {
  return y > 3 ? -1 : 2 / (1 + Math.exp(5 * y)) - 1;
}

/** Rows not scored at the start of a file of `n` rows. */
export function probationRows(n: number): number {
  return Math.min(Math.floor(0.15 * n), 750);
}

/**
 * Weight of a detection at each row (unscaled by the profile: +1 at a window's first row, -1 for a
 * false alarm far from any window) and the window each row belongs to (-1 outside, -2 in probation).
 * Multiply window rows by `tpW` and the others by `fpW`.
 */
export function nabRowWeights(n: number, windows: readonly (readonly [number, number])[]): { weight: Float64Array; window: Int32Array } {
  const weight = new Float64Array(n);
  const window = new Int32Array(n).fill(-1);
  const aMinus1 = nabSigmoid(-1);
  let last = -1; // index of the last window that ended before row i
  let next = 0;
  for (let i = 0; i < n; i++) {
    while (next < windows.length && windows[next][1] < i) last = next++;
    if (next < windows.length && windows[next][0] <= i) {
      const [, R] = windows[next];
      const w = R - windows[next][0] + 1;
      window[i] = next;
      weight[i] = nabSigmoid(-(R - i + 1) / w) / aMinus1;
    } else if (last < 0) {
      weight[i] = -1;
    } else {
      const [L, R] = windows[last];
      const w = R - L + 1;
      // A one-row window has w - 1 = 0: any later row is then "far" from it.
      weight[i] = w > 1 ? nabSigmoid(Math.abs(i - R) / (w - 1)) : -1;
    }
  }
  const p = probationRows(n);
  for (let i = 0; i < p && i < n; i++) {
    weight[i] = 0;
    window[i] = -2;
  }
  return { weight, window };
}

/** Raw score `S` of a set of files at a fixed threshold (detections are rows with `score >= theta`). */
export function nabRawScore(files: readonly NabScoredFile[], profile: NabProfile, theta: number): { score: number; windows: number } {
  let s = 0;
  let windows = 0;
  for (const f of files) {
    const n = f.scores.length;
    const { weight, window } = nabRowWeights(n, f.windows);
    const best = new Float64Array(f.windows.length).fill(-profile.fnW);
    const hit = new Uint8Array(f.windows.length);
    for (let i = 0; i < n; i++) {
      if (!(f.scores[i] >= theta) || window[i] === -2) continue;
      const j = window[i];
      if (j === -1) s += profile.fpW * weight[i];
      else if (!hit[j]) {
        hit[j] = 1;
        best[j] = profile.tpW * weight[i];
      }
    }
    for (const b of best) s += b;
    windows += f.windows.length;
  }
  return { score: s, windows };
}

/** `100 * (S + fnW |W|) / ((tpW + fnW) |W|)`: 0 detects nothing, 100 is perfect. */
export function nabNormalized(rawScore: number, windows: number, profile: NabProfile): number {
  if (windows === 0) return 0;
  return (100 * (rawScore + profile.fnW * windows)) / ((profile.tpW + profile.fnW) * windows);
}

export interface NabSweepResult {
  /** Best threshold (Infinity when detecting nothing is best). */
  theta: number;
  rawScore: number;
  normalized: number;
  windows: number;
}

/**
 * Best global threshold: every distinct score value, and "no detection", in one pass over all scored
 * rows sorted by descending score. Ties between thresholds keep the higher one.
 */
export function sweepNab(files: readonly NabScoredFile[], profile: NabProfile): NabSweepResult {
  let total = 0;
  for (const f of files) total += f.scores.length;
  const score = new Float64Array(total);
  const value = new Float64Array(total); // weight (scaled) of the row
  const windowId = new Int32Array(total); // global window id, -1 outside
  let windowCount = 0;
  let k = 0;
  for (const f of files) {
    const { weight, window } = nabRowWeights(f.scores.length, f.windows);
    for (let i = 0; i < f.scores.length; i++) {
      const sc = f.scores[i];
      if (window[i] === -2 || sc !== sc) continue; // probation, NaN: never a detection
      score[k] = sc;
      windowId[k] = window[i] >= 0 ? windowCount + window[i] : -1;
      value[k] = window[i] >= 0 ? profile.tpW * weight[i] : profile.fpW * weight[i];
      k++;
    }
    windowCount += f.windows.length;
  }
  const order = Array.from({ length: k }, (_, j) => j);
  order.sort((a, b) => score[b] - score[a] || a - b);
  // Rows of one window come in file order within a tie, but across scores the earliest matters:
  // track the earliest detected row of each window by its (file-order) global position.
  const earliestPos = new Int32Array(windowCount).fill(-1);
  let s = -profile.fnW * windowCount;
  let best: NabSweepResult = { theta: Infinity, rawScore: s, normalized: nabNormalized(s, windowCount, profile), windows: windowCount };
  for (let a = 0; a < k; ) {
    const th = score[order[a]];
    let b = a;
    for (; b < k && score[order[b]] === th; b++) {
      const j = order[b];
      const w = windowId[j];
      if (w < 0) s += value[j];
      else if (earliestPos[w] < 0) {
        s += value[j] + profile.fnW;
        earliestPos[w] = j;
      } else if (j < earliestPos[w]) {
        s += value[j] - value[earliestPos[w]];
        earliestPos[w] = j;
      }
    }
    if (s > best.rawScore) best = { theta: th, rawScore: s, normalized: nabNormalized(s, windowCount, profile), windows: windowCount };
    a = b;
  }
  return best;
}
