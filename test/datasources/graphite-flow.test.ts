/**
 * End to end on the Node host with a real graphite-web (whisper files) behind the Grafana proxy
 * stand-in: `POST /anomalies` with a Graphite datasource and a panel `target`, learning reaches
 * `ready`, one labeled peak finds all the others.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGrafanaProxy, type GrafanaProxy } from '../support/grafana-proxy';
import { startGraphite, type GraphiteServer } from '../support/graphite';
import { apiClient, expectFindsThePeaks, startTestServer, type TestServer } from '../support/node-server';
import { MINUTE, peakSeries } from '../support/peak-series';

const API_KEY = 'test-grafana-key';
const { start, end, peaks, lines } = peakSeries(Math.floor(Date.now() / MINUTE) * MINUTE - 30 * MINUTE, 3);

/** The same values the InfluxDB flow writes, read back from peakSeries' line protocol. */
function cpuPoints(): Array<[number, number]> {
  return lines('cpu', start, end)
    .split('\n')
    .map((row) => {
      const [, field, time] = row.split(' ');
      return [Number(time), Number(field.slice('value='.length))];
    });
}

describe('learning on a real graphite-web (Node host)', () => {
  let g: GraphiteServer;
  let grafana: GrafanaProxy;
  let server: TestServer;

  const { call, settled } = apiClient(() => server.url);



  beforeAll(async () => {
    g = await startGraphite();
    await g.writeSeries('servers.web1.cpu', MINUTE, cpuPoints());
    grafana = await startGrafanaProxy({ apiKey: API_KEY, routes: { '4': g.url } });
    server = await startTestServer({ HASTIC_API_KEY: API_KEY, HASTIC_DETECT_INTERVAL: '3600', HASTIC_JOB_ATTEMPTS: '2' });
  }, 60_000);
  afterAll(async () => {
    await server?.dispose();
    await grafana?.close();
    await g?.stop();
  });

  it('creates a unit from a Graphite panel, learns one labeled peak and finds the others', async () => {
    const created = await call('/anomalies', 'POST', {
      name: 'cpu peaks',
      panelUrl: `${grafana.url}/d/abc/cpu?panelId=2&fullscreen`,
      datasource: { type: 'graphite', url: 'api/datasources/proxy/4' },
      metric: { datasource: 'graphite', targets: [{ refId: 'A', target: 'servers.web1.cpu' }] },
    });
    expect(created.status).toBe(200);
    const id = created.body.anomaly_id as string;
    expect(await settled(id)).toMatchObject({ status: 'ready', errorMessage: '' });
    const asked = grafana.requests.map((r) => new URL(r.url, grafana.url));
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((u) => u.pathname === '/api/datasources/proxy/4/render' && u.searchParams.get('target') === 'servers.web1.cpu')).toBe(true);

    const first = peaks[0];
    const label = { start: first.centre - first.halfWidth * MINUTE, finish: first.centre + first.halfWidth * MINUTE };
    expect((await call('/segments', 'PATCH', { anomaly_id: id, added_segments: [label] })).body.added_ids).toHaveLength(1);
    expect((await settled(id)).status).toBe('ready');

    const found = ((await call(`/segments?anomaly_id=${id}`)).body.segments as { start: number; finish: number; labeled: boolean }[]).filter((s) => !s.labeled);
    expectFindsThePeaks(found, peaks);
  });

  it('fails with graphite-web own words when the target is wrong', async () => {
    const res = await call('/anomalies', 'POST', {
      name: 'broken target',
      panelUrl: `${grafana.url}/d/abc/cpu?panelId=2`,
      datasource: { type: 'graphite', url: 'api/datasources/proxy/4' },
      metric: { targets: [{ refId: 'A', target: 'nosuchfunction(servers.web1.cpu)' }] },
    });
    const status = await settled(res.body.anomaly_id);
    expect(status.status).toBe('failed');
    expect(status.errorMessage).toMatch(/unknown function: nosuchfunction/);
  });
});
