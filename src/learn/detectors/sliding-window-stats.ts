/**
 * Running statistics over a window `[lo, hi)` of an array that only moves forward: the mean of the
 * finite values and the mean absolute difference between neighbouring finite values (a noise level
 * that ignores slow trends and level). O(1) amortised per step, no allocation; the sums are recomputed
 * from scratch every so often so floating-point drift cannot build up over 10^7 steps.
 */
export class SlidingWindowStats {
  sum = 0;
  count = 0;
  absDiffSum = 0;
  diffCount = 0;
  lo = 0;
  hi = 0;
  private steps = 0;

  constructor(private x: Float64Array) {}

  /**
   * Empties the window and points it at `x`, so one instance serves many scattered windows (seasonal
   * echo checks) without allocating: the next `moveTo` recomputes from scratch, as on a new instance.
   */
  reset(x: Float64Array): void {
    this.x = x;
    this.sum = 0;
    this.count = 0;
    this.absDiffSum = 0;
    this.diffCount = 0;
    this.lo = 0;
    this.hi = 0;
    this.steps = 0;
  }

  /** Moves the window to `[lo, hi)` (clamped to the array); both ends must not move backwards. */
  moveTo(lo: number, hi: number): void {
    const n = this.x.length;
    if (lo < 0) lo = 0;
    if (hi > n) hi = n;
    if (hi < lo) hi = lo;
    if (lo >= this.hi || lo < this.lo || hi < this.hi || this.steps > 65536) {
      this.recompute(lo, hi);
      return;
    }
    const x = this.x;
    while (this.hi < hi) {
      const j = this.hi;
      const xj = x[j];
      if (xj === xj) {
        this.sum += xj;
        this.count++;
        if (j > this.lo) {
          const xp = x[j - 1];
          if (xp === xp) {
            this.absDiffSum += Math.abs(xj - xp);
            this.diffCount++;
          }
        }
      }
      this.hi++;
      this.steps++;
    }
    while (this.lo < lo) {
      const j = this.lo;
      const xj = x[j];
      if (xj === xj) {
        this.sum -= xj;
        this.count--;
        if (j + 1 < this.hi) {
          const xn = x[j + 1];
          if (xn === xn) {
            this.absDiffSum -= Math.abs(xn - xj);
            this.diffCount--;
          }
        }
      }
      this.lo++;
      this.steps++;
    }
  }

  private recompute(lo: number, hi: number): void {
    const x = this.x;
    let sum = 0;
    let count = 0;
    let ad = 0;
    let dc = 0;
    for (let j = lo; j < hi; j++) {
      const xj = x[j];
      if (xj !== xj) continue;
      sum += xj;
      count++;
      if (j > lo) {
        const xp = x[j - 1];
        if (xp === xp) {
          ad += Math.abs(xj - xp);
          dc++;
        }
      }
    }
    this.sum = sum;
    this.count = count;
    this.absDiffSum = ad;
    this.diffCount = dc;
    this.lo = lo;
    this.hi = hi;
    this.steps = 0;
  }
}
