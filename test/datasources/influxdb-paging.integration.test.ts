/**
 * InfluxQL paging and series selection against a real influxd (1.6, Debian) behind the Grafana proxy
 * stand-in. Needs /usr/bin/influxd: `scripts/install-test-servers.sh`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INFLUX_PAGE_POINTS,
  influxdb,
  influxdbDatasource,
  influxQueryWithLimit,
  parseInfluxSeries,
} from '../../src/datasources/influxdb';
import { DatasourceError, type FetchContext, type MetricSource } from '../../src/datasources/types';
import { startGrafanaProxy, type GrafanaProxy } from '../support/grafana-proxy';
import { startInfluxd, type Influxd } from '../support/influxd';
import { failure } from '../support/datasource-failure';

const API_KEY = 'glsa_paging';
const MIN = 60_000;
const S = Date.UTC(2024, 0, 1);
const N = 5_000;
const PAGE = 1_000;

let influx: Influxd;
let grafana: GrafanaProxy;
const ctx: FetchContext = { fetch, apiKey: API_KEY, timeoutMs: 10_000 };
const paged = influxdbDatasource({ pagePoints: PAGE });

function source(q: string, targets: unknown[] = []): MetricSource {
  return {
    panelUrl: `${grafana.url}/d/abc/hastic?panelId=2`,
    datasource: { type: 'influxdb', url: 'api/datasources/proxy/1/query', params: { db: 'paging', q, epoch: 'ms' } },
    targets,
  };
}
const qOf = (url: string) => new URL(url, 'http://x').searchParams.get('q') ?? '';

beforeAll(async () => {
  influx = await startInfluxd();
  grafana = await startGrafanaProxy({ apiKey: API_KEY, routes: { '1': influx.url } });
  await influx.createDb('paging');
  const lines: string[] = [];
  for (let i = 0; i < N; i++) {
    lines.push(`cpu,host=a value=${i} ${S + i * MIN}`);
    lines.push(`cpu,host=b value=${-i} ${S + i * MIN}`);
  }
  await influx.writeLines('paging', lines.join('\n'));
});
afterAll(async () => {
  await grafana?.close();
  await influx?.stop();
});

describe('InfluxQL paging (real influxd)', () => {
  it('reads a long range a page at a time; every answer has at most PAGE rows; all points, exactly once', async () => {
    grafana.requests.length = 0;
    const s = await paged.query(source(`SELECT "value" FROM "cpu" WHERE "host" = 'a' AND $timeFilter`), S, S + N * MIN, ctx);
    expect(s.t.length).toBe(N);
    for (let i = 0; i < N; i++) {
      if (s.t[i] !== S + i * MIN || s.v[i] !== i) throw new Error(`point ${i}: (${s.t[i]}, ${s.v[i]})`);
    }
    const qs = grafana.requests.map((r) => qOf(r.url));
    expect(qs.length).toBe(N / PAGE + 1); // five full pages, then an empty one
    expect(qs.every((q) => q.includes(`LIMIT ${PAGE}`))).toBe(true);
    // Keyset paging: each page starts just after the previous page's newest row.
    expect(qs[1]).toContain(`time >= ${S + (PAGE - 1) * MIN + 1}ms`);
    // And every answer really is bounded: ask influxd what each page returned.
    for (const q of qs) {
      const body = await influx.query(q, 'paging');
      const rows = parseInfluxSeries(body).reduce((m, c) => Math.max(m, c.rows), 0);
      expect(rows).toBeLessThanOrEqual(PAGE);
    }
  });

  it('pages GROUP BY time() buckets too', async () => {
    const s = await paged.query(source(`SELECT mean("value") FROM "cpu" WHERE "host" = 'a' AND $timeFilter GROUP BY time(2m) fill(null)`), S, S + N * MIN, ctx);
    expect(s.t.length).toBe(N / 2);
    expect(s.t[1] - s.t[0]).toBe(2 * MIN);
    expect(s.v[0]).toBe(0.5);
    expect(s.v[N / 2 - 1]).toBe(N - 1.5);
  });

  it('GROUP BY tag: the target chooses by labels, and the series is named', async () => {
    const q = 'SELECT "value" FROM "cpu" WHERE $timeFilter GROUP BY "host"';
    const s = await paged.query(source(q, [{ refId: 'A', labels: { host: 'b' } }]), S, S + 2_500 * MIN, ctx);
    expect(s.name).toBe('cpu{host="b"}');
    expect(s.t.length).toBe(2_500);
    expect(s.v[2_499]).toBe(-2_499);
  });

  it('GROUP BY tag: by alias equal to the series name', async () => {
    const q = 'SELECT "value" FROM "cpu" WHERE $timeFilter GROUP BY "host"';
    const s = await influxdb.query(source(q, [{ refId: 'A', alias: 'cpu{host="a"}' }]), S, S + 10 * MIN, ctx);
    expect(Array.from(s.v)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('GROUP BY tag with nothing to choose by: an error listing the series, not the first one silently', async () => {
    const q = 'SELECT "value" FROM "cpu" WHERE $timeFilter GROUP BY "host"';
    const e = await failure(influxdb.query(source(q, [{ refId: 'A', alias: '$tag_host' }]), S, S + 10 * MIN, ctx));
    expect(e.kind).toBe('bad_query');
    expect(e.message).toContain('cpu{host="a"}, cpu{host="b"}');
  });

  it('several statements: statement k belongs to visible target k', async () => {
    const q = `SELECT "value" FROM "cpu" WHERE "host" = 'a' AND $timeFilter; SELECT "value" FROM "cpu" WHERE "host" = 'b' AND $timeFilter`;
    const s = await influxdb.query(source(q, [{ refId: 'X', hide: true }, { refId: 'B' }, { refId: 'C' }]), S, S + 3 * MIN, ctx);
    // The unit's target is B (first visible), which is statement 0 (host a).
    expect(Array.from(s.v)).toEqual([0, 1, 2]);
  });

  it('a query with its own LIMIT is sent as written, in one request', async () => {
    grafana.requests.length = 0;
    const s = await paged.query(source(`SELECT "value" FROM "cpu" WHERE "host" = 'a' AND $timeFilter LIMIT 1500`), S, S + N * MIN, ctx);
    expect(s.t.length).toBe(1_500);
    expect(grafana.requests).toHaveLength(1);
  });

  it('the default page is INFLUX_PAGE_POINTS rows', async () => {
    grafana.requests.length = 0;
    await influxdb.query(source(`SELECT "value" FROM "cpu" WHERE "host" = 'a' AND $timeFilter`), S, S + 10 * MIN, ctx);
    expect(qOf(grafana.requests[0].url)).toContain(`LIMIT ${INFLUX_PAGE_POINTS}`);
    expect(INFLUX_PAGE_POINTS).toBe(100_000);
  });
});

describe('influxQueryWithLimit', () => {
  it.each([
    ['SELECT v FROM m WHERE time >= 0ms', 'SELECT v FROM m WHERE time >= 0ms LIMIT 10'],
    ['SELECT v FROM m WHERE time >= 0ms GROUP BY time(1m) fill(none)  ', 'SELECT v FROM m WHERE time >= 0ms GROUP BY time(1m) fill(none) LIMIT 10  '],
    ['SELECT v FROM m WHERE time >= 0ms SLIMIT 2', 'SELECT v FROM m WHERE time >= 0ms LIMIT 10 SLIMIT 2'],
    ["SELECT v FROM m WHERE time >= 0ms tz('Europe/Paris')", "SELECT v FROM m WHERE time >= 0ms LIMIT 10 tz('Europe/Paris')"],
    ['SELECT a FROM m WHERE t > 0; SELECT b FROM m WHERE t > 0', 'SELECT a FROM m WHERE t > 0 LIMIT 10; SELECT b FROM m WHERE t > 0 LIMIT 10'],
    [`SELECT v FROM m WHERE s = 'x;limit 5' AND t > 0`, `SELECT v FROM m WHERE s = 'x;limit 5' AND t > 0 LIMIT 10`],
  ])('%s', (q, out) => {
    expect(influxQueryWithLimit(q, 10)).toBe(out);
  });
  it.each(['SELECT v FROM m LIMIT 5', 'SELECT v FROM m OFFSET 5', 'SELECT v FROM m ORDER BY time DESC'])('%s is not paged', (q) => {
    expect(influxQueryWithLimit(q, 10)).toBeUndefined();
  });
});

describe('faults', () => {
  const answer = (text: string, status = 200): FetchContext => ({
    fetch: (async () => new Response(text, { status, headers: { 'Content-Type': 'application/json' } })) as unknown as typeof fetch,
    timeoutMs: 1000,
  });
  const src = (): MetricSource => ({ panelUrl: 'http://g/d/x', datasource: { type: 'influxdb', url: 'api/datasources/proxy/1/query', params: { db: 'm', q: 'SELECT v FROM m WHERE $timeFilter' } }, targets: [] });
  it('a statement cut by max-row-limit (partial) is a clear bad_response', async () => {
    const e = await failure(influxdb.query(src(), 0, MIN, answer('{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","v"],"values":[[1,1]]}],"partial":true}]}')));
    expect(e.kind).toBe('bad_response');
    expect(e.message).toMatch(/partial page.*max-row-limit/);
  });
  it('a series-level partial flag (1.x merges chunks) is not an error', async () => {
    const s = await influxdb.query(src(), 0, MIN, answer('{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","v"],"values":[[1,1]],"partial":true}]}]}'));
    expect(Array.from(s.v)).toEqual([1]);
  });
  it('a body cut mid-way is a bad_response', async () => {
    expect((await failure(influxdb.query(src(), 0, MIN, answer('{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","v"],"values":[[1,1],[2,')))).kind).toBe('bad_response');
  });
  it('duplicate and out-of-order timestamps are sorted and deduped (last wins); NaN/null are gaps', async () => {
    const s = await influxdb.query(src(), 0, MIN, answer('{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","v"],"values":[[3,3],[1,1],[2,null],[1,10]]}]}]}'));
    expect(Array.from(s.t)).toEqual([1, 2, 3]);
    expect(Array.from(s.v)).toEqual([10, NaN, 3]);
  });
});
