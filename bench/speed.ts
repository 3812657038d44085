/**
 * Detector speed: `npm run bench -- speed [--sizes 1e5,1e6,1e7] [--only peak,general] [--runs N]`.
 *
 * For every detector in the registry, on seeded synthetic one-minute series (daily seasonality, noise
 * and a planted shape of each kind every 1500 points): learning time (two labeled shapes; anomaly
 * none), detection throughput (median of 9 runs up to 2e5 points, 5 up to 10^6, 3 beyond), bytes
 * allocated per point during detect, length scaling (ns per point at each size) and window scaling
 * (labeled widths 5..320 at 10^6), plus the headline "a year of one-minute data learned and fully
 * detected". Every time is also given as a ratio to a plain Float64Array mean pass over the same data
 * in the same process, since other work on the machine moves absolute numbers. Prints one JSON line,
 * then a table.
 *
 * Memory: JS heap allocated during detect comes from V8's sampling heap profiler (counting objects the
 * scavenger frees), typed arrays from `arrayBuffers` growth. The memory numbers need `global.gc`;
 * without it the script re-runs itself under `node --expose-gc --import tsx`.
 */
import { spawnSync } from 'node:child_process';
import { Session, type HeapProfiler } from 'node:inspector/promises';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { detectors } from '../src/learn/detectors/index';
import { DETECTOR_TYPES, type Detector, type DetectorType, type Model, type Series } from '../src/learn/detectors/types';
import { indexOf, labelsFor, plantedSeries, type PlantedSeries } from './lib/speed-series';

const YEAR_OF_MINUTES = 525_600;
const WINDOW_WIDTHS = [5, 20, 80, 320];
const WINDOW_SCALING_POINTS = 1_000_000;
/** Goals: detection points per second, and a year of minutes learned + detected in under a second. */
const GOAL_POINTS_PER_SEC: Record<DetectorType, number> = {
  peak: 5e6,
  trough: 5e6,
  jump: 5e6,
  drop: 5e6,
  general: 1e6,
  anomaly: 5e6,
};
const GOAL_YEAR_MS = 1000;
/** What the original Hastic server's Python models detected (points per second). */
const PYTHON_HASTIC_POINTS_PER_SEC: Record<DetectorType, [number, number]> = {
  peak: [128_000, 192_000],
  trough: [128_000, 192_000],
  jump: [128_000, 192_000],
  drop: [128_000, 192_000],
  general: [1_600, 1_600],
  anomaly: [128_000, 192_000],
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x: number, digits = 3) => (Number.isFinite(x) ? Number(x.toPrecision(digits)) : x);
const memNow = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

function parseArgs(args: string[]) {
  let sizes = [1e5, 1e6, 1e7];
  let only: DetectorType[] = [...DETECTOR_TYPES];
  let runs: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a.startsWith('--sizes')) sizes = value().split(',').map((s) => Math.round(Number(s)));
    else if (a.startsWith('--only')) only = value().split(',') as DetectorType[];
    else if (a.startsWith('--runs')) runs = Number(value());
    else throw new Error(`unknown argument ${a} (use --sizes 1e5,1e6,1e7 --only peak,general --runs N)`);
  }
  for (const n of sizes) if (!(Number.isInteger(n) && n >= 20_000)) throw new Error(`bad size ${n} (at least 2e4)`);
  for (const t of only) if (!(DETECTOR_TYPES as readonly string[]).includes(t)) throw new Error(`unknown detector ${t}`);
  return { sizes, only, runs };
}

/** The baseline: one plain pass over the values (mean of the finite ones), the least any detector does. */
function meanPass(v: Float64Array): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (x === x) {
      sum += x;
      count++;
    }
  }
  return sum / count;
}

let sink = 0;
/**
 * Median wall time in ms of `runs` calls of `fn`, and the median process CPU time of a call (close to
 * wall when we had a core to ourselves; much lower when other work on the machine took it from us).
 */
function timeMs(runs: number, fn: () => unknown): { median: number; all: number[]; cpuMedian: number } {
  const all: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < runs; r++) {
    const c = process.cpuUsage();
    const t = performance.now();
    const out = fn();
    all.push(performance.now() - t);
    const dc = process.cpuUsage(c);
    cpu.push((dc.user + dc.system) / 1000);
    sink += typeof out === 'number' ? out : Array.isArray(out) ? out.length : 1;
  }
  return { median: median(all), all: all.map((x) => round(x, 4)), cpuMedian: median(cpu) };
}

interface DetectMemory {
  /** Bytes allocated per point during one detect: JS heap (sampled) plus typed-array backing stores. */
  allocated: number;
  jsHeap: number;
  arrayBuffers: number;
  /** What is still held after a gc, besides the result. */
  retained: number;
  /** The function that allocates the most JS heap, with its bytes per point. */
  topAllocator: string;
}

