/**
 * Seasonal echoes. Metrics repeat daily and weekly: a morning rise is a "jump" every day, a nightly
 * backup a "peak" every night. Such a shape is part of the normal pattern, not a sibling of a labeled
 * event, unless the labeled events themselves recur that way (then the person wants the daily shape).
 * A candidate "echoes" when the detector scores at least `ECHO_SHARE` of its score within a few points
 * of the same time one season earlier or later.
 */
import { firstIndexAtOrAfter } from '../series';

const DAY_MS = 86_400_000;
/** The seasons checked: a day and a week. */
export const SEASONS_MS = [DAY_MS, 7 * DAY_MS] as const;
/** Share of a candidate's score that the same time one season away must reach to count as an echo. */
const ECHO_SHARE = 0.6;

/** Index of the point nearest to `ms`, or -1 when none is within `slack` ms. */
function nearestIndex(t: Float64Array, ms: number, slack: number): number {
  const j = firstIndexAtOrAfter(t, ms);
  let best = -1;
  let bestD = Infinity;
  for (let q = j - 1; q <= j; q++) {
    if (q < 0 || q >= t.length) continue;
    const d = Math.abs(t[q] - ms);
    if (d < bestD) {
      bestD = d;
      best = q;
    }
  }
  return bestD <= slack ? best : -1;
}

/**
 * Scores series indices for the echo check. An object with a method (one per scan, a stable class per
 * detector) rather than a fresh closure per candidate: optimized scan loops that inline the check do not
 * deoptimize when the next scan brings a new closure, and nothing is allocated per candidate.
 */
export interface EchoScorer {
  /**
   * The detector's score at series index `j`; it may return -Infinity where it cannot score, or as soon
   * as it knows the score stays below `need`.
   */
  scoreAt(j: number, need: number): number;
}

/**
 * Whether something scoring at least `need` lies one of `seasonsMs` before or after series index `i`
 * (within `tolerance` points of that time, and not within `tolerance` points of `i` itself), with the
 * bar given outright: e.g. the detector's own threshold, when asking whether a labeled shape recurs
 * daily as something the detector would report.
 */
export function recursSeasonally(
  t: Float64Array,
  i: number,
  need: number,
  seasonsMs: readonly number[],
  tolerance: number,
  lowest: number,
  scorer: EchoScorer,
): boolean {
  if (seasonsMs.length === 0 || !(need > 0)) return false;
  const step = i > 0 ? t[i] - t[i - 1] : i + 1 < t.length ? t[i + 1] - t[i] : 0;
  for (let k = 0; k < seasonsMs.length; k++) {
    const P = seasonsMs[k];
    for (let dir = -1; dir <= 1; dir += 2) {
      const j = nearestIndex(t, t[i] + dir * P, Math.max(step, 1) * (tolerance + 1));
      if (j < 0) continue;
      for (let q = Math.max(lowest, j - tolerance); q <= j + tolerance && q < t.length; q++) {
        if (Math.abs(q - i) <= tolerance) continue;
        if (scorer.scoreAt(q, need) >= need) return true;
      }
    }
  }
  return false;
}

/**
 * Whether the candidate at series index `i` with `score` belongs to a seasonal pattern: it echoes
 * (something scores at least `ECHO_SHARE` of it within `tolerance` points) at two of the times one and
 * two seasons before and after it, or at the only such time the data covers. One echo among several
 * times with data is a coincidence (shapes that recur irregularly now and then land a day apart), not
 * a pattern. Only times whose whole window lies at or after `lowest` count, so a causal caller needs
 * two seasons of context. O(seasons * tolerance * cost of scoreAt).
 */
export function echoesRecurringly(
  t: Float64Array,
  i: number,
  score: number,
  seasonsMs: readonly number[],
  tolerance: number,
  lowest: number,
  scorer: EchoScorer,
): boolean {
  if (seasonsMs.length === 0 || !(score > 0)) return false;
  const need = ECHO_SHARE * score;
  const step = i > 0 ? t[i] - t[i - 1] : i + 1 < t.length ? t[i + 1] - t[i] : 0;
  for (let k = 0; k < seasonsMs.length; k++) {
    let covered = 0;
    let echoes = 0;
    for (let m = -2; m <= 2; m++) {
      if (m === 0) continue;
      const j = nearestIndex(t, t[i] + m * seasonsMs[k], Math.max(step, 1) * (tolerance + 1));
      if (j < 0 || j - tolerance < lowest) continue;
      covered++;
      for (let q = j - tolerance; q <= j + tolerance && q < t.length; q++) {
        if (Math.abs(q - i) <= tolerance) continue;
        if (scorer.scoreAt(q, need) >= need) {
          echoes++;
          break;
        }
      }
    }
    if (echoes > 0 && echoes >= Math.min(2, covered)) return true;
  }
  return false;
}

/**
 * The seasons to filter for a model learned from labels at `positiveIndices`: those the labels do not
 * echo themselves (`labelEchoes(index, season)`), and only when the series is longer than the season.
 */
export function seasonsToFilter(t: Float64Array, labelEchoes: (season: number) => boolean): number[] {
  const n = t.length;
  if (n < 2) return [];
  const span = t[n - 1] - t[0];
  return SEASONS_MS.filter((P) => span > P && !labelEchoes(P));
}

/** Points in `ms` at the series' median step (for context sizes); 0 for fewer than two points. */
export function pointsIn(t: Float64Array, ms: number): number {
  const n = t.length;
  if (n < 2) return 0;
  const k = Math.min(n - 1, 1001);
  const steps = new Float64Array(k);
  for (let j = 0; j < k; j++) steps[j] = t[Math.floor(((n - 1) * j) / k) + 1] - t[Math.floor(((n - 1) * j) / k)];
  steps.sort();
  const median = steps[k >> 1];
  return median > 0 ? Math.ceil(ms / median) : 0;
}
