/**
 * Every detector on a 10^7-point series (19 years of one-minute data): learning and detection finish,
 * the output keeps the contract, and the planted shapes are found where they are. The labeled detectors
 * share one series with a shape of every kind planted every 1500 points; anomaly gets a series of its
 * own with only its spikes, as in its unit fixtures (whether it should also flag them among frequent
 * steps and bumps is a quality question for bench/, not one of scale). No timing assertions: speed is
 * measured by `npm run bench -- speed`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { detectors } from '../../../src/learn/detectors/index';
import { DETECTOR_TYPES, type Detection, type DetectorType } from '../../../src/learn/detectors/types';
import { indexOf, labelsFor, plantedSeries, type PlantedSeries } from '../../../bench/lib/speed-series';

const N = 10_000_000;
/** How far (in points) the middle of a detection may be from a planted shape's centre (labels are 15 wide). */
const TOLERANCE: Record<DetectorType, number> = { peak: 8, trough: 8, jump: 15, drop: 15, general: 25, anomaly: 3 };
/**
 * Share of the planted shapes a detector may miss in any tenth of the series. Recall is a quality
 * matter (bench/quality); here a few misses of the weakest shapes in noise are allowed, but losing
 * precision as sums run over 10^7 points would show as misses piling up in the later tenths.
 */
const MAX_MISSED_PER_TENTH = 0.02;

/** Index of the first detection whose closed index range, widened by `tol`, reaches `centre`. */
function coveringDetection(found: Detection[], centre: number, tol: number, fromIdx: number): number {
  let lo = fromIdx;
  let hi = found.length;
  // First detection that ends at or after centre - tol (detections are sorted and disjoint).
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (indexOf(found[mid].finish) + tol < centre) lo = mid + 1;
    else hi = mid;
  }
  return lo < found.length && indexOf(found[lo].start) - tol <= centre ? lo : -1;
}

describe('detectors on 10^7 points', () => {
  let mixed: PlantedSeries;
  beforeAll(() => {
    mixed = plantedSeries({ n: N, seed: 5 });
  }, 60_000);

  it.each(DETECTOR_TYPES)(
    '%s learns, detects every planted shape in place and keeps the output contract',
    (type) => {
      const d = detectors[type];
      const p = type === 'anomaly' ? plantedSeries({ n: N, seed: 6, kinds: ['anomaly'] }) : mixed;
      const { t } = p.series;
      const found = d.detect(d.learn(p.series, labelsFor(type, p)), p.series);

      // Contract: sorted, non-overlapping, inside the data, confidence in [0, 1].
      for (let j = 0; j < found.length; j++) {
        const s = found[j];
        if (!(s.start <= s.finish && s.start >= t[0] && s.finish <= t[N - 1])) {
          expect.fail(`segment ${j} (${s.start} .. ${s.finish}) is not inside the data`);
        }
        if (!(s.confidence >= 0 && s.confidence <= 1)) expect.fail(`segment ${j} has confidence ${s.confidence}`);
        if (j > 0 && !(found[j - 1].finish < s.start)) expect.fail(`segments ${j - 1} and ${j} overlap or are unsorted`);
      }

      // The labeled shapes are excluded from the output; every other planted one must be found, with
      // the detection centred on it.
      const expected = p.planted[type].slice(type === 'anomaly' ? 0 : 2);
      expect(expected.length).toBeGreaterThan(1000);
      const tol = TOLERANCE[type];
      const missed: number[] = [];
      const offCentre: number[] = [];
      let from = 0;
      for (const e of expected) {
        const j = coveringDetection(found, e.centre, tol, from);
        if (j < 0) {
          missed.push(e.centre);
          continue;
        }
        from = j;
        const mid = (indexOf(found[j].start) + indexOf(found[j].finish)) / 2;
        // Anomaly segments start where the point stands out (they may trail while the level settles).
        const offset = type === 'anomaly' ? indexOf(found[j].start) - e.centre : mid - e.centre;
        if (Math.abs(offset) > tol) offCentre.push(e.centre);
      }
      const tenths = Array.from({ length: 10 }, (_, q) => {
        const inTenth = (c: number) => Math.floor((c * 10) / N) === q;
        const planted = expected.filter((e) => inTenth(e.centre)).length;
        return { tenth: q, planted, missed: missed.filter(inTenth) };
      });
      expect(tenths.filter((q) => q.missed.length > MAX_MISSED_PER_TENTH * q.planted)).toEqual([]);
      expect(offCentre.slice(0, 10)).toEqual([]);
      // Shapes of other kinds may be found too (a double bump is a peak; anomaly flags every kind), but
      // not a flood of noise.
      const plantedAll = Object.values(p.planted).reduce((sum, list) => sum + list.length, 0);
      expect(found.length).toBeLessThan(1.5 * plantedAll);
    },
    60_000,
  );
});
