/**
 * NAB (development subset) score of the unsupervised anomaly detector, as /work/shared/bench/README.md
 * defines it: every file scored causally by `anomalyScores` (a row's score uses rows up to it only),
 * with the detector's fixed global settings (no per-file tuning, no labels), then one global threshold
 * per profile swept over all scores. `npm run bench -- nab [--per-file]` prints JSON, then a table.
 *
 * A second line scores what the server reports: the segments of `detect` (starting where the same
 * score reaches the global `SCORE_THRESHOLD` and the point, or the last few points together, stand
 * out of the recent level, or where the residual score alone does for a rare surprise), run causally
 * in chunks of `DETECT_CHUNK` rows (detect on the rows so far, `fromIndex` at the chunk start, as the
 * scheduled detect job does); each segment's first row is one alarm. No threshold is swept there: the
 * server has one, so this line is what a user of the server would get. `--per-file` lists both lines.
 */
import { anomalyDetector, anomalyScores, SCORE_THRESHOLD } from '../src/learn/detectors/anomaly';
import { loadNab, type NabFile } from './lib/nab-data';
import { NAB_PROFILES, type NabProfileName, nabNormalized, nabRawScore, probationRows, sweepNab } from './lib/nab-score';

/** Rows per causal detect call in the server-output line (a scheduled job sees a few new points each time). */
const DETECT_CHUNK = 50;

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

/**
 * Alarms the server would raise on one file: 1 at the first row of every segment `detect` reports when
 * run causally, chunk by chunk, 0 elsewhere. The model is learned, without labels, on the probation
 * rows only (which fixes the sampling step the daily view's context needs; nothing else is learned).
 */
export function nabDetectAlarms(f: NabFile): Float64Array {
  const t = causalClock(f.t);
  const n = t.length;
  const learnRows = Math.max(2, probationRows(n));
  const model = anomalyDetector.learn({ t: t.subarray(0, learnRows), v: f.v.subarray(0, learnRows) }, { positive: [], negative: [] });
  const alarms = new Float64Array(n);
  // Row of every time stamp (t is strictly increasing): segments come back as times.
  const rowOf = (ms: number) => {
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (t[mid] < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let lastStart = -1;
  for (let from = 0; from < n; from += DETECT_CHUNK) {
    const end = Math.min(n, from + DETECT_CHUNK);
    for (const d of anomalyDetector.detect(model, { t: t.subarray(0, end), v: f.v.subarray(0, end) }, from)) {
      // A segment still open from the previous chunk comes back with the same start: one alarm.
      const start = rowOf(d.start);
      if (start > lastStart) {
        alarms[start] = 1;
        lastStart = start;
      }
    }
  }
  return alarms;
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
  // What the server reports: detect's segments, run causally; alarms are 0/1, so any threshold in (0, 1] is the same.
  const detectStarted = performance.now();
  const alarmed = files.map((f) => ({ key: f.key, scores: nabDetectAlarms(f), windows: f.windows }));
  const detectMs = performance.now() - detectStarted;
  const serverProfiles: Record<string, { score: number; alarms: number; perCategory: Record<string, number> }> = {};
  const alarmsOf = (fs: typeof alarmed) => {
    let count = 0;
    for (const f of fs) for (let i = probationRows(f.scores.length); i < f.scores.length; i++) count += f.scores[i];
    return count;
  };
  const alarmCount = alarmsOf(alarmed);
  const alarmsPerCategory = Object.fromEntries(categories.map((c) => [c, alarmsOf(alarmed.filter((f) => f.key.startsWith(`${c}/`)))]));
  for (const name of Object.keys(NAB_PROFILES) as NabProfileName[]) {
    const p = NAB_PROFILES[name];
    const r = nabRawScore(alarmed, p, 1);
    const perCategory: Record<string, number> = {};
    for (const c of categories) {
      const rc = nabRawScore(
        alarmed.filter((f) => f.key.startsWith(`${c}/`)),
        p,
        1,
      );
      perCategory[c] = rc.windows > 0 ? nabNormalized(rc.score, rc.windows, p) : rc.score;
    }
    serverProfiles[name] = { score: nabNormalized(r.score, r.windows, p), alarms: alarmCount, perCategory };
  }
  Object.assign(json, {
    detect: { scoreThreshold: SCORE_THRESHOLD, chunkRows: DETECT_CHUNK, detectMs: Math.round(detectMs), alarmsAfterProbation: alarmCount, alarmsPerCategory, profiles: serverProfiles },
  });
  console.log(JSON.stringify(json, null, 2));

  console.log('\ndetector               standard  low FP  low FN');
  const mine = (['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'] as const).map((k) => profiles[k].score);
  console.log(`${'hastic anomaly (this)'.padEnd(22)}${mine.map(fmt).join('  ')}`);
  const served = (['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'] as const).map((k) => serverProfiles[k].score);
  console.log(`${'  server detect()'.padEnd(22)}${served.map(fmt).join('  ')}   (segments from score >= ${SCORE_THRESHOLD}, causal, ${DETECT_CHUNK}-row chunks; ${alarmCount} alarms)`);
  for (const [name, ...s] of PUBLISHED) console.log(`${name.padEnd(22)}${s.map(fmt).join('  ')}`);
  console.log(`\ncategory (θ per profile) ${Object.values(profiles).map((p) => (p.theta ?? Infinity).toFixed(4)).join(' / ')}`);
  for (const c of categories) console.log(`${c.padEnd(24)}${Object.values(profiles).map((p) => fmt(p.perCategory[c])).join('  ')}`);
  console.log('\ncategory, server detect()                                  alarms');
  for (const c of categories) {
    console.log(`${c.padEnd(24)}${Object.values(serverProfiles).map((p) => fmt(p.perCategory[c])).join('  ')}${String(alarmsPerCategory[c]).padStart(8)}`);
  }

  if (args.includes('--per-file')) {
    const p = NAB_PROFILES.standard;
    const th = profiles.standard.theta ?? Infinity;
    console.log('\nfile (standard; alarms after probation)             windows   swept θ: score alarms   detect: score alarms');
    scored.forEach((f, k) => {
      const r = nabRawScore([f], p, th);
      let alarms = 0;
      for (let i = probationRows(f.scores.length); i < f.scores.length; i++) if (f.scores[i] >= th) alarms++;
      const served = nabRawScore([alarmed[k]], p, 1);
      const cells = [r.score.toFixed(2).padStart(17), String(alarms).padStart(7), served.score.toFixed(2).padStart(17), String(alarmsOf([alarmed[k]])).padStart(7)];
      console.log(`${f.key.padEnd(52)}${String(f.windows.length).padStart(4)}${cells.join('')}`);
    });
  }
}
