/**
 * Vitest globalSetup for the `workers` project. Runs in Node (not workerd): starts the Hrana dev server
 * on a throwaway file and a random port, applies the drizzle migrations, and provides the URL to the
 * pool options (`inject` in vitest.config.ts) and to tests (`inject('libsqlUrl')` from 'vitest').
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createClient } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import type { TestProject } from 'vitest/node';
import { startHranaServer } from '../../../src/devtools/hrana-server';

declare module 'vitest' {
  interface ProvidedContext {
    /** `http://127.0.0.1:<port>` of the Hrana dev server, migrated to the latest schema. */
    libsqlUrl: string;
    /** How many drizzle migrations were applied (0 while there are none). */
    libsqlMigrations: number;
  }
}

const MIGRATIONS = resolve('drizzle');

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'hastic-workers-test-'));
  const server = await startHranaServer({ file: join(dir, 'test.db'), port: 0 });
  let applied = 0;
  const journal = join(MIGRATIONS, 'meta', '_journal.json');
  if (existsSync(journal)) {
    applied = (JSON.parse(readFileSync(journal, 'utf8')) as { entries: unknown[] }).entries.length;
    const client = createClient({ url: server.url });
    try {
      await migrate(drizzle(client), { migrationsFolder: MIGRATIONS });
    } finally {
      client.close();
    }
  }
  project.provide('libsqlUrl', server.url);
  project.provide('libsqlMigrations', applied);
  return async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  };
}
