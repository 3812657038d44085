import { Hono } from 'hono';
import { countByStatus } from '../db/anomalies';
import { cacheStats } from '../db/series-cache';
import { countPendingNotifications } from '../alerts/outbox';
import { SERVER_VERSION, type AppEnv } from '../services';

/** `GET /`: the connectivity check old panels call, with server info. */
export const rootRoutes = new Hono<AppEnv>().get('/', async (c) => {
  const { db, config, startedAt, now } = c.get('services');
  const [statuses, pendingAlerts, cache] = await Promise.all([
    countByStatus(db),
    countPendingNotifications(db),
    cacheStats(db),
  ]);
  return c.json({
    status: 'OK',
    name: config.instanceName,
    version: SERVER_VERSION,
    uptime: Math.round((now() - startedAt) / 1000),
    anomalies: statuses.learning + statuses.ready + statuses.failed,
    statuses,
    pendingAlerts,
    webhook: Boolean(config.webhookUrl),
    cache: { ...cache, maxHistoryDays: config.maxHistoryMs / 86_400_000 },
  });
});
