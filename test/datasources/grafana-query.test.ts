import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cellNumber, ObjectColumns, parseJsonFast, rowColumns, ValueColumns } from '../../src/datasources/fast-json';
import {
  GRAFANA_PAGE_POINTS,
  grafanaQuery,
  grafanaQueryBody,
  isGrafanaQueryUrl,
  parseGrafanaFrames,
  parseGrafanaJson,
} from '../../src/datasources/grafana-query';
import { getDatasource } from '../../src/datasources/index';
import { DatasourceError, type FetchContext, type MetricSource } from '../../src/datasources/types';
import { failure } from '../support/datasource-failure';

const recorded = (name: string) => readFileSync(new URL(`./recorded/${name}`, import.meta.url), 'utf8');
const T0 = 1704067200000;
const MIN = 60_000;

/** The body a Grafana 11 panel sends, as the Hastic panel forwards it in POST /anomalies. */
function panelSource(over: Partial<MetricSource> = {}, targets: unknown[] = []): MetricSource {
  return {
    panelUrl: 'http://grafana.local:3000/d/abc/dash?orgId=1&viewPanel=2',
    datasource: {
      type: 'prometheus',
      url: 'api/ds/query',
      method: 'POST',
      data: {
        from: '1704060000000',
        to: '1704067200000',
        queries: [
          { refId: 'A', datasource: { uid: 'P1809F7CD0C75ACF3', type: 'prometheus' }, expr: 'rate(node_cpu_seconds_total{mode="user"}[5m])', legendFormat: 'cpu {{cpu}}', intervalMs: MIN, maxDataPoints: 1316 },
          { refId: 'B', datasource: { uid: 'P1809F7CD0C75ACF3', type: 'prometheus' }, expr: 'up', hide: true },
        ],
      },
    },
    targets,
    ...over,
  };
}

interface Call {
  url: string;
  init: RequestInit;
}
function fakeFetch(answer: (call: Call, k: number) => Response | Promise<Response>): { ctx: FetchContext; calls: Call[] } {
  const calls: Call[] = [];
  const f = async (url: string, init: RequestInit) => {
    const call = { url: String(url), init };
    calls.push(call);
    return answer(call, calls.length - 1);
  };
  return { ctx: { fetch: f as typeof fetch, apiKey: 'glsa_key', timeoutMs: 2000 }, calls };
}
const json = (body: string, status = 200) => new Response(body, { status, headers: { 'Content-Type': 'application/json' } });

describe('choosing the adapter', () => {
  it.each(['api/ds/query', '/api/ds/query', 'api/ds/query?ds_type=prometheus', 'http://grafana:3000/api/ds/query'])('%s is the unified query API', (url) => {
    expect(isGrafanaQueryUrl(url)).toBe(true);
  });
  it.each(['api/datasources/proxy/1/query', 'api/ds/query/extra', 'api/ds/queryx', ''])('%s is not', (url) => {
    expect(isGrafanaQueryUrl(url)).toBe(false);
  });
  it('whatever the plugin type', () => {
    for (const type of ['prometheus', 'influxdb', 'grafana-clickhouse-datasource', 'loki', 'grafana']) {
      expect(getDatasource({ type, url: 'api/ds/query' })).toBe(grafanaQuery);
    }
    expect(getDatasource('grafana')).toBe(grafanaQuery);
  });
});

