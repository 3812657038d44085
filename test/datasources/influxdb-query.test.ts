import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  ForbiddenOriginError,
  assertAllowedOrigin,
  authHeaders,
  datasourceProxyUrl,
  fetchWithTimeout,
  grafanaOrigin,
} from '../../src/datasources/grafana';
import {
  influxQueryForRange,
  influxRequest,
  influxdb,
  parseInfluxJson,
  parseInfluxResponse,
  ValueColumns,
} from '../../src/datasources/influxdb';
import { concatSeries, getDatasource, loadHistory, SUPPORTED_DATASOURCES, WEEK_MS } from '../../src/datasources/index';
import { DatasourceError, type Datasource, type FetchContext, type MetricSource } from '../../src/datasources/types';

const F = 1_700_000_000_000;
const T = 1_700_000_600_000;
const CLAUSE = `time >= ${F}ms AND time < ${T}ms`;

function source(over: Partial<MetricSource['datasource']> = {}, panelUrl = 'http://grafana.local:3000/d/abc/dash?panelId=2'): MetricSource {
  return {
    panelUrl,
    datasource: {
      type: 'influxdb',
      url: 'api/datasources/proxy/1/query',
      params: { db: 'telegraf', q: 'SELECT mean("value") FROM "cpu" WHERE $timeFilter GROUP BY time(1m)', epoch: 's' },
      ...over,
    },
    targets: [],
  };
}

function ctxWith(fetchImpl: (url: string, init: RequestInit) => Promise<Response>, over: Partial<FetchContext> = {}): FetchContext {
  return { fetch: fetchImpl as typeof fetch, apiKey: 'secret', timeoutMs: 1000, ...over };
}

async function rejection(p: Promise<unknown>): Promise<DatasourceError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DatasourceError);
    return e as DatasourceError;
  }
  throw new Error('expected a rejection');
}

function thrown(f: () => unknown): DatasourceError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DatasourceError);
    return e as DatasourceError;
  }
  throw new Error('expected a throw');
}

describe('influxQueryForRange', () => {
  it.each([
    ['epoch pair', 'SELECT v FROM m WHERE time >= 1525603866633ms and time <= 1526986266633ms GROUP BY time(1m)', `SELECT v FROM m WHERE ${CLAUSE} GROUP BY time(1m)`],
    ['now() minus', 'SELECT v FROM m WHERE time > now() - 6h GROUP BY time(1m)', `SELECT v FROM m WHERE ${CLAUSE} GROUP BY time(1m)`],
    ['now() pair', 'SELECT v FROM m WHERE time >= now() - 7d and time <= now() fill(null)', `SELECT v FROM m WHERE ${CLAUSE} fill(null)`],
    ['$timeFilter', 'SELECT v FROM m WHERE $timeFilter GROUP BY time($__interval)', `SELECT v FROM m WHERE ${CLAUSE} GROUP BY time($__interval)`],
    ['$timeFilter last', 'SELECT v FROM m WHERE host = \'a\' AND $timeFilter', `SELECT v FROM m WHERE host = 'a' AND ${CLAUSE}`],
    ['upper case AND', 'SELECT v FROM m WHERE time >= 1ms AND time < 2ms', `SELECT v FROM m WHERE ${CLAUSE}`],
    ['mixed case', 'select v from m where TIME >= 1ms And Time<2ms', `select v from m where ${CLAUSE}`],
    ['no spaces', 'SELECT v FROM m WHERE time>=now()-1h and time<=now()', `SELECT v FROM m WHERE ${CLAUSE}`],
    ['<= only', 'SELECT v FROM m WHERE time <= now()', `SELECT v FROM m WHERE ${CLAUSE}`],
    ['< only', 'SELECT v FROM m WHERE time < 1526986266633ms', `SELECT v FROM m WHERE ${CLAUSE}`],
    ['reversed pair', 'SELECT v FROM m WHERE time < now() AND time > now() - 30m', `SELECT v FROM m WHERE ${CLAUSE}`],
    ['compound duration', 'SELECT v FROM m WHERE time > now() - 1h30m', `SELECT v FROM m WHERE ${CLAUSE}`],
    ['quoted "time" and RFC3339', `SELECT v FROM m WHERE "time" >= '2018-05-06T00:00:00Z' AND "time" < '2018-05-07T00:00:00Z'`, `SELECT v FROM m WHERE ${CLAUSE}`],
    ['nanoseconds', 'SELECT v FROM m WHERE time >= 1525603866633000000 and time <= 1526986266633000000', `SELECT v FROM m WHERE ${CLAUSE}`],
    ['${__from}', 'SELECT v FROM m WHERE time >= ${__from}ms and time <= ${__to}ms', `SELECT v FROM m WHERE ${CLAUSE}`],
    ['time clause then other conditions', "SELECT v FROM m WHERE time > now() - 6h AND host = 'a'", `SELECT v FROM m WHERE ${CLAUSE} AND host = 'a'`],
  ])('%s', (_name, q, expected) => {
    expect(influxQueryForRange(q, F, T)).toBe(expected);
  });

  it('rewrites every occurrence (subqueries)', () => {
    const q = 'SELECT max(m) FROM (SELECT mean(v) AS m FROM x WHERE $timeFilter GROUP BY time(1m)) WHERE time > now() - 1h';
    expect(influxQueryForRange(q, F, T)).toBe(
      `SELECT max(m) FROM (SELECT mean(v) AS m FROM x WHERE ${CLAUSE} GROUP BY time(1m)) WHERE ${CLAUSE}`,
    );
  });

  it('leaves fields that end in "time" and GROUP BY time() alone', () => {
    const q = 'SELECT v FROM m WHERE response_time > 5 AND $timeFilter GROUP BY time(5m)';
    expect(influxQueryForRange(q, F, T)).toBe(`SELECT v FROM m WHERE response_time > 5 AND ${CLAUSE} GROUP BY time(5m)`);
  });

  it('throws bad_query when there is no time clause', () => {
    const e = thrown(() => influxQueryForRange('SELECT v FROM m GROUP BY time(1m)', F, T));
    expect(e.kind).toBe('bad_query');
    expect(e.message).toBe('the query has no time clause to rewrite: add WHERE $timeFilter');
  });
});

