/**
 * Talking to Grafana's datasource proxy: where to send a query, with which credentials, and how to turn
 * every way it can fail into a `DatasourceError` whose message tells a user what to fix.
 *
 * Web APIs only (fetch, URL, AbortSignal.timeout): this runs on Node and in workerd.
 */
import { DatasourceError, type FetchContext, type MetricSource } from './types';

/** Which request field a refused URL came from, so a route can answer 400 naming it. */
export type TargetField = 'panelUrl' | 'datasource.url';

/**
 * A URL the server may not query: not an http(s) URL, or an origin the operator did not allow
 * (`GRAFANA_URL`, `HASTIC_DATASOURCE_ORIGINS`). A `DatasourceError` of kind `'unsupported'` (not
 * transient: retrying cannot help), so code that only knows `DatasourceError` still gets a readable
 * message; routes can test `instanceof ForbiddenOriginError` and answer 400 naming `field`.
 */
export class ForbiddenOriginError extends DatasourceError {
  override name = 'ForbiddenOriginError';
  constructor(
    message: string,
    readonly field: TargetField = 'panelUrl',
  ) {
    super('unsupported', message);
  }
}

function parseHttpUrl(raw: string, what: string, field: TargetField = 'panelUrl'): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ForbiddenOriginError(`${what} is not a valid URL: ${JSON.stringify(raw)}`, field);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ForbiddenOriginError(`${what} must be an http(s) URL, got ${JSON.stringify(raw)}`, field);
  }
  return url;
}

/**
 * Checks that the server may send its Grafana API key to the origin of `panelUrl`.
 *
 * @deprecated use `assertAllowedTarget`, which checks the URL a datasource actually requests.
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
 * `datasource.url` as the URL parser will read it: tabs and newlines anywhere are dropped and leading
 * or trailing C0 controls and spaces trimmed (WHATWG URL rules), so the "is it absolute" test below
 * cannot disagree with what `fetch` would do.
 */
function cleanDatasourceUrl(raw: unknown): string {
  return String(raw ?? '').replace(/[\t\n\r]/g, '').replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '');
}

/** True when `datasource.url` names its own scheme (`http://prometheus:9090/...`): a direct datasource. */
export function isDirectDatasourceUrl(raw: unknown): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(cleanDatasourceUrl(raw));
}

/**
 * The URL a datasource request starts from (adapters only append a path and query parameters):
 *
 * - `datasource.url` absolute (`http://prometheus:9090/api/v1/query_range`): that URL, fetched directly
 *   (http(s) only, no user info);
 * - otherwise `origin(panelUrl) + '/' + datasource.url`, as the original server built it. Leading
 *   slashes and backslashes are dropped, so `//evil.example/x` stays a path on Grafana.
 *
 * Says nothing about whether the URL is allowed: that is `assertAllowedTarget`.
 *
 * @example
 * datasourceUrl({ panelUrl: 'http://g:3000/d/x', datasource: { type: 'influxdb', url: '/api/datasources/proxy/1/query' }, targets: [] }).href
 * // 'http://g:3000/api/datasources/proxy/1/query'
 */
export function datasourceUrl(source: MetricSource): URL {
  const raw = cleanDatasourceUrl(source.datasource.url);
  if (isDirectDatasourceUrl(raw)) {
    const url = parseHttpUrl(raw, 'datasource.url', 'datasource.url');
    if (url.username || url.password) {
      throw new ForbiddenOriginError(
        'datasource.url must not carry a user name or password: allow the origin in HASTIC_DATASOURCE_ORIGINS instead',
        'datasource.url',
      );
    }
    let panel: string | undefined;
    try {
      panel = grafanaOrigin(source.panelUrl);
    } catch {
      /* no usable panel origin: keyless */
    }
    if (url.origin !== panel) KEYLESS.add(url);
    return url;
  }
  const origin = grafanaOrigin(source.panelUrl);
  const path = raw.replace(/^[\s/\\]+/, '');
  const url = new URL(`${origin}/${path}`);
  if (url.origin !== origin) {
    // Defensive: should be unreachable given the stripping above.
    throw new ForbiddenOriginError(`datasource.url ${JSON.stringify(source.datasource.url)} leaves ${origin}`, 'datasource.url');
  }
  return url;
}

/**
 * URLs (as returned by `datasourceUrl`, then only re-pathed by an adapter) of direct datasources on
 * another origin than the panel's Grafana: `fetchWithTimeout` never sends an `Authorization` header
 * to them, whichever adapter built the request, so the Grafana API key cannot leak to a datasource.
 */
const KEYLESS = new WeakSet<URL>();

/** @deprecated the name of `datasourceUrl` before direct datasources existed. */
export const datasourceProxyUrl = datasourceUrl;

/** What the operator allows the server to query (from `GRAFANA_URL` and `HASTIC_DATASOURCE_ORIGINS`). */
export interface TargetPolicy {
  grafanaUrl?: string;
  /** Normalised origins (`http://host:port`) a datasource with an absolute `url` may reach directly. */
  datasourceOrigins?: readonly string[];
}