/**
 * Memory of one detect. JS heap allocation comes from V8's sampling heap profiler with objects
 * collected by minor and major gcs included (a heap-size delta would miss whatever the scavenger
 * frees mid-detect: short-lived boxed doubles are exactly what we want to see). Typed-array backing
 * stores live outside the JS heap, so they are the growth of `arrayBuffers` across the call after a
 * forced gc (they stay alive until detect returns, so no gc in between can hide them).
 */
async function detectMemory(session: Session, d: Detector, model: Model, s: Series): Promise<DetectMemory> {
  const n = s.t.length;
  globalThis.gc!();
  globalThis.gc!();
  const before = process.memoryUsage();
  // The include* flags are newer than @types/node's protocol typings; V8 11 (Node 20) honours them.
  const sampling: HeapProfiler.StartSamplingParameterType = { samplingInterval: 4096 };
  Object.assign(sampling, { includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
  await session.post('HeapProfiler.startSampling', sampling);
  let found: unknown[] | null = d.detect(model, s);
  const after = process.memoryUsage();
  const { profile } = await session.post('HeapProfiler.stopSampling');
  const byFunction = new Map<string, number>();
  let jsHeap = 0;
  const walk = (node: (typeof profile)['head']) => {
    if (node.selfSize > 0) {
      const name = node.callFrame.functionName || '(anonymous)';
      const file = node.callFrame.url.split('/').pop();
      const key = file ? `${name} (${file})` : name;
      byFunction.set(key, (byFunction.get(key) ?? 0) + node.selfSize);
      jsHeap += node.selfSize;
    }
    for (const c of node.children) walk(c);
  };
  walk(profile.head);
  const [topName, topBytes] = [...byFunction].sort((a, b) => b[1] - a[1])[0] ?? ['-', 0];
  sink += found.length;
  globalThis.gc!();
  const held = process.memoryUsage();
  const retained = held.heapUsed + held.arrayBuffers - before.heapUsed - before.arrayBuffers;
  found = null;
  const arrayBuffers = after.arrayBuffers - before.arrayBuffers;
  return {
    allocated: (jsHeap + arrayBuffers) / n,
    jsHeap: jsHeap / n,
    arrayBuffers: arrayBuffers / n,
    retained: retained / n,
    topAllocator: `${topName}: ${round(topBytes / n)} B/pt`,
  };
}

/** Planted shapes of the detector's kind (after the labeled ones) that no detection covers (±10 points). */
function missedPlanted(type: DetectorType, p: PlantedSeries, found: { start: number; finish: number }[]): number {
  const expected = p.planted[type].slice(type === 'anomaly' ? 0 : 2);
  let missed = 0;
  let j = 0;
  for (const e of expected) {
    while (j < found.length && indexOf(found[j].finish) + 10 < e.centre) j++;
    if (!(j < found.length && indexOf(found[j].start) - 10 <= e.centre)) missed++;
  }
  return missed;
}

function warmUp(only: DetectorType[]) {
  const p = plantedSeries({ n: 50_000, seed: 99 });
  for (let r = 0; r < 3; r++) {
    meanPass(p.series.v);
    for (const type of only) detectors[type].detect(detectors[type].learn(p.series, labelsFor(type, p)), p.series);
  }
}

interface SizeResult {
  points: number;
  detectRuns: number;
  learnMs: number;
  detectMsMedian: number;
  detectMsRuns: number[];
  /** Process CPU ms of a detect (median); includes gc helper threads. */
  detectCpuMsMedian: number;
  detectPointsPerSec: number;
  /** Points per second of process CPU time: what a core to ourselves would give. */
  detectPointsPerCpuSec: number;
  detectNsPerPoint: number;
  detectCpuNsPerPoint: number;
  /** Detect time over the baseline mean pass on the same data. */
  detectOverBaseline: number;
  allocatedBytesPerPoint: number;
  allocatedJsHeapBytesPerPoint: number;
  allocatedArrayBufferBytesPerPoint: number;
  topJsHeapAllocator: string;
  retainedBytesPerPoint: number;
  found: number;
  planted: number;
  missedPlanted: number;
}

export default async function speed(args: string[]): Promise<void> {
  if (typeof globalThis.gc !== 'function') {
    // Re-run under --expose-gc (the memory numbers need a forced gc) with the same arguments.
    const run = fileURLToPath(new URL('./run.ts', import.meta.url));
    const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', run, 'speed', ...args], {
      stdio: 'inherit',
    });
    process.exitCode = child.status ?? 1;
    return;
  }
  const { sizes, only, runs: runsArg } = parseArgs(args);
  const log = (msg: string) => process.stderr.write(`[speed] ${msg}\n`);
  const started = performance.now();
  warmUp(only);
  const session = new Session();
  session.connect();

  const bySize: Record<string, { baselineMsMedian: number; baselinePointsPerSec: number; baselineNsPerPoint: number }> = {};
  const perDetector = Object.fromEntries(only.map((t) => [t, [] as SizeResult[]])) as Record<DetectorType, SizeResult[]>;

  for (const n of sizes) {
    const runs = runsArg ?? (n >= 1e7 ? 3 : n > 2e5 ? 5 : 9);
    log(`building ${n} points`);
    let p: PlantedSeries | null = plantedSeries({ n, seed: 1 });
    const base = timeMs(Math.max(runs, 5), () => meanPass(p!.series.v));
    bySize[n] = {
      baselineMsMedian: round(base.median, 4),
      baselinePointsPerSec: round(n / (base.median / 1000)),
      baselineNsPerPoint: round((base.median * 1e6) / n),
    };
    for (const type of only) {
      const d = detectors[type];
      const labels = labelsFor(type, p);
      let model: Model | null = null;
      const learn = timeMs(runs, () => (model = d.learn(p!.series, labels)));
      const detect = timeMs(runs, () => d.detect(model!, p!.series));
      const mem = await detectMemory(session, d, model!, p.series);
      const found = d.detect(model!, p.series);
      const r: SizeResult = {
        points: n,
        detectRuns: runs,
        learnMs: round(learn.median, 4),
        detectMsMedian: round(detect.median, 4),
        detectMsRuns: detect.all,
        detectCpuMsMedian: round(detect.cpuMedian, 4),
        detectPointsPerSec: round(n / (detect.median / 1000)),
        detectPointsPerCpuSec: round(n / (detect.cpuMedian / 1000)),
        detectNsPerPoint: round((detect.median * 1e6) / n),
        detectCpuNsPerPoint: round((detect.cpuMedian * 1e6) / n),
        detectOverBaseline: round(detect.median / base.median),
        allocatedBytesPerPoint: round(mem.allocated),
        allocatedJsHeapBytesPerPoint: round(mem.jsHeap),
        allocatedArrayBufferBytesPerPoint: round(mem.arrayBuffers),
        topJsHeapAllocator: mem.topAllocator,
        retainedBytesPerPoint: round(mem.retained),
        found: found.length,
        planted: p.planted[type].length - (type === 'anomaly' ? 0 : 2),
        missedPlanted: missedPlanted(type, p, found),
      };
      perDetector[type].push(r);
      log(`${n} ${type}: learn ${r.learnMs} ms, detect ${r.detectMsMedian} ms (${r.detectPointsPerSec} points/s)`);
    }
    // Free this size before building the next (the 10^7 input alone is 160 MB).
    p = null;
    globalThis.gc();
  }

  // Window scaling: labeled shapes of 5..320 points on 10^6 points; anomaly takes no labels, so no width.
  const windowScaling: Record<
    string,
    { width: number; learnMs: number; detectNsPerPoint: number; detectCpuNsPerPoint: number; detectOverBaseline: number }[]
  > = {};
  const windowed = only.filter((t) => t !== 'anomaly');
  for (const t of windowed) windowScaling[t] = [];
  if (windowed.length > 0) {
    for (const width of WINDOW_WIDTHS) {
      log(`window scaling: width ${width}`);
      let p: PlantedSeries | null = plantedSeries({ n: WINDOW_SCALING_POINTS, seed: 2, width });
      const runs = runsArg ?? 5;
      const base = timeMs(runs, () => meanPass(p!.series.v));
      for (const type of windowed) {
        const d = detectors[type];
        const labels = labelsFor(type, p);
        let model: Model | null = null;
        const learn = timeMs(runs, () => (model = d.learn(p!.series, labels)));
        const detect = timeMs(runs, () => d.detect(model!, p!.series));
        windowScaling[type].push({
          width,
          learnMs: round(learn.median, 4),
          detectNsPerPoint: round((detect.median * 1e6) / WINDOW_SCALING_POINTS),
          detectCpuNsPerPoint: round((detect.cpuMedian * 1e6) / WINDOW_SCALING_POINTS),
          detectOverBaseline: round(detect.median / base.median),
        });
      }
      p = null;
      globalThis.gc();
    }
  }

  // The headline: a year of one-minute data, learned and fully detected, wall time.
  log('a year of one-minute data');
  const year = plantedSeries({ n: YEAR_OF_MINUTES, seed: 3 });
  const yearBase = timeMs(5, () => meanPass(year.series.v));
  const yearOfMinutes: Record<string, { learnDetectMs: number; overBaseline: number; goalMs: number; pass: boolean }> = {};
  for (const type of only) {
    const d = detectors[type];
    const labels = labelsFor(type, year);
    const wall = timeMs(runsArg ?? 5, () => d.detect(d.learn(year.series, labels), year.series));
    yearOfMinutes[type] = {
      learnDetectMs: round(wall.median, 4),
      overBaseline: round(wall.median / yearBase.median),
      goalMs: GOAL_YEAR_MS,
      pass: wall.median < GOAL_YEAR_MS,
    };
  }

  const detectorsOut: Record<string, unknown> = {};
  for (const type of only) {
    const rs = perDetector[type];
    const worst = Math.min(...rs.map((r) => r.detectPointsPerSec));
    const ns = rs.map((r) => r.detectNsPerPoint);
    const cpuNs = rs.map((r) => r.detectCpuNsPerPoint);
    const worstCpu = Math.min(...rs.map((r) => r.detectPointsPerCpuSec));
    const ws = windowScaling[type];
    const [py0, py1] = PYTHON_HASTIC_POINTS_PER_SEC[type];
    detectorsOut[type] = {
      bySize: rs,
      // Judged on wall time at every size; the CPU-time verdict tells contention apart from slowness.
      goal: {
        detectPointsPerSec: GOAL_POINTS_PER_SEC[type],
        worstMeasured: worst,
        pass: worst >= GOAL_POINTS_PER_SEC[type],
        worstMeasuredCpu: worstCpu,
        passOnCpuTime: worstCpu >= GOAL_POINTS_PER_SEC[type],
      },
      yearOfMinutes: yearOfMinutes[type],
      // ns/point at the largest size over the smallest: about 1 for linear cost.
      lengthScaling: {
        nsPerPoint: ns,
        growth: round(ns[ns.length - 1] / ns[0]),
        cpuNsPerPoint: cpuNs,
        cpuGrowth: round(cpuNs[cpuNs.length - 1] / cpuNs[0]),
      },
      windowScaling: ws
        ? {
            widths: ws,
            growth: round(ws[ws.length - 1].detectNsPerPoint / ws[0].detectNsPerPoint),
            cpuGrowth: round(ws[ws.length - 1].detectCpuNsPerPoint / ws[0].detectCpuNsPerPoint),
          }
        : null,
      speedupOverPythonHastic: [round(worst / py1), round(worst / py0)],
    };
  }
  const result = {
    bench: 'speed',
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    sizes,
    baseline: { what: 'Float64Array mean of finite values, one pass', bySize, yearOfMinutesMs: round(yearBase.median, 4) },
    detectors: detectorsOut,
    totalSeconds: round((performance.now() - started) / 1000),
  };
  session.disconnect();
  console.log(JSON.stringify(result));

  const table: Record<string, Record<string, string | number>> = {};
  for (const type of only) {
    const o = detectorsOut[type] as {
      bySize: SizeResult[];
      goal: { pass: boolean; passOnCpuTime: boolean; worstMeasured: number; detectPointsPerSec: number };
      lengthScaling: { growth: number; cpuGrowth: number };
      windowScaling: { growth: number; cpuGrowth: number } | null;
    };
    const row: Record<string, string | number> = {};
    for (const r of o.bySize) {
      row[`learn ms @${r.points.toExponential(0)}`] = r.learnMs;
      row[`Mpts/s @${r.points.toExponential(0)}`] = round(r.detectPointsPerSec / 1e6);
    }
    row[`goal Mpts/s`] = `${o.goal.detectPointsPerSec / 1e6} ${o.goal.pass ? 'PASS' : 'FAIL'}`;
    row['on CPU time'] = o.goal.passOnCpuTime ? 'PASS' : 'FAIL';
    row['x baseline @max'] = o.bySize[o.bySize.length - 1].detectOverBaseline;
    row['B/pt alloc'] = o.bySize[o.bySize.length - 1].allocatedBytesPerPoint;
    row['len growth (cpu)'] = `${o.lengthScaling.growth} (${o.lengthScaling.cpuGrowth})`;
    row['width growth (cpu)'] = o.windowScaling ? `${o.windowScaling.growth} (${o.windowScaling.cpuGrowth})` : '-';
    row['year ms'] = `${yearOfMinutes[type].learnDetectMs} ${yearOfMinutes[type].pass ? 'PASS' : 'FAIL'}`;
    row.missed = o.bySize.map((r) => r.missedPlanted).join('/');
    table[type] = row;
  }
  const baseRow: Record<string, string | number> = {};
  for (const n of sizes) baseRow[`Mpts/s @${n.toExponential(0)}`] = round(bySize[n].baselinePointsPerSec / 1e6);
  baseRow['year ms'] = round(yearBase.median, 3);
  table['(baseline mean pass)'] = baseRow;
  console.table(table);
  if (sink === 0.5) console.log(''); // keeps the timed calls' results observable
}
