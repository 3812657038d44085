// Runs INSIDE workerd: proves a Worker can reach the Hrana dev server over HTTP with the web client.
import { createClient } from '@libsql/client/web';
import { afterAll, describe, expect, inject, it } from 'vitest';

const client = createClient({ url: inject('libsqlUrl') });
afterAll(() => client.close());

describe('libSQL over HTTP from workerd', () => {
  it('runs inside workerd', () => {
    expect(navigator.userAgent).toBe('Cloudflare-Workers');
  });

  it('creates, inserts and selects', async () => {
    await client.execute('CREATE TABLE IF NOT EXISTS smoke (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)');
    const ins = await client.execute({ sql: 'INSERT INTO smoke (name, score) VALUES (?, ?)', args: ['workerd', 0.5] });
    expect(ins.rowsAffected).toBe(1);
    const rs = await client.execute({ sql: 'SELECT id, name, score FROM smoke WHERE id = ?', args: [ins.lastInsertRowid!] });
    expect(rs.rows[0]).toMatchObject({ name: 'workerd', score: 0.5 });
  });

  it('commits and rolls back write transactions', async () => {
    const tx = await client.transaction('write');
    await tx.execute({ sql: 'INSERT INTO smoke (name) VALUES (?)', args: ['committed'] });
    await tx.commit();
    const rb = await client.transaction('write');
    await rb.execute({ sql: 'INSERT INTO smoke (name) VALUES (?)', args: ['rolled back'] });
    await rb.rollback();
    const rs = await client.execute("SELECT name FROM smoke WHERE name IN ('committed', 'rolled back')");
    expect(rs.rows.map((r) => r.name)).toEqual(['committed']);
  });

  it.runIf(inject('libsqlMigrations') > 0)('sees the drizzle migrations applied by globalSetup', async () => {
    const rs = await client.execute('SELECT count(*) AS n FROM __drizzle_migrations');
    expect(Number(rs.rows[0].n)).toBe(inject('libsqlMigrations'));
  });
});
