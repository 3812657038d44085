/**
 * A thin Grafana stand-in for integration tests: the datasource proxy only.
 *
 * - `Authorization: Bearer <apiKey>` is required (401 `{"message":"Unauthorized"}` otherwise);
 * - `/api/datasources/proxy/<id>/<rest>?<query>` is forwarded to `<routes[id]>/<rest>?<query>` with the
 *   method and body; the Authorization header is not forwarded (Grafana uses the datasource's own auth);
 * - `setFault()` simulates Grafana/datasource trouble:
 *   `'down'` drops every connection, `'slow'` answers after `slowMs` (default 10 s, or never if closed),
 *   `'html'` answers a 200 HTML login page, `'500'` answers 500 JSON; `null` is back to normal.
 *
 * @example
 * const grafana = await startGrafanaProxy({ apiKey: 'k', routes: { '1': influx.url } });
 * const source = { panelUrl: `${grafana.url}/d/x`, datasource: { type: 'influxdb', url: 'api/datasources/proxy/1/query', params: {...} }, targets: [] };
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type GrafanaFault = 'down' | 'slow' | 'html' | '500' | null;

export interface GrafanaProxyOptions {
  apiKey: string;
  /** datasource id -> upstream base URL, e.g. `{ '1': 'http://127.0.0.1:8086' }` */
  routes: Record<string, string>;
  /** How long `'slow'` waits before answering. */
  slowMs?: number;
}

export interface ProxiedRequest {
  method: string;
  /** Path and query string as received, e.g. `/api/datasources/proxy/1/query?db=x&q=...` */
  url: string;
  authorization?: string;
  body: string;
}

export interface GrafanaProxy {
  /** `http://127.0.0.1:<port>` */
  url: string;
  setFault(fault: GrafanaFault): void;
  /** Every request received, in order (for assertions on what the client sent). */
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

const PROXY_PATH = /^\/api\/datasources\/proxy\/([^/]+)(?:\/(.*))?$/;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startGrafanaProxy(options: GrafanaProxyOptions): Promise<GrafanaProxy> {
  const { apiKey, routes, slowMs = 10_000 } = options;
  let fault: GrafanaFault = null;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const requests: ProxiedRequest[] = [];

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://grafana.invalid');
    const m = PROXY_PATH.exec(url.pathname);
    if (!m) return json(res, 404, { message: 'Not found' });
    const upstream = routes[decodeURIComponent(m[1])];
    if (!upstream) return json(res, 404, { message: 'Unable to find datasource' });
    const target = new URL(`${upstream.replace(/\/+$/, '')}/${m[2] ?? ''}${url.search}`);

    const headers = { ...req.headers };
    delete headers.authorization;
    delete headers.host;
    delete headers.connection;
    headers['content-length'] = String(body.length);
    const up = httpRequest(target, { method: req.method, headers }, (upRes) => {
      const h = { ...upRes.headers };
      delete h.connection;
      res.writeHead(upRes.statusCode ?? 502, h);
      upRes.pipe(res);
    });
    up.on('error', (err) => {
      // What Grafana answers when the datasource itself is unreachable.
      if (!res.headersSent) json(res, 502, { message: `Bad Gateway: ${err.message}` });
      else res.destroy();
    });
    up.end(body);
  };

  const server = createServer(async (req, res) => {
    if (fault === 'down') {
      req.socket.destroy();
      return;
    }
    const body = await readBody(req);
    requests.push({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      authorization: req.headers.authorization,
      body: body.toString(),
    });
    const answer = () => {
      if (fault === 'html') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end('<!DOCTYPE html><html><head><title>Grafana</title></head><body>Login</body></html>');
        return;
      }
      if (fault === '500') return json(res, 500, { message: 'Internal Server Error' });
      if (req.headers.authorization !== `Bearer ${apiKey}`) return json(res, 401, { message: 'Unauthorized' });
      forward(req, res, body);
    };
    if (fault === 'slow') {
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!res.destroyed) answer();
      }, slowMs);
      timers.add(timer);
      return;
    }
    answer();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setFault(f) {
      fault = f;
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
