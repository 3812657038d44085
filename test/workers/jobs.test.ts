// The queue consumer and the cron handler inside workerd, against libSQL (Hrana dev server) and a real
// InfluxDB behind the Grafana stand-in (both started by globalSetup).
import { createClient } from '@libsql/client/web';
import { env, exports } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult, waitOnExecutionContext } from 'cloudflare:test';
import { afterAll, describe, expect, inject, it } from 'vitest';
import entry from '../../src/worker';
import type { Job } from '../../src/learn/jobs';

/** The handlers as the runtime calls them (batch, env, ctx). */
const worker: Pick<Required<ExportedHandler<Env, Job>>, 'queue' | 'scheduled'> = entry;
import { uniqueName } from '../routes/route-suite';

const db = createClient({ url: inject('libsqlUrl') });
afterAll(() => db.close());

const api = async (path: string, init?: RequestInit) => {
  const res = await exports.default.fetch(new Request(`http://hastic.test${path}`, init));
  return { status: res.status, body: (await res.json()) as any };
};
const post = (path: string, body: unknown, method = 'POST') =>
  api(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function create(name: string, panelUrl = `${inject('grafanaUrl')}/d/abc?panelId=1`) {
  const res = await post('/anomalies', {
    name,
    metric: { targets: [] },
    panelUrl,
    datasource: { type: 'influxdb', url: 'api/datasources/proxy/1/query', params: { db: 'metrics', q: 'SELECT "value" FROM "cpu" WHERE $timeFilter', epoch: 'ms' } },
  });
  expect(res.status).toBe(200);
  return res.body.anomaly_id as string;
}

async function consume(queue: string, job: Job, attempts = 1) {
  const batch = createMessageBatch<Job>(queue, [{ id: crypto.randomUUID(), timestamp: new Date(), attempts, body: job }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

const row = async (id: string) =>
  (await db.execute({ sql: 'select status, error_message, generation, detect_error from anomalies where id = ?', args: [id] })).rows[0];

describe('queue consumer', () => {
  it('learns on real data and acks', async () => {
    const id = await create(uniqueName('learn'));
    const result = await consume('hastic-jobs', { kind: 'learn', anomalyId: id, generation: 1 });
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toHaveLength(0);
    expect((await api(`/anomalies/status?id=${id}`)).body).toEqual({ status: 'ready', errorMessage: '' });
  });

  it('acks a stale generation without touching the anomaly', async () => {
    const id = await create(uniqueName('stale'));
    await post('/segments', { anomaly_id: id, added_segments: [{ start: 1, finish: 2 }] }, 'PATCH');
    const before = await row(id);
    const result = await consume('hastic-jobs', { kind: 'learn', anomalyId: id, generation: 1 });
    expect(result.explicitAcks).toHaveLength(1);
    expect(await row(id)).toEqual(before);
    expect(before.generation).toBe(2);
  });

  it('retries a transient failure, then records it as failed on the last attempt', async () => {
    const id = await create(uniqueName('down'), 'http://127.0.0.1:9/d/x');
    const job: Job = { kind: 'learn', anomalyId: id, generation: 1 };
    const first = await consume('hastic-jobs', job, 1);
    expect(first.retryMessages).toHaveLength(1);
    expect(first.explicitAcks).toHaveLength(0);
    expect((await row(id)).status).toBe('learning');

    const last = await consume('hastic-jobs', job, 3); // HASTIC_JOB_ATTEMPTS = 3
    expect(last.explicitAcks).toHaveLength(1);
    const status = (await api(`/anomalies/status?id=${id}`)).body;
    expect(status.status).toBe('failed');
    expect(status.errorMessage).toMatch(/reach/);
  });

  it('marks dead-lettered jobs failed', async () => {
    const id = await create(uniqueName('dlq'), 'http://127.0.0.1:9/d/x');
    const result = await consume('hastic-jobs-dlq', { kind: 'learn', anomalyId: id, generation: 1 });
    expect(result.explicitAcks).toHaveLength(1);
    expect((await api(`/anomalies/status?id=${id}`)).body.status).toBe('failed');
  });
});

describe('cron', () => {
  it('queues a detect job for watched anomalies, which detects and fires the webhook', async () => {
    const name = uniqueName('watched');
    const id = await create(name);
    // Creating enqueued the learning on the real queue: the Worker's own consumer runs it.
    await expect.poll(async () => (await row(id)).status, { timeout: 15_000, interval: 200 }).toBe('ready');
    await post('/alerts', { anomaly_id: id, enable: true });
    // A detection ending now (as if found by the previous tick) makes the anomaly active.
    const now = Date.now();
    await db.execute({
      sql: "insert into segments (anomaly_id, id, start, finish, kind, confidence) values (?, 1000, ?, ?, 'detected', 0.9)",
      args: [id, now - 120_000, now],
    });

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '* * * * *', scheduledTime: new Date() }), env, ctx);
    await waitOnExecutionContext(ctx);
    // The detect job goes through the real queue to the consumer, which alerts through the webhook.
    await expect
      .poll(async () => ((await (await fetch(inject('webhookUrl'))).json()) as unknown[]).filter((m: any) => m.anomaly === name), {
        timeout: 15_000,
        interval: 200,
      })
      .toEqual([{ anomaly: name, status: 'alert' }]);
    expect((await row(id)).detect_error).toBe('');
  });
});
