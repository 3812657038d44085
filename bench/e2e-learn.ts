/**
 * End to end through the API on the Node host: a real InfluxDB behind the Grafana stand-in serves a
 * 1-minute series (default 100k points); we time POST -> ready (cold cache: the whole history comes
 * through Grafana) and PATCH /segments -> ready (warm cache: only the new tail is fetched), split into
 * fetch and learn+detect (from the runner's `learned` log event). Medians over several PATCHes.
 * `npm run bench -- e2e-learn [points] [rounds]`; 43200 points is the 30-day case of the cache goal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config';
import { startNodeServer } from '../src/hosts/node-host';
import { startGrafanaProxy } from '../test/support/grafana-proxy';
import { startInfluxd } from '../test/support/influxd';
import { MINUTE, peakSeries } from '../test/support/peak-series';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export default async function e2eLearn(args: string[]) {
  const points = Number(args[0] ?? 100_000);
  const rounds = Number(args[1] ?? 5);
  const days = points / (24 * 60);
  const influx = await startInfluxd();
  const grafana = await startGrafanaProxy({ apiKey: 'bench', routes: { '1': influx.url } });
  const dir = mkdtempSync(join(tmpdir(), 'hastic-bench-'));
  const events: Record<string, unknown>[] = [];
  const server = await startNodeServer(
    parseConfig({ HASTIC_PORT: '0', HASTIC_DB_URL: `file:${join(dir, 'b.db')}`, HASTIC_API_KEY: 'bench' }),
    { log: (event, fields) => event === 'learned' && events.push(fields ?? {}) },
  );
  try {
    const series = peakSeries(Math.floor(Date.now() / MINUTE) * MINUTE - MINUTE, days);
    await influx.createDb('bench');
    for (let from = series.start; from <= series.end; from += 10_000 * MINUTE) {
      await influx.writeLines('bench', series.lines('cpu', from, Math.min(series.end, from + 9_999 * MINUTE)));
    }
    const call = async (path: string, method = 'GET', body?: unknown) =>
      (await fetch(server.url + path, {
        method,
        headers: body ? { 'content-type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
      }).then((r) => r.json())) as any;
    const ready = async (id: string) => {
      for (;;) {
        const { status, errorMessage } = await call(`/anomalies/status?id=${id}`);
        if (status === 'ready') return;
        if (status === 'failed') throw new Error(errorMessage);
        await new Promise((r) => setTimeout(r, 5));
      }
    };

    let t = performance.now();
    const { anomaly_id: id } = await call('/anomalies', 'POST', {
      name: 'bench peaks',
      metric: { targets: [] },
      panelUrl: `${grafana.url}/d/b?panelId=1`,
      datasource: { type: 'influxdb', url: 'api/datasources/proxy/1/query', params: { db: 'bench', q: 'SELECT "value" FROM "cpu" WHERE $timeFilter', epoch: 'ms' } },
    });
    await ready(id);
    const createMs = performance.now() - t;
    const cold = events.at(-1)!;

    const totals: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const p = series.peaks[i % series.peaks.length];
      t = performance.now();
      await call('/segments', 'PATCH', {
        anomaly_id: id,
        added_segments: [{ start: p.centre - p.halfWidth * MINUTE, finish: p.centre + p.halfWidth * MINUTE }],
      });
      await ready(id);
      totals.push(performance.now() - t);
    }
    const patches = events.slice(-rounds);
    const result = {
      bench: 'e2e-learn',
      points: (cold.points as number) ?? points,
      node: process.version,
      createToReadyMs: Math.round(createMs),
      coldFetchMs: cold.fetchMs,
      coldLearnDetectMs: cold.learnMs,
      patchToReadyMedianMs: Math.round(median(totals)),
      patchFetchMedianMs: median(patches.map((e) => e.fetchMs as number)),
      patchLearnDetectMedianMs: median(patches.map((e) => e.learnMs as number)),
      patchFetchedPointsMedian: median(patches.map((e) => e.fetchedPoints as number)),
      // Cold vs warm (re)learning, job time (fetch + learn + detect) as the runner measured it.
      warmSpeedup: Number(
        (
          ((cold.fetchMs as number) + (cold.learnMs as number)) /
          median(patches.map((e) => (e.fetchMs as number) + (e.learnMs as number)))
        ).toFixed(1),
      ),
      detector: patches.at(-1)?.detector,
      segments: patches.at(-1)?.segments,
      rounds,
    };
    console.log(JSON.stringify(result));
    console.table({
      'POST -> ready (cold)': { ms: result.createToReadyMs, fetch: result.coldFetchMs, 'learn+detect': result.coldLearnDetectMs },
      'PATCH -> ready (median, warm)': { ms: result.patchToReadyMedianMs, fetch: result.patchFetchMedianMs, 'learn+detect': result.patchLearnDetectMedianMs },
    });
  } finally {
    await server.close();
    await grafana.close();
    await influx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
