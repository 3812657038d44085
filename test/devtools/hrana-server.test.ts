import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from '@libsql/client';
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/libsql';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHranaServer, type HranaServer } from '../../src/devtools/hrana-server';

let dir: string;
let server: HranaServer;
let client: Client;
const clients: Client[] = [];
const newClient = (opts: { intMode?: 'number' | 'bigint' | 'string' } = {}) => {
  const c = createClient({ url: server.url, ...opts });
  clients.push(c);
  return c;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hrana-test-'));
  server = await startHranaServer({ file: join(dir, 'nested', 'test.db'), port: 0, transactionTimeoutMs: 1_000 });
  client = newClient();
});

afterAll(async () => {
  clients.forEach((c) => c.close());
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('protocol endpoints', () => {
  it('answers the version probes sqld answers', async () => {
    expect((await fetch(`${server.url}/v2`)).status).toBe(200);
    expect((await fetch(`${server.url}/version`)).status).toBe(200);
    expect((await fetch(`${server.url}/v3-protobuf`)).status).toBe(404);
  });

  it('rejects an unknown baton with a JSON error', async () => {
    const res = await fetch(`${server.url}/v2/pipeline`, { method: 'POST', body: JSON.stringify({ baton: 'nope', requests: [] }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/baton/);
  });

  it('handles store_sql, sequence, get_autocommit, describe and close in one pipeline', async () => {
    const res = await fetch(`${server.url}/v2/pipeline`, {
      method: 'POST',
      body: JSON.stringify({
        requests: [
          { type: 'sequence', sql: 'CREATE TABLE IF NOT EXISTS seq (a INTEGER); INSERT INTO seq VALUES (1);' },
          { type: 'store_sql', sql_id: 1, sql: 'SELECT a FROM seq WHERE a = ?' },
          { type: 'execute', stmt: { sql_id: 1, args: [{ type: 'integer', value: '1' }], want_rows: true } },
          { type: 'describe', sql_id: 1 },
          { type: 'close_sql', sql_id: 1 },
          { type: 'execute', stmt: { sql_id: 1, want_rows: true } },
          { type: 'get_autocommit' },
          { type: 'close' },
        ],
      }),
    });
    const body = (await res.json()) as { baton: string | null; results: any[] };
    expect(body.baton).toBeNull();
    const [seq, store, exec, desc, closeSql, gone, auto, close] = body.results;
    expect([seq.type, store.type, closeSql.type, close.type]).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(exec.response.result.rows).toEqual([[{ type: 'integer', value: '1' }]]);
    expect(exec.response.result.cols).toEqual([{ name: 'a', decltype: 'INTEGER' }]);
    expect(desc.response.result).toMatchObject({ params: [{ name: null }], cols: [{ name: 'a', decltype: 'INTEGER' }], is_readonly: true });
    expect(gone).toMatchObject({ type: 'error', error: { code: 'SQL_NOT_FOUND' } });
    expect(auto.response.is_autocommit).toBe(true);
  });
});

describe('through @libsql/client', () => {
  beforeAll(async () => {
    await client.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, data BLOB)');
  });

  it('executes with positional and named args', async () => {
    const ins = await client.execute({ sql: 'INSERT INTO items (name, score) VALUES (?, ?)', args: ['alpha', 1.5] });
    expect(ins.rowsAffected).toBe(1);
    expect(ins.lastInsertRowid).toBe(1n);
    await client.execute({ sql: 'INSERT INTO items (name, score) VALUES (:name, $score)', args: { name: 'beta', score: 2 } });
    const rs = await client.execute({ sql: 'SELECT id, name, score FROM items WHERE name = @name', args: { name: 'beta' } });
    expect(rs.columns).toEqual(['id', 'name', 'score']);
    expect(rs.columnTypes).toEqual(['INTEGER', 'TEXT', 'REAL']);
    expect(rs.rows[0]).toMatchObject({ id: 2, name: 'beta', score: 2 });
  });

  it('reports affected rows for DML and RETURNING, not for DDL', async () => {
    expect((await client.execute("UPDATE items SET score = score + 1 WHERE name IN ('alpha', 'beta')")).rowsAffected).toBe(2);
    const ret = await client.execute({ sql: 'INSERT INTO items (name) VALUES (?) RETURNING id, name', args: ['gamma'] });
    expect(ret.rows[0]).toMatchObject({ id: 3, name: 'gamma' });
    expect(ret.rowsAffected).toBe(1);
    expect((await client.execute('CREATE TABLE IF NOT EXISTS ddl (x)')).rowsAffected).toBe(0);
    expect((await client.execute('SELECT * FROM items')).rowsAffected).toBe(0);
  });

  it('round-trips blobs, floats, big integers, null and text', async () => {
    const big = newClient({ intMode: 'bigint' });
    const blob = new Uint8Array([0, 1, 2, 250, 255]);
    const rs = await big.execute({
      sql: 'SELECT ? AS b, ? AS f, ? AS i, ? AS n, ? AS t, typeof(?) AS ft',
      args: [blob, 0.1 + 0.2, 9007199254740993n, null, 'héllo ☃', 2.0],
    });
    const row = rs.rows[0];
    expect(new Uint8Array(row.b as ArrayBuffer)).toEqual(blob);
    expect(row.f).toBe(0.1 + 0.2);
    expect(row.i).toBe(9007199254740993n);
    expect(row.n).toBeNull();
    expect(row.t).toBe('héllo ☃');
    expect(row.ft).toBe('real');
    const max = await big.execute({ sql: 'SELECT ? AS m', args: [9223372036854775807n] });
    expect(max.rows[0].m).toBe(9223372036854775807n);
  });

  it('runs a write batch as one transaction (all or nothing)', async () => {
    const rs = await client.batch(
      [{ sql: 'INSERT INTO items (name) VALUES (?)', args: ['b1'] }, { sql: 'SELECT count(*) AS n FROM items WHERE name = ?', args: ['b1'] }],
      'write',
    );
    expect(rs[1].rows[0].n).toBe(1);
    await expect(
      client.batch([{ sql: 'INSERT INTO items (name) VALUES (?)', args: ['b2'] }, 'INSERT INTO items (name) VALUES (NULL)'], 'write'),
    ).rejects.toThrow(/NOT NULL/);
    expect((await client.execute("SELECT count(*) AS n FROM items WHERE name = 'b2'")).rows[0].n).toBe(0);
    expect((await client.execute('SELECT 1 AS ok')).rows[0].ok).toBe(1); // nothing left open
  });

  it('commits and rolls back interactive transactions', async () => {
    const tx = await client.transaction('write');
    await tx.execute({ sql: 'INSERT INTO items (name) VALUES (?)', args: ['t1'] });
    expect((await tx.execute("SELECT count(*) AS n FROM items WHERE name = 't1'")).rows[0].n).toBe(1);
    await tx.commit();
    const rb = await client.transaction('write');
    await rb.execute({ sql: 'INSERT INTO items (name) VALUES (?)', args: ['t2'] });
    await rb.rollback();
    const rs = await client.execute("SELECT name FROM items WHERE name IN ('t1', 't2')");
    expect(rs.rows.map((r) => r.name)).toEqual(['t1']);
  });

  it('serialises concurrent transactions: no interleaving, no lost update', async () => {
    await client.execute('CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)');
    await client.execute('INSERT INTO counter VALUES (1, 0)');
    const log: string[] = [];
    const increment = async (who: string) => {
      const tx = await newClient().transaction('write');
      const n = Number((await tx.execute('SELECT n FROM counter WHERE id = 1')).rows[0].n);
      log.push(`${who}:read`);
      await sleep(50); // the other transaction must wait, not read the stale value
      await tx.execute({ sql: 'UPDATE counter SET n = ? WHERE id = 1', args: [n + 1] });
      log.push(`${who}:write`);
      await tx.commit();
    };
    await Promise.all([increment('a'), increment('b'), increment('c')]);
    expect((await client.execute('SELECT n FROM counter')).rows[0].n).toBe(3);
    for (let i = 0; i < log.length; i += 2) expect(log[i].split(':')[0]).toBe(log[i + 1].split(':')[0]);
  });

  it('rolls back a transaction left idle past the timeout and frees the lock', async () => {
    const stale = await newClient().transaction('write');
    await stale.execute({ sql: 'INSERT INTO items (name) VALUES (?)', args: ['stale'] });
    const started = Date.now();
    await client.execute({ sql: 'INSERT INTO items (name) VALUES (?)', args: ['after'] }); // waits for the timeout
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
    await expect(stale.commit()).rejects.toThrow(/baton/);
    const rs = await client.execute("SELECT name FROM items WHERE name IN ('stale', 'after')");
    expect(rs.rows.map((r) => r.name)).toEqual(['after']);
  });

  it('reports bad SQL and constraint errors clearly, and keeps serving', async () => {
    await expect(client.execute('SELEC 1')).rejects.toMatchObject({ code: 'SQLITE_ERROR', message: expect.stringMatching(/syntax error/) });
    await expect(client.execute('INSERT INTO items (id, name) VALUES (1, ?)', ['dup'])).rejects.toMatchObject({
      code: 'SQLITE_CONSTRAINT_PRIMARYKEY',
    });
    await expect(client.execute('SELECT * FROM missing_table')).rejects.toThrow(/no such table/);
    expect((await client.execute('SELECT 42 AS x')).rows[0].x).toBe(42);
  });
});

describe('through drizzle-orm/libsql', () => {
  const notes = sqliteTable('notes', {
    id: integer('id').primaryKey({ autoIncrement: true }),
    title: text('title').notNull(),
    createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  });

  it('inserts, selects and runs db.transaction with commit and rollback', async () => {
    const db = drizzle(newClient());
    await db.run(sql`CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, created_at INTEGER NOT NULL)`);
    const [inserted] = await db.insert(notes).values({ title: 'first', createdAt: new Date(1_700_000_000_000) }).returning();
    expect(inserted).toEqual({ id: 1, title: 'first', createdAt: new Date(1_700_000_000_000) });

    await db.transaction(async (tx) => {
      await tx.insert(notes).values({ title: 'second', createdAt: new Date() });
      await tx.update(notes).set({ title: 'first!' }).where(eq(notes.id, 1));
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.insert(notes).values({ title: 'never', createdAt: new Date() });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');

    const rows = await db.select({ title: notes.title }).from(notes).orderBy(notes.id);
    expect(rows.map((r) => r.title)).toEqual(['first!', 'second']);
  });
});
