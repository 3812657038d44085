/**
 * End to end on the Node host with a real Prometheus and a real VictoriaMetrics behind the Grafana proxy
 * stand-in: `POST /anomalies` with a Prometheus datasource and a panel target `expr`, learning reaches
 * `ready`, one labeled peak finds all the others.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGrafanaProxy, type GrafanaProxy } from '../support/grafana-proxy';
import { apiClient, expectFindsThePeaks, startTestServer, type TestServer } from '../support/node-server';
import { MINUTE, peakSeries } from '../support/peak-series';
import { startPrometheus, type SeriesData } from '../support/prometheus';
import { startVictoriaMetrics } from '../support/victoria-metrics';

const API_KEY = 'test-grafana-key';
const { start, end, peaks, lines } = peakSeries(Math.floor(Date.now() / MINUTE) * MINUTE - 30 * MINUTE, 3);

/** The same values the InfluxDB flow writes, read back from peakSeries' line protocol. */
function cpuSeries(): SeriesData {
  const rows = lines('cpu', start, end).split('\n');
  const t = new Float64Array(rows.length);
  const v = new Float64Array(rows.length);
  rows.forEach((row, k) => {
    const [, field, time] = row.split(' ');
    t[k] = Number(time);
    v[k] = Number(field.slice('value='.length));
  });
  return { metric: { __name__: 'cpu', host: 'a' }, t, v };
}

const backends = [
  { name: 'Prometheus', type: 'prometheus', start: () => startPrometheus([cpuSeries()]) },
  {
    name: 'VictoriaMetrics',
    type: 'victoriametrics',
    start: async () => {
      const vm = await startVictoriaMetrics();
      await vm.importSeries([cpuSeries()]);
      return vm;
    },
  },
];

describe.each(backends)('learning on a real $name (Node host)', ({ type, start: startBackend }) => {
  let backend: { url: string; stop(): Promise<void> };
  let grafana: GrafanaProxy;
  let server: TestServer;

  const { call, settled } = apiClient(() => server.url);



  beforeAll(async () => {
    backend = await startBackend();
    grafana = await startGrafanaProxy({ apiKey: API_KEY, routes: { '3': backend.url } });
    server = await startTestServer({ HASTIC_API_KEY: API_KEY, HASTIC_DETECT_INTERVAL: '3600', HASTIC_JOB_ATTEMPTS: '2' });
  }, 60_000);
  afterAll(async () => {
    await server?.dispose();
    await grafana?.close();
    await backend?.stop();
  });

  it('creates a unit from a Prometheus panel, learns one labeled peak and finds the others', async () => {
    const body = {
      name: 'cpu peaks',
      panelUrl: `${grafana.url}/d/abc/cpu?panelId=2&fullscreen`,
      datasource: { type, url: 'api/datasources/proxy/3/api/v1/query_range', method: 'GET' },
      metric: { datasource: type, targets: [{ refId: 'A', expr: 'cpu{host="a"}', interval: '1m' }] },
    };
    const created = await call('/anomalies', 'POST', body);
    expect(created.status).toBe(200);
    const id = created.body.anomaly_id as string;
    expect(await settled(id)).toMatchObject({ status: 'ready', errorMessage: '' });
    const asked = grafana.requests.map((r) => new URL(r.url, grafana.url));
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((u) => u.pathname === '/api/datasources/proxy/3/api/v1/query_range' && u.searchParams.get('query') === 'cpu{host="a"}')).toBe(true);
    expect(grafana.requests.every((r) => r.authorization === `Bearer ${API_KEY}`)).toBe(true);

    const first = peaks[0];
    const label = { start: first.centre - first.halfWidth * MINUTE, finish: first.centre + first.halfWidth * MINUTE };
    expect((await call('/segments', 'PATCH', { anomaly_id: id, added_segments: [label] })).body.added_ids).toHaveLength(1);
    expect((await settled(id)).status).toBe('ready');

    const found = ((await call(`/segments?anomaly_id=${id}`)).body.segments as { start: number; finish: number; labeled: boolean }[]).filter((s) => !s.labeled);
    expectFindsThePeaks(found, peaks);
  });

  it('fails with Prometheus own words when the query is wrong', async () => {
    const res = await call('/anomalies', 'POST', {
      name: 'broken query',
      panelUrl: `${grafana.url}/d/abc/cpu?panelId=2`,
      datasource: { type, url: 'api/datasources/proxy/3/api/v1/query_range' },
      metric: { targets: [{ refId: 'A', expr: 'cpu{host="a"' }] },
    });
    const status = await settled(res.body.anomaly_id);
    expect(status.status).toBe('failed');
    expect(status.errorMessage).toMatch(/unexpected|parse|want/i);
  });
});
