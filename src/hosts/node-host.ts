import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { createClient } from '@libsql/client';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { createApp } from '../app';
import type { Config } from '../config';
import { createDb } from '../db/client';
import { recordFailure, runJob } from '../learn/runner';
import { detectionTick } from '../learn/schedule';
import { loggerFor, type Logger } from '../log';
import type { Services } from '../services';
import { LocalQueue } from './local-queue';

const MIGRATIONS = fileURLToPath(new URL('../../drizzle', import.meta.url));

export interface NodeServer {
  url: string;
  services: Services;
  queue: LocalQueue;
  /** Runs one detection tick now (the scheduler does this every HASTIC_DETECT_INTERVAL seconds). */
  tick(): Promise<number>;
  close(): Promise<void>;
}

export interface NodeServerOptions {
  fetch?: typeof fetch;
  now?: () => number;
  log?: Logger;
  /** Start the queue worker and the detection scheduler (default true). */
  background?: boolean;
}

/** libSQL does not create missing folders: make the database file's folder first. */
function ensureDatabaseFolder(url: string): void {
  if (!url.startsWith('file:')) return;
  const path = url.slice('file:'.length).replace(/^\/\/(?=\/)/, '');
  if (path && path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
}

/**
 * Starts the self-hosted server: embedded (or remote) libSQL with migrations applied, the HTTP app,
 * the durable local job queue and the detection scheduler.
 */
export async function startNodeServer(config: Config, options: NodeServerOptions = {}): Promise<NodeServer> {
  const log = options.log ?? loggerFor(config.log);
  const now = options.now ?? Date.now;
  ensureDatabaseFolder(config.dbUrl);
  const client = createClient({ url: config.dbUrl, authToken: config.dbAuthToken });
  if (config.dbUrl.startsWith('file:')) {
    await client.execute('pragma journal_mode = wal');
    await client.execute('pragma busy_timeout = 10000');
  }
  const db = createDb(client);
  await migrate(db, { migrationsFolder: MIGRATIONS });

  const deps = { db, config, fetch: options.fetch ?? fetch, now, log };
  const queue: LocalQueue = new LocalQueue({
    db,
    log,
    now,
    maxAttempts: config.jobAttempts,
    run: (job) => runJob(deps, job),
    onDead: (job, error) => recordFailure(deps, job, error.message),
  });
  const services: Services = { ...deps, jobs: queue, startedAt: now() };
  const app = createApp(services);

  const server = await new Promise<ServerType>((ready) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: '0.0.0.0' }, () => ready(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;

  const tick = () => detectionTick(deps, queue);
  let scheduler: ReturnType<typeof setInterval> | undefined;
  if (options.background ?? true) {
    await queue.start();
    scheduler = setInterval(() => {
      tick().catch((error) => log('tick_error', { error: String(error) }));
    }, config.detectIntervalMs);
  }
  log('started', { port, db: config.dbUrl.replace(/\/\/[^@/]*@/, '//***@'), detectIntervalMs: config.detectIntervalMs });

  return {
    url: `http://127.0.0.1:${port}`,
    services,
    queue,
    tick,
    async close() {
      clearInterval(scheduler);
      await new Promise<void>((done) => server.close(() => done()));
      await queue.stop();
      client.close();
    },
  };
}
