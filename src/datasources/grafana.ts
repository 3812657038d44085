/**
 * Talking to Grafana's datasource proxy: where to send a query, with which credentials, and how to turn
 * every way it can fail into a `DatasourceError` whose message tells a user what to fix.
 *
 * Web APIs only (fetch, URL, AbortSignal.timeout): this runs on Node and in workerd.
 */
import { DatasourceError, type FetchContext, type MetricSource } from './types';

/**
 * The panel URL is not one the server may query: it is not an http(s) URL, or `GRAFANA_URL` is set and
 * names another origin. A `DatasourceError` of kind `'unsupported'` (not transient: retrying cannot
 * help), so code that only knows `DatasourceError` still gets a readable message; routes can test
 * `instanceof ForbiddenOriginError` to answer 400/403 instead of storing a failed anomaly.
 */
export class ForbiddenOriginError extends DatasourceError {
  override name = 'ForbiddenOriginError';
  constructor(message: string) {
    super('unsupported', message);
  }
}

function parseHttpUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ForbiddenOriginError(`${what} is not a valid URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ForbiddenOriginError(`${what} must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  return url;
}

/**
 * Checks that the server may send its Grafana API key to the origin of `panelUrl`. Call it before
 * storing an anomaly and before every query (the key must never go to an origin the operator did not
 * choose).
 *
 * @param grafanaUrl the `GRAFANA_URL` setting; when set, only its origin is allowed (its path is ignored).
 * @throws ForbiddenOriginError
 * @example
 * assertAllowedOrigin('https://grafana.example.com/d/abc?panelId=2', 'https://grafana.example.com/');
 */
export function assertAllowedOrigin(panelUrl: string, grafanaUrl?: string): void {
  const panel = parseHttpUrl(panelUrl, 'panelUrl');
  if (grafanaUrl === undefined || grafanaUrl === '') return;
  const allowed = parseHttpUrl(grafanaUrl, 'GRAFANA_URL');
  if (panel.origin !== allowed.origin) {
    throw new ForbiddenOriginError(
      `panelUrl origin ${panel.origin} is not the configured GRAFANA_URL (${allowed.origin})`,
    );
  }
}

/**
 * The origin of the Grafana that serves the panel. Like the original server, a Grafana served under a
 * sub-path (`https://host/grafana/`) is not detected: only the origin is kept.
 */
export function grafanaOrigin(panelUrl: string): string {
  return parseHttpUrl(panelUrl, 'panelUrl').origin;
}

/**
 * `origin(panelUrl) + '/' + datasource.url`, as the original server built it. Leading slashes (and
 * backslashes) of `datasource.url` are dropped, so `//evil.example/x` stays a path on Grafana and the
 * API key never leaves the panel's origin. Query parameters are added by the caller.
 *
 * @example
 * datasourceProxyUrl({ panelUrl: 'http://g:3000/d/x', datasource: { type: 'influxdb', url: '/api/datasources/proxy/1/query' }, targets: [] }).href
 * // 'http://g:3000/api/datasources/proxy/1/query'
 */
export function datasourceProxyUrl(source: MetricSource): URL {
  const origin = grafanaOrigin(source.panelUrl);
  const path = String(source.datasource.url ?? '').replace(/^[\s/\\]+/, '');
  const url = new URL(`${origin}/${path}`);
  if (url.origin !== origin) {
    // Defensive: should be unreachable given the stripping above.
    throw new ForbiddenOriginError(`datasource.url ${JSON.stringify(source.datasource.url)} leaves ${origin}`);
  }
  return url;
}

/** `Authorization: Bearer <apiKey>` when a key is configured (Grafana API key or service-account token). */
export function authHeaders(ctx: FetchContext): Record<string, string> {
  return ctx.apiKey ? { Authorization: `Bearer ${ctx.apiKey}` } : {};
}

function isTimeout(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === 'TimeoutError';
}

function reasonOf(err: unknown): string {
  // undici: TypeError('fetch failed') with `cause` = { code: 'ECONNREFUSED', message }.
  const e = err as { message?: string; cause?: { code?: string; message?: string } } | null;
  const cause = e?.cause;
  if (cause?.code && cause.message) return `${cause.code} (${cause.message})`;
  if (cause?.message) return cause.message;
  if (cause?.code) return cause.code;
  return e?.message ?? String(err);
}

