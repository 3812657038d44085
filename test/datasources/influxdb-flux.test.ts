import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getDatasource } from '../../src/datasources/index';
import { fluxQueryForRange, fluxRequest, influxdbFlux, isFluxSpec, parseFluxCsv, parseRfc3339 } from '../../src/datasources/influxdb-flux';
import { DatasourceError, type FetchContext, type MetricSource } from '../../src/datasources/types';
import { failure } from '../support/datasource-failure';

const recorded = (name: string) => readFileSync(new URL(`./recorded/${name}`, import.meta.url), 'utf8');
const T0 = Date.UTC(2024, 0, 1);
const MIN = 60_000;
const Q = 'from(bucket: "metrics")\n  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)\n  |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage_user")\n  |> aggregateWindow(every: v.windowPeriod, fn: mean)';

function source(over: Partial<MetricSource['datasource']> = {}, targets: unknown[] = []): MetricSource {
  return {
    panelUrl: 'http://grafana.local:3000/d/abc?panelId=3',
    datasource: { type: 'influxdb', url: 'api/datasources/proxy/uid/flux1/api/v2/query', params: { org: 'acme', query: Q }, ...over },
    targets,
  };
}
function ctxAnswering(answer: () => Response | Promise<Response>, calls: Array<{ url: string; init: RequestInit }> = []): FetchContext {
  const f = async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return answer();
  };
  return { fetch: f as typeof fetch, apiKey: 'k', timeoutMs: 1000 };
}
const csv = (text: string, status = 200) => new Response(text, { status, headers: { 'Content-Type': 'text/csv; charset=utf-8' } });

