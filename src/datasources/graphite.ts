/**
 * Graphite (graphite-web's render API) through Grafana's datasource proxy.
 *
 * The panel sends `{ type: 'graphite', url: 'api/datasources/proxy/4' | '.../render', params?: { target? } }`
 * and targets like `{ refId: 'A', target: 'servers.web1.cpu.user', targetFull?: '...' }`. We ask
 * `/render?target=...&from=<s>&until=<s>&format=json` and read `[{target, tags?, datapoints: [[v, ts], ...]}]`
 * with the pair scanner shared with Prometheus.
 *
 * Web APIs only: runs on Node and in workerd.
 */
import { seriesFromPoints } from '../learn/series';
import { authHeaders, datasourceProxyUrl, fetchWithTimeout } from './grafana';
import { parseJsonFast, rowColumns } from './fast-json';
import { queryTarget, selectSeries, type NamedSeries } from './select-series';
import { DatasourceError, type Datasource, type FetchContext, type FetchedSeries, type MetricSource } from './types';

interface GraphiteTarget {
  refId?: unknown;
  target?: unknown;
  targetFull?: unknown;
  hide?: unknown;
}

function graphiteTargetOf(source: MetricSource): GraphiteTarget | undefined {
  return queryTarget(source.targets, 'target') as GraphiteTarget | undefined;
}

/**
 * The Graphite target expression: `datasource.params.target` (our additive field), else the first
 * visible panel target's `targetFull` (Grafana's version with `#A` references expanded) or `target`.
 */
export function graphiteTarget(source: MetricSource): string {
  const p = source.datasource.params?.target;
  if (typeof p === 'string' && p.trim()) return p.trim();
  const t = graphiteTargetOf(source);
  const full = typeof t?.targetFull === 'string' ? t.targetFull : '';
  const plain = typeof t?.target === 'string' ? t.target : '';
  const e = (full.trim() || plain).trim();
  if (e) return e;
  throw new DatasourceError('bad_query', 'the panel target has no Graphite target (targets[].target is empty)');
}

/**
 * The request for `fromMs <= t < toMs`. Graphite's range is `(from, until]` in whole seconds, so we ask
 * one second more on the left and filter the answer.
 */
export function graphiteRequest(source: MetricSource, fromMs: number, toMs: number, ctx: FetchContext): { url: URL; init: RequestInit } {
  const url = datasourceProxyUrl(source);
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = /\/render$/.test(path) ? path : `${path}/render`;
  url.search = '';
  const params = new URLSearchParams({
    target: graphiteTarget(source),
    from: String(Math.floor(fromMs / 1000) - 1),
    until: String(Math.ceil(toMs / 1000)),
    format: 'json',
  });
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders(ctx) };
  if ((source.datasource.method ?? 'GET').toUpperCase() === 'POST') {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    return { url, init: { method: 'POST', headers, body: params.toString() } };
  }
  url.search = params.toString();
  return { url, init: { method: 'GET', headers } };
}

/** graphite-web's answer as JSON, each target's `datapoints` pairs read straight into typed columns. */
export function parseGraphiteJson(text: string): unknown {
  return parseJsonFast(text, { rowKeys: ['datapoints'] });
}

/**
 * Reads `[{target, tags?, datapoints: [[value, epochSeconds], ...]}]` into named series: points outside
 * `[fromMs, toMs)` dropped, `null` values NaN, then the leading and trailing NaNs trimmed (whisper answers
 * a slot for every step of the range; a series that stopped, or has not started, has no points there,
 * so the next detection tick asks again from its real last point). Out-of-order or duplicate timestamps
 * are sorted, last wins. Anything else -> 'bad_response'.
 */
