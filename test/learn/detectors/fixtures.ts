import type { Detection, DetectorType, Labels, Series } from '../../../src/learn/detectors/types';
import { addDoubleBump, addSpike, addStep, background, indexOf, spanOf } from './synthetic';

/** A synthetic series holding the detector's shape at varied sizes, with the first two labeled. */
export interface Fixture {
  series: Series;
  labels: Labels;
  /** Centre indices of the unlabeled shapes a detector must find. */
  expected: number[];
  /** How far (in points) a detection may be from an expected centre. */
  tolerance: number;
}

/** Height factors (±30%) and width factors cycled over the shapes. */
const SIZES = [1, 0.7, 1.3, 0.85, 1.15, 0.75, 1.25];
const WIDTHS = [1, 0.8, 1.2, 1, 0.9, 1.1, 0.8];

export function fixtureFor(type: DetectorType, n = 8000, seed = 7): Fixture {
  const series = background({ n, seed });
  const centres: number[] = [];
  const spans: [number, number][] = [];
  const spacing = 700;
  let k = 0;
  for (let c = 400; c < n - 400; c += spacing, k++) {
    const size = SIZES[k % SIZES.length];
    const width = WIDTHS[k % WIDTHS.length];
    switch (type) {
      case 'peak':
      case 'trough': {
        const w = Math.round(11 * width);
        addSpike(series, c, (type === 'peak' ? 14 : -14) * size, w);
        centres.push(c);
        spans.push([c - 7, c + 7]);
        break;
      }
      case 'jump':
      case 'drop': {
        // Alternate up and down so the level stays put; only the detector's own direction counts.
        const up = k % 2 === 0;
        const dir = type === 'jump' ? (up ? 1 : -1) : up ? -1 : 1;
        const ramp = 1 + (k % 3);
        addStep(series, c, 10 * size * dir, ramp);
        if (up) {
          centres.push(c);
          spans.push([c - 3, c + 4]);
        }
        break;
      }
      case 'general': {
        const w = Math.round(40 * width);
        addDoubleBump(series, c - (w >> 1), 12 * size, w);
        centres.push(c);
        spans.push([c - (w >> 1), c - (w >> 1) + w - 1]);
        break;
      }
      case 'anomaly': {
        addSpike(series, c, (k % 2 ? -15 : 15) * size, 1 + (k % 3));
        centres.push(c);
        spans.push([c - 2, c + 2]);
        break;
      }
    }
  }
  const labeled = type === 'anomaly' ? 0 : 2;
  return {
    series,
    labels: { positive: spans.slice(0, labeled).map(([a, b]) => spanOf(series, a, b)), negative: [] },
    expected: centres.slice(labeled),
    tolerance: type === 'general' ? 30 : 10,
  };
}

/** Pairs detections with expected centres: which centres were missed, which detections are extra. */
export function matchDetections(
  found: Detection[],
  expected: number[],
  tolerance: number,
): { missed: number[]; extra: number[] } {
  const used = new Set<number>();
  const missed: number[] = [];
  for (const c of expected) {
    const j = found.findIndex(
      (d, q) => !used.has(q) && indexOf(d.start) - tolerance <= c && c <= indexOf(d.finish) + tolerance,
    );
    if (j < 0) missed.push(c);
    else used.add(j);
  }
  const extra = found.map((d, q) => (used.has(q) ? -1 : indexOf(d.start))).filter((i) => i >= 0);
  return { missed, extra };
}
