/**
 * Value rarity for the `anomaly` score: how often the recent past visited the value bin of a point.
 * Most anomalies of monitored metrics are values the series has not taken lately (a new high, a drop
 * to a level it never sits at, a stretch in a band it only crosses), and a histogram of values says
 * so directly, where a residual against a forecast also fires on every routine burst of a bursty
 * series (the burst is a large residual, but a value seen many times).
 *
 * The bins are a power-of-two grid aligned at 0, `valueBins` of them at most across the recent range
 * (between half that and that many): the grid doubles (merging bin pairs, exact) when the range grows
 * and halves (splitting each bin's weight evenly) when it shrinks, so its resolution follows the spread
 * of the data with no warm-up estimate. The range forgets like the histogram (a factor 1 - 1/memory
 * per point), so what a point's rarity depends on fades at the same rate (see SCORE_CONTEXT). Grid and
 * bins are exact in binary, so scaling the data by a power of two (as `causallyScaled` does) changes
 * nothing. The histogram is a window of slots around a centre bin, four times the bins across the
 * range, moved when the data leaves it.
 *
 * The per-point work is inlined in `scanAnomaly` (a method call returning a double would box it); the
 * rare regridding lives here, on the slot arrays: O(slots) each time, no allocation.
 */

/** Twice the bin width: bin pairs merge exactly. Returns the new centre bin. */
export function doubleBins(cnt: Float64Array, tmp: Float64Array, centre: number): number {
  const slots = cnt.length;
  const half = slots >> 1;
  tmp.fill(0);
  const c2 = Math.floor(centre / 2);
  for (let s = 0; s < slots; s++) {
    if (cnt[s] === 0) continue;
    const ns = Math.floor((s + centre - half) / 2) - c2 + half;
    if (ns >= 0 && ns < slots) tmp[ns] += cnt[s];
  }
  cnt.set(tmp);
  return c2;
}

/** Half the bin width: each bin's weight splits evenly over its two halves (far ones fall off the slots); the centre bin doubles. */
export function splitBins(cnt: Float64Array, tmp: Float64Array): void {
  const slots = cnt.length;
  const half = slots >> 1;
  tmp.fill(0);
  for (let s = 0; s < slots; s++) {
    if (cnt[s] === 0) continue;
    const ns = 2 * (s - half) + half;
    const part = cnt[s] / 2;
    if (ns >= 0 && ns < slots) tmp[ns] += part;
    if (ns + 1 >= 0 && ns + 1 < slots) tmp[ns + 1] += part;
  }
  cnt.set(tmp);
}

/** Moves the slots `shift` bins up (the data left the window); what falls off is dropped. */
export function shiftBins(cnt: Float64Array, tmp: Float64Array, shift: number): void {
  const slots = cnt.length;
  tmp.fill(0);
  for (let k = 0; k < slots; k++) {
    const ns = k - shift;
    if (ns >= 0 && ns < slots) tmp[ns] = cnt[k];
  }
  cnt.set(tmp);
}
