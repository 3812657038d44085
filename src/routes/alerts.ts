import { Hono } from 'hono';
import { z } from 'zod';
import { setAlertEnabled } from '../db/anomalies';
import { validate } from '../http/validate';
import type { AppEnv } from '../services';
import { resolveAnomaly } from './resolve';

const query = z.object({ anomaly_id: z.string().trim().min(1, 'required') });
const body = z.object({ anomaly_id: z.string().trim().min(1), enable: z.boolean() });

export const alertRoutes = new Hono<AppEnv>()
  .get('/', validate('query', query), async (c) => {
    const anomaly = await resolveAnomaly(c, { id: c.req.valid('query').anomaly_id }, 'anomaly_id');
    return c.json({ enable: anomaly.alertEnabled });
  })
  .post('/', validate('json', body), async (c) => {
    const { anomaly_id, enable } = c.req.valid('json');
    const anomaly = await resolveAnomaly(c, { id: anomaly_id }, 'anomaly_id');
    const { db, now } = c.get('services');
    await setAlertEnabled(db, anomaly.id, enable, now());
    return c.json({ status: 'Ok' });
  });