describe('URL building', () => {
  it('joins origin and datasource.url, dropping leading slashes and the panel path', () => {
    for (const url of ['api/datasources/proxy/1/query', '/api/datasources/proxy/1/query', '//api/datasources/proxy/1/query']) {
      expect(datasourceProxyUrl(source({ url })).href).toBe('http://grafana.local:3000/api/datasources/proxy/1/query');
    }
  });

  it('does not handle a Grafana under a sub-path (origin only, like the original)', () => {
    const s = source({}, 'https://example.com/grafana/d/abc');
    expect(datasourceProxyUrl(s).href).toBe('https://example.com/api/datasources/proxy/1/query');
    expect(grafanaOrigin('https://example.com/grafana/d/abc')).toBe('https://example.com');
  });

  it('cannot be sent to another host through datasource.url', () => {
    for (const url of ['//evil.example/query', '\\\\evil.example/query', '/\\evil.example/x']) {
      expect(datasourceProxyUrl(source({ url })).origin).toBe('http://grafana.local:3000');
    }
  });

  it('GET: params in the query string, time clause rewritten, epoch forced to ms, bearer header', () => {
    const { url, init } = influxRequest(source(), F, T, ctxWith(vi.fn()));
    expect(url.origin + url.pathname).toBe('http://grafana.local:3000/api/datasources/proxy/1/query');
    expect(url.searchParams.get('db')).toBe('telegraf');
    expect(url.searchParams.get('epoch')).toBe('ms');
    expect(url.searchParams.get('q')).toBe(`SELECT mean("value") FROM "cpu" WHERE ${CLAUSE} GROUP BY time(1m)`);
    expect(init.method).toBe('GET');
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer secret');
  });

  it('POST: q in a form body, the rest in the query string', () => {
    const { url, init } = influxRequest(source({ method: 'post' }), F, T, ctxWith(vi.fn()));
    expect(url.searchParams.get('q')).toBeNull();
    expect(url.searchParams.get('db')).toBe('telegraf');
    expect(url.searchParams.get('epoch')).toBe('ms');
    expect(init.method).toBe('POST');
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/x-www-form-urlencoded');
    expect(new URLSearchParams(String(init.body)).get('q')).toContain(CLAUSE);
  });

  it('POST: reads q from a form-encoded datasource.data (Grafana httpMode POST)', () => {
    const s = source({ method: 'POST', params: { db: 'telegraf' }, data: 'q=SELECT%20v%20FROM%20m%20WHERE%20%24timeFilter' });
    const { init } = influxRequest(s, F, T, ctxWith(vi.fn()));
    expect(new URLSearchParams(String(init.body)).get('q')).toBe(`SELECT v FROM m WHERE ${CLAUSE}`);
  });

  it('no Authorization header without an API key', () => {
    expect(authHeaders({ fetch, timeoutMs: 1 })).toEqual({});
    const { init } = influxRequest(source(), F, T, ctxWith(vi.fn(), { apiKey: undefined }));
    expect((init.headers as Record<string, string>).Authorization).toBeUndefined();
  });

  it('an empty query is a bad_query', () => {
    const e = thrown(() => influxRequest(source({ params: { db: 'x' } }), F, T, ctxWith(vi.fn())));
    expect(e.kind).toBe('bad_query');
  });
});

