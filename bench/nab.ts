/**
 * NAB (development subset) score of the unsupervised anomaly detector, as /work/shared/bench/README.md
 * defines it: every file scored causally by `anomalyScores` (a row's score uses rows up to it only),
 * with the detector's fixed global settings (no per-file tuning, no labels), then one global threshold
 * per profile swept over all scores. `npm run bench -- nab [--per-file]` prints JSON, then a table.
 */
import { anomalyDetector, anomalyScores } from '../src/learn/detectors/anomaly';
import { loadNab, type NabFile } from './lib/nab-data';
import { NAB_PROFILES, type NabProfileName, nabNormalized, nabRawScore, probationRows, sweepNab } from './lib/nab-score';

/** Published scores on this subset (standard, low FP, low FN), from the benchmark README. */
const PUBLISHED: [string, number, number, number][] = [
  ['CAD-OSE', 75.9, 72.4, 79.2],
  ['Numenta HTM', 75.5, 70.7, 79.0],
  ['ARTime', 74.6, 66.5, 79.4],
  ['earthgecko Skyline', 60.2, 52.1, 64.6],
  ['Twitter ADVec', 46.6, 36.1, 52.4],
  ['Hastic (original)', 38.7, NaN, NaN],
];

/**
 * Timestamps made strictly increasing without looking ahead (the detector contract): a repeated or
 * backwards timestamp becomes 1 ms after the previous row. Rows stay in file order, as NAB scores them.
 */
export function causalClock(t: Float64Array): Float64Array {
  const out = new Float64Array(t.length);
  for (let i = 0; i < t.length; i++) out[i] = i > 0 && !(t[i] > out[i - 1]) ? out[i - 1] + 1 : t[i];
  return out;
}

/** Scores of one file: the default (label-free) model, run once over the file, causally. */
export function nabScores(f: NabFile): Float64Array {
  const series = { t: causalClock(f.t), v: f.v };
  // Learning without labels only fixes settings (and the sampling step, used for detect's context):
  // nothing learned from the file reaches the scores.
  const model = anomalyDetector.learn({ t: series.t.subarray(0, 0), v: series.v.subarray(0, 0) }, { positive: [], negative: [] });
  return anomalyScores(model, series);
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(1).padStart(6) : '     -');

export default async function nab(args: string[]) {
  const files = loadNab();
  const started = performance.now();
  const scored = files.map((f) => ({ key: f.key, scores: nabScores(f), windows: f.windows }));
  const scoreMs = performance.now() - started;
  const rows = files.reduce((a, f) => a + f.v.length, 0);
  const categories = [...new Set(files.map((f) => f.key.split('/')[0]))];
  const profiles: Record<string, { score: number; theta: number | null; perCategory: Record<string, number> }> = {};
  for (const name of Object.keys(NAB_PROFILES) as NabProfileName[]) {
    const p = NAB_PROFILES[name];
    const best = sweepNab(scored, p);
    const perCategory: Record<string, number> = {};
    for (const c of categories) {
      const r = nabRawScore(
        scored.filter((f) => f.key.startsWith(`${c}/`)),
        p,
        best.theta,
      );
      // A category without windows has no normalised score: report its raw false-alarm cost (0 = none).
      perCategory[c] = r.windows > 0 ? nabNormalized(r.score, r.windows, p) : r.score;
    }
    profiles[name] = { score: best.normalized, theta: Number.isFinite(best.theta) ? best.theta : null, perCategory };
  }
  const json = {
    bench: 'nab',
    files: files.length,
    rows,
    windows: files.reduce((a, f) => a + f.windows.length, 0),
    scoreMs: Math.round(scoreMs),
    profiles,
  };
  console.log(JSON.stringify(json, null, 2));

  console.log('\ndetector               standard  low FP  low FN');
  const mine = (['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'] as const).map((k) => profiles[k].score);
  console.log(`${'hastic anomaly (this)'.padEnd(22)}${mine.map(fmt).join('  ')}`);
  for (const [name, ...s] of PUBLISHED) console.log(`${name.padEnd(22)}${s.map(fmt).join('  ')}`);
  console.log(`\ncategory (θ per profile) ${Object.values(profiles).map((p) => (p.theta ?? Infinity).toFixed(4)).join(' / ')}`);
  for (const c of categories) console.log(`${c.padEnd(24)}${Object.values(profiles).map((p) => fmt(p.perCategory[c])).join('  ')}`);

  if (args.includes('--per-file')) {
    const p = NAB_PROFILES.standard;
    const th = profiles.standard.theta ?? Infinity;
    console.log('\nfile (standard θ; alarms after probation)                  windows   score  alarms');
    for (const f of scored) {
      const r = nabRawScore([f], p, th);
      let alarms = 0;
      for (let i = probationRows(f.scores.length); i < f.scores.length; i++) if (f.scores[i] >= th) alarms++;
      console.log(`${f.key.padEnd(60)}${String(f.windows.length).padStart(4)}${r.score.toFixed(2).padStart(8)}${String(alarms).padStart(7)}`);
    }
  }
}
