import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ES_PAGE_BUCKETS, elasticsearch, esIntervalMs, esRequest, esSearchBody, parseEsJson, parseEsResponse } from '../../src/datasources/elasticsearch';
import { ObjectColumns, parseJsonFast } from '../../src/datasources/fast-json';
import { getDatasource } from '../../src/datasources/index';
import { DatasourceError, type FetchContext, type MetricSource } from '../../src/datasources/types';
import { failure } from '../support/datasource-failure';

const recorded = (name: string) => readFileSync(new URL(`./recorded/${name}`, import.meta.url), 'utf8');
const T0 = 1704067200000;
const MIN = 60_000;

const TARGET = {
  refId: 'A',
  query: 'host:a AND env:"prod"',
  timeField: '@timestamp',
  metrics: [{ id: '1', type: 'avg', field: 'value' }],
  bucketAggs: [{ id: '2', type: 'date_histogram', field: '@timestamp', settings: { interval: '1m', min_doc_count: '0' } }],
};

function source(target: Record<string, unknown> = TARGET, over: Record<string, unknown> = {}): MetricSource {
  return {
    panelUrl: 'http://grafana.local:3000/d/abc?panelId=4',
    datasource: { type: 'elasticsearch', url: 'api/datasources/proxy/4', database: 'metrics-*', ...over } as MetricSource['datasource'],
    targets: [target],
  };
}
function ctxAnswering(answer: (init: RequestInit) => Response | Promise<Response>, calls: Array<{ url: string; init: RequestInit }> = []): FetchContext {
  const f = async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return answer(init);
  };
  return { fetch: f as typeof fetch, apiKey: 'k', timeoutMs: 1000 };
}
const json = (text: string, status = 200) => new Response(text, { status, headers: { 'Content-Type': 'application/json' } });
const lines = (body: string) => body.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, any>);

describe('esSearchBody', () => {
  it('an _msearch header and search with the range, the Lucene query and a date_histogram of the metric', () => {
    const [header, search] = lines(esSearchBody(source(), T0, T0 + 60 * MIN));
    expect(header).toMatchObject({ index: 'metrics-*', ignore_unavailable: true });
    expect(search.size).toBe(0);
    expect(search.query.bool.filter[0]).toEqual({ range: { '@timestamp': { gte: T0, lt: T0 + 60 * MIN, format: 'epoch_millis' } } });
    expect(search.query.bool.filter[1].query_string.query).toBe('host:a AND env:"prod"');
    expect(search.aggs['2'].date_histogram).toMatchObject({ field: '@timestamp', fixed_interval: '1m', min_doc_count: 0, extended_bounds: { min: T0, max: T0 + 60 * MIN - 1 } });
    expect(search.aggs['2'].aggs).toEqual({ '1': { avg: { field: 'value' } } });
  });
  it('Elasticsearch 6 gets interval instead of fixed_interval', () => {
    const [, search] = lines(esSearchBody(source(TARGET, { esVersion: 6 }), T0, T0 + MIN));
    expect(search.aggs['2'].date_histogram.interval).toBe('1m');
  });
  it('terms before the histogram, count needs no sub-aggregation, percentiles', () => {
    const target = {
      ...TARGET,
      metrics: [{ id: '1', type: 'count' }, { id: '5', type: 'percentiles', field: 'lat', settings: { percents: ['95'] } }],
      bucketAggs: [{ id: '3', type: 'terms', field: 'host', settings: { size: '5' } }, TARGET.bucketAggs[0]],
    };
    const [, search] = lines(esSearchBody(source(target), T0, T0 + MIN));
    expect(search.aggs['3'].terms).toMatchObject({ field: 'host', size: 5 });
    expect(search.aggs['3'].aggs['2'].aggs).toEqual({ '5': { percentiles: { field: 'lat', percents: [95] } } });
  });
  it('empty query is *, index from params, auto interval from intervalMs', () => {
    const target = { metrics: [{ id: '1', type: 'max', field: 'v' }], bucketAggs: [{ id: '2', type: 'date_histogram', settings: { interval: 'auto' } }], intervalMs: 10_000 };
    const s = source(target, { database: undefined, params: { index: 'logs' } });
    const [header, search] = lines(esSearchBody(s, T0, T0 + MIN));
    expect(header.index).toBe('logs');
    expect(search.query.bool.filter[1].query_string.query).toBe('*');
    expect(search.aggs['2'].date_histogram.fixed_interval).toBe('10000ms');
  });
  it.each([
    ['no index', source(TARGET, { database: undefined }), /index is unknown/],
    ['a raw_data metric', source({ ...TARGET, metrics: [{ id: '1', type: 'raw_data' }] }), /not supported/],
    ['a histogram that is not last', source({ ...TARGET, bucketAggs: [TARGET.bucketAggs[0], { id: '3', type: 'terms', field: 'h' }] }), /must be a date histogram/],
    ['no field', source({ ...TARGET, metrics: [{ id: '1', type: 'avg' }] }), /has no field/],
    ['no target', { ...source(), targets: [] }, /needs the panel target/],
  ] as const)('%s is a bad_query', (_n, s, message) => {
    expect(() => esSearchBody(s as MetricSource, T0, T0 + MIN)).toThrow(message);
  });
});

