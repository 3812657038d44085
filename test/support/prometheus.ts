/**
 * A throwaway Prometheus (2.42, Debian `prometheus`) for integration tests. History is backfilled
 * with `promtool tsdb create-blocks-from openmetrics` into a temp data dir before the server starts
 * (Prometheus has no push API for old samples), then `prometheus` serves it on a random loopback port
 * with no scrape targets and a 10-year retention.
 *
 * @example
 * const prom = await startPrometheus([{ metric: { __name__: 'up', job: 'x' }, t: [1700000000000], v: [1] }]);
 * // ... prom.url is the upstream for startGrafanaProxy
 * await prom.stop();
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireBinary, spawnServer, waitReady } from './processes';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
export const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool';

/** One series to write: labels (with `__name__`) and points (epoch ms, values). */
export interface SeriesData {
  metric: Record<string, string>;
  t: ArrayLike<number>;
  v: ArrayLike<number>;
}

export interface PrometheusServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  stop(): Promise<void>;
}

function run(bin: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr?.on('data', (d: Buffer) => {
      if (err.length < 20_000) err += d.toString();
    });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${bin} ${args.join(' ')} failed (${code}):\n${err}`))));
  });
}

/** A sample value as OpenMetrics writes it (`NaN`, `+Inf`, `-Inf`; shortest round-trip otherwise). */
function sampleValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** OpenMetrics text for the series: families contiguous, each series in time order, `# EOF` last. */
export function openMetrics(series: SeriesData[]): string {
  const byName = new Map<string, SeriesData[]>();
  for (const s of series) {
    const name = s.metric.__name__;
    if (!name) throw new Error('every series needs a __name__');
    byName.set(name, [...(byName.get(name) ?? []), s]);
  }
  const out: string[] = [];
  for (const [name, list] of byName) {
    out.push(`# TYPE ${name} gauge`);
    for (const s of list) {
      const labels = Object.entries(s.metric)
        .filter(([k]) => k !== '__name__')
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',');
      const head = labels ? `${name}{${labels}}` : name;
      const order = Array.from({ length: s.t.length }, (_, k) => k).sort((a, b) => s.t[a] - s.t[b]);
      for (const k of order) out.push(`${head} ${sampleValue(s.v[k])} ${s.t[k] / 1000}`);
    }
  }
  out.push('# EOF', '');
  return out.join('\n');
}

/** Backfills `series` and starts Prometheus on a random loopback port; resolves once `/-/ready` answers. */
export async function startPrometheus(series: SeriesData[]): Promise<PrometheusServer> {
  requireBinary(PROMETHEUS_BIN, 'prometheus');
  requireBinary(PROMTOOL_BIN, 'prometheus');
  const dir = await mkdtemp(join(tmpdir(), 'hastic-prometheus-'));
  const data = join(dir, 'data');
  try {
    if (series.length) {
      const input = join(dir, 'input.om');
      await writeFile(input, openMetrics(series));
      await run(PROMTOOL_BIN, ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', input, data]);
    }
    await writeFile(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\nscrape_configs: []\n');
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const proc = spawnServer(PROMETHEUS_BIN, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${data}`,
      '--storage.tsdb.retention.time=3650d',
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=error',
    ]);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitReady(`${url}/-/ready`, proc.child, proc.output, 'prometheus');
    } catch (e) {
      last = e;
      await proc.stop();
      continue;
    }
    let stopped: Promise<void> | undefined;
    return {
      url,
      stop() {
        stopped ??= proc.stop().then(() => rm(dir, { recursive: true, force: true }));
        return stopped;
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw last;
}
