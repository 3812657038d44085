import { deliverNotifications } from '../alerts/outbox';
import { listWatched } from '../db/anomalies';
import type { JobQueue } from './jobs';
import type { JobDeps } from './runner';

/**
 * One detection tick (Cron Trigger on Workers, the local scheduler on Node): queue a `detect` job for
 * every watched anomaly and retry alert deliveries that are due.
 */
export async function detectionTick(deps: JobDeps, queue: JobQueue): Promise<number> {
  const watched = await listWatched(deps.db);
  for (const { id, generation } of watched) await queue.enqueue({ kind: 'detect', anomalyId: id, generation });
  await deliverNotifications(deps);
  return watched.length;
}
