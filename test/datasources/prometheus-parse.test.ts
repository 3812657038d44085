/**
 * Prometheus and Graphite adapters without servers: request building, range splitting, reading pairs
 * into typed columns (same numbers as JSON.parse), and every malformed answer a proxy can hand back.
 */
import { describe, expect, it } from 'vitest';
import { graphite, parseGraphiteJson, parseGraphiteResponse } from '../../src/datasources/graphite';
import { parseJsonFast, ValueColumns } from '../../src/datasources/fast-json';
import {
  durationMs,
  expandGrafanaVariables,
  parsePrometheusJson,
  parsePrometheusResponse,
  prometheus,
  prometheusRanges,
  prometheusSeriesName,
  PROMETHEUS_MAX_POINTS,
  queryRangeUrl,
} from '../../src/datasources/prometheus';
import { DatasourceError, type FetchContext, type MetricSource } from '../../src/datasources/types';
import { failure } from '../support/datasource-failure';

const S = 1_700_000_000_000;

/** A fetch that answers `body` with `status` (and records the URLs asked). */
function fakeFetch(answer: (url: URL) => { status?: number; body: string; type?: string }) {
  const urls: URL[] = [];
  const f = (async (input: string | URL | Request) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    urls.push(url);
    const a = answer(url);
    return new Response(a.body, { status: a.status ?? 200, headers: { 'content-type': a.type ?? 'application/json' } });
  }) as typeof fetch;
  return { fetch: f, urls };
}

const ctx = (f: typeof fetch): FetchContext => ({ fetch: f, apiKey: 'k', timeoutMs: 2_000 });
const promSource = (target: Record<string, unknown> = { expr: 'up', interval: '1m' }): MetricSource => ({
  panelUrl: 'http://grafana.test:3000/d/x',
  datasource: { type: 'prometheus', url: 'api/datasources/proxy/3' },
  targets: [{ refId: 'A', ...target }],
});
const graphiteSource = (target = 'a.b'): MetricSource => ({
  panelUrl: 'http://grafana.test:3000/d/x',
  datasource: { type: 'graphite', url: 'api/datasources/proxy/4' },
  targets: [{ refId: 'A', target }],
});
const matrix = (result: unknown[], extra = '') => `{"status":"success"${extra},"data":{"resultType":"matrix","result":${JSON.stringify(result)}}}`;

/** JSON.parse with rows of scalars under `key` turned into columns (padded with NaN), for comparison. */
function reference(text: string, key: string): unknown {
  const scalar = (c: unknown) => c === null || typeof c === 'number' || typeof c === 'string';
  const num = (c: unknown) => (typeof c === 'number' ? c : typeof c === 'string' ? (c === '+Inf' ? Infinity : c === '-Inf' ? -Infinity : Number(c)) : NaN);
  const walk = (x: unknown, k?: string): unknown => {
    if (Array.isArray(x)) {
      if (k === key && x.every((r) => Array.isArray(r) && r.every(scalar))) {
        const width = Math.max(0, ...x.map((r: unknown[]) => r.length));
        return { columns: Array.from({ length: width }, (_, j) => x.map((r: unknown[]) => (j < r.length ? num(r[j]) : NaN))) };
      }
      return x.map((e) => walk(e));
    }
    if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([kk, v]) => [kk, walk(v, kk)]));
    return x;
  };
  return walk(JSON.parse(text));
}
function normalise(x: unknown): unknown {
  if (x instanceof ValueColumns) return { columns: x.columns.map((c) => Array.from(c)) };
  if (Array.isArray(x)) return x.map(normalise);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, normalise(v)]));
  return x;
}
const rows = (text: string, key: string) => parseJsonFast(text, { rowKeys: [key] });

