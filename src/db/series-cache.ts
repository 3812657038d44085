import { and, asc, count, eq, gte, lt, sql, sum } from 'drizzle-orm';
import type { Series } from '../learn/detectors/types';
import { indexAtOrAfter } from '../learn/series';
import type { Db } from './client';
import { anomalies, seriesCache, seriesChunks } from './schema';

export const DAY_MS = 86_400_000;

export type CacheHeader = typeof seriesCache.$inferSelect;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

const dayOf = (t: number) => Math.floor(t / DAY_MS) * DAY_MS;
const toBytes = (a: Float64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
// Blobs may come back at any byte offset: copy to an aligned buffer before viewing as Float64.
const toFloats = (b: Uint8Array) => new Float64Array(b.slice().buffer);

export async function readCacheHeader(db: Db, key: string): Promise<CacheHeader | undefined> {
  return db.select().from(seriesCache).where(eq(seriesCache.targetKey, key)).get();
}

/** The cached points of `key` with `from <= t < to`, sorted. */
export async function readCachedPoints(db: Db, key: string, from: number, to: number): Promise<Series> {
  const rows = await db
    .select({ t: seriesChunks.t, v: seriesChunks.v, points: seriesChunks.points })
    .from(seriesChunks)
    .where(and(eq(seriesChunks.targetKey, key), gte(seriesChunks.day, dayOf(from)), lt(seriesChunks.day, to)))
    .orderBy(asc(seriesChunks.day))
    .all();
  let n = 0;
  for (const row of rows) n += row.points;
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  let at = 0;
  for (const row of rows) {
    t.set(toFloats(row.t), at);
    v.set(toFloats(row.v), at);
    at += row.points;
  }
  const series = { t, v };
  const lo = indexAtOrAfter(series, from);
  const hi = indexAtOrAfter(series, to);
  return lo === 0 && hi === n ? series : { t: t.slice(lo, hi), v: v.slice(lo, hi) };
}

/**
 * Stores what a fetch of `[from, to)` returned, replacing the cached points of that range, and records
 * the new covered range; all in one transaction, so a failed write leaves the cache as it was.
 * `replace` drops everything cached for the key first (a fresh, non-contiguous load).
 */
export async function writeCachedPoints(
  db: Db,
  key: string,
  fetched: Series,
  range: { from: number; to: number },
  header: Omit<CacheHeader, 'targetKey'>,
  replace = false,
): Promise<void> {
  await db.transaction(async (tx) => {
    if (replace) await tx.delete(seriesChunks).where(eq(seriesChunks.targetKey, key));
    for (let day = dayOf(range.from); day < range.to; day += DAY_MS) {
      await mergeDay(tx, key, day, fetched, Math.max(range.from, day), Math.min(range.to, day + DAY_MS));
    }
    await tx
      .insert(seriesCache)
      .values({ targetKey: key, ...header })
      .onConflictDoUpdate({ target: seriesCache.targetKey, set: header });
  });
}

/** Rewrites one day's chunk: its old points outside `[from, to)` plus the fetched points inside. */
async function mergeDay(tx: Tx, key: string, day: number, fetched: Series, from: number, to: number): Promise<void> {
  const where = and(eq(seriesChunks.targetKey, key), eq(seriesChunks.day, day));
  const old = await tx.select({ t: seriesChunks.t, v: seriesChunks.v }).from(seriesChunks).where(where).get();
  const oldSeries = old ? { t: toFloats(old.t), v: toFloats(old.v) } : { t: new Float64Array(0), v: new Float64Array(0) };
  const keepBefore = indexAtOrAfter(oldSeries, from);
  const keepAfter = indexAtOrAfter(oldSeries, to);
  const newFrom = indexAtOrAfter(fetched, from);
  const newTo = indexAtOrAfter(fetched, to);
  const n = keepBefore + (newTo - newFrom) + (oldSeries.t.length - keepAfter);
  if (n === 0) {
    if (old) await tx.delete(seriesChunks).where(where);
    return;
  }
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  t.set(oldSeries.t.subarray(0, keepBefore));
  v.set(oldSeries.v.subarray(0, keepBefore));
  t.set(fetched.t.subarray(newFrom, newTo), keepBefore);
  v.set(fetched.v.subarray(newFrom, newTo), keepBefore);
  t.set(oldSeries.t.subarray(keepAfter), keepBefore + newTo - newFrom);
  v.set(oldSeries.v.subarray(keepAfter), keepBefore + newTo - newFrom);
  await tx
    .insert(seriesChunks)
    .values({ targetKey: key, day, points: n, t: toBytes(t), v: toBytes(v) })
    .onConflictDoUpdate({ target: [seriesChunks.targetKey, seriesChunks.day], set: { points: n, t: toBytes(t), v: toBytes(v) } });
}

/** Forgets cached days before the one holding `floor` (the history bound), and says so in the header. */
export async function trimCachedPoints(db: Db, key: string, floor: number): Promise<void> {
  const firstDay = dayOf(floor);
  await db.batch([
    db.delete(seriesChunks).where(and(eq(seriesChunks.targetKey, key), lt(seriesChunks.day, firstDay))),
    db
      .update(seriesCache)
      .set({ coveredFrom: sql`max(${seriesCache.coveredFrom}, ${firstDay})` })
      .where(eq(seriesCache.targetKey, key)),
  ]);
}

/** Statements that drop the cache of `key` unless another anomaly still uses it (for a delete batch). */
export function dropUnusedCache(db: Db, key: string) {
  const unused = sql`not exists (select 1 from ${anomalies} where ${anomalies.targetKey} = ${key})`;
  return [
    db.delete(seriesChunks).where(and(eq(seriesChunks.targetKey, key), unused)),
    db.delete(seriesCache).where(and(eq(seriesCache.targetKey, key), unused)),
  ] as const;
}

/** How much the cache holds, for `GET /`. */
export async function cacheStats(db: Db): Promise<{ targets: number; points: number; bytes: number }> {
  const [targets, chunks] = await Promise.all([
    db.select({ n: count() }).from(seriesCache).get(),
    db
      .select({ points: sum(seriesChunks.points), bytes: sql<number>`sum(length(${seriesChunks.t}) + length(${seriesChunks.v}))` })
      .from(seriesChunks)
      .get(),
  ]);
  return { targets: targets?.n ?? 0, points: Number(chunks?.points ?? 0), bytes: Number(chunks?.bytes ?? 0) };
}