describe('grafanaQueryBody', () => {
  it('sends the panel queries with the range as epoch-ms strings, refId, datasource, interval and points', () => {
    const body = grafanaQueryBody(panelSource(), T0, T0 + 7 * 24 * 60 * MIN);
    expect(body.from).toBe(String(T0));
    expect(body.to).toBe(String(T0 + 7 * 24 * 60 * MIN));
    expect(body.queries).toHaveLength(1); // B is hidden
    expect(body.queries[0]).toMatchObject({
      refId: 'A',
      datasource: { uid: 'P1809F7CD0C75ACF3', type: 'prometheus' },
      expr: 'rate(node_cpu_seconds_total{mode="user"}[5m])',
      intervalMs: MIN,
      maxDataPoints: 7 * 24 * 60,
    });
  });
  it('keeps hidden queries when a server-side expression may need them', () => {
    const s = panelSource();
    (s.datasource.data as { queries: unknown[] }).queries.push({ refId: 'C', datasource: { uid: '__expr__', type: '__expr__' }, type: 'math', expression: '$A + $B' });
    expect(grafanaQueryBody(s, T0, T0 + MIN).queries.map((q) => q.refId)).toEqual(['A', 'B', 'C']);
  });
  it('falls back to the targets, a spec-level uid and generated refIds', () => {
    const s: MetricSource = {
      panelUrl: 'http://g/d/x',
      datasource: { type: 'prometheus', url: 'api/ds/query', uid: 'prom' } as MetricSource['datasource'],
      targets: [{ expr: 'up' }, { expr: 'down' }],
    };
    const body = grafanaQueryBody(s, 0, MIN);
    expect(body.queries.map((q) => [q.refId, (q.datasource as { uid: string }).uid])).toEqual([['A', 'prom'], ['B', 'prom']]);
  });
  it('accepts datasource.data as a JSON string', () => {
    const s = panelSource();
    s.datasource.data = JSON.stringify(s.datasource.data);
    expect(grafanaQueryBody(s, 0, MIN).queries[0].refId).toBe('A');
  });
  it('a query without a datasource reference is a bad_query naming it', () => {
    const s: MetricSource = { panelUrl: 'http://g/d/x', datasource: { type: 'x', url: 'api/ds/query' }, targets: [{ refId: 'Q', expr: 'up' }] };
    let e: unknown;
    try {
      grafanaQueryBody(s, 0, MIN);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(DatasourceError);
    expect((e as DatasourceError).message).toMatch(/query Q has no datasource/);
  });
  it('no query at all is a bad_query', () => {
    const s: MetricSource = { panelUrl: 'http://g/d/x', datasource: { type: 'x', url: 'api/ds/query' }, targets: [] };
    expect(() => grafanaQueryBody(s, 0, MIN)).toThrow(DatasourceError);
  });
});

describe('parseGrafanaFrames (recorded answers)', () => {
  it('Prometheus through Grafana 11: one candidate per frame, labels, display names, entities and nulls', () => {
    const c = parseGrafanaFrames(parseGrafanaJson(recorded('grafana11-prometheus-ds-query.json')));
    expect(c.map((s) => s.name)).toEqual(['cpu 0', 'cpu 1']);
    expect(c[0].labels).toEqual({ cpu: '0', instance: 'node:9100', job: 'node', mode: 'user' });
    expect(c[0].refId).toBe('A');
    expect(Array.from(c[0].series.t)).toEqual([T0, T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN]);
    expect(Array.from(c[0].series.v)).toEqual([0.125, 0.25, NaN, 0.5]);
  });
  it('the same through JSON.parse (no typed arrays) gives the same points', () => {
    const fast = parseGrafanaFrames(parseGrafanaJson(recorded('grafana11-prometheus-ds-query.json')));
    const slow = parseGrafanaFrames(JSON.parse(recorded('grafana11-prometheus-ds-query.json')));
    expect(slow.map((s) => [Array.from(s.series.t), Array.from(s.series.v)])).toEqual(fast.map((s) => [Array.from(s.series.t), Array.from(s.series.v)]));
  });
  it('InfluxQL through Grafana 10 (GROUP BY host)', () => {
    const c = parseGrafanaFrames(parseGrafanaJson(recorded('grafana10-influxql-ds-query.json')));
    expect(c.map((s) => [s.name, s.labels.host])).toEqual([['cpu.mean {host: a}', 'a'], ['cpu.mean {host: b}', 'b']]);
  });
  it('a long frame (SQL) is split by its string columns', () => {
    const c = parseGrafanaFrames(parseGrafanaJson(recorded('grafana11-sql-long-frame.json')));
    expect(c.map((s) => s.name)).toEqual(['value{host="a"}', 'value{host="b"}']);
    expect(Array.from(c[1].series.v)).toEqual([10, 20]);
  });
  it('drops points outside the range, sorts and dedupes', () => {
    const body = { results: { A: { frames: [{ schema: { fields: [{ name: 'Time', type: 'time' }, { name: 'Value', type: 'number' }] }, data: { values: [[3, 1, 2, 2, 9], [30, 10, 20, 21, 90]] } }] } } };
    const [s] = parseGrafanaFrames(body, 1, 9);
    expect(Array.from(s.series.t)).toEqual([1, 2, 3]);
    expect(Array.from(s.series.v)).toEqual([10, 21, 30]);
  });
  it('Inf and -Inf through entities are gaps (NaN) like every non-finite value of a Series', () => {
    const body = { results: { A: { frames: [{ schema: { fields: [{ type: 'time' }, { type: 'number' }] }, data: { values: [[1, 2, 3], [0, 0, 0]], entities: [null, { Inf: [0], NegInf: [2] }] } }] } } };
    expect(Array.from(parseGrafanaFrames(body)[0].series.v)).toEqual([NaN, 0, NaN]);
  });
  it('a query error is a bad_query with Grafana\'s message', () => {
    let e: unknown;
    try {
      parseGrafanaFrames(JSON.parse(recorded('grafana11-query-error.json')));
    } catch (err) {
      e = err;
    }
    expect((e as DatasourceError).kind).toBe('bad_query');
    expect((e as DatasourceError).message).toMatch(/Grafana query A: bad_data: invalid parameter/);
  });
  it.each([[{}], [{ results: [] }], [[1]], [null]])('%j is a bad_response', (body) => {
    expect(() => parseGrafanaFrames(body)).toThrow(/results/);
  });
  it('frames without a time field or without values are skipped', () => {
    expect(parseGrafanaFrames({ results: { A: { frames: [{ schema: { fields: [{ type: 'number' }] }, data: { values: [[1]] } }, {}] }, B: {} } })).toEqual([]);
  });
});

describe('grafanaQuery.query', () => {
  it('POSTs origin(panelUrl)/api/ds/query with the bearer and returns the series the target names', async () => {
    const { ctx, calls } = fakeFetch(() => json(recorded('grafana11-prometheus-ds-query.json')));
    const s = panelSource({}, [{ refId: 'A', labels: { cpu: '1' } }]);
    const got = await grafanaQuery.query(s, T0, T0 + 4 * MIN, ctx);
    expect(calls).toHaveLength(1);
    expect(calls[0].url).toBe('http://grafana.local:3000/api/ds/query');
    expect(calls[0].init.method).toBe('POST');
    expect((calls[0].init.headers as Record<string, string>).Authorization).toBe('Bearer glsa_key');
    expect(JSON.parse(String(calls[0].init.body)).from).toBe(String(T0));
    expect(got.name).toBe('cpu 1');
    expect(Array.from(got.v)).toEqual([1.125, 1.25, NaN, 1.5]);
  });
  it('several series and nothing to choose by: an error listing them', async () => {
    const { ctx } = fakeFetch(() => json(recorded('grafana11-prometheus-ds-query.json')));
    const e = await failure(grafanaQuery.query(panelSource(), T0, T0 + 4 * MIN, ctx));
    expect(e.kind).toBe('bad_query');
    expect(e.message).toContain('cpu 0, cpu 1');
  });
  it('pages a long range at GRAFANA_PAGE_POINTS points of the interval per request', async () => {
    const { ctx, calls } = fakeFetch((call) => {
      const { from } = JSON.parse(String(call.init.body)) as { from: string };
      return json(JSON.stringify({ results: { A: { frames: [{ schema: { fields: [{ type: 'time' }, { type: 'number' }] }, data: { values: [[Number(from)], [1]] } }] } } }));
    });
    const range = 25_000 * MIN;
    const got = await grafanaQuery.query(panelSource(), T0, T0 + range, ctx);
    expect(calls).toHaveLength(Math.ceil(25_000 / GRAFANA_PAGE_POINTS));
    const bodies = calls.map((c) => JSON.parse(String(c.init.body)) as { from: string; to: string; queries: Array<{ maxDataPoints: number }> });
    expect(bodies.map((b) => Number(b.from))).toEqual([T0, T0 + 10_000 * MIN, T0 + 20_000 * MIN]);
    expect(bodies.every((b) => b.queries[0].maxDataPoints <= GRAFANA_PAGE_POINTS)).toBe(true);
    expect(Array.from(got.t)).toEqual([T0, T0 + 10_000 * MIN, T0 + 20_000 * MIN]);
  });
  it('empty results are an empty series', async () => {
    const { ctx } = fakeFetch(() => json('{"results":{"A":{"status":200,"frames":[]}}}'));
    const got = await grafanaQuery.query(panelSource(), T0, T0 + MIN, ctx);
    expect(got.t.length).toBe(0);
  });
  it.each([
    ['401', () => json('{"message":"Unauthorized"}', 401), 'unauthorized'],
    ['403', () => json('{"message":"Permission denied"}', 403), 'unauthorized'],
    ['400 with the query error', () => json(recorded('grafana11-query-error.json'), 400), 'bad_query'],
    ['500', () => json('{"message":"Internal Server Error"}', 500), 'unreachable'],
    ['502 HTML', () => new Response('<html><body>Bad Gateway</body></html>', { status: 502, headers: { 'Content-Type': 'text/html' } }), 'unreachable'],
    ['200 HTML login page', () => new Response('<!DOCTYPE html><html>Login</html>', { headers: { 'Content-Type': 'text/html' } }), 'bad_response'],
    ['malformed JSON', () => json('{"results":{"A":{"frames":[{"schema":'), 'bad_response'],
    ['redirect to login', () => new Response(null, { status: 302, headers: { Location: '/login' } }), 'bad_query'],
    ['connection refused', () => Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' } })), 'unreachable'],
  ] as const)('%s -> %s', async (_n, answer, kind) => {
    const { ctx } = fakeFetch(answer as () => Response);
    const e = await failure(grafanaQuery.query(panelSource({}, [{ refId: 'A', labels: { cpu: '0' } }]), T0, T0 + MIN, ctx));
    expect(e.kind).toBe(kind);
  });
  it('400 says what Grafana said', async () => {
    const { ctx } = fakeFetch(() => json(recorded('grafana11-query-error.json'), 400));
    const e = await failure(grafanaQuery.query(panelSource(), T0, T0 + MIN, ctx));
    expect(e.message).toMatch(/parse error/);
  });
  it('slow: a timeout', async () => {
    const f = ((_u: string, init: RequestInit) =>
      new Promise((_r, reject) => init.signal?.addEventListener('abort', () => reject(init.signal?.reason)))) as unknown as typeof fetch;
    const e = await failure(grafanaQuery.query(panelSource(), T0, T0 + MIN, { fetch: f, timeoutMs: 50 }));
    expect(e.kind).toBe('timeout');
  });
});

describe('parseJsonFast (shared by the adapters)', () => {
  /** Typed arrays back to plain JSON values (NaN was null), to compare with JSON.parse. */
  const plain = (x: unknown): unknown => {
    if (x instanceof Float64Array) return Array.from(x, (v) => (Number.isNaN(v) ? null : v));
    if (x instanceof ObjectColumns) return { objectColumns: x.length };
    if (Array.isArray(x)) return x.map(plain);
    if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
    return x;
  };
  it('numberArrays: arrays of numbers and nulls only become Float64Arrays', () => {
    const out = parseJsonFast('{"a":[1,-2.5,null,1e3,12345678901234567],"b":[1,"x"],"c":[],"d":[[1,2],[3]],"e":[null]}', { numberArrays: true }) as Record<string, unknown>;
    expect(out.a).toBeInstanceOf(Float64Array);
    expect(Array.from(out.a as Float64Array)).toEqual([1, -2.5, NaN, 1000, 12345678901234567]);
    expect(out.b).toEqual([1, 'x']);
    expect(out.c).toEqual([]);
    expect((out.d as unknown[])[0]).toBeInstanceOf(Float64Array);
    expect(out.e).toBeInstanceOf(Float64Array);
  });
  it('property: same values as JSON.parse for any JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        const text = JSON.stringify(v);
        const expected = JSON.parse(text);
        const norm = (x: unknown) => JSON.parse(JSON.stringify(plain(x)));
        for (const options of [{}, { numberArrays: true }]) {
          expect(norm(parseJsonFast(text, options))).toEqual(norm(expected));
        }
      }),
      { seed: 5, numRuns: 300 },
    );
  });
  it('reads cells written as text the way metric APIs write them, in rows and after a JSON.parse fallback', () => {
    const cells = ['"1.5"', '"-0"', '"NaN"', '"+Inf"', '"-Inf"', '"Infinity"', '""', '"  "', '"2024-01-01T00:00:00Z"', '"1e3"', 'true', 'false', 'null', '"abc"'];
    const expected = [1.5, -0, NaN, Infinity, -Infinity, Infinity, NaN, NaN, Date.UTC(2024, 0, 1), 1000, 1, 0, NaN, NaN];
    const text = `{"values":[${cells.map((c) => `[${c}]`).join(',')}]}`;
    const fast = parseJsonFast(text, { rowKeys: ['values'] }) as { values: ValueColumns };
    expect(Array.from(fast.values.columns[0])).toEqual(expected);
    const fallback = rowColumns((JSON.parse(text) as { values: unknown }).values);
    expect(Array.from(fallback!.columns[0])).toEqual(expected);
    expect(expected.map((_, k) => cellNumber(JSON.parse(cells[k])))).toEqual(expected);
    expect(rowColumns([[1], 2])).toBeNull();
  });
  it.each(['', '{', '[1,2', '{"a":[1,]}', '{"a":[1 2]}', '[-]', '[1.]', 'nul', '{"a":1}x', '<html>'])('rejects %j like JSON.parse', (text) => {
    expect(() => parseJsonFast(text, { numberArrays: true, objectRowKeys: ['a'] })).toThrow(SyntaxError);
  });
});
