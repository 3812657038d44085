/**
 * Detection throughput per detector (points per second on one core, best of several runs) on the
 * detectors' synthetic fixtures, and learn + full detect of a year of one-minute data (525,600 points).
 * Times are this process's CPU time (user + system), not wall time: the benchmark machines are shared,
 * and CPU time is what one core spends whatever else runs.
 */
import { detectors } from '../../src/learn/detectors/index';
import type { DetectorType } from '../../src/learn/detectors/types';
import { fixtureFor } from '../../test/learn/detectors/fixtures';

const TYPES: DetectorType[] = ['peak', 'trough', 'jump', 'drop', 'general'];

/** CPU milliseconds used by this process so far. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export function speedReport(points = 2_000_000, runs = 3): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const type of TYPES) {
    const d = detectors[type];
    const fx = fixtureFor(type, points, 3);
    const model = d.learn(fx.series, fx.labels);
    let best = Infinity;
    for (let r = 0; r < runs; r++) {
      const t0 = cpuMs();
      d.detect(model, fx.series);
      best = Math.min(best, cpuMs() - t0);
    }
    const year = fixtureFor(type, 525_600, 5);
    const t0 = cpuMs();
    const m = d.learn(year.series, year.labels);
    d.detect(m, year.series);
    const yearMs = cpuMs() - t0;
    out[type] = { pointsPerSecond: Math.round((points / best) * 1000), detectMs: Math.round(best), yearLearnDetectMs: Math.round(yearMs) };
  }
  return out;
}
