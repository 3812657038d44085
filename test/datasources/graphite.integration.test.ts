/**
 * The Graphite datasource against a real graphite-web (1.1.8, Debian) reading whisper files, behind the
 * Grafana proxy stand-in. Needs the Debian packages `graphite-web` and `python3-whisper`:
 * `scripts/install-test-servers.sh`. Whisper keeps a window back from the wall clock, so the data is
 * recent: one week of 30 s points ending an hour ago.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getDatasource, loadHistory } from '../../src/datasources/index';
import { DatasourceError, type FetchContext, type MetricSource } from '../../src/datasources/types';
import { startGrafanaProxy, type GrafanaProxy } from '../support/grafana-proxy';
import { startGraphite, type GraphiteServer } from '../support/graphite';
import { failure } from '../support/datasource-failure';

const API_KEY = 'glsa_graphite_key';
const STEP = 30_000;
const N = 7 * 24 * 120;
/** First point, aligned to the step; the last one is about an hour before the tests run. */
const S = Math.floor((Date.now() - 3_600_000) / STEP) * STEP - N * STEP;
const valueAt = (i: number) => (i % 2880) / 8 + (i % 7) * 0.125;

const ctx = (over: Partial<FetchContext> = {}): FetchContext => ({ fetch, apiKey: API_KEY, timeoutMs: 5_000, ...over });

function expectPoints(t: Float64Array, v: Float64Array, firstIndex: number, count: number) {
  expect(t.length).toBe(count);
  for (let k = 0; k < count; k++) {
    const i = firstIndex + k;
    if (t[k] !== S + i * STEP || v[k] !== valueAt(i)) {
      throw new Error(`point ${k}: got (${t[k]}, ${v[k]}), expected (${S + i * STEP}, ${valueAt(i)})`);
    }
  }
}

const ds = getDatasource('graphite');

