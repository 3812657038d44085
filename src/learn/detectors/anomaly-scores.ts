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
 * - value rarity (scores only, `anomaly-values.ts`): how rarely the recent past visited the point's
 *   value bin. It leads the score: on NAB it ranks true anomalies above routine surprises far better
 *   than the residual views (a bursty series' bursts are large residuals but familiar values), which
 *   stay in the score at a lower weight for what values miss (a spike inside the usual range).
 */

import { doubleBins, shiftBins, splitBins } from './anomaly-values';

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
  /**
   * After a score, lower scores of the next this-many points are dropped: one alarm per episode (a
   * held alarm pays one false positive per point). 400 points is about a day and a half at 5 minutes.
   */
  refractory: 400,
  /**
   * The rarity histograms (and the value view's range) forget: each point counts (1 - 1/memory) times
   * less than the next, so a z is rare compared with about the last `memory` points (5000: two and a
   * half weeks at 5 minutes), not the whole history. This bounds how far back a score depends on (see
   * `SCORE_CONTEXT`), so detection on a suffix with that much context agrees with a run over all the
   * history, and a years-long series does not grow numb to anomalies it saw long ago.
   */
  memory: 5000,
  /**
   * Value bins across the recent range (32 to 64 with the power-of-two grid), each point's share counted
   * over its bin and `valueSpread` bins on either side: a neighbourhood of 3/64 to 3/32 of the range,
   * which slides with the value instead of snapping to bin edges (a value just across an edge from
   * familiar ones is not new). On NAB 16 to 32 bins without neighbours score 70 to 71 (standard), 64
   * with one neighbour 73.
   */
  valueBins: 64,
  valueSpread: 1,
  /**
   * Weight, in points, of the prior in every value bin: a value never seen within the memory has
   * rarity about log(points / prior), a value seen once log(points). Small, so that a new value is
   * clearly rarer than one seen once; 0.001 to 0.1 score alike.
   */
  valuePrior: 0.01,
  /**
   * Value rarity counts fully where the point also surprises the residual views by this many scales
   * (z), proportionally below: a trend keeps reaching new values, each of them predicted.
   */
  valueZ: 2,
  /**
   * Weight of the residual views' score (z rarity times its size) against
   * the value rarity: they then only matter where z is both rare and large (a sharp spike inside the
   * usual range of the values). 0.25 to 0.35 score alike on NAB, more costs false alarms.
   */
  residualWeight: 0.35,
} as const;

/**
 * Points before a score's point that decide it: the histograms' weight of anything older is below
 * e^-20 (2e-9) of the current point's, times `memory` at most 1e-5 relative in any rarity.
 */
export const SCORE_CONTEXT = 20 * SCORE_SETTINGS.memory;

/** Histogram weights are rescaled by this exact power of two before they overflow. */
const RESCALE = 2 ** -512;
const RESCALE_ABOVE = 2 ** 512;

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

/** Value bins narrower than this fraction of the values' magnitude would be rounding, not spread: no grid finer than that. */
const MIN_RELATIVE_BIN = 2 ** -40;

const BINS = 128;
/** Histogram bins per factor e of z, from z = e^-4 (0.018) up to e^12. */
const BINS_PER_E = 8;

/** `BIN_EDGES[b]` is the smallest z of bin b (e^(b / BINS_PER_E - 4)); bin 0 also takes everything below. */
const BIN_EDGES = Float64Array.from({ length: BINS }, (_, b) => Math.exp(b / BINS_PER_E - 4));

/**
 * `LOG1P_ABOVE[b]` bounds log(1 + z) over bin b from above (at its upper edge, a hair wider), so a
 * point's score can be bounded without a logarithm; the top bin is unbounded.
 */
const LOG1P_ABOVE = Float64Array.from({ length: BINS }, (_, b) =>
  b + 1 < BINS ? Math.log1p(Math.exp((b + 1) / BINS_PER_E - 4)) * (1 + 1e-9) : Infinity,
);

