/**
 * A throwaway single-node VictoriaMetrics (Debian `victoria-metrics`) for integration tests: a temp
 * data dir, a random loopback port, 100-year retention, no query cache and no latency offset (so points
 * just imported are visible at once).
 *
 * @example
 * const vm = await startVictoriaMetrics();
 * await vm.importSeries([{ metric: { __name__: 'up', job: 'x' }, t: [1700000000000], v: [1] }]);
 * // ... vm.url is the upstream for startGrafanaProxy
 * await vm.stop();
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SeriesData } from './prometheus';
import { freePort, requireBinary, spawnServer, waitReady } from './processes';

export const VICTORIA_METRICS_BIN = process.env.VICTORIA_METRICS_BIN ?? '/usr/bin/victoria-metrics';

export interface VictoriaMetrics {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `/api/v1/import` (JSON lines, ms timestamps), then a flush so the points are searchable. */
  importSeries(series: SeriesData[]): Promise<void>;
  stop(): Promise<void>;
}

export async function startVictoriaMetrics(): Promise<VictoriaMetrics> {
  requireBinary(VICTORIA_METRICS_BIN, 'victoria-metrics');
  const dir = await mkdtemp(join(tmpdir(), 'hastic-vm-'));
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const proc = spawnServer(VICTORIA_METRICS_BIN, [
      `-storageDataPath=${join(dir, 'data')}`,
      `-httpListenAddr=127.0.0.1:${port}`,
      '-retentionPeriod=100y',
      '-search.latencyOffset=0s',
      '-search.disableCache',
      '-loggerLevel=ERROR',
      '-selfScrapeInterval=0',
    ]);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitReady(`${url}/health`, proc.child, proc.output, 'victoria-metrics');
    } catch (e) {
      last = e;
      await proc.stop();
      continue;
    }
    let stopped: Promise<void> | undefined;
    return {
      url,
      async importSeries(series) {
        // VictoriaMetrics reads bare NaN / Inf / -Inf in `values` (not valid JSON, but its format).
        const num = (x: number) => (Number.isNaN(x) ? 'NaN' : x === Infinity ? 'Inf' : x === -Infinity ? '-Inf' : String(x));
        const lines = series.map(
          (s) => `{"metric":${JSON.stringify(s.metric)},"values":[${Array.from(s.v, num).join(',')}],"timestamps":[${Array.from(s.t).join(',')}]}`,
        );
        const res = await fetch(`${url}/api/v1/import`, { method: 'POST', body: lines.join('\n') });
        if (res.status !== 204 && !res.ok) throw new Error(`victoria-metrics import failed (${res.status}): ${await res.text()}`);
        await res.arrayBuffer().catch(() => undefined);
        const flush = await fetch(`${url}/internal/force_flush`);
        await flush.arrayBuffer();
      },
      stop() {
        stopped ??= proc.stop().then(() => rm(dir, { recursive: true, force: true }));
        return stopped;
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw last;
}
