/**
 * The Prometheus datasource against a real Prometheus (2.42, backfilled with promtool) and a real
 * VictoriaMetrics (1.79), each behind the Grafana proxy stand-in. Needs the Debian packages
 * `prometheus` and `victoria-metrics`: `scripts/install-test-servers.sh`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getDatasource, loadHistory, WEEK_MS } from '../../src/datasources/index';
import { DatasourceError, type FetchContext, type MetricSource } from '../../src/datasources/types';
import { startGrafanaProxy, type GrafanaProxy } from '../support/grafana-proxy';
import { startPrometheus, type PrometheusServer, type SeriesData } from '../support/prometheus';
import { startVictoriaMetrics, type VictoriaMetrics } from '../support/victoria-metrics';
import { failure } from '../support/datasource-failure';

const API_KEY = 'glsa_prom_key';
const STEP = 30_000;
/** First point: 2024-01-01T00:00:00Z; then one point every 30 s for exactly one week. */
const S = Date.UTC(2024, 0, 1);
const N = 7 * 24 * 120;
const valueAt = (i: number) => (i % 2880) / 8 + (i % 7) * 0.125;

function data(): SeriesData[] {
  const t = Float64Array.from({ length: N }, (_, i) => S + i * STEP);
  const v = Float64Array.from({ length: N }, (_, i) => valueAt(i));
  // host="b": every 10 minutes, so selection has two series to choose from.
  const tb = Float64Array.from({ length: N / 20 }, (_, i) => S + i * 20 * STEP);
  const vb = Float64Array.from({ length: N / 20 }, (_, i) => -i - 1);
  return [
    { metric: { __name__: 'cpu', host: 'a', job: 'node' }, t, v },
    { metric: { __name__: 'cpu', host: 'b', job: 'node' }, t: tb, v: vb },
  ];
}

const ctx = (over: Partial<FetchContext> = {}): FetchContext => ({ fetch, apiKey: API_KEY, timeoutMs: 5_000, ...over });

function expectPoints(t: Float64Array, v: Float64Array, firstIndex: number, count: number, every = 1) {
  expect(t.length).toBe(count);
  for (let k = 0; k < count; k++) {
    const i = firstIndex + k * every;
    if (t[k] !== S + i * STEP || v[k] !== valueAt(i)) {
      throw new Error(`point ${k}: got (${t[k]}, ${v[k]}), expected (${S + i * STEP}, ${valueAt(i)})`);
    }
  }
}

const ds = getDatasource('prometheus');