/** Binary exponents of z the bin table covers: below, bin 0; above, the top bin. */
const MIN_EXP = Math.floor(-4 / Math.LN2) - 1;
const MAX_EXP = Math.ceil((BINS / BINS_PER_E - 4) / Math.LN2) + 1;
/** Bits of the mantissa a table cell spans: a cell (a factor 1 + 2^-8) is narrower than a bin (e^(1/8)). */
const MANT_BITS = 8;
/**
 * Bin of the lower end of every table cell (binary exponent, top mantissa bits of z): a cell holds at
 * most one bin edge, so the cell's bin, or the next one past that edge, is the bin of z.
 */
const BIN_OF_CELL = (() => {
  const cells = new Uint8Array((MAX_EXP - MIN_EXP + 1) << MANT_BITS);
  for (let c = 0; c < cells.length; c++) {
    const low = 2 ** ((c >> MANT_BITS) + MIN_EXP) * (1 + (c & ((1 << MANT_BITS) - 1)) / (1 << MANT_BITS));
    let b = 0;
    while (b + 1 < BINS && BIN_EDGES[b + 1] <= low) b++;
    cells[c] = b;
  }
  return cells;
})();
const bits = new Float64Array(1);
const bitsHi = new Uint32Array(bits.buffer, 4, 1);

/**
 * Bin of z: the largest b with BIN_EDGES[b] <= z (0 below the first edge), from its float bits and a
 * table (a logarithm or a binary search per point costs more). Assumes a little-endian platform.
 */
function zBin(z: number): number {
  bits[0] = z;
  const hi = bitsHi[0];
  const e = (hi >>> 20) - 1023;
  if (e < MIN_EXP) return 0;
  if (e > MAX_EXP) return BINS - 1;
  const b = BIN_OF_CELL[((e - MIN_EXP) << MANT_BITS) | ((hi >>> (20 - MANT_BITS)) & ((1 << MANT_BITS) - 1))];
  return b + 1 < BINS && BIN_EDGES[b + 1] <= z ? b + 1 : b;
}

/**
 * The scan. Writes into `z` the verdict statistic of every point (|residual| / scale of the view that
 * explains the point best; 0 for NaN points and during warm-up); when `score` is given, the score
 * (value rarity, or the residual views' score at `residualWeight`, whichever is larger; before the map
 * to [0, 1)); when `residual` is given, the residual views' score alone at full weight (rarity of z
 * times its size). Both are kept only at episode onsets, each with its own
 * running peak: a score is kept only where it is higher than every score of the
 * `SCORE_SETTINGS.refractory` points before it (an approximation: the running peak is forgotten that
 * many points after it was set), so any threshold finds one detection at the start of an episode
 * rather than one per point. `anomalyScores` reports `score`; `detect` starts from either.
 * Where a cheap bound shows a point scores below the running peaks (most points), its logarithms are
 * skipped: it would be dropped anyway. `x` holds finite values or NaN, `t` is strictly increasing.
 */