describe('assertAllowedOrigin', () => {
  it('accepts any http(s) panel when GRAFANA_URL is not set', () => {
    expect(() => assertAllowedOrigin('http://a:3000/d/x')).not.toThrow();
    expect(() => assertAllowedOrigin('https://a/d/x', '')).not.toThrow();
  });
  it('accepts the configured origin, whatever the paths', () => {
    expect(() => assertAllowedOrigin('https://g.example.com/d/x?panelId=1', 'https://g.example.com/grafana/')).not.toThrow();
  });
  it.each([
    ['another host', 'https://evil.example.com/d/x', 'https://g.example.com'],
    ['another port', 'https://g.example.com:8443/d/x', 'https://g.example.com'],
    ['another scheme', 'http://g.example.com/d/x', 'https://g.example.com'],
    ['not http', 'file:///etc/passwd', undefined],
    ['javascript', 'javascript:alert(1)', undefined],
    ['not a URL', 'grafana/d/x', undefined],
  ])('rejects %s', (_n, panelUrl, grafanaUrl) => {
    const e = thrown(() => assertAllowedOrigin(panelUrl, grafanaUrl));
    expect(e).toBeInstanceOf(ForbiddenOriginError);
    expect(e.kind).toBe('unsupported');
    expect(e.transient).toBe(false);
  });
});

describe('fetchWithTimeout error mapping', () => {
  const url = 'http://grafana.local:3000/api/datasources/proxy/1/query';
  const respond = (status: number, body: string, contentType = 'application/json') =>
    ctxWith(async () => new Response(body, { status, headers: { 'Content-Type': contentType } }));

  it('returns parsed JSON and calls fetch without a this', async () => {
    const f = vi.fn(async function (this: unknown) {
      expect(this).toBeUndefined();
      return Response.json({ results: [] });
    });
    const ctx = ctxWith(f as never);
    expect(await fetchWithTimeout(url, {}, ctx)).toEqual({ results: [] });
  });

  it('network error -> unreachable', async () => {
    const ctx = ctxWith(async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) });
    });
    const e = await rejection(fetchWithTimeout(url, {}, ctx));
    expect(e.kind).toBe('unreachable');
    expect(e.transient).toBe(true);
    expect(e.message).toMatch(/^cannot reach Grafana at http:\/\/grafana\.local:3000: ECONNREFUSED/);
  });

  it('timeout -> timeout', async () => {
    const ctx = ctxWith(
      (_u, init) =>
        new Promise((_r, reject) => init.signal!.addEventListener('abort', () => reject(init.signal!.reason))),
      { timeoutMs: 20 },
    );
    const e = await rejection(fetchWithTimeout(url, {}, ctx));
    expect(e.kind).toBe('timeout');
    expect(e.message).toContain('20 ms');
  });

  it.each([401, 403])('%i -> unauthorized, mentions HASTIC_API_KEY', async (status) => {
    const e = await rejection(fetchWithTimeout(url, {}, respond(status, '{"message":"Unauthorized"}')));
    expect(e.kind).toBe('unauthorized');
    expect(e.message).toMatch(new RegExp(`^datasource answered ${status}: check HASTIC_API_KEY`));
  });

  it('400 -> bad_query with InfluxDB error text', async () => {
    const e = await rejection(fetchWithTimeout(url, {}, respond(400, '{"error":"error parsing query: found FROM"}')));
    expect(e.kind).toBe('bad_query');
    expect(e.message).toBe('datasource answered 400: error parsing query: found FROM');
  });

  it('404 from Grafana -> bad_query with its message', async () => {
    const e = await rejection(fetchWithTimeout(url, {}, respond(404, '{"message":"Unable to find datasource"}')));
    expect(e.kind).toBe('bad_query');
    expect(e.message).toContain('Unable to find datasource');
  });

  it('5xx -> unreachable (transient) with the status', async () => {
    const e = await rejection(fetchWithTimeout(url, {}, respond(502, '{"message":"Bad Gateway"}')));
    expect(e.kind).toBe('unreachable');
    expect(e.transient).toBe(true);
    expect(e.message).toMatch(/^datasource answered 502: Bad Gateway/);
  });

  it('HTML -> bad_response', async () => {
    const e = await rejection(fetchWithTimeout(url, {}, respond(200, '<!DOCTYPE html><html></html>', 'text/html')));
    expect(e.kind).toBe('bad_response');
    expect(e.message).toContain('HTML');
  });

  it('non-JSON text -> bad_response', async () => {
    const e = await rejection(fetchWithTimeout(url, {}, respond(200, 'ok', 'text/plain')));
    expect(e.kind).toBe('bad_response');
  });
});

