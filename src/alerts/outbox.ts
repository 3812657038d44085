import { and, asc, count, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { notifications } from '../db/schema';
import type { JobDeps } from '../learn/runner';
import { postWebhook } from './webhook';

const MAX_BACKOFF_MS = 3_600_000;
/** A claimed message whose sender died is sent again this long after the send would have timed out. */
const CLAIM_MARGIN_MS = 30_000;

/**
 * Delivers queued alert notifications, oldest first. A failed delivery stays queued with exponential
 * backoff (capped at an hour) and holds back later messages of the same anomaly, so a receiver that
 * was down gets every transition, in order, once it is back. Delivery is at least once: a process that
 * dies between sending and recording it sends that message again.
 */
export async function deliverNotifications(deps: JobDeps): Promise<{ sent: number; failed: number }> {
  const { db, now } = deps;
  const { webhookUrl, fetchTimeoutMs } = deps.config;
  if (!webhookUrl) return { sent: 0, failed: 0 };
  const pending = await db.select().from(notifications).orderBy(asc(notifications.id)).all();
  const blocked = new Set<string>();
  let sent = 0;
  let failed = 0;
  for (const row of pending) {
    if (blocked.has(row.anomalyId)) continue;
    blocked.add(row.anomalyId); // only the oldest message of each anomaly may go in one pass
    if (row.nextAttemptAt > now()) continue;
    // Claim it first: a tick and a detect job may deliver at the same time, and only one may send.
    const claimed = await db
      .update(notifications)
      .set({ nextAttemptAt: now() + fetchTimeoutMs + CLAIM_MARGIN_MS })
      .where(and(eq(notifications.id, row.id), eq(notifications.nextAttemptAt, row.nextAttemptAt)))
      .returning({ id: notifications.id });
    if (claimed.length === 0) continue;
    try {
      await postWebhook(deps.fetch, webhookUrl, { anomaly: row.anomalyName, status: row.status }, fetchTimeoutMs);
      await db.delete(notifications).where(eq(notifications.id, row.id));
      blocked.delete(row.anomalyId);
      sent++;
      deps.log('alert_sent', { anomaly: row.anomalyName, status: row.status });
    } catch (error) {
      const attempts = row.attempts + 1;
      const message = (error as Error).message;
      await db
        .update(notifications)
        .set({ attempts, lastError: message, nextAttemptAt: now() + Math.min(1000 * 2 ** attempts, MAX_BACKOFF_MS) })
        .where(eq(notifications.id, row.id));
      failed++;
      deps.log('alert_failed', { anomaly: row.anomalyName, status: row.status, attempts, error: message });
    }
  }
  return { sent, failed };
}

export async function countPendingNotifications(db: Db): Promise<number> {
  return (await db.select({ n: count() }).from(notifications).get())?.n ?? 0;
}