describe('esIntervalMs', () => {
  it.each([['1m', 60_000], ['10s', 10_000], ['500ms', 500], ['2h', 7_200_000], ['1d', 86_400_000], ['auto', NaN], ['1M', NaN]] as const)('%s', (s, ms) => {
    expect(esIntervalMs(s)).toBe(ms);
  });
});

describe('parseEsResponse (recorded Elasticsearch 8 answers)', () => {
  it('date histogram buckets; null metric values are gaps', () => {
    const [s] = parseEsResponse(JSON.parse(recorded('es8-msearch-date-histogram.json')), source());
    expect(s.name).toBe('avg(value)');
    expect(Array.from(s.series.t)).toEqual([T0, T0 + MIN, T0 + 2 * MIN]);
    expect(Array.from(s.series.v)).toEqual([1.5, NaN, 3.25]);
  });
  it('count reads doc_count', () => {
    const [s] = parseEsResponse(JSON.parse(recorded('es8-msearch-date-histogram.json')), source({ ...TARGET, metrics: [{ id: '1', type: 'count' }] }));
    expect(Array.from(s.series.v)).toEqual([2, 0, 4]);
  });
  it('terms: one candidate per key, labelled by the field', () => {
    const target = { ...TARGET, bucketAggs: [{ id: '3', type: 'terms', field: 'host' }, TARGET.bucketAggs[0]] };
    const c = parseEsResponse(JSON.parse(recorded('es8-msearch-terms.json')), source(target));
    expect(c.map((s) => s.name)).toEqual(['avg(value){host="a"}', 'avg(value){host="b"}']);
    expect(Array.from(c[1].series.v)).toEqual([10, 20]);
  });
  it('an error is a bad_query with the root cause', () => {
    expect(() => parseEsResponse(JSON.parse(recorded('es8-msearch-error.json')), source())).toThrow(/Elasticsearch: all shards failed/);
  });
  it('no aggregations: no series; not an _msearch answer: bad_response', () => {
    expect(parseEsResponse({ responses: [{ hits: { hits: [] } }] }, source())).toEqual([]);
    expect(() => parseEsResponse({ hits: {} }, source())).toThrow(/responses/);
  });
});

describe('parseEsJson (buckets as columns)', () => {
  const same = (text: string, target: Record<string, unknown>) => {
    const fast = parseEsResponse(parseEsJson(text), source(target));
    const slow = parseEsResponse(JSON.parse(text), source(target));
    expect(fast.map((s) => [s.name, Array.from(s.series.t), Array.from(s.series.v)])).toEqual(slow.map((s) => [s.name, Array.from(s.series.t), Array.from(s.series.v)]));
    return fast;
  };
  it('the recorded answers read the same as through JSON.parse', () => {
    expect(same(recorded('es8-msearch-date-histogram.json'), TARGET)).toHaveLength(1);
    same(recorded('es8-msearch-date-histogram.json'), { ...TARGET, metrics: [{ id: '1', type: 'count' }] });
    const terms = { ...TARGET, bucketAggs: [{ id: '3', type: 'terms', field: 'host' }, TARGET.bucketAggs[0]] };
    expect(same(recorded('es8-msearch-terms.json'), terms)).toHaveLength(2);
  });
  it('histogram buckets become ObjectColumns; terms buckets (arrays inside) stay arrays', () => {
    const h = parseEsJson(recorded('es8-msearch-date-histogram.json')) as any;
    const b = h.responses[0].aggregations['2'].buckets as ObjectColumns;
    expect(b).toBeInstanceOf(ObjectColumns);
    expect(Array.from(b.get('key')!)).toEqual([T0, T0 + MIN, T0 + 2 * MIN]);
    expect(Array.from(b.get('1.value')!)).toEqual([1.5, NaN, 3.25]);
    expect(b.get('key_as_string')).toBeUndefined();
    const t = parseEsJson(recorded('es8-msearch-terms.json')) as any;
    expect(Array.isArray(t.responses[0].aggregations['3'].buckets)).toBe(true);
    expect(t.responses[0].aggregations['3'].buckets[0]['2'].buckets).toBeInstanceOf(ObjectColumns);
  });
  it('keys that change between rows, escapes and missing leaves', () => {
    const text = '{"buckets":[{"key":1,"a":{"value":2}},{"a":{"value":3},"key":2,"b":true},{"key":3,"k\\\\x":4,"s":"q\\"uote"}]}';
    const b = (parseJsonFast(text, { objectRowKeys: ['buckets'] }) as { buckets: ObjectColumns }).buckets;
    expect(b.length).toBe(3);
    expect(Array.from(b.get('key')!)).toEqual([1, 2, 3]);
    expect(Array.from(b.get('a.value')!)).toEqual([2, 3, NaN]);
    expect(Array.from(b.get('b')!)).toEqual([NaN, 1, NaN]);
    expect(Array.from(b.get('k\\x')!)).toEqual([NaN, NaN, 4]);
  });
  it('malformed bucket arrays are not JSON', () => {
    expect(() => parseEsJson('{"buckets":[{"key":1},{"key":}]}')).toThrow(SyntaxError);
    expect(() => parseEsJson('{"buckets":[{"key":1}')).toThrow(SyntaxError);
  });
  it('a 200k-bucket answer reads every bucket (throughput: npm run bench -- datasource-parse)', () => {
    const n = 200_000;
    const parts = new Array<string>(n);
    for (let i = 0; i < n; i++) parts[i] = `{"key_as_string":"${T0 + i * 1000}","key":${T0 + i * 1000},"doc_count":3,"1":{"value":${i % 97 === 0 ? 'null' : (i * 0.25).toFixed(2)}}}`;
    const [s] = parseEsResponse(parseEsJson(`{"responses":[{"aggregations":{"2":{"buckets":[${parts.join(',')}]}},"status":200}]}`), source());
    expect(s.series.t.length).toBe(n);
    expect(s.series.t[n - 1]).toBe(T0 + (n - 1) * 1000);
    expect(s.series.v[1]).toBe(0.25);
    expect(s.series.v[0]).toBeNaN();
  });
});

