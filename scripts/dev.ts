/**
 * `npm run dev [-- <extra wrangler dev args>]`: local Workers development, fully offline.
 *
 * Starts the Hrana dev server (src/devtools/hrana-server.ts — a dev tool, not for production) on
 * `.dev/hastic.db`, applies the drizzle migrations, then runs `wrangler dev --local --test-scheduled`
 * with `HASTIC_DB_URL` pointing at it. Trigger the cron handler with
 * `curl 'http://localhost:8787/__scheduled?cron=*+*+*+*+*'`. Set HASTIC_HRANA_PORT for a fixed port.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createClient } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { startHranaServer } from '../src/devtools/hrana-server';

const DB_FILE = resolve('.dev/hastic.db');
const MIGRATIONS = resolve('drizzle');

mkdirSync(resolve('.dev'), { recursive: true });
const server = await startHranaServer({ file: DB_FILE, port: Number(process.env.HASTIC_HRANA_PORT ?? 0) });
console.log(`[dev] libSQL (Hrana dev server) ${server.url} -> ${DB_FILE}`);

if (existsSync(join(MIGRATIONS, 'meta', '_journal.json'))) {
  const client = createClient({ url: server.url });
  try {
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS });
    console.log('[dev] migrations applied');
  } catch (error) {
    console.error('[dev] migrations failed:', error);
    await server.close();
    process.exit(1);
  } finally {
    client.close();
  }
}

const wrangler = spawn(
  'npx',
  ['wrangler', 'dev', '--local', '--test-scheduled', '--var', `HASTIC_DB_URL:${server.url}`, ...process.argv.slice(2)],
  {
    stdio: 'inherit',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
  },
);

// Ctrl-C reaches wrangler through the terminal's process group as well; forwarding covers `kill <pid>`.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (wrangler.exitCode === null) wrangler.kill(signal);
  });
}

wrangler.on('exit', (code, signal) => {
  void server.close().finally(() => process.exit(code ?? (signal ? 1 : 0)));
});
wrangler.on('error', (error) => {
  console.error('[dev] could not start wrangler:', error);
  void server.close().finally(() => process.exit(1));
});