function normalOrigin(raw: string): string | undefined {
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks the URL a datasource will request for `source` (`datasourceUrl(source)`; adapters only add a
 * path and query to it, never change its origin) against what the operator allows, and returns it:
 *
 * - relative `datasource.url` (through Grafana): `panelUrl` must be http(s) and, when `GRAFANA_URL` is
 *   set, on its origin; without `GRAFANA_URL` any panel origin is queried, as the original server did;
 * - absolute `datasource.url` (direct): its origin must be in `HASTIC_DATASOURCE_ORIGINS`, or be the
 *   Grafana itself (`GRAFANA_URL`'s origin; without it, the panel's origin). Everything else is refused,
 *   so the server can never be used as a proxy to an arbitrary host.
 *
 * Origins are compared after WHATWG normalisation (`http://2130706433` is `http://127.0.0.1`, default
 * ports dropped, IPv6 compressed, host lower-cased), so spelling tricks cannot match an allowed origin.
 * Call it before storing an anomaly and before every query.
 *
 * @throws ForbiddenOriginError with `field` = `'panelUrl'` or `'datasource.url'`
 * @example
 * assertAllowedTarget(source, { grafanaUrl: config.grafanaUrl, datasourceOrigins: config.datasourceOrigins });
 */
export function assertAllowedTarget(source: MetricSource, policy: TargetPolicy = {}): URL {
  const panelOrigin = grafanaOrigin(source.panelUrl);
  const grafana = policy.grafanaUrl ? parseHttpUrl(policy.grafanaUrl, 'GRAFANA_URL').origin : undefined;
  const url = datasourceUrl(source);
  if (!isDirectDatasourceUrl(source.datasource.url)) {
    if (grafana !== undefined && panelOrigin !== grafana) {
      throw new ForbiddenOriginError(`panelUrl origin ${panelOrigin} is not the configured GRAFANA_URL (${grafana})`);
    }
    return url;
  }
  const allowed = new Set<string>();
  for (const o of policy.datasourceOrigins ?? []) {
    const n = normalOrigin(o);
    if (n) allowed.add(n);
  }
  allowed.add(grafana ?? panelOrigin);
  if (!allowed.has(url.origin)) {
    throw new ForbiddenOriginError(
      `datasource.url origin ${url.origin} is not allowed: the server only queries ` +
        `${grafana ? `GRAFANA_URL (${grafana})` : `the panel's Grafana (${panelOrigin})`}` +
        ` and the origins listed in HASTIC_DATASOURCE_ORIGINS`,
      'datasource.url',
    );
  }
  return url;
}

/**
 * Headers for a request to `url` on behalf of `source`: the Grafana API key only goes to the panel's
 * Grafana (a relative `datasource.url`, or an absolute one on the panel's origin), never to a direct
 * datasource elsewhere.
 */
export function authHeadersFor(source: MetricSource, url: URL, ctx: FetchContext): Record<string, string> {
  let panel: string | undefined;
  try {
    panel = grafanaOrigin(source.panelUrl);
  } catch {
    return {};
  }
  return url.origin === panel ? authHeaders(ctx) : {};
}

/** `Authorization: Bearer <apiKey>` when a key is configured (Grafana API key or service-account token). */
export function authHeaders(ctx: FetchContext): Record<string, string> {
  return ctx.apiKey ? { Authorization: `Bearer ${ctx.apiKey}` } : {};
}

function withoutAuthorization(headers: ConstructorParameters<typeof Headers>[0]): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(headers).forEach((value, key) => {
    if (key !== 'authorization') out[key] = value;
  });
  return out;
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

/**
 * The error text of a JSON error body: InfluxDB says `{error}`, Grafana `{message}` or
 * `{results: {A: {error}}}`, Elasticsearch `{error: {reason, root_cause}}` or `{responses: [{error}]}`.
 */
export function errorTextOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as { error?: unknown; message?: unknown; results?: unknown; responses?: unknown };
  if (typeof b.error === 'string' && b.error) return b.error;
  const es = esReason(b.error);
  if (es) return es;
  if (typeof b.message === 'string' && b.message) return b.message;
  const parts = Array.isArray(b.results)
    ? b.results
    : b.results && typeof b.results === 'object'
      ? Object.values(b.results)
      : Array.isArray(b.responses)
        ? b.responses
        : [];
  for (const r of parts as Array<{ error?: unknown } | null>) {
    if (typeof r?.error === 'string' && r.error) return r.error;
    const reason = esReason(r?.error);
    if (reason) return reason;
  }
  return undefined;
}

function esReason(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { reason?: unknown; type?: unknown; root_cause?: Array<{ reason?: unknown }>; caused_by?: { reason?: unknown } };
  const root = Array.isArray(e.root_cause) ? e.root_cause.find((c) => typeof c?.reason === 'string')?.reason : undefined;
  const reason = typeof e.reason === 'string' ? e.reason : undefined;
  const cause = typeof e.caused_by?.reason === 'string' ? e.caused_by.reason : undefined;
  const text = [reason, root !== reason ? root : undefined, cause].filter(Boolean).join(': ');
  return text || (typeof e.type === 'string' ? e.type : undefined);
}

