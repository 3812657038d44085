/**
 * Direct datasources (an absolute `datasource.url`) and the one check that keeps the server from being
 * a proxy to arbitrary hosts: `assertAllowedTarget` on the URL each adapter requests.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elasticsearch } from '../../src/datasources/elasticsearch';
import { ForbiddenOriginError, assertAllowedTarget, authHeadersFor, datasourceUrl, isDirectDatasourceUrl } from '../../src/datasources/grafana';
import { grafanaQuery } from '../../src/datasources/grafana-query';
import { influxdb } from '../../src/datasources/influxdb';
import { influxdbFlux } from '../../src/datasources/influxdb-flux';
import { DatasourceError, type Datasource, type FetchContext, type MetricSource } from '../../src/datasources/types';
import { anomalyBody, uniqueName } from '../routes/route-suite';
import { startTestServer, type TestServer } from '../support/node-server';

const GRAFANA = 'https://grafana.example.com';
const PANEL = `${GRAFANA}/d/abc/dash?panelId=2`;
const POLICY = { grafanaUrl: GRAFANA, datasourceOrigins: ['http://prometheus:9090', 'http://[::1]:8086', 'http://127.0.0.1:9200'] };

const src = (url: string, panelUrl = PANEL): MetricSource => ({ panelUrl, datasource: { type: 'influxdb', url }, targets: [] });

function refused(f: () => unknown): ForbiddenOriginError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ForbiddenOriginError);
    return e as ForbiddenOriginError;
  }
  throw new Error('expected a ForbiddenOriginError');
}

describe('assertAllowedTarget', () => {
  it.each([
    ['relative, through the configured Grafana', 'api/datasources/proxy/1/query', `${GRAFANA}/api/datasources/proxy/1/query`],
    ['protocol-relative stays a path on Grafana', '//evil.example/x', `${GRAFANA}/evil.example/x`],
    ['backslashes stay a path on Grafana', '\\\\evil.example\\x', `${GRAFANA}/evil.example/x`],
    ['direct to an allowed origin', 'http://prometheus:9090/api/v1/query_range', 'http://prometheus:9090/api/v1/query_range'],
    ['host case does not matter', 'http://PROMETHEUS:9090/api/v1/query_range', 'http://prometheus:9090/api/v1/query_range'],
    ['IPv6 spelled out equals the listed [::1]', 'http://[0:0:0:0:0:0:0:1]:8086/query', 'http://[::1]:8086/query'],
    ['decimal IPv4 is 127.0.0.1', 'http://2130706433:9200/_msearch', 'http://127.0.0.1:9200/_msearch'],
    ['absolute on GRAFANA_URL itself', `${GRAFANA}/api/ds/query`, `${GRAFANA}/api/ds/query`],
  ])('allows %s', (_n, url, final) => {
    expect(assertAllowedTarget(src(url), POLICY).href).toBe(final);
  });

  it.each([
    ['another host', 'http://evil.example/api/v1/query_range'],
    ['user info before an allowed host', 'http://evil@prometheus:9090/api/v1/query_range'],
    ['an allowed host as user info', 'http://prometheus:9090@evil.example/'],
    ['an allowed host as a subdomain', 'http://prometheus.evil.example:9090/'],
    ['another port', 'http://prometheus:9091/'],
    ['https instead of http', 'https://prometheus:9090/'],
    ['loopback by another name', 'http://localhost:9200/'],
    ['another loopback address', 'http://127.0.0.2:9200/'],
    ['IPv6 loopback on an unlisted port', 'http://[::1]:9090/'],
    ['IPv4-mapped IPv6', 'http://[::ffff:127.0.0.1]:9200/'],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['backslashes after the scheme', 'http:\\\\evil.example\\x'],
    ['leading whitespace', ' \thttp://evil.example/'],
    ['a tab inside the scheme', 'ht\ttp://evil.example/'],
    ['file:', 'file:///etc/passwd'],
    ['javascript:', 'javascript:alert(1)'],
    ['an invalid port', 'http://prometheus:9090.evil.example/'],
  ])('refuses %s (field datasource.url)', (_n, url) => {
    const e = refused(() => assertAllowedTarget(src(url), POLICY));
    expect(e.field).toBe('datasource.url');
    expect(e.kind).toBe('unsupported');
    expect(e.transient).toBe(false);
  });

  it('names HASTIC_DATASOURCE_ORIGINS in the message', () => {
    expect(refused(() => assertAllowedTarget(src('http://evil.example/'), POLICY)).message).toMatch(
      /datasource.url origin http:\/\/evil.example is not allowed.*GRAFANA_URL \(https:\/\/grafana.example.com\).*HASTIC_DATASOURCE_ORIGINS/,
    );
  });

  it('a relative url with a panel on another origin than GRAFANA_URL is refused (field panelUrl)', () => {
    const e = refused(() => assertAllowedTarget(src('api/ds/query', 'http://evil.example/d/x'), POLICY));
    expect(e.field).toBe('panelUrl');
  });

  it('a panelUrl that is not http(s) is refused', () => {
    expect(refused(() => assertAllowedTarget(src('api/ds/query', 'javascript:alert(1)'), {})).field).toBe('panelUrl');
  });

  it('without GRAFANA_URL: any panel origin through Grafana (as the original), direct only to the panel origin or listed origins', () => {
    expect(assertAllowedTarget(src('api/ds/query', 'http://g:3000/d/x'), {}).href).toBe('http://g:3000/api/ds/query');
    expect(assertAllowedTarget(src('http://g:3000/api/ds/query', 'http://g:3000/d/x'), {}).href).toBe('http://g:3000/api/ds/query');
    expect(refused(() => assertAllowedTarget(src('http://prometheus:9090/', 'http://g:3000/d/x'), {})).field).toBe('datasource.url');
    expect(assertAllowedTarget(src('http://prometheus:9090/', 'http://g:3000/d/x'), { datasourceOrigins: ['http://prometheus:9090'] }).origin).toBe('http://prometheus:9090');
  });

  it('ignores malformed entries of the allow list', () => {
    expect(refused(() => assertAllowedTarget(src('http://x/'), { datasourceOrigins: ['not a url', 'ftp://x'] })).field).toBe('datasource.url');
  });
});

describe('credentials', () => {
  const ctx: FetchContext = { fetch, apiKey: 'glsa_secret', timeoutMs: 1 };
  it('the Grafana API key goes to the panel origin only', () => {
    expect(authHeadersFor(src('api/ds/query'), datasourceUrl(src('api/ds/query')), ctx)).toEqual({ Authorization: 'Bearer glsa_secret' });
    const direct = src('http://prometheus:9090/api/v1/query_range');
    expect(authHeadersFor(direct, datasourceUrl(direct), ctx)).toEqual({});
  });
  it('isDirectDatasourceUrl', () => {
    expect(isDirectDatasourceUrl('http://x/')).toBe(true);
    expect(isDirectDatasourceUrl('api/ds/query')).toBe(false);
    expect(isDirectDatasourceUrl('//x/')).toBe(false);
  });
});

describe('every adapter requests datasourceUrl(source) (same origin) and sends no key to a direct datasource', () => {
  const cases: Array<[string, Datasource, MetricSource]> = [
    ['influxdb', influxdb, { panelUrl: PANEL, datasource: { type: 'influxdb', url: 'http://[::1]:8086/query', params: { db: 'm', q: 'SELECT v FROM m WHERE $timeFilter' } }, targets: [] }],
    ['flux', influxdbFlux, { panelUrl: PANEL, datasource: { type: 'influxdb', url: 'http://[::1]:8086/api/v2/query', params: { query: 'from(bucket: "b") |> range(start: -1h)' } }, targets: [] }],
    ['grafana', grafanaQuery, { panelUrl: PANEL, datasource: { type: 'prometheus', url: 'http://prometheus:9090/api/ds/query' }, targets: [{ refId: 'A', datasource: { uid: 'p', type: 'prometheus' }, expr: 'up' }] }],
    ['elasticsearch', elasticsearch, { panelUrl: PANEL, datasource: { type: 'elasticsearch', url: 'http://127.0.0.1:9200', database: 'm' } as MetricSource['datasource'], targets: [{ metrics: [{ id: '1', type: 'count' }], bucketAggs: [{ id: '2', type: 'date_histogram', settings: { interval: '1m' } }] }] }],
  ];
  it.each(cases)('%s', async (_n, ds, source) => {
    const allowed = assertAllowedTarget(source, POLICY);
    const seen: Array<{ url: string; init: RequestInit }> = [];
    const f = (async (url: string, init: RequestInit) => {
      seen.push({ url, init });
      return new Response('', { status: 503 });
    }) as unknown as typeof fetch;
    const e = await ds.query(source, 0, 60_000, { fetch: f, apiKey: 'glsa_secret', timeoutMs: 1000 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DatasourceError);
    expect(seen.length).toBeGreaterThan(0);
    for (const { url, init } of seen) {
      expect(new URL(url).origin).toBe(allowed.origin);
      expect((init.headers as Record<string, string>).Authorization).toBeUndefined();
      expect(init.redirect).toBe('manual');
    }
  });
});

describe('the Grafana key never reaches a direct datasource, whichever adapter built the request', () => {
  it.each([
    ['prometheus', { type: 'prometheus', url: 'http://prometheus:9090', method: 'GET' }, [{ refId: 'A', expr: 'up' }]],
    ['graphite', { type: 'graphite', url: 'http://prometheus:9090', method: 'GET' }, [{ refId: 'A', target: 'a.b' }]],
  ] as const)('%s (adds the bearer itself; fetchWithTimeout drops it)', async (name, datasource, targets) => {
    const mod = (await import(`../../src/datasources/${name}.ts`)) as Record<string, Datasource>;
    const ds = mod[name];
    const source: MetricSource = { panelUrl: PANEL, datasource: { ...datasource }, targets: [...targets] };
    const allowed = assertAllowedTarget(source, POLICY);
    const seen: Array<{ url: string; init: RequestInit }> = [];
    const f = (async (url: string, init: RequestInit) => {
      seen.push({ url, init });
      return new Response('', { status: 503 });
    }) as unknown as typeof fetch;
    await ds.query(source, 0, 60_000, { fetch: f, apiKey: 'glsa_secret', timeoutMs: 1000 }).catch(() => undefined);
    expect(seen.length).toBeGreaterThan(0);
    for (const { url, init } of seen) {
      expect(new URL(url).origin).toBe(allowed.origin);
      expect(new Headers(init.headers).get('authorization')).toBeNull();
    }
  });
});

describe('redirects are not followed (a real HTTP server)', () => {
  let target: Server;
  let redirector: Server;
  let hits = 0;
  const listen = (s: Server) => new Promise<string>((r) => s.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));
  let redirectUrl = '';
  beforeAll(async () => {
    target = createServer((_q, res) => {
      hits++;
      res.end('{"results":[]}');
    });
    const targetUrl = await listen(target);
    redirector = createServer((_q, res) => {
      res.writeHead(302, { Location: `${targetUrl}/query` });
      res.end();
    });
    redirectUrl = await listen(redirector);
  });
  afterAll(() => {
    target.close();
    redirector.close();
  });
  it('a 302 to another origin is a bad_query naming the location, and the other origin is never asked', async () => {
    const source: MetricSource = { panelUrl: `${redirectUrl}/d/x`, datasource: { type: 'influxdb', url: 'api/datasources/proxy/1/query', params: { db: 'm', q: 'SELECT v FROM m WHERE $timeFilter' } }, targets: [] };
    const e = (await influxdb.query(source, 0, 60_000, { fetch, apiKey: 'k', timeoutMs: 2000 }).catch((x: unknown) => x)) as DatasourceError;
    expect(e).toBeInstanceOf(DatasourceError);
    expect(e.kind).toBe('bad_query');
    expect(e.message).toMatch(/redirect \(302 to http:\/\/127\.0\.0\.1:\d+\/query\)/);
    expect(hits).toBe(0);
  });
});

describe('POST /anomalies (Node host)', () => {
  let locked: TestServer;
  let open: TestServer;
  beforeAll(async () => {
    locked = await startTestServer({ GRAFANA_URL: GRAFANA, HASTIC_DATASOURCE_ORIGINS: 'http://prometheus:9090' }, { background: false });
    open = await startTestServer({}, { background: false });
  });
  afterAll(async () => {
    await locked.dispose();
    await open.dispose();
  });
  const post = (server: TestServer, extra: Record<string, unknown>) =>
    fetch(`${server.url}/anomalies`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(anomalyBody(uniqueName(), extra)) });
  const ds = (url: string, type = 'influxdb') => ({ type, url, method: 'GET', params: { db: 'm', q: 'SELECT v FROM m WHERE $timeFilter' } });

  it('400 naming datasource.url for a direct URL to an origin not allowed', async () => {
    const res = await post(locked, { panelUrl: PANEL, datasource: ds('http://evil.example:8086/query') });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { message: string; issues?: Array<{ path: string }> };
    expect(body.message).toMatch(/^datasource\.url: /);
    expect(body.message).toContain('HASTIC_DATASOURCE_ORIGINS');
    expect(body.issues?.[0].path).toBe('datasource.url');
  });
  it('400 naming panelUrl for a panel on another origin than GRAFANA_URL', async () => {
    const res = await post(locked, { panelUrl: 'http://169.254.169.254/d/x', datasource: ds('api/datasources/proxy/1/query') });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/^panelUrl: /);
  });
  it('200 for a direct URL in HASTIC_DATASOURCE_ORIGINS', async () => {
    expect((await post(locked, { panelUrl: PANEL, datasource: ds('http://prometheus:9090/query') })).status).toBe(200);
  });
  it('without any configuration a direct URL to another origin than the panel is refused too', async () => {
    const res = await post(open, { panelUrl: 'http://g:3000/d/x', datasource: ds('http://10.0.0.1:8086/query') });
    expect(res.status).toBe(400);
  });
  it('a Grafana 11 panel request with any plugin type is accepted (api/ds/query)', async () => {
    const datasource = {
      type: 'grafana-clickhouse-datasource',
      url: 'api/ds/query',
      method: 'POST',
      data: { from: '1704060000000', to: '1704067200000', queries: [{ refId: 'A', datasource: { uid: 'ch1', type: 'grafana-clickhouse-datasource' }, rawSql: 'SELECT t, v FROM m' }] },
    };
    expect((await post(locked, { panelUrl: PANEL, datasource })).status).toBe(200);
  });
});
