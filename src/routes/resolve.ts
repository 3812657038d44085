import type { Context } from 'hono';
import { findAnomaly, findAnomalyByName, type Anomaly } from '../db/anomalies';
import { ApiError, notFound } from '../http/errors';
import type { AppEnv } from '../services';

/**
 * Finds the anomaly a request names: by `id` (which old panels filled with a name too, so it is tried
 * as a name next), else by the deprecated `name`. 400 when neither is given, 404 when nothing matches.
 */
export async function resolveAnomaly(
  c: Context<AppEnv>,
  ref: { id?: string; name?: string },
  idField = 'id',
): Promise<Anomaly> {
  const { db } = c.get('services');
  if (ref.id) {
    const found = await findAnomaly(db, ref.id);
    if (!found) throw notFound(`anomaly '${ref.id}'`);
    return found;
  }
  if (ref.name) {
    const found = await findAnomalyByName(db, ref.name);
    if (!found) throw notFound(`anomaly named '${ref.name}'`);
    return found;
  }
  throw new ApiError(400, 'invalid_request', `${idField}: required (or the deprecated name)`, [
    { path: idField, message: 'required' },
  ]);
}
