/**
 * The REST API contract, as one suite both hosts must pass: Node (real HTTP server) and Workers
 * (the Worker's fetch handler inside workerd). Only `fetch` and `expect`: it runs in both runtimes.
 */
import { beforeAll, describe, expect, it } from 'vitest';

export type ApiFetch = (path: string, init?: RequestInit) => Promise<Response>;

/** A panel URL on a port where nothing listens: learning jobs fail fast instead of reaching out. */
export const PANEL_URL = 'http://127.0.0.1:9/d/oNZ35bWiz/new-dashboard-copy?panelId=2&fullscreen';

export function anomalyBody(name: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    metric: { datasource: 'influx accelerometer', targets: [{ refId: 'A', measurement: 'data' }] },
    panelUrl: PANEL_URL,
    datasource: {
      data: null,
      type: 'influxdb',
      method: 'GET',
      params: {
        db: 'collectd',
        q: 'SELECT mean("value") FROM "cpu_value" WHERE time >= 1525603866633ms and time <= 1526986266633ms GROUP BY time(10s)',
        epoch: 'ms',
      },
      url: 'api/datasources/proxy/8/query',
    },
    ...extra,
  };
}

let counter = 0;
/** Names unique per run, so tests share one database without stepping on each other. */
export const uniqueName = (prefix = 'unit') => `${prefix}-${Date.now().toString(36)}-${++counter}`;