/**
 * Fetches `url` with `AbortSignal.timeout(ctx.timeoutMs)` (covering the body too) and returns the parsed
 * body. Redirects are not followed (a datasource must not send the server, or the API key, elsewhere).
 * Every failure becomes a `DatasourceError`:
 *
 * | what happened                         | kind           |
 * |---------------------------------------|----------------|
 * | connection refused / reset / DNS      | `unreachable`  |
 * | no answer within `timeoutMs`          | `timeout`      |
 * | 401, 403                              | `unauthorized` |
 * | 3xx redirect                          | `bad_query` (where it points) |
 * | other 4xx                             | `bad_query` (the body's error text) |
 * | 5xx                                   | `unreachable` (transient) |
 * | 2xx body that is HTML or not parseable, or too large for a string | `bad_response` |
 *
 * `parse` turns the body text into a value (default `JSON.parse`; adapters pass faster columnar
 * parsers, or keep CSV as text); a `parse` that throws means the body is not what was expected.
 * `label` names the server in messages ("Grafana", or "datasource" for a direct datasource).
 *
 * `ctx.fetch` is called without a `this` (workerd throws "Illegal invocation" when its `fetch` is called
 * as a method of another object).
 *
 * @example
 * const body = await fetchWithTimeout(datasourceUrl(source), { headers: authHeaders(ctx) }, ctx);
 */
export async function fetchWithTimeout(
  url: URL | string,
  init: RequestInit,
  ctx: FetchContext,
  parse: (text: string) => unknown = JSON.parse,
  label = 'Grafana',
): Promise<unknown> {
  const target = new URL(String(url));
  const origin = target.origin;
  const doFetch = ctx.fetch;
  const signal = AbortSignal.timeout(ctx.timeoutMs);
  const where = `${label} at ${origin}`;
  const timeoutError = () => new DatasourceError('timeout', `${where} did not answer within ${ctx.timeoutMs} ms`);

  if (url instanceof URL && KEYLESS.has(url)) init = { ...init, headers: withoutAuthorization(init.headers) };
  let res: Response;
  try {
    res = await doFetch(target.href, { redirect: 'manual', ...init, signal });
  } catch (err) {
    if (isTimeout(err) || signal.aborted) throw timeoutError();
    throw new DatasourceError('unreachable', `cannot reach ${where}: ${reasonOf(err)}`);
  }

  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    if (isTimeout(err) || signal.aborted) throw timeoutError();
    if (err instanceof RangeError) {
      throw new DatasourceError('bad_response', `${where} answered more data than fits in memory: query a shorter range or a coarser interval`);
    }
    throw new DatasourceError('unreachable', `connection to ${where} dropped while reading the answer: ${reasonOf(err)}`);
  }

  if (res.status >= 300 && res.status < 400) {
    const location = res.headers.get('location');
    throw new DatasourceError(
      'bad_query',
      `${where} answered a redirect (${res.status}${location ? ` to ${clip(location)}` : ''}): ` +
        'point the panel URL / datasource.url at the final address (redirects are not followed)',
    );
  }

  const html = looksLikeHtml(res.headers.get('content-type') ?? '', text);
  let body: unknown;
  let parsed = false;
  if (!html) {
    try {
      body = parse(text);
      parsed = true;
    } catch {
      /* not JSON: handled below */
    }
  }
  const json = parsed && typeof body === 'object' && body !== null;
  const detail = () =>
    clip((json && errorTextOf(body)) || (!json && !html ? text : '') || res.statusText || '');

  if (res.status === 401 || res.status === 403) {
    const why = json ? errorTextOf(body) : undefined;
    throw new DatasourceError(
      'unauthorized',
      `datasource answered ${res.status}: ${label === 'Grafana' ? 'check HASTIC_API_KEY' : `check access to ${where}`}${why ? ` (${clip(why)})` : ''}`,
    );
  }
  if (res.status >= 400 && res.status < 500) {
    throw new DatasourceError('bad_query', `datasource answered ${res.status}: ${detail()}`);
  }
  if (res.status >= 500) {
    throw new DatasourceError(
      'unreachable',
      `datasource answered ${res.status}${detail() ? `: ${detail()}` : ''} (${where}, will retry)`,
    );
  }
  if (!parsed) {
    const what = html ? 'an HTML page' : 'a body that is not JSON';
    throw new DatasourceError(
      'bad_response',
      `${where} answered ${what} instead of JSON (status ${res.status}): check the panel URL and datasource URL`,
    );
  }
  return body;
}

/**
 * An object, or JSON text of one (panels send a datasource's `data` either way), as an object;
 * undefined for anything else.
 */
export function asObject(x: unknown): Record<string, unknown> | undefined {
  if (typeof x === 'string') {
    try {
      x = JSON.parse(x);
    } catch {
      return undefined;
    }
  }
  return x && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined;
}