describe('elasticsearch.query', () => {
  it('POSTs NDJSON to <proxy>/_msearch with the bearer', async () => {
    const calls: Array<{ url: string; init: RequestInit }> = [];
    const got = await elasticsearch.query(source(), T0, T0 + 3 * MIN, ctxAnswering(() => json(recorded('es8-msearch-date-histogram.json')), calls));
    expect(calls[0].url).toBe('http://grafana.local:3000/api/datasources/proxy/4/_msearch');
    expect((calls[0].init.headers as Record<string, string>)['Content-Type']).toBe('application/x-ndjson');
    expect((calls[0].init.headers as Record<string, string>).Authorization).toBe('Bearer k');
    expect(got.name).toBe('avg(value)');
    expect(got.t.length).toBe(3);
    expect(getDatasource('elasticsearch')).toBe(elasticsearch);
  });
  it('chooses by labels among terms', async () => {
    const target = { ...TARGET, labels: { host: 'b' }, bucketAggs: [{ id: '3', type: 'terms', field: 'host' }, TARGET.bucketAggs[0]] };
    const got = await elasticsearch.query(source(target), T0, T0 + 3 * MIN, ctxAnswering(() => json(recorded('es8-msearch-terms.json'))));
    expect(Array.from(got.v)).toEqual([10, 20]);
  });
  it(`pages at ${ES_PAGE_BUCKETS} buckets per request`, async () => {
    const calls: Array<{ url: string; init: RequestInit }> = [];
    await elasticsearch.query(source(), T0, T0 + 12_000 * MIN, ctxAnswering(() => json('{"responses":[{"aggregations":{"2":{"buckets":[]}}}]}'), calls));
    expect(calls).toHaveLength(3);
    const ranges = calls.map((c) => lines(String(c.init.body))[1].query.bool.filter[0].range['@timestamp']);
    expect(ranges.map((r) => [r.gte, r.lt])).toEqual([[T0, T0 + 5000 * MIN], [T0 + 5000 * MIN, T0 + 10_000 * MIN], [T0 + 10_000 * MIN, T0 + 12_000 * MIN]]);
  });
  it.each([
    ['400 with an ES error body', () => json('{"error":{"root_cause":[{"type":"parsing_exception","reason":"Unknown key for a START_OBJECT"}],"type":"parsing_exception","reason":"Unknown key for a START_OBJECT"},"status":400}', 400), 'bad_query', /Unknown key/],
    ['200 with an error response', () => json(recorded('es8-msearch-error.json')), 'bad_query', /Failed to parse query|all shards failed/],
    ['403', () => json('{"message":"Access denied to this data source"}', 403), 'unauthorized', /403/],
    ['502 from Grafana', () => json('{"message":"Bad Gateway: connect ECONNREFUSED"}', 502), 'unreachable', /502/],
    ['malformed JSON', () => json('{"responses":[{"aggregations":'), 'bad_response', /not JSON/],
  ] as const)('%s -> %s', async (_n, answer, kind, message) => {
    const e = await failure(elasticsearch.query(source(), T0, T0 + MIN, ctxAnswering(answer)));
    expect(e.kind).toBe(kind);
    expect(e.message).toMatch(message);
  });
  it('direct Elasticsearch: no bearer, _msearch appended', () => {
    const { url, init } = esRequest(source(TARGET, { url: 'http://es.internal:9200' }), T0, T0 + MIN, { fetch, apiKey: 'k', timeoutMs: 1 });
    expect(url.href).toBe('http://es.internal:9200/_msearch');
    expect((init.headers as Record<string, string>).Authorization).toBeUndefined();
  });
});