interface Backend {
  name: string;
  type: string;
  start(): Promise<{ url: string; stop(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'Prometheus 2.42',
    type: 'prometheus',
    start: async (): Promise<PrometheusServer> =>
      startPrometheus([
        ...data(),
        // NaN and +Inf samples, and a series that stops after 10 points.
        { metric: { __name__: 'odd' }, t: [0, 1, 2, 3].map((k) => S + k * 60_000), v: [1, NaN, Infinity, 4] },
        { metric: { __name__: 'stops' }, t: Array.from({ length: 10 }, (_, k) => S + k * 60_000), v: Array.from({ length: 10 }, (_, k) => k) },
      ]),
  },
  {
    name: 'VictoriaMetrics 1.79',
    type: 'victoriametrics',
    start: async (): Promise<VictoriaMetrics> => {
      const vm = await startVictoriaMetrics();
      await vm.importSeries(data());
      await vm.importSeries([{ metric: { __name__: 'odd' }, t: [0, 1, 2, 3].map((k) => S + k * 60_000), v: [1, 2, Infinity, 4] }]);
      return vm;
    },
  },
];

describe.each(backends)('$name through the Grafana proxy', ({ type, start }) => {
  let server: { url: string; stop(): Promise<void> };
  let grafana: GrafanaProxy;

  const source = (target: Record<string, unknown>, over: Partial<MetricSource['datasource']> = {}): MetricSource => ({
    panelUrl: `${grafana.url}/d/abc/hastic?orgId=1&panelId=2`,
    datasource: { type, url: 'api/datasources/proxy/3/api/v1/query_range', ...over },
    targets: [{ refId: 'A', ...target }],
  });
  const cpuA = (over: Record<string, unknown> = {}) => source({ expr: 'cpu{host="a"}', interval: '30s', ...over });
  const sent = () => grafana.requests.map((r) => new URL(r.url, grafana.url));

  beforeAll(async () => {
    server = await start();
    grafana = await startGrafanaProxy({
      apiKey: API_KEY,
      routes: { '3': server.url, '9': 'http://127.0.0.1:9' /* nothing listens: Grafana answers 502 */ },
      slowMs: 2_000,
    });
  }, 60_000);
  afterAll(async () => {
    await grafana?.close();
    await server?.stop();
  });
  afterEach(() => {
    grafana.setFault(null);
    grafana.requests.length = 0;
  });

  it('returns a week of 30 s points exactly, in requests below 11,000 points, without duplicates', async () => {
    const s = await ds.query(cpuA(), S, S + N * STEP, ctx());
    expectPoints(s.t, s.v, 0, N);
    expect(s.name).toBe('cpu{host="a", job="node"}');
    const reqs = sent();
    expect(reqs.length).toBe(3);
    let next = S / 1000;
    for (const u of reqs.sort((a, b) => Number(a.searchParams.get('start')) - Number(b.searchParams.get('start')))) {
      expect(u.pathname).toBe('/api/datasources/proxy/3/api/v1/query_range');
      expect(u.searchParams.get('step')).toBe('30');
      const from = Number(u.searchParams.get('start'));
      const to = Number(u.searchParams.get('end'));
      expect(from).toBe(next);
      expect((to - from) / 30 + 1).toBeLessThan(11_000);
      next = to + 30;
    }
    expect(next).toBe((S + N * STEP) / 1000);
    expect(grafana.requests.every((r) => r.authorization === `Bearer ${API_KEY}`)).toBe(true);
  });

  it('keeps fromMs <= t < toMs on unaligned bounds, and answers empty outside the data', async () => {
    const s = await ds.query(cpuA(), S + 17_000, S + 3_600_000 + 5_000, ctx());
    expectPoints(s.t, s.v, 1, 120);
    const half = await ds.query(cpuA(), S + 60_000, S + 120_000, ctx());
    expectPoints(half.t, half.v, 2, 2);
    expect((await ds.query(cpuA(), S - 7 * 86_400_000, S - 86_400_000, ctx())).t.length).toBe(0);
  });

  it('uses the panel step, a one-minute default, POST mode and datasource.params', async () => {
    const perMinute = await ds.query(source({ expr: 'cpu{host="a"}' }), S, S + 86_400_000, ctx());
    expectPoints(perMinute.t, perMinute.v, 0, 1440, 2);
    expect(sent().at(-1)?.searchParams.get('step')).toBe('60');

    const posted = await ds.query(cpuA(), S, S + 3_600_000, ctx());
    const viaPost = await ds.query(source({ expr: 'nope' }, { method: 'POST', url: 'api/datasources/proxy/3', params: { query: 'cpu{host="a"}', step: '30s' } }), S, S + 3_600_000, ctx());
    expect(Array.from(viaPost.t)).toEqual(Array.from(posted.t));
    expect(Array.from(viaPost.v)).toEqual(Array.from(posted.v));
    expect(grafana.requests.at(-1)).toMatchObject({ method: 'POST', url: '/api/datasources/proxy/3/api/v1/query_range' });
    expect(grafana.requests.at(-1)?.body).toContain('query=cpu%7Bhost%3D%22a%22%7D');
  });

  it('picks one of several series by the target, and names the candidates when it cannot', async () => {
    const err = await failure(ds.query(source({ expr: 'cpu', interval: '30s' }), S, S + 3_600_000, ctx()));
    expect(err.kind).toBe('bad_query');
    expect(err.message).toContain('cpu{host="a", job="node"}');
    expect(err.message).toContain('cpu{host="b", job="node"}');

    const b = await ds.query(source({ expr: 'cpu', interval: '10m', labels: { host: 'b' } }), S, S + 3_600_000, ctx());
    expect(b.name).toBe('cpu{host="b", job="node"}');
    expect(Array.from(b.v)).toEqual([-1, -2, -3, -4, -5, -6]);
    const byLegend = await ds.query(source({ expr: 'cpu', interval: '10m', legendFormat: 'cpu{host="a", job="node"}' }), S, S + 3_600_000, ctx());
    expect(byLegend.v[1]).toBe(valueAt(20));
  });

  it('reads NaN and +Inf samples as NaN gaps, and computed expressions', async () => {
    const odd = await ds.query(source({ expr: 'odd', interval: '1m' }), S, S + 4 * 60_000, ctx());
    expect(Array.from(odd.t)).toEqual([0, 1, 2, 3].map((k) => S + k * 60_000));
    expect(odd.v[0]).toBe(1);
    expect(odd.v[2]).toBeNaN();
    expect(odd.v[3]).toBe(4);
    const rate = await ds.query(source({ expr: 'sum(cpu{host="a"}) * 2', interval: '30s' }), S, S + 10 * STEP, ctx());
    expect(Array.from(rate.v)).toEqual(Array.from({ length: 10 }, (_, i) => 2 * valueAt(i)));
  });

  it('maps a bad PromQL query to bad_query with the server error text', async () => {
    const err = await failure(ds.query(source({ expr: 'cpu{host="a"', interval: '30s' }), S, S + 3_600_000, ctx()));
    expect(err.kind).toBe('bad_query');
    expect(err.message).toMatch(/unexpected|parse|want/i);
    expect(err.transient).toBe(false);
    const none = await failure(ds.query(source({}), S, S + 3_600_000, ctx()));
    expect(none.kind).toBe('bad_query');
  });

  it('maps Grafana and network faults to typed errors', async () => {
    const range = [S, S + 3_600_000] as const;
    expect((await failure(ds.query(cpuA(), ...range, ctx({ apiKey: 'wrong' })))).kind).toBe('unauthorized');
    grafana.setFault('html');
    expect((await failure(ds.query(cpuA(), ...range, ctx()))).kind).toBe('bad_response');
    grafana.setFault('500');
    const e500 = await failure(ds.query(cpuA(), ...range, ctx()));
    expect([e500.kind, e500.transient]).toEqual(['unreachable', true]);
    grafana.setFault('slow');
    expect((await failure(ds.query(cpuA(), ...range, ctx({ timeoutMs: 300 })))).kind).toBe('timeout');
    grafana.setFault('down');
    expect((await failure(ds.query(cpuA(), ...range, ctx()))).kind).toBe('unreachable');
    grafana.setFault(null);
    const gone = await failure(ds.query(source({ expr: 'up' }, { url: 'api/datasources/proxy/9/api/v1/query_range' }), ...range, ctx()));
    expect([gone.kind, gone.transient]).toEqual(['unreachable', true]);
  });

  if (type === 'prometheus') {
    it('is refused above 11,000 points per series in one query, which query() never sends', async () => {
      const direct = await fetch(`${server.url}/api/v1/query_range?query=up&start=${S / 1000}&end=${S / 1000 + 11_001 * 30}&step=30`);
      expect(direct.status).toBe(400);
      expect(await direct.text()).toMatch(/exceeded maximum resolution of 11,000 points/);
    });

    it('repeats the last sample of a series that stops for the 5-minute lookback, then nothing', async () => {
      const s = await ds.query(source({ expr: 'stops', interval: '1m' }), S, S + 30 * 60_000, ctx());
      expect(Array.from(s.v.subarray(0, 10))).toEqual(Array.from({ length: 10 }, (_, k) => k));
      expect(s.t.length).toBeGreaterThan(10);
      expect(s.t.length).toBeLessThanOrEqual(15);
      for (let k = 10; k < s.t.length; k++) expect([s.t[k], s.v[k]]).toEqual([S + k * 60_000, 9]);
    });
  }

  it('loads the whole history backwards a week at a time and stops at the first empty week', async () => {
    const history = await loadHistory(cpuA(), ds, ctx(), { nowMs: S + N * STEP + 86_400_000, maxHistoryMs: 90 * 86_400_000 });
    // Prometheus answers the last sample for its 5-minute lookback after a series stops (VictoriaMetrics
    // for one step): those instants repeat the last value; everything before is exact.
    expectPoints(history.t.subarray(0, N), history.v.subarray(0, N), 0, N);
    expect(history.t.length - N).toBeLessThanOrEqual(10);
    for (let k = N; k < history.t.length; k++) expect([history.t[k], history.v[k]]).toEqual([S + k * STEP, valueAt(N - 1)]);
    // The week before the data came back empty and ended the walk: 3 weekly chunks of 3 requests, not 13.
    expect(new Set(sent().map((u) => u.searchParams.get('start'))).size).toBe(9);
  });
});