export function routeSuite(host: string, api: () => ApiFetch) {
  const json = (method: string, body: unknown): RequestInit => ({
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const call = async (path: string, init?: RequestInit) => {
    const response = await api()(path, init);
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  };
  const create = async (name = uniqueName(), extra: Record<string, unknown> = {}) => {
    const res = await call('/anomalies', json('POST', anomalyBody(name, extra)));
    expect(res.status).toBe(200);
    return { id: res.body.anomaly_id as string, name };
  };
  const segmentsOf = async (ref: string, query = '') =>
    (await call(`/segments?anomaly_id=${encodeURIComponent(ref)}${query}`)).body.segments as {
      id: number;
      start: number;
      finish: number;
      labeled: boolean;
    }[];
  const expectFieldError = (res: { status: number; body: any }, status: number, field: string) => {
    expect(res.status).toBe(status);
    expect(typeof res.body.message).toBe('string');
    expect(res.body.message).toContain(field);
  };

  describe(`REST API on ${host}`, () => {
    let id: string;
    let name: string;
    beforeAll(async () => {
      ({ id, name } = await create());
    });

    describe('GET /', () => {
      it('answers OK with server info', async () => {
        const res = await call('/');
        expect(res.status).toBe(200);
        expect(res.body.status).toBe('OK');
        expect(res.body.version).toMatch(/^\d+\.\d+\.\d+/);
        expect(res.body.anomalies).toBeGreaterThanOrEqual(1);
        expect(res.body.uptime).toBeGreaterThanOrEqual(0);
      });
    });

    describe('anomalies', () => {
      it('creates a unit and shows it as learning, by id and by (deprecated, case-insensitive) name', async () => {
        const byId = await call(`/anomalies?id=${id}`);
        expect(byId.status).toBe(200);
        expect(byId.body).toMatchObject({
          name,
          status: 'learning',
          metric: { datasource: 'influx accelerometer', targets: [{ refId: 'A' }] },
        });
        const byName = await call(`/anomalies?name=${name.toUpperCase()}`);
        expect(byName.body.id).toBe(id);
        const nameInId = await call(`/anomalies?id=${name}`);
        expect(nameInId.body.id).toBe(id);
      });

      it('reports status with an empty errorMessage', async () => {
        const res = await call(`/anomalies/status?id=${id}`);
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ status: 'learning', errorMessage: '' });
        expect((await call(`/anomalies/status?name=${name}`)).body.status).toBe('learning');
      });

      it('lists units when no id is given (additive)', async () => {
        const res = await call('/anomalies');
        expect(res.status).toBe(200);
        expect(res.body.anomalies.map((a: { id: string }) => a.id)).toContain(id);
      });

      it('refuses a name already in use, ignoring case, with 409 and keeps the first unit', async () => {
        const res = await call('/anomalies', json('POST', anomalyBody(name.toUpperCase())));
        expect(res.status).toBe(409);
        expect(res.body.message).toContain('already exists');
        expect((await call(`/anomalies?id=${id}`)).body.name).toBe(name);
      });

      it('chooses the detector from pattern, and refuses an unknown pattern naming the field', async () => {
        const peaks = await create(uniqueName(), { pattern: 'Peaks' });
        expect((await call(`/anomalies?id=${peaks.id}`)).body.pattern).toBe('peak');
        const general = await create(uniqueName(), { pattern: 'General approach' });
        expect((await call(`/anomalies?id=${general.id}`)).body.pattern).toBe('general');
        const fromName = await create(uniqueName('cpu drops'));
        expect((await call(`/anomalies?id=${fromName.id}`)).body.pattern).toBe('drop');
        const plain = await create();
        expect((await call(`/anomalies?id=${plain.id}`)).body.pattern).toBeNull();
        expectFieldError(await call('/anomalies', json('POST', anomalyBody(uniqueName(), { pattern: 'zigzags' }))), 400, 'pattern');
      });

      it('rejects bad bodies with 400 naming the field', async () => {
        const body = anomalyBody(uniqueName());
        expectFieldError(await call('/anomalies', json('POST', { ...body, name: undefined })), 400, 'name');
        expectFieldError(await call('/anomalies', json('POST', { ...body, panelUrl: 'not a url' })), 400, 'panelUrl');
        expectFieldError(await call('/anomalies', json('POST', { ...body, panelUrl: 'ftp://x/y' })), 400, 'panelUrl');
        expectFieldError(
          await call('/anomalies', json('POST', { ...body, metric: { targets: 'A' } })),
          400,
          'metric.targets',
        );
        expectFieldError(
          await call('/anomalies', json('POST', { ...body, datasource: { ...body.datasource, type: 'oracle' } })),
          400,
          'datasource.type',
        );
        expectFieldError(await call('/anomalies', json('POST', { ...body, datasource: { type: 'influxdb' } })), 400, 'datasource.url');
        const malformed = await call('/anomalies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name": ' });
        expect(malformed.status).toBe(400);
        expect(malformed.body.message).toMatch(/JSON/i);
        expect((await call(`/anomalies?name=${body.name}`)).status).toBe(404);
      });

      it('rejects an oversized body with 413', async () => {
        const huge = anomalyBody(uniqueName(), { padding: 'x'.repeat(2_000_000) });
        const res = await call('/anomalies', json('POST', huge));
        expect(res.status).toBe(413);
        expect(res.body.code).toBe('body_too_large');
      });

      it('answers 404 for unknown ids and 400 without any id', async () => {
        expect((await call('/anomalies?id=no-such-unit')).status).toBe(404);
        expectFieldError(await call('/anomalies/status'), 400, 'id');
      });

      it('deletes by JSON body, by query id and by name, with segments', async () => {
        const a = await create();
        await call('/segments', json('PATCH', { anomaly_id: a.id, added_segments: [{ start: 10, finish: 20 }] }));
        const byBody = await call('/anomalies', json('DELETE', { id: a.id }));
        expect(byBody.status).toBe(200);
        expect(byBody.body.message).toBe('Success');
        expect((await call(`/anomalies?id=${a.id}`)).status).toBe(404);
        expect((await call(`/segments?anomaly_id=${a.id}`)).status).toBe(404);

        const b = await create();
        expect((await call(`/anomalies?id=${b.id}`, { method: 'DELETE' })).body.message).toBe('Success');
        expect((await call(`/anomalies?id=${b.id}`)).status).toBe(404);

        const c = await create();
        expect((await call('/anomalies', json('DELETE', { name: c.name }))).body.message).toBe('Success');
        expect((await call(`/anomalies?id=${c.id}`)).status).toBe(404);
        // The name is free again.
        await create(c.name);
      });

      it('answers delete errors with 4xx', async () => {
        expect((await call('/anomalies', json('DELETE', { id: 'no-such-unit' }))).status).toBe(404);
        expectFieldError(await call('/anomalies', { method: 'DELETE' }), 400, 'id');
        const malformed = await call('/anomalies', { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: '{' });
        expect(malformed.status).toBe(400);
        expect((await call(`/anomalies?id=${id}`)).status).toBe(200);
      });
    });

    describe('segments', () => {
      it('stores labeled segments, answers ids in order and lists them by start', async () => {
        const unit = await create();
        const res = await call(
          '/segments',
          json('PATCH', { anomaly_id: unit.id, added_segments: [{ start: 5000, finish: 6000 }, { start: 1000, finish: 2000 }] }),
        );
        expect(res.status).toBe(200);
        expect(res.body.added_ids).toEqual([0, 1]);
        expect(await segmentsOf(unit.id)).toEqual([
          { id: 1, start: 1000, finish: 2000, labeled: true },
          { id: 0, start: 5000, finish: 6000, labeled: true },
        ]);
        expect((await call(`/anomalies/status?id=${unit.id}`)).body.status).toBe('learning');
      });

      it('accepts a name in anomaly_id and the deprecated name alone', async () => {
        const unit = await create();
        const byName = await call('/segments', json('PATCH', { anomaly_id: unit.name, added_segments: [{ start: 1, finish: 2 }] }));
        expect(byName.body.added_ids).toEqual([0]);
        const nameOnly = await call('/segments', json('PATCH', { name: unit.name, added_segments: [{ start: 3, finish: 4 }] }));
        expect(nameOnly.body.added_ids).toEqual([1]);
        expect((await segmentsOf(unit.name)).map((s) => s.id)).toEqual([0, 1]);
      });

      it('filters strictly by last_segment, from and to', async () => {
        const unit = await create();
        await call(
          '/segments',
          json('PATCH', {
            anomaly_id: unit.id,
            added_segments: [
              { start: 100, finish: 200 },
              { start: 300, finish: 400 },
              { start: 500, finish: 600 },
            ],
          }),
        );
        expect((await segmentsOf(unit.id, '&last_segment=0')).map((s) => s.id)).toEqual([1, 2]);
        expect((await segmentsOf(unit.id, '&from=200')).map((s) => s.id)).toEqual([1, 2]);
        expect((await segmentsOf(unit.id, '&from=199')).map((s) => s.id)).toEqual([0, 1, 2]);
        expect((await segmentsOf(unit.id, '&to=500')).map((s) => s.id)).toEqual([0, 1]);
        expect((await segmentsOf(unit.id, '&from=200&to=501&last_segment=1')).map((s) => s.id)).toEqual([2]);
      });

      it('removes labeled segments and never reuses ids', async () => {
        const unit = await create();
        const first = await call('/segments', json('PATCH', { anomaly_id: unit.id, added_segments: [{ start: 1, finish: 2 }, { start: 3, finish: 4 }] }));
        const removed = await call('/segments', json('PATCH', { anomaly_id: unit.id, removed_segments: [first.body.added_ids[1]] }));
        expect(removed.body.added_ids).toEqual([]);
        const again = await call('/segments', json('PATCH', { anomaly_id: unit.id, added_segments: [{ start: 5, finish: 6 }] }));
        expect(again.body.added_ids).toEqual([2]);
        expect((await segmentsOf(unit.id)).map((s) => s.id)).toEqual([0, 2]);
      });

      it('rejects bad segments naming the field and stores nothing of the request', async () => {
        const unit = await create();
        await call('/segments', json('PATCH', { anomaly_id: unit.id, added_segments: [{ start: 1, finish: 2 }] }));
        expectFieldError(
          await call('/segments', json('PATCH', { anomaly_id: unit.id, added_segments: [{ start: 9, finish: 10 }, { start: 30, finish: 20 }] })),
          400,
          'added_segments.1.start',
        );
        expectFieldError(
          await call('/segments', json('PATCH', { anomaly_id: unit.id, added_segments: [{ start: 'x', finish: 10 }] })),
          400,
          'added_segments.0.start',
        );
        expectFieldError(
          await call('/segments', json('PATCH', { anomaly_id: unit.id, added_segments: [{ start: 40, finish: 50 }], removed_segments: [77] })),
          404,
          'removed_segments',
        );
        expectFieldError(await call('/segments', json('PATCH', { anomaly_id: unit.id, removed_segments: ['a'] })), 400, 'removed_segments.0');
        expect((await call('/segments', json('PATCH', { added_segments: [] }))).status).toBe(400);
        expect((await call('/segments', json('PATCH', { anomaly_id: 'nope', added_segments: [] }))).status).toBe(404);
        expect(await segmentsOf(unit.id)).toEqual([{ id: 0, start: 1, finish: 2, labeled: true }]);
      });

      it('rejects bad GET /segments queries', async () => {
        expectFieldError(await call('/segments'), 400, 'anomaly_id');
        expectFieldError(await call(`/segments?anomaly_id=${id}&from=abc`), 400, 'from');
        expectFieldError(await call(`/segments?anomaly_id=${id}&to=`), 400, 'to');
        expectFieldError(await call(`/segments?anomaly_id=${id}&last_segment=1.5`), 400, 'last_segment');
        expect((await call('/segments?anomaly_id=no-such-unit')).status).toBe(404);
      });
    });

    describe('alerts', () => {
      it('is off by default, switches on and off, and accepts a name in anomaly_id', async () => {
        const unit = await create();
        expect((await call(`/alerts?anomaly_id=${unit.id}`)).body).toEqual({ enable: false });
        const on = await call('/alerts', json('POST', { anomaly_id: unit.id, enable: true }));
        expect(on.status).toBe(200);
        expect(on.body).toEqual({ status: 'Ok' });
        expect((await call(`/alerts?anomaly_id=${unit.name}`)).body).toEqual({ enable: true });
        await call('/alerts', json('POST', { anomaly_id: unit.name, enable: false }));
        expect((await call(`/alerts?anomaly_id=${unit.id}`)).body).toEqual({ enable: false });
      });

      it('rejects bad alert requests', async () => {
        expectFieldError(await call('/alerts', json('POST', { anomaly_id: id, enable: 'yes' })), 400, 'enable');
        expectFieldError(await call('/alerts'), 400, 'anomaly_id');
        expect((await call('/alerts', json('POST', { anomaly_id: 'nope', enable: true }))).status).toBe(404);
        expect((await call(`/alerts?anomaly_id=${id}`)).body).toEqual({ enable: false });
      });
    });

    describe('http', () => {
      it('answers CORS preflight and sends the allow-origin header', async () => {
        const preflight = await api()('/segments', {
          method: 'OPTIONS',
          headers: { origin: 'http://grafana.example.com', 'access-control-request-method': 'PATCH' },
        });
        expect(preflight.status).toBe(204);
        expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
        expect(preflight.headers.get('access-control-allow-methods')).toContain('PATCH');
        const get = await call('/', { headers: { origin: 'http://grafana.example.com' } });
        expect(get.headers.get('access-control-allow-origin')).toBe('*');
      });

      it('answers unknown routes with a JSON 404', async () => {
        const res = await call('/nope');
        expect(res.status).toBe(404);
        expect(res.body.code).toBe('not_found');
      });
    });
  });
}