export function scanAnomaly(
  t: Float64Array,
  x: Float64Array,
  s: AnomalyScanSettings,
  z: Float64Array,
  score?: Float64Array,
  residual?: Float64Array,
): void {
  const n = x.length;
  const scoring = score !== undefined || residual !== undefined;
  const st = new Float64Array(STATE_SIZE);
  const counters = new Int32Array(COUNTERS);
  st[S_CLIP] = s.clip;
  st[S_WARMUP] = s.warmup;
  st[S_SEASON_RATIO] = s.seasonRatio;
  st[S_FLOOR] = s.floor;
  st[S_LEVEL_ALPHA] = s.levelAlpha;
  st[S_SCALE_ALPHA] = s.scaleAlpha;
  st[S_PEAK] = -Infinity;
  st[S_R_PEAK] = -Infinity;
  st[S_EXP_PEAK] = Infinity;
  st[S_W] = 1;
  st[S_V_W] = 1;
  st[S_SUPPORT] = 1;
  st[S_RATIO] = 1;
  // Histogram of z, as a Fenwick tree; value view slot weights (see anomaly-values.ts) and scratch.
  const hist = scoring ? new Float64Array(BINS + 1) : NONE;
  const cnt = score ? new Float64Array(4 * SCORE_SETTINGS.valueBins) : NONE;
  const tmp = score ? new Float64Array(4 * SCORE_SETTINGS.valueBins) : NONE;
  const flags = (score ? HAS_SCORE : 0) | (residual ? HAS_RESIDUAL : 0);
  // In chunks: a function called once per scan with one long loop gets optimized on the stack (OSR)
  // from the feedback of a single call, so every new detect call starts in the interpreter again and
  // the optimized code deoptimizes on the first branch the first call had not taken. Called for every
  // chunk, it is optimized as a whole from complete feedback and stays optimized across calls.
  for (let from = 0; from < n; from += CHUNK) {
    scanChunk(t, x, z, score ?? NONE, residual ?? NONE, hist, cnt, tmp, st, counters, flags, from, from + CHUNK < n ? from + CHUNK : n);
  }
}

/** Points per `scanChunk` call: the state is saved and restored once a chunk, which is exact and cheap. */
const CHUNK = 4096;
const NONE = new Float64Array(0);
const HAS_SCORE = 1;
const HAS_RESIDUAL = 2;
// Slots of the scan state kept between chunks (settings first).
const S_CLIP = 0;
const S_WARMUP = 1;
const S_SEASON_RATIO = 2;
const S_FLOOR = 3;
const S_LEVEL_ALPHA = 4;
const S_SCALE_ALPHA = 5;
const S_V_H = 6;
const S_V_INV_H = 7;
const S_V_C = 8;
const S_V_HI = 9;
const S_V_LO = 10;
const S_V_PREV = 11;
const S_V_FLAT = 12;
const S_V_TOTAL = 13;
const S_V_W = 14;
const S_V_SEEN = 15;
const S_EXP_PEAK = 16;
const S_TOTAL = 17;
const S_W = 18;
const S_PEAK = 19;
const S_R_PEAK = 20;
const S_LEVEL = 21;
const S_SCALE = 22;
const S_HI = 23;
const S_LO = 24;
const S_SUPPORT = 25;
const S_D_SCALE = 26;
const S_D_DRIFT = 27;
const S_RATIO = 28;
const STATE_SIZE = 29;
// Counters and indices, kept as integers (an index loaded as a double is converted at every use).
const I_AGE = 0;
const I_R_AGE = 1;
const I_SEEN = 2;
const I_JD = 3;
const I_D_SEEN = 4;
const COUNTERS = 5;

