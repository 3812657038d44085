/**
 * Few-shot quality (protocol: ../shared/bench/README.md). For k = 1 and 2 labeled anomalies per series,
 * learns each detector type from the revealed segments and scores event precision / recall / F1 on the
 * rest, on NAB and on synthetic recurring shapes over the NAB series. Prints JSON, then tables.
 *
 *   npm run bench -- fewshot [nab|synthetic|all] [k,...] [shape,...]
 *   npm run bench -- fewshot speed [points]     (detection throughput per detector)
 *
 * "best (selected)" picks one type per series from the revealed part only: fewest training errors, i.e.
 * false alarms on the revealed part, labeled segments the learned model would not report itself (were
 * they not excluded) and, for k >= 2, leave-one-out misses on the revealed windows; ties go to the type
 * the labeled segment looks like (a peak-, trough-, jump- or drop-like contrast with its surroundings;
 * general last).
 * "best (label shape)" takes the type the first labeled segment looks like, as a person picking the
 * detector type would (also from the revealed part only).
 * "best (oracle)" picks per series the type with the best F1 on the hidden part: an upper bound only.
 */
import { detectors } from '../src/learn/detectors/index';
import { LearningError, type Detection, type DetectorType, type Series } from '../src/learn/detectors/types';
import { baselineDetect } from './lib/fewshot-baseline';
import {
  type Counts,
  type FewShotCase,
  f1,
  labelRange,
  nabCase,
  revealedLabels,
  scoreDetections,
  summarize,
  type Summary,
  trainingFalseAlarms,
} from './lib/fewshot-eval';
import { speedReport } from './lib/fewshot-speed';
import { SHAPES, syntheticCase } from './lib/fewshot-synthetic';
import { loadNab } from './lib/nab-data';

const TYPES: DetectorType[] = ['peak', 'trough', 'jump', 'drop', 'general'];

function learnDetect(type: DetectorType, c: FewShotCase, which: number[]): Detection[] {
  const d = detectors[type];
  try {
    return d.detect(d.learn(c.series, revealedLabels(c, which)), c.series);
  } catch (e) {
    if (e instanceof LearningError) return [];
    throw e;
  }
}

/**
 * Learns `type` from the anomalies `which` and detects; `ownMissed` counts the labeled segments the model
 * would not report itself were they not excluded (a type that cannot see the labeled shape is the
 * wrong type, however few false alarms it raises).
 */
function learnDetectOwn(type: DetectorType, c: FewShotCase, which: number[]): { found: Detection[]; ownMissed: number } {
  const d = detectors[type];
  try {
    const model = d.learn(c.series, revealedLabels(c, which));
    const found = d.detect(model, c.series);
    // Every model stores the labeled spans it never reports as `excluded`; lifted, it shows what it sees.
    const seen = d.detect({ ...model, excluded: [] } as typeof model, c.series);
    const t = c.series.t;
    const ownMissed = which.filter((j) => {
      const [a, b] = labelRange(c, j);
      return !seen.some((x) => x.start <= t[b] && x.finish >= t[a]);
    }).length;
    return { found, ownMissed };
  } catch (e) {
    if (e instanceof LearningError) return { found: [], ownMissed: which.length };
    throw e;
  }
}

/** Preference order of the four basic shapes for a labeled segment, from its contrast with its surroundings. */
function shapeOrder(s: Series, [a, b]: [number, number]): DetectorType[] {
  const v = s.v;
  const w = b - a + 1;
  const mean = (from: number, to: number) => {
    let sum = 0;
    let n = 0;
    for (let i = Math.max(0, from); i <= Math.min(v.length - 1, to); i++) if (Number.isFinite(v[i])) (sum += v[i]), n++;
    return n ? sum / n : NaN;
  };
  const left = mean(a - 2 * w, a - 1);
  const right = mean(b + 1, b + 2 * w);
  let hi = -Infinity;
  let lo = Infinity;
  for (let i = a; i <= b; i++) if (Number.isFinite(v[i])) (hi = Math.max(hi, v[i])), (lo = Math.min(lo, v[i]));
  const l = Number.isFinite(left) ? left : right;
  const r = Number.isFinite(right) ? right : left;
  const score: Record<string, number> = {
    peak: hi - Math.max(l, r),
    trough: Math.min(l, r) - lo,
    jump: r - l,
    drop: l - r,
  };
  return [...(['peak', 'trough', 'jump', 'drop'] as DetectorType[]).sort((x, y) => score[y] - score[x]), 'general'];
}

interface SeriesResult {
  key: string;
  counts: Record<string, Counts>;
  selected: DetectorType;
  oracle: DetectorType;
}

