import { and, desc, eq, gte } from 'drizzle-orm';
import { deliverNotifications } from '../alerts/outbox';
import type { Config } from '../config';
import type { Anomaly } from '../db/anomalies';
import { markFailed, setDetectError } from '../db/anomalies';
import type { Db } from '../db/client';
import { anomalies, notifications, segments } from '../db/schema';
import { insertDetections, labelsOf } from '../db/segments';
import { assertAllowedTarget } from '../datasources/grafana';
import { cachedHistory, cachedRange, targetKeyOf, type CachedFetch } from '../datasources/cache';
import { getDatasource } from '../datasources/index';
import { DatasourceError, type FetchContext, type MetricSource } from '../datasources/types';
import type { Logger } from '../log';
import { effectiveDetector } from './detector-choice';
import { getDetector } from './detectors/index';
import { LearningError, type Detection, type Series, type Span } from './detectors/types';
import type { Job } from './jobs';
import { indexAtOrAfter } from './series';

/** What a job handler needs; both hosts build it once. */
export interface JobDeps {
  db: Db;
  config: Config;
  fetch: typeof fetch;
  now: () => number;
  log: Logger;
}

/** A failure no retry can fix: the anomaly becomes `failed` at once with this message. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}

/** Points after the last one seen are re-read from this far back, so late writes are not missed. */
const LATE_WRITE_OVERLAP_MS = 60_000;
/** The original's rule: an anomaly is active while its last segment ends within the last 60 s. */
const MIN_ACTIVE_WINDOW_MS = 60_000;

/**
 * Runs one job. Stale jobs (older generation, deleted anomaly) are dropped silently. Permanent
 * failures are recorded on the anomaly and not retried; any other error is thrown so the queue retries.
 */
export async function runJob(deps: JobDeps, job: Job): Promise<'done' | 'stale' | 'failed'> {
  const anomaly = await deps.db.select().from(anomalies).where(eq(anomalies.id, job.anomalyId)).get();
  if (!anomaly || anomaly.generation !== job.generation) return 'stale';
  try {
    return job.kind === 'learn' ? await learn(deps, anomaly) : await detect(deps, anomaly);
  } catch (error) {
    if (!isPermanent(error)) throw error;
    await recordFailure(deps, job, (error as Error).message);
    return 'failed';
  }
}

/** Called by the queue after the last retry: the job's reason becomes the anomaly's status message. */
export async function recordFailure(deps: JobDeps, job: Job, message: string): Promise<void> {
  deps.log('job_failed', { ...job, error: message });
  if (job.kind === 'learn') await markFailed(deps.db, job.anomalyId, job.generation, message, deps.now());
  else await setDetectError(deps.db, job.anomalyId, job.generation, message, deps.now());
}

function isPermanent(error: unknown): boolean {
  if (error instanceof DatasourceError) return !error.transient;
  return error instanceof LearningError || error instanceof PermanentJobError;
}

function sourceOf(anomaly: Anomaly): MetricSource {
  return { panelUrl: anomaly.panelUrl, datasource: anomaly.datasource, targets: anomaly.metric.targets ?? [] };
}

/** How a job reads the anomaly's metric: through the point cache, with the host's network and limits. */
async function cachedFetch(deps: JobDeps, anomaly: Anomaly, nowMs: number): Promise<CachedFetch> {
  const source = sourceOf(anomaly);
  const ctx: FetchContext = { fetch: deps.fetch, apiKey: deps.config.apiKey, timeoutMs: deps.config.fetchTimeoutMs };
  const key = anomaly.targetKey ?? (await targetKeyOf(source));
  return { db: deps.db, key, source, ds: getDatasource(anomaly.datasource), ctx, nowMs };
}

async function learn(deps: JobDeps, anomaly: Anomaly): Promise<'done' | 'stale'> {
  const { db, config } = deps;
  assertAllowedTarget(sourceOf(anomaly), config);
  const started = deps.now();
  const metric = await cachedFetch(deps, anomaly, started);
  const series = await cachedHistory(metric, config.maxHistoryMs);
  const fetched = deps.now();
  if (series.t.length === 0) {
    throw new PermanentJobError(
      `no data in the last ${Math.round(config.maxHistoryMs / 86_400_000)} days: check the query and the time range`,
    );
  }
  const labels = await labelsOf(db, anomaly.id);
  const detector = getDetector(effectiveDetector(anomaly.pattern, labels.positive.length > 0));
  const model = detector.learn(series, labels);
  const detections = detector.detect(model, series, 0);
  const learned = deps.now();

  const committed = await db.transaction(async (tx) => {
    const current = await tx
      .select({ generation: anomalies.generation, nextSegmentId: anomalies.nextSegmentId })
      .from(anomalies)
      .where(eq(anomalies.id, anomaly.id))
      .get();
    if (!current || current.generation !== anomaly.generation) return false;
    await tx.delete(segments).where(and(eq(segments.anomalyId, anomaly.id), eq(segments.kind, 'detected')));
    const nextSegmentId = await insertDetections(tx, anomaly.id, detections, current.nextSegmentId);
    await tx
      .update(anomalies)
      .set({
        model,
        status: 'ready',
        errorMessage: '',
        detectError: '',
        nextSegmentId,
        lastPointAt: series.t[series.t.length - 1],
        stepMs: medianStepMs(series),
        targetKey: metric.key,
        seriesName: series.name ?? null,
        updatedAt: deps.now(),
      })
      .where(eq(anomalies.id, anomaly.id));
    return true;
  });
  deps.log('learned', {
    anomalyId: anomaly.id,
    generation: anomaly.generation,
    detector: model.type,
    points: series.t.length,
    fetchedPoints: series.fetchedPoints,
    segments: detections.length,
    fetchMs: fetched - started,
    learnMs: learned - fetched,
    stale: !committed,
  });
  return committed ? 'done' : 'stale';
}

