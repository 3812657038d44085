import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookReceiver {
  url: string;
  /** JSON bodies received while up, in order. */
  received: unknown[];
  /** While down, every POST is answered 503 (and not recorded). */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

/**
 * A real HTTP endpoint that records alert webhooks, for end-to-end tests. `GET` answers what it has
 * received, so tests running elsewhere (inside workerd) can read it too.
 */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: unknown[] = [];
  let down = false;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(received));
        return;
      }
      if (down) {
        res.writeHead(503).end();
        return;
      }
      received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    setDown: (value) => {
      down = value;
    },
    close: () => new Promise((done) => server.close(() => done())),
  };
}
