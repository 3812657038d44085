/**
 * Causal per-point anomaly scores for the `anomaly` detector: "how surprising is this point given the
 * points before it", from a few cheap views kept in O(1) state. No allocation per point; a point's
 * score uses only the points before it (and itself).
 *
 * Views:
 * - level: residual against an exponentially weighted level, in units of an exponentially weighted
 *   mean absolute residual; updates use residuals clipped at `clip` scales, so one outlier barely
 *   moves the state while a lasting shift is absorbed within a few dozen points;
 * - daily: seasonal-naive residual (the point closest to one day earlier, found by time, so gaps are
 *   fine), used only while it explains the data clearly better than the level (its scale is below
 *   `seasonRatio` of the level's, or its residuals are much smaller at the level view's surprises):
 *   the verdict is then the smaller of the two, where yesterday's residual is the smaller one; a point
 *   is anomalous only if neither the recent level nor yesterday explains it;
 * - surprise average (scores only): an exponentially weighted mean of the recent clipped z, which
 *   rises on a change of behaviour (more noise, a new rhythm) that no single point shows.
 */

/** Settings of the scan, stored in the model (plain JSON). */
export interface AnomalyScanSettings {
  /** Weight of the newest point in the level (0.05: about 20 points of memory, follows a drift). */
  levelAlpha: number;
  /** Weight of the newest residual in the scales (0.02: about 50 points, steadier than the level). */
  scaleAlpha: number;
  /** Residuals are clipped at this many scales when they update the state. */
  clip: number;
  /** Points seen before any verdict (the level and scale settle on them). */
  warmup: number;
  /** Use the daily view only while its scale is below this fraction of the level view's. */
  seasonRatio: number;
  /** Scale floor as a fraction of the recent range, so a flat or quantised history is not infinitely sensitive. */
  floor: number;
}

export const DEFAULT_SCAN_SETTINGS: AnomalyScanSettings = {
  levelAlpha: 0.05,
  scaleAlpha: 0.02,
  clip: 6,
  warmup: 20,
  seasonRatio: 0.7,
  floor: 0.01,
};

/** Settings of the per-point score that only the score function uses (NAB-style output). */
export const SCORE_SETTINGS = {
  /** Weight of the newest z in the surprise average (about 10 points). */
  averageAlpha: 0.1,
  /** The surprise average counts this much more than a single point's rarity (it is a smoother signal). */
  averageWeight: 1.5,
  /**
   * After a score, lower scores of the next this-many points are dropped: one alarm per episode (a
   * held alarm pays one false positive per point). 400 points is about a day and a half at 5 minutes.
   */
  refractory: 400,
} as const;

const DAY = 86_400_000;
/** A point one day back counts when its time is within 1 % of a day (about 15 minutes) of exactly a day earlier. */
const DAY_TOLERANCE = 0.01 * DAY;

/** The range behind the scale floor forgets 0.1 % of itself per point (a memory of about 1000 points, a few days at 5 minutes). */
const RANGE_DECAY = 0.001;

/**
 * The daily view is also used when, at the points that surprise the level view beyond what noise
 * does (z above SURPRISED), its residual is less than half the level view's (SUPPORTED), smoothed over
 * about five such points (SUPPORT_ALPHA): a daily rhythm of sharp steps (office hours) is then learned
 * in two or three days, although the level view explains the flat stretches between the steps better.
 * A spike or a level shift moves both residuals alike, so it never turns the daily view on. Residuals,
 * not z, are compared: a level shift comes back a day later as a step in the daily residual and
 * inflates the daily scale for a while, so in z the daily view would seem to explain whatever
 * surprises the level view next (a bump, the next shift) and then hide every spike behind that scale.
 */
const SURPRISED = 6;
const SUPPORTED = 0.5;
const SUPPORT_ALPHA = 0.2;

const BINS = 128;
/** Histogram bins per factor e of z, from z = e^-4 (0.018) up to e^12. */
const BINS_PER_E = 8;

function zBin(z: number): number {
  const b = Math.floor((Math.log(z) + 4) * BINS_PER_E);
  return b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
}

/** Counts one value in bin `b` of the Fenwick tree at `tree[off + 1 .. off + BINS]`. */
function countBin(tree: Float64Array, off: number, b: number): void {
  for (let i = b + 1; i <= BINS; i += i & -i) tree[off + i]++;
}

/** Values counted in bins below `b` (a Fenwick prefix sum: 7 steps for 128 bins, not 128). */
function countBelow(tree: Float64Array, off: number, b: number): number {
  let sum = 0;
  for (let i = b; i > 0; i -= i & -i) sum += tree[off + i];
  return sum;
}

/**
 * Rarity of `z` among the `counted` values of the histogram at `off` (minus the log of the fraction
 * at or above its bin, out of `total` points), times log(1 + z): a z never seen before in this series
 * and large in itself scores high, a z that recurs scores low however large.
 */
function rarityTimesSize(tree: Float64Array, off: number, counted: number, z: number, total: number): number {
  const ge = counted - countBelow(tree, off, zBin(z));
  return -Math.log((ge + 1) / (total + 1)) * Math.log1p(z);
}

/**
 * The scan. Writes into `z` the verdict statistic of every point (|residual| / scale of the view that
 * explains the point best; 0 for NaN points and during warm-up), and, when `score` is given, the
 * rarity-weighted score that `anomalyScores` reports. `x` holds finite values or NaN, `t` is strictly
 * increasing.
 */
