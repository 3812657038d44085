/**
 * The InfluxDB datasource against a real influxd (1.6, Debian) behind a Grafana proxy stand-in.
 * Needs /usr/bin/influxd: `scripts/install-test-servers.sh`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getDatasource, loadHistory, WEEK_MS } from '../../src/datasources/index';
import { DatasourceError, type FetchContext, type MetricSource } from '../../src/datasources/types';
import { startGrafanaProxy, type GrafanaProxy } from '../support/grafana-proxy';
import { startInfluxd, type Influxd } from '../support/influxd';
import { failure } from '../support/datasource-failure';

const API_KEY = 'glsa_test_key';
const MIN = 60_000;
const DAY = 24 * 60 * MIN;
/** First point: 2024-01-01T00:00:00Z; then one point a minute for exactly three weeks. */
const S = Date.UTC(2024, 0, 1);
const N = 21 * 24 * 60;
const valueAt = (i: number) => (i % 1440) / 4 + (i % 7) * 0.125;

let influx: Influxd;
let grafana: GrafanaProxy;
const ds = getDatasource('influxdb');

function source(q: string, over: Partial<MetricSource['datasource']> = {}): MetricSource {
  return {
    panelUrl: `${grafana.url}/d/abc/hastic?orgId=1&panelId=2`,
    datasource: { type: 'influxdb', url: '/api/datasources/proxy/1/query', params: { db: 'metrics', q, epoch: 's' }, ...over },
    targets: [],
  };
}

const CPU = 'SELECT "value" FROM "cpu" WHERE ("host" = \'a\') AND $timeFilter';
const ctx = (over: Partial<FetchContext> = {}): FetchContext => ({ fetch, apiKey: API_KEY, timeoutMs: 5_000, ...over });

function expectPoints(t: Float64Array, v: Float64Array, firstIndex: number, count: number) {
  expect(t.length).toBe(count);
  expect(v.length).toBe(count);
  for (let k = 0; k < count; k++) {
    if (t[k] !== S + (firstIndex + k) * MIN || v[k] !== valueAt(firstIndex + k)) {
      throw new Error(`point ${k}: got (${t[k]}, ${v[k]}), expected (${S + (firstIndex + k) * MIN}, ${valueAt(firstIndex + k)})`);
    }
  }
}

beforeAll(async () => {
  influx = await startInfluxd();
  grafana = await startGrafanaProxy({
    apiKey: API_KEY,
    routes: { '1': influx.url, '9': 'http://127.0.0.1:9' /* nothing listens: Grafana answers 502 */ },
    slowMs: 2_000,
  });
  await influx.createDb('metrics');
  const lines: string[] = [];
  for (let i = 0; i < N; i++) lines.push(`cpu,host=a value=${valueAt(i)} ${S + i * MIN}`);
  // Another host in the same measurement: the WHERE clause must keep it out.
  for (let i = 0; i < N; i += 60) lines.push(`cpu,host=b value=-1 ${S + i * MIN + 30_000}`);
  // A gap at minute 5, for GROUP BY time() fill(null).
  for (let i = 0; i < 10; i++) if (i !== 5) lines.push(`gappy value=${i} ${S + i * MIN}`);
  await influx.writeLines('metrics', lines.join('\n'));
});

afterAll(async () => {
  await grafana?.close();
  await influx?.stop();
});

afterEach(() => {
  grafana.setFault(null);
});

describe('query through the Grafana proxy', () => {
  it('returns exactly the points of [from, to), with the bearer key and epoch=ms', async () => {
    const before = grafana.requests.length;
    const s = await ds.query(source(CPU), S + 100 * MIN, S + 200 * MIN, ctx());
    expectPoints(s.t, s.v, 100, 100);
    const req = grafana.requests[before];
    expect(req.authorization).toBe(`Bearer ${API_KEY}`);
    const url = new URL(req.url, 'http://x');
    expect(url.pathname).toBe('/api/datasources/proxy/1/query');
    expect(url.searchParams.get('epoch')).toBe('ms');
    expect(url.searchParams.get('q')).toContain(`time >= ${S + 100 * MIN}ms AND time < ${S + 200 * MIN}ms`);
  });

  it('rewrites the time clause forms Grafana produces', async () => {
    for (const q of [
      'SELECT "value" FROM "cpu" WHERE "host" = \'a\' AND time >= 1525603866633ms and time <= 1526986266633ms',
      'SELECT "value" FROM "cpu" WHERE "host" = \'a\' AND time > now() - 6h',
      'SELECT "value" FROM "cpu" WHERE time >= now() - 7d AND time <= now() AND "host" = \'a\'',
    ]) {
      const s = await ds.query(source(q), S + 10 * MIN, S + 15 * MIN, ctx());
      expectPoints(s.t, s.v, 10, 5);
    }
  });

  it('POST mode sends the query as a form body', async () => {
    const before = grafana.requests.length;
    const s = await ds.query(source(CPU, { method: 'POST' }), S + 5 * DAY, S + 5 * DAY + 60 * MIN, ctx());
    expectPoints(s.t, s.v, 5 * 1440, 60);
    const req = grafana.requests[before];
    expect(req.method).toBe('POST');
    expect(new URLSearchParams(req.body).get('q')).toContain('time >= ');
  });

  it('GROUP BY time() with fill(null): nulls become NaN', async () => {
    const q = 'SELECT mean("value") FROM "gappy" WHERE $timeFilter GROUP BY time(1m) fill(null)';
    const s = await ds.query(source(q), S, S + 10 * MIN, ctx());
    expect(Array.from(s.t)).toEqual(Array.from({ length: 10 }, (_, i) => S + i * MIN));
    expect(Array.from(s.v)).toEqual([0, 1, 2, 3, 4, NaN, 6, 7, 8, 9]);
  });

  it('an empty range is an empty series', async () => {
    const s = await ds.query(source(CPU), S - 2 * WEEK_MS, S - WEEK_MS, ctx());
    expect(s.t.length).toBe(0);
  });
});