async function detect(deps: JobDeps, anomaly: Anomaly): Promise<'done' | 'stale'> {
  const { db, config } = deps;
  if (anomaly.status !== 'ready' || !anomaly.model || !anomaly.alertEnabled) return 'stale';
  assertAllowedTarget(sourceOf(anomaly), config);
  const now = deps.now();
  const model = anomaly.model;
  const detector = getDetector(model.type);
  const step = anomaly.stepMs ?? 60_000;
  const lastSeen = anomaly.lastPointAt ?? now - config.maxHistoryMs;
  const scanFrom = lastSeen - Math.max(LATE_WRITE_OVERLAP_MS, 2 * step);
  const fetchFrom = scanFrom - detector.contextPoints(model) * step;
  const series = await cachedRange(await cachedFetch(deps, anomaly, now + 1), fetchFrom);
  const fromIndex = indexAtOrAfter(series, scanFrom);
  const found = fromIndex < series.t.length ? detector.detect(model, series, fromIndex) : [];
  const newestPoint = series.t.length ? Math.max(lastSeen, series.t[series.t.length - 1]) : lastSeen;
  const activeWindow = Math.max(MIN_ACTIVE_WINDOW_MS, 2 * config.detectIntervalMs, 2 * step);

  const committed = await db.transaction(async (tx) => {
    const current = await tx.select().from(anomalies).where(eq(anomalies.id, anomaly.id)).get();
    if (!current || current.generation !== anomaly.generation || current.status !== 'ready') return false;
    const recent = await tx
      .select()
      .from(segments)
      .where(and(eq(segments.anomalyId, anomaly.id), eq(segments.kind, 'detected'), gte(segments.finish, fetchFrom - step)))
      .all();
    const { updates, inserts } = mergeDetections(recent, found, step);
    for (const u of updates) {
      await tx
        .update(segments)
        .set({ start: u.start, finish: u.finish, confidence: u.confidence })
        .where(and(eq(segments.anomalyId, anomaly.id), eq(segments.id, u.id)));
    }
    const nextSegmentId = await insertDetections(tx, anomaly.id, inserts, current.nextSegmentId);
    const last = await tx
      .select({ finish: segments.finish })
      .from(segments)
      .where(and(eq(segments.anomalyId, anomaly.id), eq(segments.kind, 'detected')))
      .orderBy(desc(segments.finish))
      .limit(1)
      .get();
    const active = last !== undefined && last.finish >= now - activeWindow;
    await tx
      .update(anomalies)
      .set({ nextSegmentId, lastPointAt: newestPoint, alertActive: active, detectError: '', updatedAt: now })
      .where(eq(anomalies.id, anomaly.id));
    if (active !== current.alertActive && config.webhookUrl) {
      await tx
        .insert(notifications)
        .values({ anomalyId: anomaly.id, anomalyName: anomaly.name, status: active ? 'alert' : 'OK', nextAttemptAt: now, createdAt: now });
    }
    return true;
  });
  deps.log('detected', {
    anomalyId: anomaly.id,
    points: series.t.length,
    fetchedPoints: series.fetchedPoints,
    found: found.length,
    stale: !committed,
  });
  if (committed) await deliverNotifications(deps);
  return committed ? 'done' : 'stale';
}

interface StoredDetection extends Span {
  id: number;
  confidence: number | null;
}

/**
 * Folds fresh detections into the stored recent ones: a detection that overlaps or touches (within
 * one step) stored segments extends the first of them; the rest are new. Pure, for testing.
 */
export function mergeDetections(
  stored: StoredDetection[],
  found: Detection[],
  stepMs: number,
): { updates: StoredDetection[]; inserts: Detection[] } {
  const segmentsById = new Map(stored.map((s) => [s.id, { id: s.id, start: s.start, finish: s.finish, confidence: s.confidence ?? 0 }]));
  const changed = new Set<number>();
  const inserts: Detection[] = [];
  for (const d of found) {
    const target = [...segmentsById.values()].find((s) => d.start <= s.finish + stepMs && d.finish >= s.start - stepMs);
    if (!target) {
      inserts.push(d);
      continue;
    }
    target.start = Math.min(target.start, d.start);
    target.finish = Math.max(target.finish, d.finish);
    target.confidence = Math.max(target.confidence, d.confidence);
    changed.add(target.id);
  }
  return { updates: [...changed].map((id) => segmentsById.get(id)!), inserts };
}

/** The median spacing of the points (robust to gaps), for deciding when segments touch. */
export function medianStepMs(series: Series): number | null {
  const n = series.t.length;
  if (n < 2) return null;
  const sample = Math.min(n - 1, 10_001);
  const stride = (n - 1) / sample;
  const diffs = new Float64Array(sample);
  for (let i = 0; i < sample; i++) {
    const k = Math.floor(i * stride);
    diffs[i] = series.t[k + 1] - series.t[k];
  }
  diffs.sort();
  return Math.max(1, Math.round(diffs[sample >> 1]));
}
