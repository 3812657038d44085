/** The point cache against a real libSQL file and a real InfluxDB behind the Grafana stand-in. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from '@libsql/client';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedHistory, cachedRange, LATE_WRITE_OVERLAP_MS, targetKeyOf, type CachedFetch } from '../../src/datasources/cache';
import { influxdb } from '../../src/datasources/influxdb';
import type { MetricSource } from '../../src/datasources/types';
import { deleteAnomaly, insertAnomaly } from '../../src/db/anomalies';
import { createDb, type Db } from '../../src/db/client';
import { cacheStats, DAY_MS, readCacheHeader } from '../../src/db/series-cache';
import { startGrafanaProxy, type GrafanaProxy } from '../support/grafana-proxy';
import { startInfluxd, type Influxd } from '../support/influxd';

const MINUTE = 60_000;
const end = Math.floor(Date.now() / MINUTE) * MINUTE;
const start = end - 20 * DAY_MS;
const valueAt = (t: number) => Math.round(1000 * Math.sin(t / 3.6e6)) / 100;

let influx: Influxd;
let grafana: GrafanaProxy;
let client: Client;
let db: Db;
let dir: string;
let source: MetricSource;

const lines = (from: number, to: number, value = valueAt) => {
  const out: string[] = [];
  for (let t = from; t < to; t += MINUTE) out.push(`m value=${value(t)} ${t}`);
  return out.join('\n');
};
const fetchAt = async (nowMs: number): Promise<CachedFetch> => ({
  db,
  key: await targetKeyOf(source),
  source,
  ds: influxdb,
  ctx: { fetch, apiKey: 'k', timeoutMs: 5000 },
  nowMs,
});

beforeAll(async () => {
  influx = await startInfluxd();
  await influx.createDb('c');
  await influx.writeLines('c', lines(start, end));
  grafana = await startGrafanaProxy({ apiKey: 'k', routes: { '1': influx.url } });
  dir = mkdtempSync(join(tmpdir(), 'hastic-cache-'));
  client = createClient({ url: `file:${join(dir, 'c.db')}` });
  db = createDb(client);
  await migrate(db, { migrationsFolder: 'drizzle' });
  source = {
    panelUrl: `${grafana.url}/d/x?panelId=1`,
    datasource: { type: 'influxdb', url: 'api/datasources/proxy/1/query', params: { db: 'c', q: 'SELECT "value" FROM "m" WHERE $timeFilter', epoch: 'ms' } },
    targets: [{ refId: 'A' }],
  };
}, 60_000);
afterAll(async () => {
  client?.close();
  await grafana?.close();
  await influx?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('point cache', () => {
  it('keys targets by what identifies the query, not by the panel path', async () => {
    const same = await targetKeyOf({ ...source, panelUrl: `${grafana.url}/d/other?panelId=9` });
    expect(same).toBe(await targetKeyOf(source));
    expect(await targetKeyOf({ ...source, targets: [{ refId: 'B' }] })).not.toBe(same);
    expect(await targetKeyOf({ ...source, panelUrl: 'http://other-grafana:3000/d/x' })).not.toBe(same);
  });

  it('loads cold once, then re-reads from the cache and fetches only the new tail', async () => {
    const cold = await cachedHistory(await fetchAt(end), 30 * DAY_MS);
    expect(cold.t.length).toBe(20 * 1440);
    expect(cold.fetchedPoints).toBe(cold.t.length);
    expect(cold.t[0]).toBe(start);
    expect(Array.from(cold.v.subarray(0, 3))).toEqual([valueAt(start), valueAt(start + MINUTE), valueAt(start + 2 * MINUTE)]);

    // Ten new minutes arrive, and a late write changes a point inside the overlap.
    await influx.writeLines('c', lines(end, end + 10 * MINUTE));
    await influx.writeLines('c', `m value=-99 ${end - 2 * MINUTE}`);
    const requests = grafana.requests.length;
    const warm = await cachedHistory(await fetchAt(end + 10 * MINUTE), 30 * DAY_MS);
    expect(grafana.requests.length - requests).toBe(1);
    // From the newest point seen (end - 1 min) minus the overlap, through the ten new minutes.
    expect(warm.fetchedPoints).toBe(LATE_WRITE_OVERLAP_MS / MINUTE + 11);
    expect(warm.t.length).toBe(cold.t.length + 10);
    expect(warm.v[warm.t.length - 10 - 2]).toBe(-99);
    expect(Array.from(warm.t.subarray(0, cold.t.length - 5))).toEqual(Array.from(cold.t.subarray(0, cold.t.length - 5)));
  });

  it('serves detection ranges from the cache', async () => {
    const requests = grafana.requests.length;
    const range = await cachedRange(await fetchAt(end + 10 * MINUTE), end - 60 * MINUTE);
    expect(grafana.requests.length - requests).toBe(1); // the tail only
    expect(range.t[0]).toBe(end - 60 * MINUTE);
    expect(range.t.length).toBe(70);
  });

  it('fetches from the newest point seen, so points that arrive late after an outage are not missed', async () => {
    await cachedRange(await fetchAt(end + 60 * MINUTE), end); // an hour with no new data
    await influx.writeLines('c', lines(end + 10 * MINUTE, end + 30 * MINUTE)); // they arrive only now
    const range = await cachedRange(await fetchAt(end + 61 * MINUTE), end);
    expect(range.t.length).toBe(30);
    expect(range.t[29]).toBe(end + 29 * MINUTE);
  });

  it('keeps the cache as it was when a fetch fails', async () => {
    const key = (await fetchAt(end)).key;
    const before = { header: await readCacheHeader(db, key), stats: await cacheStats(db) };
    grafana.setFault('500');
    try {
      await expect(cachedHistory(await fetchAt(end + 120 * MINUTE), 30 * DAY_MS)).rejects.toThrow(/500/);
    } finally {
      grafana.setFault(null);
    }
    expect({ header: await readCacheHeader(db, key), stats: await cacheStats(db) }).toEqual(before);
  });

  it('forgets days beyond the history bound and reports what it holds', async () => {
    const warm = await cachedHistory(await fetchAt(end + 10 * MINUTE), 10 * DAY_MS);
    expect(warm.t[0]).toBeGreaterThanOrEqual(end + 10 * MINUTE - 10 * DAY_MS);
    const stats = await cacheStats(db);
    expect(stats.targets).toBe(1);
    expect(stats.points).toBeLessThanOrEqual(11 * 1440 + 30);
    expect(stats.points).toBeGreaterThanOrEqual(10 * 1440);
    expect(stats.bytes).toBe(stats.points * 16);
  });

  it('is dropped with the last unit on its target, not before', async () => {
    const key = (await fetchAt(end)).key;
    const unit = (id: string) => ({
      id,
      name: id,
      nameKey: id,
      metric: { datasource: null, targets: source.targets },
      panelUrl: source.panelUrl,
      datasource: source.datasource,
      status: 'ready' as const,
      targetKey: key,
      createdAt: 0,
      updatedAt: 0,
    });
    await insertAnomaly(db, unit('first'));
    await insertAnomaly(db, unit('second'));
    await deleteAnomaly(db, { id: 'first', targetKey: key });
    expect((await cacheStats(db)).targets).toBe(1);
    await deleteAnomaly(db, { id: 'second', targetKey: key });
    expect(await cacheStats(db)).toEqual({ targets: 0, points: 0, bytes: 0 });
    expect(await readCacheHeader(db, key)).toBeUndefined();
  });

  it('loads cold again when asked for more history than it holds', async () => {
    const requests = grafana.requests.length;
    const longer = await cachedHistory(await fetchAt(end + 10 * MINUTE), 30 * DAY_MS);
    expect(grafana.requests.length - requests).toBeGreaterThan(1);
    expect(longer.t[0]).toBe(start);
  });
});