describe('fluxQueryForRange', () => {
  const start = '2024-01-01T00:00:00.000Z';
  const stop = '2024-01-01T01:00:00.000Z';
  it.each([
    ['Grafana variables', 'from(bucket: "b") |> range(start: v.timeRangeStart, stop: v.timeRangeStop)'],
    ['relative start', 'from(bucket: "b") |> range(start: -1h)'],
    ['absolute pair', 'from(bucket: "b") |> range(start: 2023-01-01T00:00:00Z, stop: 2023-02-01T00:00:00Z)'],
    ['nested calls', 'from(bucket: "b") |> range(start: date.sub(d: 1h, from: now()), stop: now())'],
    ['spaces', 'from(bucket: "b") |> range( start : -5m )'],
  ])('%s', (_n, q) => {
    expect(fluxQueryForRange(q, T0, T0 + 60 * MIN)).toBe(`from(bucket: "b") |> range(start: ${start}, stop: ${stop})`);
  });
  it('replaces the variables elsewhere and v.windowPeriod by the interval', () => {
    const out = fluxQueryForRange(Q, T0, T0 + 60 * MIN, 30_000);
    expect(out).toContain(`range(start: ${start}, stop: ${stop})`);
    expect(out).toContain('aggregateWindow(every: 30s, fn: mean)');
    expect(out).not.toMatch(/v\.(timeRange|windowPeriod)/);
  });
  it('every range() of a query (joins, unions)', () => {
    const q = 'a = from(bucket: "x") |> range(start: -1h)\nb = from(bucket: "y") |> range(start: -2h, stop: -1h)';
    expect(fluxQueryForRange(q, T0, T0 + 60 * MIN).match(/range\(start: 2024/g)).toHaveLength(2);
  });
  it('does not touch a string that mentions range(', () => {
    const q = 'from(bucket: "b") |> range(start: -1h) |> filter(fn: (r) => r.note == "range(start: -1h)")';
    expect(fluxQueryForRange(q, T0, T0 + MIN)).toContain('r.note == "range(start: -1h)"');
  });
  it('a query without a range is a bad_query', () => {
    expect(() => fluxQueryForRange('from(bucket: "b") |> last()', T0, T0 + MIN)).toThrow(/no range\(\)/);
  });
});

describe('choosing Flux', () => {
  it.each([
    [{ type: 'influxdb', url: 'api/datasources/proxy/3/api/v2/query' }, true],
    [{ type: 'influxdb', url: 'api/datasources/proxy/3', params: { query: Q } }, true],
    [{ type: 'influxdb', url: 'api/datasources/proxy/3', data: { query: Q } }, true],
    [{ type: 'influxdb', url: 'api/datasources/proxy/3/query', params: { q: 'SELECT 1' } }, false],
  ])('%j -> %s', (spec, flux) => {
    expect(isFluxSpec(spec)).toBe(flux);
    expect(getDatasource(spec) === influxdbFlux).toBe(flux);
  });
  it('type flux too', () => {
    expect(getDatasource('flux')).toBe(influxdbFlux);
  });
});

describe('fluxRequest', () => {
  it('POSTs the rewritten query as JSON asking for annotated CSV, with org', () => {
    const { url, init } = fluxRequest(source(), T0, T0 + MIN, { fetch, apiKey: 'k', timeoutMs: 1 });
    expect(url.href).toBe('http://grafana.local:3000/api/datasources/proxy/uid/flux1/api/v2/query?org=acme');
    expect(init.method).toBe('POST');
    const body = JSON.parse(String(init.body));
    expect(body.type).toBe('flux');
    expect(body.dialect.annotations).toEqual(['datatype', 'group', 'default']);
    expect(body.query).toContain('range(start: 2024-01-01T00:00:00.000Z, stop: 2024-01-01T00:01:00.000Z)');
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer k');
  });
  it('appends api/v2/query to a proxy base URL', () => {
    const { url } = fluxRequest(source({ url: 'api/datasources/proxy/3' }), T0, T0 + MIN, { fetch, timeoutMs: 1 });
    expect(url.pathname).toBe('/api/datasources/proxy/3/api/v2/query');
  });
  it('takes the query from the target when the datasource has none', () => {
    const { init } = fluxRequest(source({ params: {} }, [{ refId: 'A', query: 'from(bucket: "t") |> range(start: -1h)' }]), T0, T0 + MIN, { fetch, timeoutMs: 1 });
    expect(JSON.parse(String(init.body)).query).toContain('bucket: "t"');
  });
  it('no query at all is a bad_query', () => {
    expect(() => fluxRequest(source({ params: {} }), T0, T0 + MIN, { fetch, timeoutMs: 1 })).toThrow(DatasourceError);
  });
});

describe('parseRfc3339', () => {
  it.each([
    '2024-01-01T00:00:00Z',
    '2024-02-29T23:59:59.999Z',
    '1999-12-31T12:34:56.5Z',
    '2024-01-01T00:00:00.123456789Z',
    '2024-06-01T02:00:00+02:00',
    '2024-06-01T02:00:00-05:30',
    '1970-01-01T00:00:00Z',
    '2100-03-01T00:00:00Z',
    '1900-03-01T00:00:00Z',
  ])('%s', (s) => {
    expect(parseRfc3339(s)).toBe(Math.floor(Date.parse(s)));
  });
  it('agrees with Date.parse on any ms time', () => {
    fc.assert(
      fc.property(fc.integer({ min: -2e12, max: 4e12 }), (ms) => {
        const s = new Date(ms).toISOString();
        return parseRfc3339(s) === ms;
      }),
      { seed: 7, numRuns: 2000 },
    );
  });
  it('odd text goes to Date.parse (NaN when not a time)', () => {
    expect(parseRfc3339('yesterday')).toBeNaN();
  });
});

describe('parseFluxCsv (recorded InfluxDB 2 answers)', () => {
  it('one candidate per table, named by measurement and group key', () => {
    const c = parseFluxCsv(recorded('influxdb2-flux-two-tables.csv'));
    expect(c.map((s) => s.name)).toEqual(['cpu{_field="usage_user",host="a"}', 'cpu{_field="usage_user",host="b"}']);
    expect(c[0].labels).toEqual({ _field: 'usage_user', _measurement: 'cpu', host: 'a' });
    expect(c[0].refId).toBe('_result');
    expect(Array.from(c[0].series.t)).toEqual([T0, T0 + MIN, T0 + 2 * MIN + 123]);
    expect(Array.from(c[0].series.v)).toEqual([1.5, 2.5, NaN]);
    expect(Array.from(c[1].series.v)).toEqual([10, 20]);
  });
  it('sections with different schemas (blank line, new annotations)', () => {
    const c = parseFluxCsv(recorded('influxdb2-flux-two-schemas.csv'));
    expect(c.map((s) => [s.name, Array.from(s.series.v)])).toEqual([['m{_field="v"}', [1]], ['m{_field="n"}', [7]]]);
  });
  it('an error table is a bad_query with InfluxDB\'s message', () => {
    expect(() => parseFluxCsv(recorded('influxdb2-flux-error.csv'))).toThrow(/InfluxDB: failed to execute query: error @1:1-1:5: undefined identifier fro/);
  });
  it('quoted cells with commas, quotes and newlines', () => {
    const text = '#datatype,string,long,dateTime:RFC3339,double,string\n#group,false,false,false,false,true\n#default,_result,,,,\n,result,table,_time,_value,note\n,,0,2024-01-01T00:00:00Z,1,"a, ""b""\nc"\n';
    const [s] = parseFluxCsv(text);
    expect(s.labels).toEqual({ note: 'a, "b"\nc' });
    expect(Array.from(s.series.v)).toEqual([1]);
  });
  it('rows of one table after the first (fast path) keep every point, with quoted labels and table changes', () => {
    const head = '#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string\r\n#group,false,false,true,true,false,false,true,true\r\n#default,_result,,,,,,,\r\n,result,table,_start,_stop,_time,_value,_field,note\r\n';
    const row = (table: number, i: number, v: string) => `,,${table},2024-01-01T00:00:00Z,2024-01-02T00:00:00Z,${new Date(T0 + i * MIN).toISOString()},${v},f,"x, ""${table}"""`;
    const rows = [row(0, 0, '1'), row(0, 1, '2'), row(0, 2, ''), row(1, 0, '10'), row(1, 1, '-2.5e1'), row(0, 3, '4')];
    const c = parseFluxCsv(`${head}${rows.join('\r\n')}\r\n\r\n`);
    expect(c.map((s) => [s.labels.note, Array.from(s.series.v)])).toEqual([['x, "0"', [1, 2, NaN, 4]], ['x, "1"', [10, -25]]]);
    // And a last row cut short (no newline) is still noticed.
    expect(() => parseFluxCsv(`${head}${rows.join('\r\n')}\r\n,,0,2024-01-01T00:00:00Z,2024-01-02T00:00:00Z,2024-01-01T01:00:00Z,7`)).toThrow(/cut short/);
  });
  it('pivoted output (no _value): one candidate per numeric column', () => {
    const text = '#datatype,string,long,dateTime:RFC3339,double,double,string\n#group,false,false,false,false,false,true\n#default,_result,,,,,\n,result,table,_time,idle,user,host\n,,0,2024-01-01T00:00:00Z,90,10,a\n';
    const c = parseFluxCsv(text);
    expect(c.map((s) => s.name)).toEqual(['{_field="idle",host="a"}', '{_field="user",host="a"}']);
  });
  it('drops points outside the range; sorts and dedupes', () => {
    const text = ',result,table,_time,_value\n,_result,0,2024-01-01T00:02:00Z,3\n,_result,0,2024-01-01T00:00:00Z,1\n,_result,0,2024-01-01T00:01:00Z,2\n,_result,0,2024-01-01T00:01:00Z,2.5\n,_result,0,2024-01-01T00:05:00Z,5\n';
    const [s] = parseFluxCsv(text, T0, T0 + 3 * MIN);
    expect(Array.from(s.series.t)).toEqual([T0, T0 + MIN, T0 + 2 * MIN]);
    expect(Array.from(s.series.v)).toEqual([1, 2.5, 3]);
  });
  it('a row cut short is a bad_response', () => {
    const text = recorded('influxdb2-flux-two-tables.csv');
    const cut = text.slice(0, text.indexOf('1.5,usage_user') + 3);
    expect(() => parseFluxCsv(cut)).toThrow(/cut short/);
  });
  it('an unterminated quote is a bad_response', () => {
    expect(() => parseFluxCsv(',result,table,_time,_value,x\n,_result,0,2024-01-01T00:00:00Z,1,"abc')).toThrow(/cut short/);
  });
  it('empty answer: no series', () => {
    expect(parseFluxCsv('')).toEqual([]);
    expect(parseFluxCsv('\r\n')).toEqual([]);
  });
  it('NaN, +Inf, empty cells and strings are NaN (gaps)', () => {
    const text = ',result,table,_time,_value\n,_result,0,2024-01-01T00:00:00Z,NaN\n,_result,0,2024-01-01T00:01:00Z,+Inf\n,_result,0,2024-01-01T00:02:00Z,\n,_result,0,2024-01-01T00:03:00Z,abc\n,_result,0,2024-01-01T00:04:00Z,-1.5e3\n';
    expect(Array.from(parseFluxCsv(text)[0].series.v)).toEqual([NaN, NaN, NaN, NaN, -1500]);
  });
});

describe('influxdbFlux.query', () => {
  it('returns the series the target names', async () => {
    const calls: Array<{ url: string; init: RequestInit }> = [];
    const got = await influxdbFlux.query(source({}, [{ refId: 'A', labels: { host: 'b' } }]), T0, T0 + 60 * MIN, ctxAnswering(() => csv(recorded('influxdb2-flux-two-tables.csv')), calls));
    expect(got.name).toBe('cpu{_field="usage_user",host="b"}');
    expect(Array.from(got.v)).toEqual([10, 20]);
    expect(calls).toHaveLength(1);
  });
  it('ambiguous: an error listing the tables', async () => {
    const e = await failure(influxdbFlux.query(source(), T0, T0 + 60 * MIN, ctxAnswering(() => csv(recorded('influxdb2-flux-two-tables.csv')))));
    expect(e.message).toContain('host="a"');
    expect(e.message).toContain('host="b"');
  });
  it.each([
    ['400 JSON error', () => new Response('{"code":"invalid","message":"compilation failed: error at @1:1-1:4: undefined identifier fro"}', { status: 400, headers: { 'Content-Type': 'application/json' } }), 'bad_query', /undefined identifier/],
    ['401', () => new Response('{"code":"unauthorized","message":"unauthorized access"}', { status: 401 }), 'unauthorized', /401/],
    ['200 error table', () => csv(recorded('influxdb2-flux-error.csv')), 'bad_query', /undefined identifier/],
    ['503 HTML', () => new Response('<html>unavailable</html>', { status: 503, headers: { 'Content-Type': 'text/html' } }), 'unreachable', /503/],
    ['200 HTML', () => new Response('<html>login</html>', { headers: { 'Content-Type': 'text/html' } }), 'bad_response', /HTML/],
    ['200 JSON', () => new Response('{"results":[]}', { headers: { 'Content-Type': 'application/json' } }), 'bad_response', /annotated CSV/],
  ] as const)('%s -> %s', async (_n, answer, kind, message) => {
    const e = await failure(influxdbFlux.query(source(), T0, T0 + MIN, ctxAnswering(answer)));
    expect(e.kind).toBe(kind);
    expect(e.message).toMatch(message);
  });
});