/** Points [from, to) of the scan, from and back into the state `st`; arrays not in use are `NONE`. */
function scanChunk(
  t: Float64Array,
  x: Float64Array,
  z: Float64Array,
  score: Float64Array,
  residual: Float64Array,
  hist: Float64Array,
  cnt: Float64Array,
  tmp: Float64Array,
  st: Float64Array,
  counters: Int32Array,
  flags: number,
  from: number,
  to: number,
): void {
  const hasScore = (flags & HAS_SCORE) !== 0;
  const hasResidual = (flags & HAS_RESIDUAL) !== 0;
  const scoring = hasScore || hasResidual;
  const k = st[S_CLIP];
  const warmup = st[S_WARMUP];
  const seasonRatio = st[S_SEASON_RATIO];
  const floorShare = st[S_FLOOR];
  const levelAlpha = st[S_LEVEL_ALPHA];
  const scaleAlpha = st[S_SCALE_ALPHA];
  // Value view (see anomaly-values.ts): slot weights around the centre bin, the grid's bin width (0
  // until the values differ), the decaying range, the weight of the flat start, and its own weights.
  const VB = SCORE_SETTINGS.valueBins;
  const slots = 4 * VB;
  const half = 2 * VB;
  const spread = SCORE_SETTINGS.valueSpread;
  const prior = SCORE_SETTINGS.valuePrior;
  let vH = st[S_V_H];
  let vInvH = st[S_V_INV_H]; // 1 / vH, exact (a power of two)
  let vC = st[S_V_C];
  let vHi = st[S_V_HI];
  let vLo = st[S_V_LO];
  let vPrev = st[S_V_PREV];
  let vFlat = st[S_V_FLAT];
  let vTotal = st[S_V_TOTAL];
  let vW = st[S_V_W];
  let vSeen = st[S_V_SEEN] !== 0;
  const vDecay = 1 / SCORE_SETTINGS.memory;
  // exp(-peak): a point whose value share is at least this cannot beat the peak through its value rarity.
  let expPeak = st[S_EXP_PEAK];
  const rw = SCORE_SETTINGS.residualWeight;
  const invValueZ = 1 / SCORE_SETTINGS.valueZ;
  let total = st[S_TOTAL];
  // Weight of the current point in the histograms: it grows so that older points count for less.
  let w = st[S_W];
  const grow = 1 / (1 - 1 / SCORE_SETTINGS.memory);
  // Onset filter state (see sparseOnsets): the running peak and the points since it was set.
  const refractory = SCORE_SETTINGS.refractory;
  let peak = st[S_PEAK];
  // peak / rw, divided once where the peak changes rather than at every point.
  let pr = peak / rw;
  let age = counters[I_AGE];
  let rPeak = st[S_R_PEAK];
  let rAge = counters[I_R_AGE];
  let level = st[S_LEVEL];
  let scale = st[S_SCALE];
  let seen = counters[I_SEEN];
  let hi = st[S_HI];
  let lo = st[S_LO];
  let jd = counters[I_JD]; // index of the point closest to one day ago
  let support = st[S_SUPPORT]; // how much smaller the daily view's z is where the level view is surprised, smoothed
  let dScale = st[S_D_SCALE];
  let dDrift = st[S_D_DRIFT];
  let dSeen = counters[I_D_SEEN];
  let ratio = st[S_RATIO]; // daily scale over level scale, smoothed
  const invScaleAlpha = 1 / scaleAlpha;
  for (let i = from; i < to; i++) {
    z[i] = 0;
    // Raw score of the point: 0 unless it is scored below, -1 where it is known to be below the peak.
    let sc = 0;
    let rs = 0;
    if (hasScore) {
      score[i] = 0;
      if (++age > refractory) {
        peak = -Infinity;
        pr = peak / rw;
        expPeak = Infinity;
      }
    }
    if (hasResidual) {
      residual[i] = 0;
      if (++rAge > refractory) rPeak = -Infinity;
    }
    const xi = x[i];
    // Value view: every finite point, warm-up included; qv is the share of the past weight near xi.
    let qv = 1;
    if (hasScore && xi === xi) {
      if (!vSeen) {
        vHi = vLo = vPrev = xi;
        vSeen = true;
      }
      const shrinkV = vDecay * (vHi - vLo);
      vHi = vHi - shrinkV > xi ? vHi - shrinkV : xi;
      vLo = vLo + shrinkV < xi ? vLo + shrinkV : xi;
      const range = vHi - vLo;
      if (vH === 0) {
        // First grid, once the values differ by more than rounding: the flat start's weight goes to
        // the bin of the value it held.
        if (range > (vHi > -vLo ? vHi : -vLo) * MIN_RELATIVE_BIN) {
          vH = 2 ** Math.ceil(Math.log2(range / VB));
          vInvH = 1 / vH;
          vC = Math.floor(xi * vInvH);
          const s0 = Math.floor(vPrev * vInvH) - vC + half;
          if (s0 >= 0 && s0 < slots) cnt[s0] += vFlat;
          vFlat = 0;
        }
      } else if (range > VB * vH || range <= (VB * vH) / 2) {
        const mag = vHi > -vLo ? (vHi > 0 ? vHi : -vHi) : -vLo;
        while (range > VB * vH) {
          vC = doubleBins(cnt, tmp, vC);
          vH *= 2;
        }
        while (range <= (VB * vH) / 2 && vH > mag * MIN_RELATIVE_BIN) {
          // Centre the slots on the recent range first: a split doubles every bin's distance from the
          // centre, so bins the data drifted to (the centre only moves when data leaves the slots)
          // would fall off and the histogram would forget values seen a moment ago.
          const mid = Math.floor((vHi + vLo) / 2 / vH);
          if (mid !== vC) {
            shiftBins(cnt, tmp, mid - vC);
            vC = mid;
          }
          splitBins(cnt, tmp);
          vC *= 2;
          vH /= 2;
        }
        vInvH = 1 / vH;
      }
      if (vH > 0) {
        const b = Math.floor(xi * vInvH);
        let sl = b - vC + half;
        if (sl < 0 || sl >= slots) {
          shiftBins(cnt, tmp, b - vC);
          vC = b;
          sl = half;
        }
        // The bin and its neighbours: a value next to ones seen lately (a drift) is not new.
        let near = cnt[sl];
        if (spread > 0) near += (sl > 0 ? cnt[sl - 1] : 0) + (sl + 1 < slots ? cnt[sl + 1] : 0);
        for (let j = 2; j <= spread; j++) near += (sl >= j ? cnt[sl - j] : 0) + (sl + j < slots ? cnt[sl + j] : 0);
        qv = (near + prior * vW) / (vTotal + prior * vW);
        cnt[sl] += vW;
      } else vFlat += vW;
      vTotal += vW;
      vPrev = xi;
      vW *= grow;
      if (vW > RESCALE_ABOVE) {
        for (let j = 0; j < slots; j++) cnt[j] *= RESCALE;
        vTotal *= RESCALE;
        vFlat *= RESCALE;
        vW *= RESCALE;
      }
    }
    if (xi !== xi || seen === 0) {
      if (xi === xi) {
        hi = lo = level = xi;
        seen = 1;
      }
      if (hasScore && 0 >= peak) {
        peak = 0;
        pr = peak / rw;
        expPeak = 1;
        age = 0;
      }
      if (hasResidual && 0 >= rPeak) {
        rPeak = 0;
        rAge = 0;
      }
      continue;
    }
    // Range of the recent past: it forgets RANGE_DECAY of itself per point, so a trend does not inflate it.
    const shrink = RANGE_DECAY * (hi - lo);
    hi = hi - shrink > xi ? hi - shrink : xi;
    lo = lo + shrink < xi ? lo + shrink : xi;
    const floor = floorShare * (hi - lo);
    const r = xi - level;
    // |r| without a branch on its sign, which is a coin flip for residuals (a mispredicted branch per
    // point costs more than the rest of the line); a zero is kept as it is, as \`r < 0 ? -r : r\` did.
    const ar = r === 0 ? r : Math.abs(r);
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
      const e = d === 0 ? d : Math.abs(d);
      if (dSeen > 2 * warmup && zLevel > SURPRISED) {
        const q = e < ar ? e / ar : 1;
        support += SUPPORT_ALPHA * (q - support);
      }
      // Yesterday lowers the verdict only where it predicts the point better than the level does (a
      // smaller residual), not merely because its scale is larger. Its z is divided out only then.
      if (seen >= warmup && dSeen > 2 * warmup && (ratio < seasonRatio || support < SUPPORTED) && e < ar) {
        const zd = e / (dScale > floor ? dScale : floor > 0 ? floor : 1e-300);
        if (zd < zi) zi = zd;
      }
      const lim = k * dScale;
      const dc = dScale > 0 && e > lim ? (d > 0 ? lim : -lim) : d;
      const ec = dc === 0 ? dc : Math.abs(dc);
      dSeen++;
      // Running means at first, then exponential: the first residuals weigh as much as later ones.
      const wd = dSeen < invScaleAlpha ? 1 / dSeen : scaleAlpha;
      dScale += wd * (ec - dScale);
      dDrift += wd * dc;
      if (scale > 0) {
        const q = dScale / scale;
        ratio += scaleAlpha * ((q < 2 ? q : 2) - ratio);
      }
    }

    if (seen >= warmup) {
      z[i] = zi;
      if (scoring) {
        // Inlined: a call per point returning a double costs more than the work. Rarity is
        // -log((weight at or above the bin + w) / (total + w)), at most 1 / q - 1 for that ratio q.
        const bz = zBin(zi);
        let below = 0;
        for (let j = bz; j > 0; j -= j & -j) below += hist[j];
        const qz = (total - below + w) / (total + w);
        // Residual score (full weight), unless bounded below both peaks it could matter for.
        // The lower of the peaks that matter (only compared with, so the sign of a zero does not matter).
        const needed = hasResidual ? (hasScore && pr < rPeak ? pr : rPeak) : pr;
        const res = (1 / qz - 1) * LOG1P_ABOVE[bz] >= needed ? -Math.log(qz) * Math.log1p(zi) : -1;
        if (hasResidual) rs = res;
        if (hasScore) {
          sc = res < 0 ? -1 : rw * res;
          // Value rarity, unless its share of the histogram shows it below the peak.
          if (qv < expPeak) {
            const sv = -Math.log(qv) * (zi < SCORE_SETTINGS.valueZ ? zi * invValueZ : 1);
            if (sv > sc) sc = sv;
          }
        }
        for (let j = bz + 1; j <= BINS; j += j & -j) hist[j] += w;
        total += w;
        w *= grow;
        if (w > RESCALE_ABOVE) {
          for (let b = 0; b < hist.length; b++) hist[b] *= RESCALE;
          total *= RESCALE;
          w *= RESCALE;
        }
      }
    }
    if (hasScore && sc >= 0) {
      if (sc > peak) score[i] = sc;
      if (sc >= peak) {
        if (sc > peak) expPeak = Math.exp(-sc);
        peak = sc;
        pr = peak / rw;
        age = 0;
      }
    }
    if (hasResidual && rs >= 0) {
      if (rs > rPeak) residual[i] = rs;
      if (rs >= rPeak) {
        rPeak = rs;
        rAge = 0;
      }
    }
    // Clip the update so an outlier barely moves the state; on a flat history (scale 0) take the change.
    const limit = k * scale;
    const rc = scale > 0 && ar > limit ? (r > 0 ? limit : -limit) : r;
    seen++;
    if (seen <= warmup) {
      level += r / seen;
      scale += (ar - scale) / (seen - 1);
    } else {
      level += levelAlpha * rc;
      scale += scaleAlpha * ((rc === 0 ? rc : Math.abs(rc)) - scale);
    }
  }
  st[S_V_H] = vH;
  st[S_V_INV_H] = vInvH;
  st[S_V_C] = vC;
  st[S_V_HI] = vHi;
  st[S_V_LO] = vLo;
  st[S_V_PREV] = vPrev;
  st[S_V_FLAT] = vFlat;
  st[S_V_TOTAL] = vTotal;
  st[S_V_W] = vW;
  st[S_V_SEEN] = vSeen ? 1 : 0;
  st[S_EXP_PEAK] = expPeak;
  st[S_TOTAL] = total;
  st[S_W] = w;
  st[S_PEAK] = peak;
  counters[I_AGE] = age;
  st[S_R_PEAK] = rPeak;
  counters[I_R_AGE] = rAge;
  st[S_LEVEL] = level;
  st[S_SCALE] = scale;
  counters[I_SEEN] = seen;
  st[S_HI] = hi;
  st[S_LO] = lo;
  counters[I_JD] = jd;
  st[S_SUPPORT] = support;
  st[S_D_SCALE] = dScale;
  st[S_D_DRIFT] = dDrift;
  counters[I_D_SEEN] = dSeen;
  st[S_RATIO] = ratio;
}