export function parseGraphiteResponse(body: unknown, fromMs = -Infinity, toMs = Infinity): NamedSeries[] {
  if (!Array.isArray(body)) {
    const msg = typeof body === 'object' && body !== null ? ((body as { message?: unknown; error?: unknown }).message ?? (body as { error?: unknown }).error) : undefined;
    if (typeof msg === 'string' && msg) throw new DatasourceError('bad_query', `Graphite: ${msg}`);
    throw new DatasourceError('bad_response', 'the answer is not a Graphite render result ([{"target", "datapoints"}]): is this a Graphite datasource?');
  }
  return body.map((raw: unknown) => {
    const s = (raw ?? {}) as { target?: unknown; tags?: unknown; datapoints?: unknown };
    const cols = rowColumns(s.datapoints ?? []);
    if (!cols) throw new DatasourceError('bad_response', 'Graphite answered datapoints that are not [value, time] pairs');
    const name = typeof s.target === 'string' ? s.target : String(s.target ?? '');
    const labels: Record<string, string> = {};
    if (s.tags && typeof s.tags === 'object') for (const [k, v] of Object.entries(s.tags)) labels[k] = String(v);
    const [values, times] = cols.columns;
    const t = new Float64Array(cols.length);
    const v = new Float64Array(cols.length);
    let m = 0;
    for (let k = 0; k < cols.length; k++) {
      const time = Math.round(times[k] * 1000);
      if (!(time >= fromMs && time < toMs)) continue;
      t[m] = time;
      v[m] = values[k];
      m++;
    }
    const series = seriesFromPoints(t.subarray(0, m), v.subarray(0, m));
    let a = 0;
    let b = series.t.length;
    while (a < b && Number.isNaN(series.v[a])) a++;
    while (b > a && Number.isNaN(series.v[b - 1])) b--;
    const trimmed = a === 0 && b === series.t.length ? series : { t: series.t.slice(a, b), v: series.v.slice(a, b) };
    return { name, labels, series: trimmed };
  });
}

/**
 * graphite-web answers a bad target with 400 and a one-line plain-text reason labelled `text/html`
 * ("Invalid parameters (Received request for unknown function: foo)"). Relabel such a body as text so
 * `fetchWithTimeout` puts the reason in the error message instead of dropping it as an HTML page.
 */
function keepPlainErrors(doFetch: typeof fetch): typeof fetch {
  return async (input, init) => {
    const res = await doFetch(input, init);
    if (res.status < 400 || res.status >= 500 || !/html/i.test(res.headers.get('content-type') ?? '')) return res;
    const text = await res.text();
    const type = /^\s*</.test(text) ? (res.headers.get('content-type') ?? 'text/html') : 'text/plain; charset=utf-8';
    return new Response(text, { status: res.status, statusText: res.statusText, headers: { 'content-type': type } });
  };
}

/**
 * The `graphite` datasource: the points with `fromMs <= t < toMs`; with several series (a wildcard
 * target), the one `selectSeries` picks (its `name` set).
 *
 * @example
 * const s = await graphite.query(
 *   { panelUrl: 'http://grafana:3000/d/x', datasource: { type: 'graphite', url: 'api/datasources/proxy/4' },
 *     targets: [{ refId: 'A', target: 'servers.web1.cpu.user' }] },
 *   Date.now() - 86_400_000, Date.now(), { fetch, apiKey, timeoutMs: 10_000 });
 */
export const graphite: Datasource = {
  async query(source, fromMs, toMs, ctx): Promise<FetchedSeries> {
    const empty = { t: new Float64Array(0), v: new Float64Array(0) };
    if (!(toMs > fromMs)) return empty;
    const { url, init } = graphiteRequest(source, fromMs, toMs, ctx);
    const body = await fetchWithTimeout(url, init, { ...ctx, fetch: keepPlainErrors(ctx.fetch) }, parseGraphiteJson);
    const refId = graphiteTargetOf(source)?.refId;
    const candidates = parseGraphiteResponse(body, fromMs, toMs).map((s) => (typeof refId === 'string' ? { ...s, refId } : s));
    const chosen = selectSeries(candidates, source.targets);
    if (!chosen) return empty;
    return { t: chosen.series.t, v: chosen.series.v, name: chosen.name };
  },
};