describe('parseInfluxResponse', () => {
  const body = (values: unknown[][], columns = ['time', 'value']) => ({
    results: [{ statement_id: 0, series: [{ name: 'cpu', columns, values }] }],
  });

  it('reads the first non-time column; nulls become NaN', () => {
    const s = parseInfluxResponse(body([[1000, 1.5], [2000, null], [3000, 3]]));
    expect(Array.from(s.t)).toEqual([1000, 2000, 3000]);
    expect(Array.from(s.v)).toEqual([1.5, NaN, 3]);
    expect(s.t).toBeInstanceOf(Float64Array);
    expect(s.v).toBeInstanceOf(Float64Array);
  });

  it('finds the time column wherever it is', () => {
    const s = parseInfluxResponse(body([[7, 1000, 8]], ['mean', 'time', 'max']));
    expect(Array.from(s.t)).toEqual([1000]);
    expect(Array.from(s.v)).toEqual([7]);
  });

  it('sorts and dedupes (last wins)', () => {
    const s = parseInfluxResponse(body([[3000, 3], [1000, 1], [2000, 2], [1000, 10]]));
    expect(Array.from(s.t)).toEqual([1000, 2000, 3000]);
    expect(Array.from(s.v)).toEqual([10, 2, 3]);
  });

  it('keeps only [from, to)', () => {
    const s = parseInfluxResponse(body([[1000, 1], [2000, 2], [3000, 3]]), 2000, 3000);
    expect(Array.from(s.t)).toEqual([2000]);
  });

  it('accepts RFC3339 times', () => {
    const s = parseInfluxResponse(body([['1970-01-01T00:00:01Z', 1]]));
    expect(Array.from(s.t)).toEqual([1000]);
  });

  it('no series -> empty series', () => {
    for (const b of [{ results: [{ statement_id: 0 }] }, { results: [] }, { results: [{ series: [] }] }]) {
      const s = parseInfluxResponse(b);
      expect(s.t.length).toBe(0);
      expect(s.v.length).toBe(0);
    }
  });

  it('uses the first series of the first statement that has one', () => {
    const s = parseInfluxResponse({
      results: [
        { statement_id: 0 },
        { statement_id: 1, series: [{ name: 'a', columns: ['time', 'v'], values: [[1, 1]] }, { name: 'b', columns: ['time', 'v'], values: [[1, 2]] }] },
      ],
    });
    expect(Array.from(s.v)).toEqual([1]);
  });

  it('statement error -> bad_query with InfluxDB text', () => {
    const e = thrown(() => parseInfluxResponse({ results: [{ statement_id: 0, error: 'database not found: nodb' }] }));
    expect(e.kind).toBe('bad_query');
    expect(e.message).toContain('database not found: nodb');
  });

  it('top-level error -> bad_query', () => {
    const e = thrown(() => parseInfluxResponse({ error: 'error parsing query: x' }));
    expect(e.kind).toBe('bad_query');
    expect(e.message).toContain('error parsing query: x');
  });

  it.each([[null], [[1, 2]], [{ data: [] }], ['x']])('unexpected JSON %j -> bad_response', (b) => {
    expect(thrown(() => parseInfluxResponse(b)).kind).toBe('bad_response');
  });
});

