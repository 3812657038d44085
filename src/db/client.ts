import type { Client } from '@libsql/client';
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql';
import * as schema from './schema';

export type Db = LibSQLDatabase<typeof schema>;

/** Wraps a libSQL client (embedded file, sqld/Turso over HTTP) in Drizzle with our schema. */
export function createDb(client: Client): Db {
  return drizzle(client, { schema });
}
