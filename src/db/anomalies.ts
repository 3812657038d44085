import { and, count, eq, sql } from 'drizzle-orm';
import type { Db } from './client';
import { dropUnusedCache } from './series-cache';
import { anomalies, jobs, segments, type AnomalyStatus } from './schema';

export type Anomaly = typeof anomalies.$inferSelect;
export type NewAnomaly = typeof anomalies.$inferInsert;

/** Names are unique ignoring case. */
export const nameKey = (name: string) => name.trim().toLowerCase();

/** Finds an anomaly by id, then by name (old panels sent names where ids were expected). */
export async function findAnomaly(db: Db, idOrName: string): Promise<Anomaly | undefined> {
  const byId = await db.select().from(anomalies).where(eq(anomalies.id, idOrName)).get();
  return byId ?? (await db.select().from(anomalies).where(eq(anomalies.nameKey, nameKey(idOrName))).get());
}

export async function findAnomalyByName(db: Db, name: string): Promise<Anomaly | undefined> {
  return db.select().from(anomalies).where(eq(anomalies.nameKey, nameKey(name))).get();
}

export async function listAnomalies(db: Db): Promise<Anomaly[]> {
  return db.select().from(anomalies).orderBy(anomalies.createdAt).all();
}

/** Inserts the anomaly; returns false when the name is already taken. */
export async function insertAnomaly(db: Db, row: NewAnomaly): Promise<boolean> {
  const inserted = await db
    .insert(anomalies)
    .values(row)
    .onConflictDoNothing({ target: anomalies.nameKey })
    .returning({ id: anomalies.id });
  return inserted.length === 1;
}

/** Removes the anomaly with its segments, queued jobs and (unless shared) cached points, atomically. */
export async function deleteAnomaly(db: Db, anomaly: Pick<Anomaly, 'id' | 'targetKey'>): Promise<void> {
  const { id, targetKey } = anomaly;
  await db.batch([
    db.delete(segments).where(eq(segments.anomalyId, id)),
    db.delete(jobs).where(eq(jobs.anomalyId, id)),
    db.delete(anomalies).where(eq(anomalies.id, id)),
    ...(targetKey ? dropUnusedCache(db, targetKey) : []),
  ]);
}

export async function setAlertEnabled(db: Db, id: string, enabled: boolean, now: number): Promise<void> {
  await db
    .update(anomalies)
    .set(enabled ? { alertEnabled: true, updatedAt: now } : { alertEnabled: false, alertActive: false, updatedAt: now })
    .where(eq(anomalies.id, id));
}

/** Records a failed learning, unless a newer generation has started meanwhile. */
export async function markFailed(db: Db, id: string, generation: number, message: string, now: number) {
  await db
    .update(anomalies)
    .set({ status: 'failed', errorMessage: message, updatedAt: now })
    .where(and(eq(anomalies.id, id), eq(anomalies.generation, generation)));
}

export async function setDetectError(db: Db, id: string, generation: number, message: string, now: number) {
  await db
    .update(anomalies)
    .set({ detectError: message, updatedAt: now })
    .where(and(eq(anomalies.id, id), eq(anomalies.generation, generation)));
}

export async function countByStatus(db: Db): Promise<Record<AnomalyStatus, number>> {
  const rows = await db
    .select({ status: anomalies.status, n: count() })
    .from(anomalies)
    .groupBy(anomalies.status)
    .all();
  const counts: Record<AnomalyStatus, number> = { learning: 0, ready: 0, failed: 0 };
  for (const row of rows) counts[row.status] = row.n;
  return counts;
}

/** Anomalies the detection tick should look at: watched, learned, not failed. */
export async function listWatched(db: Db) {
  return db
    .select({ id: anomalies.id, generation: anomalies.generation })
    .from(anomalies)
    .where(and(eq(anomalies.alertEnabled, true), eq(anomalies.status, 'ready'), sql`${anomalies.model} is not null`))
    .all();
}
