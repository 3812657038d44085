import { sql } from 'drizzle-orm';
import { customType, index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import type { DatasourceSpec } from '../datasources/types';
import type { DetectorType, Model } from '../learn/detectors/types';

export type AnomalyStatus = 'learning' | 'ready' | 'failed';

/** One learning unit ("anomaly" in the API): a metric, its detector, its model and its watch state. */
export const anomalies = sqliteTable('anomalies', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** Names are unique ignoring case (compat-notes). */
  nameKey: text('name_key').notNull().unique(),
  metric: text('metric', { mode: 'json' }).notNull().$type<{ datasource: unknown; targets: unknown[] }>(),
  panelUrl: text('panel_url').notNull(),
  datasource: text('datasource', { mode: 'json' }).notNull().$type<DatasourceSpec>(),
  /** The detector chosen by `pattern` or the name; null means "general once labeled, anomaly before". */
  pattern: text('pattern').$type<DetectorType>(),
  status: text('status').notNull().$type<AnomalyStatus>(),
  errorMessage: text('error_message').notNull().default(''),
  /** Bumped by every change that needs a fresh learning; jobs of older generations are dropped. */
  generation: integer('generation').notNull().default(1),
  model: text('model', { mode: 'json' }).$type<Model>(),
  /** Timestamp of the last data point seen; detection ticks fetch from here. */
  lastPointAt: integer('last_point_at'),
  /** Median step between points, used to decide when segments touch. */
  stepMs: integer('step_ms'),
  nextSegmentId: integer('next_segment_id').notNull().default(0),
  alertEnabled: integer('alert_enabled', { mode: 'boolean' }).notNull().default(false),
  alertActive: integer('alert_active', { mode: 'boolean' }).notNull().default(false),
  detectError: text('detect_error').notNull().default(''),
  /** Identity of the metric query; units on the same target share its cached points. */
  targetKey: text('target_key'),
  /** Which series the query's answer gave when it held several (see selectSeries). */
  seriesName: text('series_name'),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

export type SegmentKind = 'labeled' | 'detected' | 'negative';

/** Labeled, detected and removed-detection (negative) segments; ids come from one counter per anomaly. */
export const segments = sqliteTable(
  'segments',
  {
    anomalyId: text('anomaly_id')
      .notNull()
      .references(() => anomalies.id, { onDelete: 'cascade' }),
    id: integer('id').notNull(),
    start: integer('start').notNull(),
    finish: integer('finish').notNull(),
    kind: text('kind').notNull().$type<SegmentKind>(),
    confidence: real('confidence'),
  },
  (table) => [
    primaryKey({ columns: [table.anomalyId, table.id] }),
    index('segments_by_start').on(table.anomalyId, table.start),
  ],
);

/**
 * The Node host's durable job queue. One row per (kind, anomaly): enqueueing again raises the
 * generation instead of piling up duplicates.
 */
export const jobs = sqliteTable('jobs', {
  kind: text('kind').notNull().$type<'learn' | 'detect'>(),
  anomalyId: text('anomaly_id').notNull(),
  generation: integer('generation').notNull(),
  attempts: integer('attempts').notNull().default(0),
  runAt: integer('run_at').notNull(),
  lockedUntil: integer('locked_until'),
  lastError: text('last_error'),
}, (table) => [primaryKey({ columns: [table.kind, table.anomalyId] }), index('jobs_due').on(table.runAt)]);

/** Alert notifications waiting for delivery (an outbox: state change and message commit together). */
export const notifications = sqliteTable('notifications', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  anomalyId: text('anomaly_id').notNull(),
  anomalyName: text('anomaly_name').notNull(),
  status: text('status').notNull().$type<'alert' | 'OK'>(),
  attempts: integer('attempts').notNull().default(0),
  nextAttemptAt: integer('next_attempt_at').notNull(),
  lastError: text('last_error'),
  createdAt: integer('created_at').notNull().default(sql`(unixepoch() * 1000)`),
});

/** Raw bytes (typed-array contents) as SQLite blobs, on Node and in workerd alike. */
const bytes = customType<{ data: Uint8Array; driverData: ArrayBuffer | Uint8Array }>({
  dataType: () => 'blob',
  toDriver: (value) => value,
  fromDriver: (value) => (value instanceof Uint8Array ? value : new Uint8Array(value)),
});

/** What the point cache holds for a target: every point of `[coveredFrom, coveredTo)` as last fetched. */
export const seriesCache = sqliteTable('series_cache', {
  targetKey: text('target_key').primaryKey(),
  coveredFrom: integer('covered_from').notNull(),
  coveredTo: integer('covered_to').notNull(),
  /** The newest cached point: the next fetch starts just before it, so late points are not missed. */
  lastPointAt: integer('last_point_at'),
  seriesName: text('series_name'),
  updatedAt: integer('updated_at').notNull(),
});

/** Cached points of a target, one row per UTC day: `t` and `v` are Float64Array bytes. */
export const seriesChunks = sqliteTable(
  'series_chunks',
  {
    targetKey: text('target_key').notNull(),
    day: integer('day').notNull(),
    points: integer('points').notNull(),
    t: bytes('t').notNull(),
    v: bytes('v').notNull(),
  },
  (table) => [primaryKey({ columns: [table.targetKey, table.day] })],
);
