import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { jobs } from '../db/schema';
import type { Job, JobQueue } from '../learn/jobs';
import type { Logger } from '../log';

export interface LocalQueueOptions {
  db: Db;
  /** Runs a job; a throw means "retry later". */
  run: (job: Job) => Promise<unknown>;
  /** Called once a job has failed `maxAttempts` times (the dead-letter step). */
  onDead: (job: Job, error: Error) => Promise<void>;
  maxAttempts: number;
  now?: () => number;
  log: Logger;
  /** How often to look for due jobs when nothing wakes the queue (ms). */
  pollMs?: number;
  /** How long a claimed job stays invisible to others before it is considered abandoned (ms). */
  leaseMs?: number;
}

interface ClaimedJob extends Job {
  attempts: number;
  lockedUntil: number;
}

/**
 * The Node host's durable job queue: jobs live in the `jobs` table, so a crash or restart loses none
 * (a claimed job whose lease ran out is run again). One row per (kind, anomaly): enqueueing again
 * raises the generation instead of piling up duplicates. Retries back off exponentially (2^n s).
 */
export class LocalQueue implements JobQueue {
  private readonly now: () => number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly options: LocalQueueOptions) {
    this.now = options.now ?? Date.now;
  }

  async enqueue(job: Job): Promise<void> {
    const at = this.now();
    await this.options.db
      .insert(jobs)
      .values({ ...job, attempts: 0, runAt: at })
      .onConflictDoUpdate({
        target: [jobs.kind, jobs.anomalyId],
        set: {
          generation: sql`max(${jobs.generation}, excluded.generation)`,
          attempts: 0,
          runAt: sql`min(${jobs.runAt}, excluded.run_at)`,
          lastError: null,
        },
      });
    this.wake();
  }

  /** Releases every claim (only this process uses the file) and starts working. */
  async start(): Promise<void> {
    await this.options.db.update(jobs).set({ lockedUntil: null });
    this.stopped = false;
    this.wake();
  }

  /** Stops taking jobs and waits for the running one. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Runs due jobs until none is left (used by the loop, and by tests to drain the queue). */
  async drain(): Promise<number> {
    let ran = 0;
    for (let job = await this.claim(); job; job = await this.claim()) {
      await this.execute(job);
      ran++;
    }
    return ran;
  }

  private wake(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.loop(), 0);
  }

  private async loop(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = this.drain()
      .then(() => undefined)
      .catch((error) => this.options.log('queue_error', { error: String(error) }))
      .finally(() => {
        this.running = undefined;
        if (!this.stopped) this.timer = setTimeout(() => void this.loop(), this.options.pollMs ?? 1000);
      });
    await this.running;
  }

  private async claim(): Promise<ClaimedJob | undefined> {
    const at = this.now();
    const lockedUntil = at + (this.options.leaseMs ?? 600_000);
    const rows = await this.options.db.all<{ kind: Job['kind']; anomaly_id: string; generation: number; attempts: number }>(sql`
      update ${jobs} set locked_until = ${lockedUntil}
      where rowid = (
        select rowid from ${jobs}
        where run_at <= ${at} and (locked_until is null or locked_until < ${at})
        order by run_at limit 1)
      returning kind, anomaly_id, generation, attempts`);
    const row = rows[0];
    return row && { kind: row.kind, anomalyId: row.anomaly_id, generation: row.generation, attempts: row.attempts, lockedUntil };
  }

  private async execute(claimed: ClaimedJob): Promise<void> {
    const { db, log } = this.options;
    const job: Job = { kind: claimed.kind, anomalyId: claimed.anomalyId, generation: claimed.generation };
    const mine = and(eq(jobs.kind, job.kind), eq(jobs.anomalyId, job.anomalyId), eq(jobs.lockedUntil, claimed.lockedUntil));
    const ours = and(mine, eq(jobs.generation, job.generation));
    try {
      await this.options.run(job);
      await db.delete(jobs).where(ours);
    } catch (caught) {
      const error = caught instanceof Error ? caught : new Error(String(caught));
      const attempts = claimed.attempts + 1;
      log('job_retry', { ...job, attempts, error: error.message });
      if (attempts >= this.options.maxAttempts) {
        await this.options.onDead(job, error);
        await db.delete(jobs).where(ours);
      } else {
        const runAt = this.now() + 1000 * 2 ** attempts;
        await db.update(jobs).set({ attempts, lastError: error.message, runAt }).where(ours);
      }
    }
    // A newer generation enqueued while this one ran keeps its row: release it for the next claim.
    await db.update(jobs).set({ lockedUntil: null }).where(mine);
  }
}