describe('Graphite (graphite-web 1.1) through the Grafana proxy', () => {
  let g: GraphiteServer;
  let grafana: GrafanaProxy;

  const source = (target: Record<string, unknown>, over: Partial<MetricSource['datasource']> = {}): MetricSource => ({
    panelUrl: `${grafana.url}/d/abc/hastic?orgId=1&panelId=2`,
    datasource: { type: 'graphite', url: 'api/datasources/proxy/4', ...over },
    targets: [{ refId: 'A', ...target }],
  });
  const cpuA = () => source({ target: 'servers.a.cpu' });

  beforeAll(async () => {
    g = await startGraphite();
    await g.writeSeries('servers.a.cpu', STEP, Array.from({ length: N }, (_, i): [number, number] => [S + i * STEP, valueAt(i)]));
    await g.writeSeries('servers.b.cpu', STEP, Array.from({ length: 100 }, (_, i): [number, number] => [S + i * STEP, -i - 1]));
    // Gaps inside, a series that starts late and stops early.
    await g.writeSeries('servers.c.gappy', STEP, [
      [S + 2 * STEP, 1],
      [S + 3 * STEP, null],
      [S + 4 * STEP, 3],
      [S + 5 * STEP, 0.1],
    ]);
    grafana = await startGrafanaProxy({
      apiKey: API_KEY,
      routes: { '4': g.url, '9': 'http://127.0.0.1:9' /* nothing listens: Grafana answers 502 */ },
      slowMs: 2_000,
    });
  }, 60_000);
  afterAll(async () => {
    await grafana?.close();
    await g?.stop();
  });
  afterEach(() => {
    grafana.setFault(null);
    grafana.requests.length = 0;
  });

  it('returns a week of 30 s points exactly, with the key, from /render', async () => {
    const s = await ds.query(cpuA(), S, S + N * STEP, ctx());
    expectPoints(s.t, s.v, 0, N);
    expect(s.name).toBe('servers.a.cpu');
    const req = grafana.requests.at(-1)!;
    expect(req.authorization).toBe(`Bearer ${API_KEY}`);
    const u = new URL(req.url, grafana.url);
    expect(u.pathname).toBe('/api/datasources/proxy/4/render');
    expect(Object.fromEntries(u.searchParams)).toEqual({
      target: 'servers.a.cpu',
      from: String(S / 1000 - 1),
      until: String((S + N * STEP) / 1000),
      format: 'json',
    });
  });

  it('keeps fromMs <= t < toMs on aligned and unaligned bounds', async () => {
    const two = await ds.query(cpuA(), S + STEP, S + 3 * STEP, ctx());
    expectPoints(two.t, two.v, 1, 2);
    const s = await ds.query(cpuA(), S + 17_000, S + 3_600_000 + 5_000, ctx());
    expectPoints(s.t, s.v, 1, 120);
  });

  it('turns null into NaN inside a series and trims the slots before it starts and after it stops', async () => {
    const s = await ds.query(source({ target: 'servers.c.gappy' }), S, S + 20 * STEP, ctx());
    expect(Array.from(s.t)).toEqual([2, 3, 4, 5].map((k) => S + k * STEP));
    expect(Array.from(s.v)).toEqual([1, NaN, 3, 0.1]);
    expect((await ds.query(source({ target: 'servers.c.gappy' }), S + 10 * STEP, S + 20 * STEP, ctx())).t.length).toBe(0);
  });

  it('picks one series of a wildcard by the target, targetFull and POST mode', async () => {
    const err = await failure(ds.query(source({ target: 'servers.*.cpu' }), S, S + 3_600_000, ctx()));
    expect(err.kind).toBe('bad_query');
    expect(err.message).toContain('servers.a.cpu');
    expect(err.message).toContain('servers.b.cpu');
    const b = await ds.query(source({ target: 'servers.*.cpu', labels: { name: 'servers.b.cpu' } }), S, S + 5 * STEP, ctx());
    expect([b.name, Array.from(b.v)]).toEqual(['servers.b.cpu', [-1, -2, -3, -4, -5]]);
    const full = await ds.query(
      source({ target: 'sumSeries(#B)', targetFull: 'sumSeries(servers.b.cpu)' }, { method: 'POST', url: 'api/datasources/proxy/4/render' }),
      S,
      S + 5 * STEP,
      ctx(),
    );
    expect(Array.from(full.v)).toEqual([-1, -2, -3, -4, -5]);
    expect(grafana.requests.at(-1)).toMatchObject({ method: 'POST', url: '/api/datasources/proxy/4/render' });
  });

  it('maps a bad target to bad_query with graphite-web reason, and an unknown metric to no data', async () => {
    const err = await failure(ds.query(source({ target: 'nosuchfunction(servers.a.cpu)' }), S, S + 3_600_000, ctx()));
    expect([err.kind, err.transient]).toEqual(['bad_query', false]);
    expect(err.message).toMatch(/unknown function: nosuchfunction/);
    expect((await ds.query(source({ target: 'servers.nothing' }), S, S + 3_600_000, ctx())).t.length).toBe(0);
    expect((await failure(ds.query(source({}), S, S + 3_600_000, ctx()))).kind).toBe('bad_query');
  });

  it('maps Grafana and network faults to typed errors', async () => {
    const range = [S, S + 3_600_000] as const;
    expect((await failure(ds.query(cpuA(), ...range, ctx({ apiKey: 'wrong' })))).kind).toBe('unauthorized');
    grafana.setFault('html');
    expect((await failure(ds.query(cpuA(), ...range, ctx()))).kind).toBe('bad_response');
    grafana.setFault('500');
    expect((await failure(ds.query(cpuA(), ...range, ctx()))).kind).toBe('unreachable');
    grafana.setFault('slow');
    expect((await failure(ds.query(cpuA(), ...range, ctx({ timeoutMs: 300 })))).kind).toBe('timeout');
    grafana.setFault('down');
    expect((await failure(ds.query(cpuA(), ...range, ctx()))).kind).toBe('unreachable');
    grafana.setFault(null);
    const gone = await failure(ds.query(source({ target: 'x' }, { url: 'api/datasources/proxy/9' }), ...range, ctx()));
    expect([gone.kind, gone.transient]).toEqual(['unreachable', true]);
  });

  it('loads the whole history backwards and stops at the first empty week', async () => {
    const history = await loadHistory(cpuA(), ds, ctx(), { nowMs: S + N * STEP + 3_600_000, maxHistoryMs: 30 * 86_400_000 });
    expectPoints(history.t, history.v, 0, N);
  });
});