export function scanAnomaly(t: Float64Array, x: Float64Array, s: AnomalyScanSettings, z: Float64Array, score?: Float64Array): void {
  const n = x.length;
  const k = s.clip;
  // Histograms of z (tree at 0) and of the surprise average (tree at BINS + 1), as Fenwick trees.
  const hist = score ? new Float64Array(2 * (BINS + 1)) : null;
  let averages = 0;
  let total = 0;
  let average = 0;
  let level = 0;
  let scale = 0;
  let seen = 0;
  let hi = 0;
  let lo = 0;
  let jd = 0; // index of the point closest to one day ago
  let support = 1; // how much smaller the daily view's z is where the level view is surprised, smoothed
  let dScale = 0;
  let dDrift = 0;
  let dSeen = 0;
  let ratio = 1; // daily scale over level scale, smoothed
  const invScaleAlpha = 1 / s.scaleAlpha;
  for (let i = 0; i < n; i++) {
    z[i] = 0;
    if (score) score[i] = 0;
    const xi = x[i];
    if (xi !== xi) continue;
    if (seen === 0) {
      hi = lo = level = xi;
      seen = 1;
      continue;
    }
    // Range of the recent past: it forgets RANGE_DECAY of itself per point, so a trend does not inflate it.
    const shrink = RANGE_DECAY * (hi - lo);
    hi = hi - shrink > xi ? hi - shrink : xi;
    lo = lo + shrink < xi ? lo + shrink : xi;
    const floor = s.floor * (hi - lo);
    const r = xi - level;
    const ar = r < 0 ? -r : r;
    const div = scale > floor ? scale : floor > 0 ? floor : 1e-300;
    const zLevel = ar / div;
    let zi = zLevel;

    // Daily view: the point about one day earlier, by time.
    const dayAgo = t[i] - DAY;
    // Advance to the point closest to one day ago (distances fall, then rise, along increasing times).
    while (jd + 1 < i) {
      const a = t[jd] - dayAgo;
      const b = t[jd + 1] - dayAgo;
      if ((b < 0 ? -b : b) > (a < 0 ? -a : a)) break;
      jd++;
    }
    const tj = t[jd] - dayAgo;
    const xj = x[jd];
    if (tj <= DAY_TOLERANCE && tj >= -DAY_TOLERANCE && xj === xj) {
      // Yesterday's value plus the drift of a day (a smoothed day-over-day change): a trend is not an anomaly.
      const d = xi - xj - dDrift;
      const e = d < 0 ? -d : d;
      const zd = e / (dScale > floor ? dScale : floor > 0 ? floor : 1e-300);
      if (dSeen > 2 * s.warmup && zLevel > SURPRISED) {
        const q = e < ar ? e / ar : 1;
        support += SUPPORT_ALPHA * (q - support);
      }
      // Yesterday lowers the verdict only where it predicts the point better than the level does (a
      // smaller residual), not merely because its scale is larger.
      if (seen >= s.warmup && dSeen > 2 * s.warmup && (ratio < s.seasonRatio || support < SUPPORTED) && zd < zi && e < ar) zi = zd;
      const lim = k * dScale;
      const dc = dScale > 0 && e > lim ? (d > 0 ? lim : -lim) : d;
      const ec = dc < 0 ? -dc : dc;
      dSeen++;
      // Running means at first, then exponential: the first residuals weigh as much as later ones.
      const w = dSeen < invScaleAlpha ? 1 / dSeen : s.scaleAlpha;
      dScale += w * (ec - dScale);
      dDrift += w * dc;
      if (scale > 0) {
        const q = dScale / scale;
        ratio += s.scaleAlpha * ((q < 2 ? q : 2) - ratio);
      }
    }

    if (seen >= s.warmup) {
      z[i] = zi;
      if (score && hist) {
        let sc = rarityTimesSize(hist, 0, total, zi, total);
        average += SCORE_SETTINGS.averageAlpha * (Math.min(zi, k) - average);
        if (seen > 3 * s.warmup) {
          const sa = SCORE_SETTINGS.averageWeight * rarityTimesSize(hist, BINS + 1, averages, average, total);
          if (sa > sc) sc = sa;
          countBin(hist, BINS + 1, zBin(average));
          averages++;
        }
        countBin(hist, 0, zBin(zi));
        total++;
        score[i] = sc;
      }
    }
    // Clip the update so an outlier barely moves the state; on a flat history (scale 0) take the change.
    const limit = k * scale;
    const rc = scale > 0 && ar > limit ? (r > 0 ? limit : -limit) : r;
    seen++;
    if (seen <= s.warmup) {
      level += r / seen;
      scale += (ar - scale) / (seen - 1);
    } else {
      level += s.levelAlpha * rc;
      scale += s.scaleAlpha * ((rc < 0 ? -rc : rc) - scale);
    }
  }
}

/**
 * Keeps a score only where it is higher than every score of the `refractory` points before it (an
 * approximation: the running peak is forgotten `refractory` points after it was set), so any
 * threshold finds one detection at the start of an episode rather than one per point.
 */
export function sparseOnsets(raw: Float64Array, refractory: number, out: Float64Array): void {
  let peak = -Infinity;
  let age = 0;
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i];
    if (++age > refractory) peak = -Infinity;
    out[i] = r > peak ? r : 0;
    if (r >= peak) {
      peak = r;
      age = 0;
    }
  }
}
