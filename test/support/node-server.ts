import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config';
import { startNodeServer, type NodeServer, type NodeServerOptions } from '../../src/hosts/node-host';
import { silentLogger } from '../../src/log';

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
