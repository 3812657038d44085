/**
 * A Grafana 11 panel's request, end to end on the Node host: POST /anomalies with the panel's
 * `api/ds/query` datasource (a plugin type the server has no adapter of its own for), learning through
 * the runner, and the requests a Grafana stand-in answering `/api/ds/query` with data frames received.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/node-server';

const KEY = 'glsa_e2e';
const MIN = 60_000;
const now = Math.floor(Date.now() / MIN) * MIN;
/** Three days of 1-minute points, none before. */
const first = now - 3 * 24 * 60 * MIN;

let grafana: Server;
let grafanaUrl = '';
let server: TestServer;
const seen: Array<{ auth?: string; body: { from: string; to: string; queries: Array<Record<string, unknown>> } }> = [];

beforeAll(async () => {
  grafana = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c));
    req.on('end', () => {
      if (req.url !== '/api/ds/query' || req.method !== 'POST') {
        res.writeHead(404).end('{"message":"Not found"}');
        return;
      }
      const body = JSON.parse(raw);
      seen.push({ auth: req.headers.authorization, body });
      const from = Math.max(first, Math.ceil(Number(body.from) / MIN) * MIN);
      const to = Math.min(now, Number(body.to));
      const t: number[] = [];
      const v: number[] = [];
      for (let x = from; x < to; x += MIN) {
        t.push(x);
        v.push(Math.round(Math.sin(x / (37 * MIN)) * 100) / 10);
      }
      const frame = (host: string, scale: number) => ({
        schema: { refId: 'A', fields: [{ name: 'time', type: 'time' }, { name: 'value', type: 'number', labels: { host } }] },
        data: { values: [t, v.map((y) => y * scale)] },
      });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ results: { A: { status: 200, frames: [frame('a', 1), frame('b', 2)] } } }));
    });
  });
  await new Promise<void>((r) => grafana.listen(0, '127.0.0.1', () => r()));
  grafanaUrl = `http://127.0.0.1:${(grafana.address() as AddressInfo).port}`;
  server = await startTestServer({ HASTIC_API_KEY: KEY, GRAFANA_URL: grafanaUrl, HASTIC_MAX_HISTORY: '30' });
});
afterAll(async () => {
  await server?.dispose();
  grafana?.close();
});

it('learns a unit created from a Grafana 11 panel request (api/ds/query, any plugin type)', async () => {
  const res = await fetch(`${server.url}/anomalies`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'clickhouse cpu',
      panelUrl: `${grafanaUrl}/d/abc/dash?orgId=1&viewPanel=2`,
      metric: { datasource: 'ClickHouse', targets: [{ refId: 'A', datasource: { uid: 'ch1', type: 'grafana-clickhouse-datasource' }, rawSql: 'SELECT t, host, v FROM cpu', labels: { host: 'b' } }] },
      datasource: {
        type: 'grafana-clickhouse-datasource',
        url: 'api/ds/query',
        method: 'POST',
        data: { from: String(now - 6 * 3600_000), to: String(now), queries: [{ refId: 'A', datasource: { uid: 'ch1', type: 'grafana-clickhouse-datasource' }, rawSql: 'SELECT t, host, v FROM cpu', intervalMs: MIN, maxDataPoints: 1200 }] },
      },
    }),
  });
  expect(res.status).toBe(200);
  const id = ((await res.json()) as { anomaly_id: string }).anomaly_id;
  await expect
    .poll(async () => ((await (await fetch(`${server.url}/anomalies/status?id=${id}`)).json()) as { status: string }).status, { timeout: 20_000, interval: 100 })
    .not.toBe('learning');
  const status = (await (await fetch(`${server.url}/anomalies/status?id=${id}`)).json()) as { status: string; errorMessage: string };
  expect(status).toEqual({ status: 'ready', errorMessage: '' });
  expect(seen.length).toBeGreaterThan(0);
  for (const r of seen) {
    expect(r.auth).toBe(`Bearer ${KEY}`);
    expect(r.body.queries).toHaveLength(1);
    expect(r.body.queries[0]).toMatchObject({ refId: 'A', datasource: { uid: 'ch1', type: 'grafana-clickhouse-datasource' }, intervalMs: MIN });
    expect(Number(r.body.to) - Number(r.body.from)).toBeLessThanOrEqual(10_000 * MIN);
  }
  const unit = (await (await fetch(`${server.url}/anomalies?id=${id}`)).json()) as { series?: string };
  if ('series' in unit) expect(unit.series).toBe('value{host="b"}');
});