describe('influxdb.query (stubbed fetch)', () => {
  it('sends the rewritten query and returns the points in range', async () => {
    let seen = '';
    const ctx = ctxWith(async (u) => {
      seen = u;
      return Response.json({ results: [{ series: [{ name: 'cpu', columns: ['time', 'value'], values: [[F - 60_000, 0], [F, 1], [F + 60_000, 2]] }] }] });
    });
    const s = await influxdb.query(source(), F, T, ctx);
    expect(Array.from(s.t)).toEqual([F, F + 60_000]);
    expect(new URL(seen).searchParams.get('q')).toContain(CLAUSE);
  });
});

describe('getDatasource', () => {
  it('knows influxdb (case-insensitive)', () => {
    expect(getDatasource('influxdb')).toBe(influxdb);
    expect(getDatasource('InfluxDB')).toBe(influxdb);
  });
  it.each(['oracle', 'constructor', '__proto__'])('%s is unsupported, naming what is', (type) => {
    const e = thrown(() => getDatasource(type));
    expect(e.kind).toBe('unsupported');
    expect(e.message).toBe(`datasource type ${type} is not supported yet (supported: ${SUPPORTED_DATASOURCES.join(', ')})`);
    expect(SUPPORTED_DATASOURCES).toEqual(expect.arrayContaining(['influxdb', 'prometheus', 'graphite', 'elasticsearch']));
  });
});

describe('loadHistory (fake datasource)', () => {
  const MIN = 60_000;
  /** One point per hour in [dataFrom, dataTo). */
  function fake(dataFrom: number, dataTo: number) {
    const calls: Array<[number, number]> = [];
    const ds: Datasource = {
      async query(_s, from, to) {
        calls.push([from, to]);
        const t: number[] = [];
        for (let x = Math.ceil(Math.max(from, dataFrom) / (60 * MIN)) * 60 * MIN; x < Math.min(to, dataTo); x += 60 * MIN) t.push(x);
        return { t: Float64Array.from(t), v: Float64Array.from(t, (x) => x / MIN) };
      },
    };
    return { ds, calls };
  }
  const ctx = ctxWith(vi.fn());
  const now = 100 * WEEK_MS;

  it('walks back a week at a time and stops at the first empty week', async () => {
    const { ds, calls } = fake(now - 2.5 * WEEK_MS, now);
    const s = await loadHistory(source(), ds, ctx, { nowMs: now, maxHistoryMs: 90 * 24 * 3600_000 });
    expect(calls).toEqual([
      [now - WEEK_MS, now],
      [now - 2 * WEEK_MS, now - WEEK_MS],
      [now - 3 * WEEK_MS, now - 2 * WEEK_MS],
      [now - 4 * WEEK_MS, now - 3 * WEEK_MS],
    ]);
    expect(s.t.length).toBe(2.5 * 7 * 24);
    expect(s.t[0]).toBe(now - 2.5 * WEEK_MS);
    for (let i = 1; i < s.t.length; i++) expect(s.t[i]).toBeGreaterThan(s.t[i - 1]);
  });

  it('stops at maxHistoryMs with a partial last chunk', async () => {
    const { ds, calls } = fake(0, now);
    const s = await loadHistory(source(), ds, ctx, { nowMs: now, maxHistoryMs: 10 * 24 * 3600_000 });
    expect(calls).toEqual([
      [now - WEEK_MS, now],
      [now - 10 * 24 * 3600_000, now - WEEK_MS],
    ]);
    expect(s.t[0]).toBe(now - 10 * 24 * 3600_000);
    expect(s.t.length).toBe(10 * 24);
  });

  it('an empty latest week gives an empty series; errors propagate', async () => {
    const { ds } = fake(0, now - 2 * WEEK_MS);
    expect((await loadHistory(source(), ds, ctx, { nowMs: now, maxHistoryMs: WEEK_MS * 10 })).t.length).toBe(0);
    const failing: Datasource = { query: async () => { throw new DatasourceError('unauthorized', 'x'); } };
    expect((await rejection(loadHistory(source(), failing, ctx, { nowMs: now, maxHistoryMs: WEEK_MS }))).kind).toBe('unauthorized');
  });

  it('concatSeries repairs overlaps', () => {
    const s = concatSeries([
      { t: Float64Array.from([1, 2, 3]), v: Float64Array.from([1, 2, 3]) },
      { t: Float64Array.from([3, 4]), v: Float64Array.from([30, 4]) },
    ]);
    expect(Array.from(s.t)).toEqual([1, 2, 3, 4]);
    expect(Array.from(s.v)).toEqual([1, 2, 30, 4]);
  });
});