describe('loadHistory against influxd', () => {
  it('walks back a week at a time and stops at the first empty week', async () => {
    const now = S + 3 * WEEK_MS + 12 * 60 * MIN; // data ends 12 h before "now"
    const before = grafana.requests.length;
    const s = await loadHistory(source(CPU), ds, ctx(), { nowMs: now, maxHistoryMs: 90 * DAY });
    expectPoints(s.t, s.v, 0, N);
    // [now-1w, now), ..., [now-4w, now-3w) still holds S..S+12h, [now-5w, now-4w) is empty.
    expect(grafana.requests.length - before).toBe(5);
  });

  it('stops at maxHistory', async () => {
    const now = S + N * MIN;
    const before = grafana.requests.length;
    const s = await loadHistory(source(CPU), ds, ctx(), { nowMs: now, maxHistoryMs: 10 * DAY });
    expectPoints(s.t, s.v, N - 10 * 1440, 10 * 1440);
    expect(grafana.requests.length - before).toBe(2);
  });
});

describe('errors a user can act on', () => {
  const range = [S, S + 60 * MIN] as const;

  it('wrong API key -> unauthorized, mentioning HASTIC_API_KEY', async () => {
    const e = await failure(ds.query(source(CPU), ...range, ctx({ apiKey: 'wrong' })));
    expect(e.kind).toBe('unauthorized');
    expect(e.message).toContain('datasource answered 401: check HASTIC_API_KEY');
  });

  it('Grafana down -> unreachable (transient)', async () => {
    grafana.setFault('down');
    const e = await failure(ds.query(source(CPU), ...range, ctx()));
    expect(e.kind).toBe('unreachable');
    expect(e.transient).toBe(true);
    expect(e.message).toContain(`cannot reach Grafana at ${grafana.url}`);
  });

  it('nothing listening at all -> unreachable', async () => {
    const s = source(CPU);
    s.panelUrl = 'http://127.0.0.1:9/d/x';
    const e = await failure(ds.query(s, ...range, ctx()));
    expect(e.kind).toBe('unreachable');
    expect(e.message).toContain('cannot reach Grafana at http://127.0.0.1:9');
  });

  it('slow Grafana with a small timeout -> timeout', async () => {
    grafana.setFault('slow');
    const t0 = Date.now();
    const e = await failure(ds.query(source(CPU), ...range, ctx({ timeoutMs: 200 })));
    expect(e.kind).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(1_500);
  });

  it('HTML page -> bad_response', async () => {
    grafana.setFault('html');
    const e = await failure(ds.query(source(CPU), ...range, ctx()));
    expect(e.kind).toBe('bad_response');
  });

  it('Grafana 500 -> unreachable with the status', async () => {
    grafana.setFault('500');
    const e = await failure(ds.query(source(CPU), ...range, ctx()));
    expect(e.kind).toBe('unreachable');
    expect(e.message).toContain('500');
  });

  it('datasource behind Grafana down (502) -> unreachable', async () => {
    const e = await failure(ds.query(source(CPU, { url: 'api/datasources/proxy/9/query' }), ...range, ctx()));
    expect(e.kind).toBe('unreachable');
    expect(e.message).toContain('502');
  });

  it('bad InfluxQL -> bad_query with InfluxDB text', async () => {
    const e = await failure(ds.query(source('SELECT FROM "cpu" WHERE $timeFilter'), ...range, ctx()));
    expect(e.kind).toBe('bad_query');
    expect(e.message).toMatch(/datasource answered 400: error parsing query: found FROM, expected identifier/);
  });

  it('unknown database -> bad_query with InfluxDB text', async () => {
    const s = source(CPU);
    s.datasource.params = { ...s.datasource.params, db: 'nope' };
    const e = await failure(ds.query(s, ...range, ctx()));
    expect(e.kind).toBe('bad_query');
    expect(e.message).toContain('database not found: nope');
  });

  it('query without a time clause -> bad_query, nothing sent', async () => {
    const before = grafana.requests.length;
    const e = await failure(ds.query(source('SELECT "value" FROM "cpu"'), ...range, ctx()));
    expect(e.kind).toBe('bad_query');
    expect(e.message).toBe('the query has no time clause to rewrite: add WHERE $timeFilter');
    expect(grafana.requests.length).toBe(before);
  });
});