describe('request building', () => {
  it('splits a range into step-aligned requests below the limit, without gaps or duplicates', () => {
    for (const [from, to, step, max] of [
      [S, S + 7 * 86_400_000, 30_000, 10_000],
      [S + 17, S + 1_000_003, 1_000, 7],
      [S, S + 60_000, 60_000, 10_000],
      [S + 1, S + 2, 60_000, 10_000],
    ]) {
      const ranges = prometheusRanges(from, to, step, max);
      const instants: number[] = [];
      for (const [a, b] of ranges) {
        expect((b - a) / step + 1).toBeLessThanOrEqual(max);
        for (let t = a; t <= b; t += step) instants.push(t);
      }
      const expected: number[] = [];
      for (let t = Math.ceil(from / step) * step; t < to; t += step) expected.push(t);
      expect(instants).toEqual(expected);
    }
    expect(prometheusRanges(S, S, 1000)).toEqual([]);
    expect(PROMETHEUS_MAX_POINTS).toBe(11_000);
  });

  it('reads steps and intervals as panels write them', () => {
    expect([durationMs(30), durationMs('30'), durationMs('1m30s'), durationMs('>10s'), durationMs('250ms'), durationMs('1h')]).toEqual([
      30_000, 30_000, 90_000, 10_000, 250, 3_600_000,
    ]);
    expect([durationMs('$__interval'), durationMs(''), durationMs('1x'), durationMs(-5), durationMs(null)]).toEqual([
      undefined, undefined, undefined, undefined, undefined,
    ]);
    expect(expandGrafanaVariables('rate(x[$__rate_interval]) / $__interval_ms + y[${__interval}] + z[$__range]', 30_000, 3_600_000)).toBe(
      'rate(x[120s]) / 30000 + y[30s] + z[3600s]',
    );
  });

  it('finds query_range whatever part of the API path the panel gave', () => {
    const at = (url: string) => queryRangeUrl({ ...promSource(), datasource: { type: 'prometheus', url } }).pathname;
    expect(at('api/datasources/proxy/3')).toBe('/api/datasources/proxy/3/api/v1/query_range');
    expect(at('/api/datasources/proxy/3/')).toBe('/api/datasources/proxy/3/api/v1/query_range');
    expect(at('api/datasources/proxy/3/api/v1/query')).toBe('/api/datasources/proxy/3/api/v1/query_range');
    expect(at('api/datasources/proxy/3/api/v1/query_range')).toBe('/api/datasources/proxy/3/api/v1/query_range');
    expect(at('api/datasources/proxy/uid/abc/api/v1/query_range?x=1')).toBe('/api/datasources/proxy/uid/abc/api/v1/query_range');
  });

  it('names series the way Prometheus prints them', () => {
    expect(prometheusSeriesName({ __name__: 'up', job: 'x', instance: 'a:1' })).toBe('up{instance="a:1", job="x"}');
    expect(prometheusSeriesName({ __name__: 'up' })).toBe('up');
    expect(prometheusSeriesName({ job: 'x' })).toBe('{job="x"}');
    expect(prometheusSeriesName({})).toBe('{}');
  });
});