describe('parseInfluxJson (columnar fast path)', () => {
  it('is JSON.parse for documents without "values"', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (doc) => {
        const text = JSON.stringify(doc);
        fc.pre(!text.includes('"values"'));
        expect(parseInfluxJson(text)).toEqual(JSON.parse(text));
        expect(parseInfluxJson(JSON.stringify(doc, null, 2))).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it('reads numbers exactly like JSON.parse', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const text = `{"values":[[1,${JSON.stringify(x)}]],"x":${JSON.stringify(x)}}`;
        const out = parseInfluxJson(text) as { values: ValueColumns; x: number };
        expect(Object.is(out.x, JSON.parse(text).x)).toBe(true);
        expect(Object.is(out.values.columns[1][0], JSON.parse(text).values[0][1])).toBe(true);
      }),
      { numRuns: 2000 },
    );
    for (const lit of ['0', '-0', '1e3', '1E-7', '-2.5e+10', '123456789012345678', '0.1', '1.7976931348623157e308', '5e-324']) {
      const out = parseInfluxJson(`{"values":[[${lit}]]}`) as { values: ValueColumns };
      expect(Object.is(out.values.columns[0][0], JSON.parse(lit))).toBe(true);
    }
  });

  it('turns "values" rows into columns: null -> NaN, booleans -> 1/0, RFC3339 -> ms, ragged rows padded', () => {
    const text = ' { "results" : [ { "series" : [ { "name" : "c\\u00e9" , "columns" : ["time","a","b"], "values" : [ [ 1000 , null , true ] ,' +
      '["1970-01-01T00:00:02Z", 2.5, false], [3000], [4000, "7", "x", 9] ] } ] } ] } ';
    const out = parseInfluxJson(text) as { results: Array<{ series: Array<{ name: string; values: ValueColumns }> }> };
    const series = out.results[0].series[0];
    expect(series.name).toBe('c\u00e9');
    expect(series.values).toBeInstanceOf(ValueColumns);
    expect(series.values.length).toBe(4);
    expect(series.values.columns.map((c) => Array.from(c))).toEqual([
      [1000, 2000, 3000, 4000],
      [NaN, 2.5, NaN, 7],
      [1, 0, NaN, NaN],
      [NaN, NaN, NaN, 9],
    ]);
  });

  it('falls back to plain arrays when "values" is not rows of scalars', () => {
    expect(parseInfluxJson('{"values":[[1,[2]],[3,{"a":1}]]}')).toEqual({ values: [[1, [2]], [3, { a: 1 }]] });
    expect(parseInfluxJson('{"values":[1,2]}')).toEqual({ values: [1, 2] });
    expect(parseInfluxJson('{"values":"x"}')).toEqual({ values: 'x' });
    expect((parseInfluxJson('{"values":[]}') as { values: ValueColumns }).values.length).toBe(0);
  });

  it('keeps "__proto__" an own property', () => {
    const out = parseInfluxJson('{"__proto__":{"polluted":1}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each(['', '{', '{"values":[[1,2]', '{"values":[[1,]]}', '[1,2', 'nul', '{"a":1}x', '<html>'])('rejects %j', (text) => {
    expect(() => parseInfluxJson(text)).toThrow(SyntaxError);
  });

  it('a body that is not JSON is a bad_response through the datasource', async () => {
    const ctx = ctxWith(async () => new Response('{"results":[', { headers: { 'Content-Type': 'application/json' } }));
    expect((await rejection(influxdb.query(source(), F, T, ctx))).kind).toBe('bad_response');
  });
});

describe('parse at scale', () => {
  // Throughput is measured by `npm run bench -- datasource-parse`, not asserted here.
  it('parses 1M points (text to Series)', () => {
    const n = 1_000_000;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(`[${F + i * 1000},${i % 97 === 0 ? 'null' : (i * 0.25).toFixed(2)}]`);
    const text = `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","value"],"values":[${parts.join(',')}]}]}]}`;
    const s = parseInfluxResponse(parseInfluxJson(text));
    expect(s.t.length).toBe(n);
    expect(s.t[n - 1]).toBe(F + (n - 1) * 1000);
    expect(s.v[1]).toBe(0.25);
    expect(s.v[n - 1]).toBe(Number(((n - 1) * 0.25).toFixed(2)));
    expect(Number.isNaN(s.v[0])).toBe(true);
  });
});
