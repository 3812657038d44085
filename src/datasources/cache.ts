/**
 * The point cache in front of every datasource: fetched points live in libSQL, shared by the units on
 * the same target, so re-learning reads them back and asks the datasource only for what is new.
 */
import type { Db } from '../db/client';
import { readCacheHeader, readCachedPoints, trimCachedPoints, writeCachedPoints, type CacheHeader } from '../db/series-cache';
import { loadHistory } from './index';
import type { Datasource, FetchContext, FetchedSeries, MetricSource } from './types';

/**
 * Points this close to the newest cached one are fetched again: late writes land there. Fetches start
 * from the newest point seen, not from when we last asked, so points that arrive after an outage count.
 */
export const LATE_WRITE_OVERLAP_MS = 5 * 60_000;

export interface CachedFetch {
  db: Db;
  key: string;
  source: MetricSource;
  ds: Datasource;
  ctx: FetchContext;
  nowMs: number;
}

/** What a cached read returns: the points, and how many of them came from the datasource now. */
export interface CachedSeries extends FetchedSeries {
  fetchedPoints: number;
}

/**
 * Identifies a metric query: same Grafana (or direct) origin, datasource and targets -> same key, so
 * units on one panel share a cache. A SHA-256 of the canonical JSON, works on Node and in workerd.
 */
export async function targetKeyOf(source: MetricSource): Promise<string> {
  const identity = canonicalJson({ origin: new URL(source.panelUrl).origin, datasource: source.datasource, targets: source.targets });
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(identity));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('').slice(0, 32);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The history `[now - maxHistory, now)`. Cold (nothing cached, or a cache with a gap to now or not
 * reaching back far enough): the datasource's history walk, stored whole. Warm: only the tail since
 * the newest cached point (minus the late-write overlap) is fetched.
 */
export async function cachedHistory(f: CachedFetch, maxHistoryMs: number): Promise<CachedSeries> {
  const floor = f.nowMs - maxHistoryMs;
  const header = await readCacheHeader(f.db, f.key);
  if (!header || header.coveredFrom > floor || header.coveredTo < floor) {
    const history = await loadHistory(f.source, f.ds, f.ctx, { nowMs: f.nowMs, maxHistoryMs });
    const covered = { coveredFrom: floor, coveredTo: f.nowMs, lastPointAt: lastTime(history), seriesName: history.name ?? null, updatedAt: f.nowMs };
    await writeCachedPoints(f.db, f.key, history, { from: floor, to: f.nowMs }, covered, true);
    return { ...history, fetchedPoints: history.t.length };
  }
  const tail = await refreshTail(f, header);
  await trimCachedPoints(f.db, f.key, floor);
  return { ...(await readCachedPoints(f.db, f.key, floor, f.nowMs)), name: tail.name, fetchedPoints: tail.t.length };
}

/** The points of `[from, to)` (`to` at most now), fetching only what the cache lacks. */
export async function cachedRange(f: CachedFetch, from: number): Promise<CachedSeries> {
  const header = await readCacheHeader(f.db, f.key);
  if (!header || header.coveredFrom > from || header.coveredTo < from) {
    const fetched = await f.ds.query(f.source, from, f.nowMs, f.ctx);
    const covered = { coveredFrom: from, coveredTo: f.nowMs, lastPointAt: lastTime(fetched), seriesName: fetched.name ?? null, updatedAt: f.nowMs };
    await writeCachedPoints(f.db, f.key, fetched, { from, to: f.nowMs }, covered, true);
    return { ...fetched, fetchedPoints: fetched.t.length };
  }
  const tail = await refreshTail(f, header);
  return { ...(await readCachedPoints(f.db, f.key, from, f.nowMs)), name: tail.name, fetchedPoints: tail.t.length };
}

const lastTime = (s: FetchedSeries) => (s.t.length ? s.t[s.t.length - 1] : null);

/** Fetches from just before the newest cached point (or the end of coverage) to now into the cache. */
async function refreshTail(f: CachedFetch, header: CacheHeader): Promise<FetchedSeries> {
  const from = Math.max(header.coveredFrom, (header.lastPointAt ?? header.coveredTo) - LATE_WRITE_OVERLAP_MS);
  if (from >= f.nowMs) return { t: new Float64Array(0), v: new Float64Array(0), name: header.seriesName ?? undefined };
  const tail = await f.ds.query(f.source, from, f.nowMs, f.ctx);
  const seriesName = tail.name ?? header.seriesName;
  const lastPointAt = Math.max(header.lastPointAt ?? -Infinity, lastTime(tail) ?? -Infinity);
  await writeCachedPoints(f.db, f.key, tail, { from, to: f.nowMs }, {
    coveredFrom: header.coveredFrom,
    coveredTo: f.nowMs,
    lastPointAt: Number.isFinite(lastPointAt) ? lastPointAt : null,
    seriesName,
    updatedAt: f.nowMs,
  });
  return { ...tail, name: seriesName ?? undefined };
}