const MAX_ERROR_TEXT = 300;

function clip(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > MAX_ERROR_TEXT ? `${t.slice(0, MAX_ERROR_TEXT)}…` : t;
}

function looksLikeHtml(contentType: string, text: string): boolean {
  return /html/i.test(contentType) || /^\s*</.test(text);
}

/** The error text of a JSON error body: InfluxDB says `{error}`, Grafana says `{message}`. */
export function errorTextOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as { error?: unknown; message?: unknown; results?: Array<{ error?: unknown }> };
  if (typeof b.error === 'string' && b.error) return b.error;
  if (typeof b.message === 'string' && b.message) return b.message;
  const r = Array.isArray(b.results) ? b.results.find((x) => typeof x?.error === 'string') : undefined;
  return r ? String(r.error) : undefined;
}

/**
 * Fetches `url` with `AbortSignal.timeout(ctx.timeoutMs)` (covering the body too) and returns the parsed
 * JSON body. Every failure becomes a `DatasourceError`:
 *
 * | what happened                         | kind           |
 * |---------------------------------------|----------------|
 * | connection refused / reset / DNS      | `unreachable`  |
 * | no answer within `timeoutMs`          | `timeout`      |
 * | 401, 403                              | `unauthorized` |
 * | other 4xx                             | `bad_query` (the body's error text) |
 * | 5xx                                   | `unreachable` (transient) |
 * | 2xx/3xx body that is HTML or not JSON | `bad_response` |
 *
 * `parse` turns the body text into a value (default `JSON.parse`; the InfluxDB datasource passes its
 * faster columnar parser); a `parse` that throws means the body is not JSON.
 *
 * `ctx.fetch` is called without a `this` (workerd throws "Illegal invocation" when its `fetch` is called
 * as a method of another object).
 *
 * @example
 * const body = await fetchWithTimeout(datasourceProxyUrl(source), { headers: authHeaders(ctx) }, ctx);
 */
export async function fetchWithTimeout(
  url: URL | string,
  init: RequestInit,
  ctx: FetchContext,
  parse: (text: string) => unknown = JSON.parse,
): Promise<unknown> {
  const target = new URL(String(url));
  const origin = target.origin;
  const doFetch = ctx.fetch;
  const signal = AbortSignal.timeout(ctx.timeoutMs);
  const timeoutError = () =>
    new DatasourceError('timeout', `Grafana at ${origin} did not answer within ${ctx.timeoutMs} ms`);

  let res: Response;
  try {
    res = await doFetch(target.href, { ...init, signal });
  } catch (err) {
    if (isTimeout(err) || signal.aborted) throw timeoutError();
    throw new DatasourceError('unreachable', `cannot reach Grafana at ${origin}: ${reasonOf(err)}`);
  }

  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    if (isTimeout(err) || signal.aborted) throw timeoutError();
    throw new DatasourceError(
      'unreachable',
      `connection to Grafana at ${origin} dropped while reading the answer: ${reasonOf(err)}`,
    );
  }

  const html = looksLikeHtml(res.headers.get('content-type') ?? '', text);
  let body: unknown;
  let json = false;
  if (!html) {
    try {
      body = parse(text);
      json = true;
    } catch {
      /* not JSON: handled below */
    }
  }
  const detail = () =>
    clip((json && errorTextOf(body)) || (!json && !html ? text : '') || res.statusText || '');

  if (res.status === 401 || res.status === 403) {
    const why = json ? errorTextOf(body) : undefined;
    throw new DatasourceError(
      'unauthorized',
      `datasource answered ${res.status}: check HASTIC_API_KEY${why ? ` (${clip(why)})` : ''}`,
    );
  }
  if (res.status >= 400 && res.status < 500) {
    throw new DatasourceError('bad_query', `datasource answered ${res.status}: ${detail()}`);
  }
  if (res.status >= 500) {
    throw new DatasourceError(
      'unreachable',
      `datasource answered ${res.status}${detail() ? `: ${detail()}` : ''} (Grafana at ${origin}, will retry)`,
    );
  }
  if (!json) {
    const what = html ? 'an HTML page' : 'a body that is not JSON';
    throw new DatasourceError(
      'bad_response',
      `Grafana at ${origin} answered ${what} instead of JSON (status ${res.status}): check the panel URL and datasource URL`,
    );
  }
  return body;
}
