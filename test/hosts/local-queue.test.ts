import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from '@libsql/client';
import { migrate } from 'drizzle-orm/libsql/migrator';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../src/db/client';
import { jobs } from '../../src/db/schema';
import { LocalQueue } from '../../src/hosts/local-queue';
import type { Job } from '../../src/learn/jobs';
import { silentLogger } from '../../src/log';

let dir: string;
let client: Client;
let db: Db;
let clock: number;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hastic-queue-'));
  client = createClient({ url: `file:${join(dir, 'q.db')}` });
  db = createDb(client);
  await migrate(db, { migrationsFolder: 'drizzle' });
  clock = 1_000_000;
});
afterEach(() => {
  client.close();
  rmSync(dir, { recursive: true, force: true });
});

function queue(run: (job: Job) => Promise<unknown>, dead: [Job, string][] = [], maxAttempts = 3) {
  return new LocalQueue({
    db,
    run,
    onDead: async (job, error) => {
      dead.push([job, error.message]);
    },
    maxAttempts,
    now: () => clock,
    log: silentLogger,
  });
}

const learn = (generation: number): Job => ({ kind: 'learn', anomalyId: 'a', generation });

describe('LocalQueue', () => {
  it('runs a job once and removes it', async () => {
    const ran: Job[] = [];
    const q = queue(async (job) => ran.push(job));
    await q.enqueue(learn(1));
    expect(await q.drain()).toBe(1);
    expect(ran).toEqual([learn(1)]);
    expect(await db.select().from(jobs).all()).toEqual([]);
  });

  it('keeps one job per kind and anomaly, at the newest generation', async () => {
    const ran: Job[] = [];
    const q = queue(async (job) => ran.push(job));
    await q.enqueue(learn(1));
    await q.enqueue(learn(3));
    await q.enqueue(learn(2));
    await q.enqueue({ kind: 'detect', anomalyId: 'a', generation: 3 });
    await q.drain();
    expect(ran).toEqual([learn(3), { kind: 'detect', anomalyId: 'a', generation: 3 }]);
  });

  it('retries a failing job with exponential backoff, then dead-letters it with the reason', async () => {
    const dead: [Job, string][] = [];
    let calls = 0;
    const q = queue(async () => {
      calls++;
      throw new Error(`boom ${calls}`);
    }, dead);
    await q.enqueue(learn(1));
    expect(await q.drain()).toBe(1);
    const [row] = await db.select().from(jobs).all();
    expect(row).toMatchObject({ attempts: 1, lastError: 'boom 1', runAt: clock + 2000 });
    expect(await q.drain()).toBe(0); // not due yet
    clock += 2000;
    expect(await q.drain()).toBe(1);
    expect((await db.select().from(jobs).all())[0].runAt).toBe(clock + 4000);
    clock += 4000;
    await q.drain();
    expect(dead).toEqual([[learn(1), 'boom 3']]);
    expect(await db.select().from(jobs).all()).toEqual([]);
  });

  it('keeps a newer generation enqueued while the old one runs', async () => {
    const ran: number[] = [];
    let q: LocalQueue;
    q = queue(async (job) => {
      ran.push(job.generation);
      if (job.generation === 1) await q.enqueue(learn(2));
    });
    await q.enqueue(learn(1));
    await q.drain();
    expect(ran).toEqual([1, 2]);
    expect(await db.select().from(jobs).all()).toEqual([]);
  });

  it('runs again, after a restart, a job that was claimed when the process died', async () => {
    const crashed = queue(() => new Promise(() => {})); // never finishes: the process "dies" mid-job
    await crashed.enqueue(learn(1));
    void crashed.drain();
    await expect.poll(async () => (await db.select().from(jobs).all())[0]?.lockedUntil).toBeGreaterThan(clock);

    const ran: Job[] = [];
    const restarted = queue(async (job) => ran.push(job));
    expect(await restarted.drain()).toBe(0); // still claimed by the dead process
    await restarted.start(); // a new process owns the file: it releases every claim
    await restarted.stop();
    expect(await restarted.drain()).toBe(1);
    expect(ran).toEqual([learn(1)]);
  });
});