describe('reading [time, value] pairs', () => {
  it('gives what JSON.parse gives, on every number and string form', () => {
    const samples = [
      matrix([{ metric: { __name__: 'up', 'we"ird': 'a\\b\n"c"', ü: '✓' }, values: [[1, '1'], [1.5, '-2.25'], [1700000000.123, '1e+21'], [2, 'NaN'], [3, '+Inf'], [4, '-Inf'], [5, '0.1'], [6, '123456789012345678'], [7, '-0'], [8, '1.']] }]),
      '{ "status" : "success" , "data" : { "resultType" : "matrix" , "result" : [ { "metric" : { } , "values" : [ [ 1 , "2" ] ,\n [ 3 , "4" ] ] } ] } }',
      matrix([{ metric: {}, values: [] }]),
      matrix([{ metric: {}, values: [[1, 2], [null, null]] }]),
      matrix([{ metric: {}, values: [[1, '2', 3], [4]] }]), // not pairs: columns padded with NaN
      matrix([{ metric: {}, values: [[1, { a: 1 }]] }]),
      '{"values":[[1,"2"]],"__proto__":{"x":1},"other":[[1,2]]}',
      '[{"target": "a", "datapoints": [[1.0, 1], [null, 2], [1e+21, 3], [-0.5, 4], [12345678901234567890, 5]]}]',
    ];
    for (const text of samples) {
      for (const key of ['values', 'datapoints']) {
        expect(normalise(rows(text, key)), text).toEqual(reference(text, key));
      }
    }
  });

  it('gives what JSON.parse gives on random answers', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const numText = () => {
      const r = rnd();
      if (r < 0.1) return String(Math.floor(rnd() * 1e6));
      if (r < 0.2) return (rnd() * 1e-8).toString();
      if (r < 0.3) return (rnd() * 1e25).toString();
      if (r < 0.35) return String(-rnd());
      return (rnd() * 2000 - 1000).toFixed(Math.floor(rnd() * 12));
    };
    for (let k = 0; k < 200; k++) {
      const rows = Array.from({ length: Math.floor(rnd() * 20) }, () => {
        const a = rnd() < 0.1 ? 'null' : numText();
        const b = rnd() < 0.1 ? '"NaN"' : rnd() < 0.5 ? `"${numText()}"` : numText();
        return `[${a}${rnd() < 0.2 ? ' ' : ''},${b}]`;
      });
      const text = `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"k":"v${k}"},"values":[${rows.join(rnd() < 0.3 ? ', ' : ',')}]}]}}`;
      expect(normalise(parsePrometheusJson(text)), text).toEqual(reference(text, 'values'));
    }
  });

  it('rejects what is not JSON (a truncated answer, trailing garbage)', () => {
    const good = matrix([{ metric: {}, values: [[1, '2'], [2, '3']] }]);
    for (const bad of [good.slice(0, -3), good.slice(0, good.indexOf('[2,')), `${good}x`, good.replace('[2,"3"]', '[2,"3"'), good.replace('[1,"2"]', '[1.,"2"]'), '']) {
      expect(() => parsePrometheusJson(bad), bad).toThrow(SyntaxError);
      expect(() => parseGraphiteJson(bad)).toThrow(SyntaxError);
    }
  });

  it('reads a million points exactly (throughput: npm run bench -- datasource-parse)', () => {
    const N = 1_000_000;
    const p: string[] = [];
    const g: string[] = [];
    for (let i = 0; i < N; i++) {
      const v = (Math.sin(i / 100) * 100).toFixed(i % 5);
      p.push(`[${1_700_000_000 + i * 15},"${v}"]`);
      g.push(`[${v}, ${1_700_000_000 + i * 15}]`);
    }
    const promText = `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up"},"values":[${p.join(',')}]}]}}`;
    const graphiteText = `[{"target": "a.b", "tags": {"name": "a.b"}, "datapoints": [${g.join(', ')}]}]`;
    const last = Number((Math.sin((N - 1) / 100) * 100).toFixed((N - 1) % 5));
    for (const [out] of [parsePrometheusResponse(parsePrometheusJson(promText)), parseGraphiteResponse(parseGraphiteJson(graphiteText))]) {
      expect(out.series.t.length).toBe(N);
      expect(out.series.t[N - 1]).toBe((1_700_000_000 + (N - 1) * 15) * 1000);
      expect(out.series.v[N - 1]).toBe(last);
    }
  }, 120_000);
});