function evaluateCase(c: FewShotCase, k: number, types: DetectorType[]): SeriesResult {
  const which = Array.from({ length: k }, (_, j) => j);
  const counts: Record<string, Counts> = {};
  const fitness: Record<string, number> = {};
  for (const type of types) {
    const { found, ownMissed } = learnDetectOwn(type, c, which);
    counts[type] = scoreDetections(c, k, found);
    // Training errors: false alarms on the revealed part and revealed anomalies the type does not see,
    // its own labeled segments included (k = 1 has no other).
    let cost = trainingFalseAlarms(c, k, found) + ownMissed;
    if (k >= 2) {
      for (const held of which) {
        const rest = which.filter((j) => j !== held);
        const loo = learnDetect(type, c, rest);
        const [wa, wb] = c.windows[held];
        if (!loo.some((d) => d.start <= c.series.t[wb] && d.finish >= c.series.t[wa])) cost++;
      }
    }
    fitness[type] = cost;
  }
  counts.baseline = scoreDetections(c, k, baselineDetect(c, which));
  const order = shapeOrder(c.series, labelRange(c, 0)).filter((t) => types.includes(t));
  const selected = [...order].sort((x, y) => fitness[x] - fitness[y] || order.indexOf(x) - order.indexOf(y))[0];
  const oracle = [...types].sort((x, y) => f1(counts[y]).f1 - f1(counts[x]).f1 || counts[x].fp - counts[y].fp)[0];
  counts['best (selected)'] = counts[selected];
  counts['best (label shape)'] = counts[order[0]];
  counts['best (oracle)'] = counts[oracle];
  return { key: c.key, counts, selected, oracle };
}

const pct = (x: number) => x.toFixed(2);
function table(title: string, rows: [string, Summary][]): string {
  const lines = [`\n${title}`, 'method             series   TP   FP   FN  pooled P/R/F1        mean P/R/F1'];
  for (const [name, s] of rows) {
    lines.push(
      `${name.padEnd(18)} ${String(s.series).padStart(6)} ${String(s.tp).padStart(4)} ${String(s.fp).padStart(4)} ${String(s.fn).padStart(4)}  ` +
        `${pct(s.pooled.precision)} ${pct(s.pooled.recall)} ${pct(s.pooled.f1)}       ${pct(s.mean.precision)} ${pct(s.mean.recall)} ${pct(s.mean.f1)}`,
    );
  }
  return lines.join('\n');
}

export default async function fewshot(args: string[]): Promise<void> {
  const which = args[0] ?? 'all';
  if (which === 'speed') {
    const speed = speedReport(Number(args[1] ?? 2_000_000));
    console.log(JSON.stringify(speed));
    for (const [type, r] of Object.entries(speed) as [string, Record<string, number>][]) {
      console.log(`${type.padEnd(8)} ${(r.pointsPerSecond / 1e6).toFixed(1).padStart(6)} M points/s   year (525,600 pts) learn+detect ${r.yearLearnDetectMs} ms`);
    }
    return;
  }
  const ks = (args[1] ?? '1,2').split(',').map(Number);
  const shapes = args[2] ? SHAPES.filter((s) => args[2].split(',').includes(s)) : SHAPES;
  const files = loadNab();
  const report: Record<string, unknown> = {};
  const tables: string[] = [];
  const t0 = performance.now();
  for (const k of ks) {
    if (which === 'all' || which === 'nab') {
      const cases = files.map(nabCase).filter((c) => c.windows.length >= k + 1);
      const results = cases.map((c) => evaluateCase(c, k, TYPES));
      const methods = [...TYPES, 'best (selected)', 'best (label shape)', 'best (oracle)', 'baseline'];
      const rows = methods.map((m) => [m, summarize(results.map((r) => r.counts[m]))] as [string, Summary]);
      report[`nab k=${k}`] = {
        summary: Object.fromEntries(rows),
        perSeries: results.map((r) => ({ key: r.key, selected: r.selected, oracle: r.oracle, counts: r.counts })),
      };
      tables.push(table(`NAB, k=${k}`, rows));
    }
    if (which === 'all' || which === 'synthetic') {
      const rows: [string, Summary][] = [];
      const perShape: Record<string, unknown> = {};
      for (const shape of shapes) {
        const cases = files.map((f) => syntheticCase(f, shape));
        const results = cases.map((c) => evaluateCase(c, k, TYPES));
        const own = summarize(results.map((r) => r.counts[shape]));
        const selected = summarize(results.map((r) => r.counts['best (selected)']));
        const base = summarize(results.map((r) => r.counts.baseline));
        rows.push([`${shape}`, own], [`  selected`, selected], [`  baseline`, base]);
        perShape[shape] = {
          own,
          selected,
          baseline: base,
          misses: results.filter((r) => r.counts[shape].fn + r.counts[shape].fp > 0).map((r) => ({ key: r.key, ...r.counts[shape] })),
        };
      }
      report[`synthetic k=${k}`] = perShape;
      tables.push(table(`Synthetic recurring shapes, k=${k} (row = the shape's own detector)`, rows));
    }
  }
  report.seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify(report));
  console.log(tables.join('\n'));
}
