import { and, asc, eq, gt, inArray, lt, ne } from 'drizzle-orm';
import type { Detection, Labels, Span } from '../learn/detectors/types';
import type { Db } from './client';
import { anomalies, segments } from './schema';

export type Segment = typeof segments.$inferSelect;

export interface SegmentFilter {
  lastSegment?: number;
  from?: number;
  to?: number;
}

/** Segments a client sees (labeled and detected, not negatives), ordered by start; filters are strict. */
export async function listVisibleSegments(db: Db, anomalyId: string, filter: SegmentFilter = {}) {
  return db
    .select()
    .from(segments)
    .where(
      and(
        eq(segments.anomalyId, anomalyId),
        ne(segments.kind, 'negative'),
        filter.lastSegment === undefined ? undefined : gt(segments.id, filter.lastSegment),
        filter.from === undefined ? undefined : gt(segments.finish, filter.from),
        filter.to === undefined ? undefined : lt(segments.start, filter.to),
      ),
    )
    .orderBy(asc(segments.start), asc(segments.id))
    .all();
}

/** Positive labels and negatives (removed detections) of an anomaly, as the detectors take them. */
export async function labelsOf(db: Db, anomalyId: string): Promise<Labels> {
  const rows = await db
    .select({ start: segments.start, finish: segments.finish, kind: segments.kind })
    .from(segments)
    .where(and(eq(segments.anomalyId, anomalyId), ne(segments.kind, 'detected')))
    .orderBy(asc(segments.start))
    .all();
  const span = ({ start, finish }: Span) => ({ start, finish });
  return {
    positive: rows.filter((r) => r.kind === 'labeled').map(span),
    negative: rows.filter((r) => r.kind === 'negative').map(span),
  };
}

/** A removed id that is not a visible segment of the anomaly. */
export class UnknownSegmentError extends Error {
  constructor(readonly ids: number[]) {
    super(`unknown segment id${ids.length > 1 ? 's' : ''}: ${ids.join(', ')}`);
  }
}

/**
 * Applies a PATCH atomically: labels added, labeled segments removed, removed detections kept as
 * negatives; bumps the generation and puts the anomaly back to learning. Returns the new ids in order.
 */
export async function applyLabelChanges(
  db: Db,
  anomalyId: string,
  added: Span[],
  removedIds: number[],
  now: number,
): Promise<{ addedIds: number[]; generation: number }> {
  return db.transaction(async (tx) => {
    const removed = removedIds.length
      ? await tx
          .select({ id: segments.id, kind: segments.kind })
          .from(segments)
          .where(and(eq(segments.anomalyId, anomalyId), inArray(segments.id, removedIds), ne(segments.kind, 'negative')))
          .all()
      : [];
    const found = new Set(removed.map((r) => r.id));
    const unknown = removedIds.filter((id) => !found.has(id));
    if (unknown.length) throw new UnknownSegmentError(unknown);

    const anomaly = await tx
      .select({ nextSegmentId: anomalies.nextSegmentId, generation: anomalies.generation })
      .from(anomalies)
      .where(eq(anomalies.id, anomalyId))
      .get();
    if (!anomaly) throw new UnknownSegmentError(removedIds);

    const byKind = (kind: string) => removed.filter((r) => r.kind === kind).map((r) => r.id);
    const labeledIds = byKind('labeled');
    const detectedIds = byKind('detected');
    if (labeledIds.length) {
      await tx.delete(segments).where(and(eq(segments.anomalyId, anomalyId), inArray(segments.id, labeledIds)));
    }
    if (detectedIds.length) {
      await tx
        .update(segments)
        .set({ kind: 'negative', confidence: null })
        .where(and(eq(segments.anomalyId, anomalyId), inArray(segments.id, detectedIds)));
    }
    const addedIds = added.map((_, i) => anomaly.nextSegmentId + i);
    if (added.length) {
      await tx.insert(segments).values(
        added.map((s, i) => ({ anomalyId, id: addedIds[i], start: s.start, finish: s.finish, kind: 'labeled' as const })),
      );
    }
    const generation = anomaly.generation + 1;
    await tx
      .update(anomalies)
      .set({
        nextSegmentId: anomaly.nextSegmentId + added.length,
        generation,
        status: 'learning',
        errorMessage: '',
        updatedAt: now,
      })
      .where(eq(anomalies.id, anomalyId));
    return { addedIds, generation };
  });
}

const INSERT_CHUNK = 500;

/** Inserts detections with fresh ids; returns the next free id. Call inside a transaction. */
export async function insertDetections(
  tx: Pick<Db, 'insert'>,
  anomalyId: string,
  detections: Detection[],
  firstId: number,
): Promise<number> {
  for (let i = 0; i < detections.length; i += INSERT_CHUNK) {
    const chunk = detections.slice(i, i + INSERT_CHUNK).map((d, j) => ({
      anomalyId,
      id: firstId + i + j,
      start: d.start,
      finish: d.finish,
      kind: 'detected' as const,
      confidence: d.confidence,
    }));
    await tx.insert(segments).values(chunk);
  }
  return firstId + detections.length;
}