describe('malformed and faulty Prometheus answers', () => {
  const q = (body: string, status = 200, type = 'application/json') =>
    prometheus.query(promSource(), S, S + 10 * 60_000, ctx(fakeFetch(() => ({ body, status, type })).fetch));

  it('sorts out-of-order points and keeps the last of duplicate timestamps', async () => {
    const s = await q(matrix([{ metric: { __name__: 'up' }, values: [[S / 1000 + 120, '3'], [S / 1000, '1'], [S / 1000 + 60, '2'], [S / 1000 + 60, '2.5']] }]));
    expect(Array.from(s.t)).toEqual([S, S + 60_000, S + 120_000]);
    expect(Array.from(s.v)).toEqual([1, 2.5, 3]);
    expect(s.name).toBe('up');
  });

  it('returns an empty series for an empty result and for points outside the range', async () => {
    expect((await q(matrix([]))).t.length).toBe(0);
    expect(Array.from((await q(matrix([{ metric: {}, values: [[S / 1000, ''], [S / 1000 + 60, ' ']] }]))).v)).toEqual([NaN, NaN]);
    expect((await q(matrix([{ metric: {}, values: [[S / 1000 - 60, '1'], [S / 1000 + 600, '1']] }]))).t.length).toBe(0);
  });

  it('maps each kind of bad answer to a typed error', async () => {
    const cases: Array<[string, number, string, string, RegExp]> = [
      ['{"status":"error","errorType":"bad_data","error":"1:4: parse error: unexpected end of input"}', 400, 'application/json', 'bad_query', /parse error: unexpected end of input/],
      ['{"status":"error","errorType":"execution","error":"query processing would load too many samples"}', 422, 'application/json', 'bad_query', /too many samples/],
      ['{"status":"error","errorType":"bad_data","error":"nope"}', 200, 'application/json', 'bad_query', /Prometheus: nope \(bad_data\)/],
      ['{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}', 503, 'application/json', 'unreachable', /timed out/],
      [matrix([{ metric: {}, values: [[S / 1000, '1']] }], ',"isPartial":true'), 200, 'application/json', 'unreachable', /partial/],
      ['{"status":"success","data":{"resultType":"vector","result":[]}}', 200, 'application/json', 'bad_response', /vector/],
      ['{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[1,2]}]}}', 200, 'application/json', 'bad_response', /pairs/],
      ['{"results":[]}', 200, 'application/json', 'bad_response', /Prometheus/],
      ['[1,2]', 200, 'application/json', 'bad_response', /not an object/],
      [matrix([{ metric: {}, values: [[S / 1000, '1']] }]).slice(0, -10), 200, 'application/json', 'bad_response', /not JSON/],
      ['<html><body>502 Bad Gateway</body></html>', 200, 'text/html', 'bad_response', /HTML/],
      ['<html><body>nginx</body></html>', 502, 'text/html', 'unreachable', /502/],
      ['{"message":"invalid API key"}', 401, 'application/json', 'unauthorized', /HASTIC_API_KEY/],
    ];
    for (const [body, status, type, kind, message] of cases) {
      const err = await failure(q(body, status, type));
      expect([err.kind, err.message], body).toEqual([kind, expect.stringMatching(message)]);
    }
  });

  it('fails the whole query when one sub-range fails', async () => {
    let n = 0;
    const f = fakeFetch(() => (n++ === 1 ? { status: 503, body: '{"status":"error","error":"overloaded"}' } : { body: matrix([]) }));
    const err = await failure(prometheus.query(promSource({ expr: 'up', interval: '1s' }), S, S + 50_000_000, ctx(f.fetch)));
    expect(err.kind).toBe('unreachable');
    expect(f.urls.length).toBeGreaterThan(1);
  });
});

describe('malformed and faulty Graphite answers', () => {
  const q = (body: string, status = 200, type = 'application/json') =>
    graphite.query(graphiteSource(), S, S + 10 * 60_000, ctx(fakeFetch(() => ({ body, status, type })).fetch));

  it('sorts out-of-order points, keeps the last duplicate, trims null edges', async () => {
    const s = await q(JSON.stringify([{ target: 'a.b', datapoints: [[null, S / 1000], [3, S / 1000 + 120], [1, S / 1000 + 60], [2, S / 1000 + 60], [null, S / 1000 + 180]] }]));
    expect([Array.from(s.t), Array.from(s.v), s.name]).toEqual([[S + 60_000, S + 120_000], [2, 3], 'a.b']);
    expect((await q('[]')).t.length).toBe(0);
    expect((await q(JSON.stringify([{ target: 'a.b', datapoints: [[null, S / 1000]] }]))).t.length).toBe(0);
  });

  it('maps each kind of bad answer to a typed error', async () => {
    const cases: Array<[string, number, string, string, RegExp]> = [
      ['Invalid parameters (Received request for unknown function: foo); targets: "foo(a)"', 400, 'text/html; charset=utf-8', 'bad_query', /unknown function: foo/],
      ['{"message":"datasource error"}', 200, 'application/json', 'bad_query', /datasource error/],
      ['{"results":{}}', 200, 'application/json', 'bad_response', /Graphite/],
      ['[{"target":"a","datapoints":[1,2]}]', 200, 'application/json', 'bad_response', /pairs/],
      ['[{"target":"a","datapoints":[[1,2],', 200, 'application/json', 'bad_response', /not JSON/],
      ['<!DOCTYPE html><html><body>Server Error (500)</body></html>', 500, 'text/html', 'unreachable', /500/],
      ['<html>login</html>', 200, 'text/html', 'bad_response', /HTML/],
      ['{"message":"Permission denied"}', 403, 'application/json', 'unauthorized', /403/],
    ];
    for (const [body, status, type, kind, message] of cases) {
      const err = await failure(q(body, status, type));
      expect([err.kind, err.message], body).toEqual([kind, expect.stringMatching(message)]);
    }
  });
});
