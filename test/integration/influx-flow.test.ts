/**
 * The whole working path on the Node host, with a real InfluxDB behind a Grafana-proxy stand-in:
 * create -> learn -> label -> detect -> feedback -> alert webhook, and the failures a user can fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGrafanaProxy, type GrafanaProxy } from '../support/grafana-proxy';
import { startInfluxd, type Influxd } from '../support/influxd';
import { covers, MINUTE, peakSeries, type Peak } from '../support/peak-series';
import { apiClient, expectFindsThePeaks, startTestServer, type TestServer } from '../support/node-server';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

const API_KEY = 'test-grafana-key';
const DB = 'metrics';
const { start, end, peaks, lines: series } = peakSeries(Math.floor(Date.now() / MINUTE) * MINUTE - 30 * MINUTE, 3);
const lines = (from: number, to: number, extra: Peak[] = []) => series('cpu', from, to, extra);

const datasource = (q = 'SELECT "value" FROM "cpu" WHERE time >= now() - 6h and time <= now()') => ({
  type: 'influxdb',
  method: 'GET',
  url: 'api/datasources/proxy/1/query',
  params: { db: DB, q, epoch: 'ms' },
  data: null,
});

describe('learning and alerting on a real InfluxDB (Node host)', () => {
  let influx: Influxd;
  let grafana: GrafanaProxy;
  let webhook: WebhookReceiver;
  let server: TestServer;
  let clockOffset = 0;

  const { call, settled } = apiClient(() => server.url);

  const create = async (name: string, extra: Record<string, unknown> = {}) => {
    const res = await call('/anomalies', 'POST', {
      name,
      metric: { datasource: 'influx', targets: [{ refId: 'A' }] },
      panelUrl: `${grafana.url}/d/abc/cpu?panelId=2&fullscreen`,
      datasource: datasource(),
      ...extra,
    });
    expect(res.status).toBe(200);
    return res.body.anomaly_id as string;
  };

  const detected = async (id: string) =>
    ((await call(`/segments?anomaly_id=${id}`)).body.segments as { id: number; start: number; finish: number; labeled: boolean; confidence?: number }[]).filter(
      (s) => !s.labeled,
    );

  beforeAll(async () => {
    influx = await startInfluxd();
    await influx.createDb(DB);
    await influx.writeLines(DB, lines(start, end));
    grafana = await startGrafanaProxy({ apiKey: API_KEY, routes: { '1': influx.url } });
    webhook = await startWebhookReceiver();
    server = await startTestServer(
      { HASTIC_API_KEY: API_KEY, HASTIC_WEBHOOK_URL: webhook.url, HASTIC_DETECT_INTERVAL: '180', HASTIC_JOB_ATTEMPTS: '2' },
      { now: () => Date.now() + clockOffset },
    );
  }, 60_000);
  afterAll(async () => {
    await server?.dispose();
    await grafana?.close();
    await webhook?.close();
    await influx?.stop();
  });

  it('learns, finds every peak from one label, respects removed detections and alerts on new data', async () => {
    const id = await create('cpu peaks');
    expect((await settled(id)).status).toBe('ready');
    // The proxy saw our key and a rewritten time clause.
    expect(grafana.requests.at(-1)?.authorization).toBe(`Bearer ${API_KEY}`);
    expect(new URL(grafana.requests.at(-1)!.url, grafana.url).searchParams.get('q')).toMatch(/time >= \d+ms AND time < \d+ms/);

    // Label the first peak: the name says "peaks", so the peak detector learns from it.
    const first = peaks[0];
    const label = { start: first.centre - first.halfWidth * MINUTE, finish: first.centre + first.halfWidth * MINUTE };
    const patched = await call('/segments', 'PATCH', { anomaly_id: id, added_segments: [label] });
    expect(patched.body.added_ids).toHaveLength(1);
    expect((await settled(id)).status).toBe('ready');
    expect((await call(`/anomalies?id=${id}`)).body.detector).toBe('peak');

    let found = await detected(id);
    expectFindsThePeaks(found, peaks);
    for (const s of found) {
      expect(s.confidence).toBeGreaterThanOrEqual(0);
      expect(s.confidence).toBeLessThanOrEqual(1);
      expect(s.start > label.finish || s.finish < label.start).toBe(true);
    }

    // Removing a detection is feedback: it is hidden and not found again after re-learning.
    const removed = found[2];
    await call('/segments', 'PATCH', { anomaly_id: id, removed_segments: [removed.id] });
    expect((await settled(id)).status).toBe('ready');
    found = await detected(id);
    expect(found.some((s) => s.id === removed.id)).toBe(false);
    expect(found.some((s) => s.start <= removed.finish && s.finish >= removed.start)).toBe(false);
    // A removed detection counts against what is more like it than like the labels: peaks closer in
    // height to the labeled one than to the removed one are all still found.
    const removedPeak = peaks.find((p) => covers(removed, p.centre))!;
    const keep = peaks.slice(1).filter((p) => Math.abs(p.height - first.height) < Math.abs(p.height - removedPeak.height));
    expect(keep.length).toBeGreaterThan(3);
    for (const p of keep) {
      expect(found.some((s) => covers(s, p.centre)), `peak ${JSON.stringify(p)} removed ${JSON.stringify(removedPeak)}`).toBe(true);
    }

    // Watch it: a new peak arrives after the last point seen, a tick detects it and fires 'alert'.
    expect((await call('/alerts', 'POST', { anomaly_id: id, enable: true })).body).toEqual({ status: 'Ok' });
    const t0 = end + MINUTE;
    // A peak is judged once it has come back down: its half width plus a few points of side window
    // after its top (6 points for this label), so the new data runs 6 minutes past it.
    const fresh = { centre: t0 + 4 * MINUTE, height: 9, halfWidth: 2 };
    await influx.writeLines(DB, lines(t0, t0 + 10 * MINUTE, [fresh]));
    clockOffset = t0 + 10.5 * MINUTE - Date.now();
    // The receiver is down at first: the alert stays queued (GET / counts it) and goes out once it is back.
    webhook.setDown(true);
    await server.tick();
    await expect.poll(async () => (await call('/')).body.pendingAlerts, { timeout: 10_000 }).toBe(1);
    webhook.setDown(false);
    clockOffset += 3_000; // past the first retry delay (2 s)
    await server.tick();
    await expect.poll(() => webhook.received, { timeout: 10_000 }).toEqual([{ anomaly: 'cpu peaks', status: 'alert' }]);
    expect((await call('/')).body.pendingAlerts).toBe(0);
    found = await detected(id);
    expect(found.some((s) => covers(s, fresh.centre))).toBe(true);

    // Quiet data for a while: the next tick finds the anomaly inactive and fires 'OK' once.
    await influx.writeLines(DB, lines(t0 + 11 * MINUTE, t0 + 30 * MINUTE));
    clockOffset = t0 + 30.5 * MINUTE - Date.now();
    await server.tick();
    await expect.poll(() => webhook.received.length, { timeout: 10_000 }).toBe(2);
    await server.tick();
    await new Promise((r) => setTimeout(r, 300));
    expect(webhook.received).toEqual([
      { anomaly: 'cpu peaks', status: 'alert' },
      { anomaly: 'cpu peaks', status: 'OK' },
    ]);
  });

  it('drops the result of a learning that a PATCH made stale, and the fresh one wins', async () => {
    const slow = await startGrafanaProxy({ apiKey: API_KEY, routes: { '1': influx.url }, slowMs: 700 });
    const events: Record<string, unknown>[] = [];
    const own = await startTestServer({ HASTIC_API_KEY: API_KEY }, { log: (event, fields) => event === 'learned' && events.push(fields!) });
    try {
      slow.setFault('slow');
      const res = await fetch(`${own.url}/anomalies`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'relabelled', metric: { targets: [] }, panelUrl: `${slow.url}/d/x`, datasource: datasource() }),
      });
      const id = ((await res.json()) as { anomaly_id: string }).anomaly_id;
      await expect.poll(() => slow.requests.length, { timeout: 5_000 }).toBeGreaterThan(0); // learning is under way
      const p = peaks[1];
      await fetch(`${own.url}/segments`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ anomaly_id: id, added_segments: [{ start: p.centre - 2 * MINUTE, finish: p.centre + 2 * MINUTE }] }),
      });
      await expect.poll(() => events.length, { timeout: 20_000 }).toBe(2);
      expect(events.map((e) => [e.generation, e.stale])).toEqual([
        [1, true],
        [2, false],
      ]);
      const unit = (await (await fetch(`${own.url}/anomalies?id=${id}`)).json()) as { status: string; detector: string };
      expect(unit).toMatchObject({ status: 'ready', detector: 'general' });
    } finally {
      await own.dispose();
      await slow.close();
    }
  });

  it('fails with a message a user can act on', async () => {
    const withoutClause = await create('no clause', { datasource: datasource('SELECT "value" FROM "cpu"') });
    const noClause = await settled(withoutClause);
    expect(noClause.status).toBe('failed');
    expect(noClause.errorMessage).toMatch(/time clause/);

    const wrongDb = await create('wrong db', { datasource: { ...datasource(), params: { ...datasource().params, db: 'nope' } } });
    const dbError = await settled(wrongDb);
    expect(dbError.status).toBe('failed');
    expect(dbError.errorMessage).toMatch(/database not found|no data/i);

    const other = await startTestServer({ HASTIC_API_KEY: 'wrong-key', HASTIC_JOB_ATTEMPTS: '1' }, {});
    try {
      const res = await fetch(`${other.url}/anomalies`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'unauthorised',
          metric: { targets: [] },
          panelUrl: `${grafana.url}/d/abc`,
          datasource: datasource(),
        }),
      });
      const id = ((await res.json()) as { anomaly_id: string }).anomaly_id;
      await expect
        .poll(async () => ((await (await fetch(`${other.url}/anomalies/status?id=${id}`)).json()) as { errorMessage: string }).errorMessage, {
          timeout: 10_000,
        })
        .toMatch(/401.*HASTIC_API_KEY/);
    } finally {
      await other.dispose();
    }
  });

  it('retries while Grafana is down and fails with the reason after the last attempt', async () => {
    grafana.setFault('down');
    try {
      const id = await create('grafana down');
      const status = await settled(id);
      expect(status.status).toBe('failed');
      expect(status.errorMessage).toMatch(/reach|unreachable/i);
    } finally {
      grafana.setFault(null);
    }
  });
});
