import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parseConfig } from '../../src/config';
import { startNodeServer, type NodeServer, type NodeServerOptions } from '../../src/hosts/node-host';
import { silentLogger } from '../../src/log';
import { covers, type Peak } from './peak-series';

export interface TestServer extends NodeServer {
  dir: string;
  dbUrl: string;
  /** Stops the server and removes its database folder. */
  dispose(): Promise<void>;
}

/** Starts the real Node host on a random port with a fresh embedded libSQL file. */
export async function startTestServer(
  env: Record<string, string> = {},
  options: NodeServerOptions & { dir?: string } = {},
): Promise<TestServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'hastic-test-'));
  const dbUrl = `file:${join(dir, 'hastic.db')}`;
  const config = parseConfig({ HASTIC_PORT: '0', HASTIC_DB_URL: dbUrl, ...env });
  const server = await startNodeServer(config, { log: silentLogger, ...options });
  return {
    ...server,
    dir,
    dbUrl,
    async dispose() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * JSON calls to a running server (`url` is read at call time, so it may be set in `beforeAll`), and
 * waiting until a unit has left `learning`.
 */
export function apiClient(url: () => string) {
  const call = async (path: string, method = 'GET', body?: unknown) => {
    const res = await fetch(url() + path, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const settled = async (id: string) => {
    await expect.poll(async () => (await call(`/anomalies/status?id=${id}`)).body.status, { timeout: 30_000, interval: 100 }).not.toBe('learning');
    return (await call(`/anomalies/status?id=${id}`)).body as { status: string; errorMessage: string };
  };
  return { call, settled };
}

/**
 * After learning from the first peak: every other peak is covered by a detection, and every detection
 * covers a peak (none is a false alarm).
 */
export function expectFindsThePeaks(found: { start: number; finish: number }[], peaks: Peak[]): void {
  for (const p of peaks.slice(1)) expect(found.some((s) => covers(s, p.centre)), `peak at ${new Date(p.centre).toISOString()}`).toBe(true);
  for (const s of found) expect(peaks.some((p) => covers(s, p.centre)), `false detection ${s.start}..${s.finish}`).toBe(true);
}
