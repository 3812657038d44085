import { Hono } from 'hono';
import { z } from 'zod';
import { deleteAnomaly, insertAnomaly, listAnomalies, nameKey, type Anomaly } from '../db/anomalies';
import { targetKeyOf } from '../datasources/cache';
import { ForbiddenOriginError, assertAllowedTarget } from '../datasources/grafana';
import { getDatasource } from '../datasources/index';
import { DatasourceError } from '../datasources/types';
import { ApiError, invalidInput } from '../http/errors';
import { validate } from '../http/validate';
import { detectorFromName, detectorFromPattern } from '../learn/detector-choice';
import type { AppEnv } from '../services';
import { resolveAnomaly } from './resolve';

const ref = z.object({ id: z.string().trim().min(1).optional(), name: z.string().trim().min(1).optional() });

const datasourceSchema = z.looseObject({
  type: z.string().trim().min(1),
  url: z.string().trim().min(1),
  method: z
    .string()
    .transform((m) => m.toUpperCase())
    .pipe(z.enum(['GET', 'POST']))
    .default('GET'),
  params: z.record(z.string(), z.unknown()).nullish().transform((p) => p ?? undefined),
  data: z.unknown().optional(),
});

const createSchema = z.object({
  name: z.string().trim().min(1).max(256),
  metric: z.looseObject({ datasource: z.unknown().optional(), targets: z.array(z.unknown()).default([]) }),
  panelUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  datasource: datasourceSchema,
  pattern: z.string().trim().optional(),
});

/** The seed's shape plus additive fields. */
function present(a: Anomaly) {
  return {
    id: a.id,
    name: a.name,
    metric: a.metric,
    status: a.status,
    errorMessage: a.errorMessage,
    pattern: a.pattern,
    detector: a.model?.type ?? null,
    alertEnabled: a.alertEnabled,
    alertActive: a.alertActive,
    detectError: a.detectError,
    series: a.seriesName,
  };
}

function badField(path: string, message: string): ApiError {
  return new ApiError(400, 'invalid_request', `${path}: ${message}`, [{ path, message }]);
}

/** Runs a datasource check, turning its typed error into a 400 that names `field`. */
function rejectAs(field: string, check: () => unknown): void {
  try {
    check();
  } catch (error) {
    if (error instanceof DatasourceError) throw badField(field, error.message);
    throw error;
  }
}

export const anomalyRoutes = new Hono<AppEnv>()
  .get('/', validate('query', ref), async (c) => {
    const query = c.req.valid('query');
    if (!query.id && !query.name) {
      const { db } = c.get('services');
      return c.json({ anomalies: (await listAnomalies(db)).map(present) });
    }
    return c.json(present(await resolveAnomaly(c, query)));
  })
  .get('/status', validate('query', ref), async (c) => {
    const anomaly = await resolveAnomaly(c, c.req.valid('query'));
    return c.json({ status: anomaly.status, errorMessage: anomaly.errorMessage });
  })
  .post('/', validate('json', createSchema), async (c) => {
    const body = c.req.valid('json');
    const { db, jobs, config, now } = c.get('services');
    let pattern = null;
    if (body.pattern) {
      pattern = detectorFromPattern(body.pattern) ?? null;
      if (!pattern) throw badField('pattern', "must name one of: general, peaks, troughs, jumps, drops, anomaly");
    } else {
      pattern = detectorFromName(body.name) ?? null;
    }
    rejectAs('datasource.type', () => getDatasource(body.datasource));
    try {
      assertAllowedTarget({ panelUrl: body.panelUrl, datasource: body.datasource, targets: body.metric.targets }, config);
    } catch (error) {
      // 400 naming the refused field: `panelUrl` (not GRAFANA_URL) or `datasource.url` (not an allowed origin).
      if (error instanceof ForbiddenOriginError) throw badField(error.field, error.message);
      throw error;
    }
    const id = crypto.randomUUID();
    const at = now();
    const created = await insertAnomaly(db, {
      id,
      name: body.name,
      nameKey: nameKey(body.name),
      metric: body.metric as Anomaly['metric'],
      panelUrl: body.panelUrl,
      datasource: body.datasource,
      targetKey: await targetKeyOf({ panelUrl: body.panelUrl, datasource: body.datasource, targets: body.metric.targets }),
      pattern,
      status: 'learning',
      generation: 1,
      createdAt: at,
      updatedAt: at,
    });
    if (!created) {
      throw new ApiError(409, 'name_taken', `an anomaly named '${body.name}' already exists: choose another name or delete it first`);
    }
    await jobs.enqueue({ kind: 'learn', anomalyId: id, generation: 1 });
    return c.json({ anomaly_id: id });
  })
  .delete('/', async (c) => {
    // The contract sends a JSON body; the original read the query string. Accept both.
    let body: unknown = {};
    const text = await c.req.text();
    if (text.trim()) {
      try {
        body = JSON.parse(text);
      } catch {
        throw new ApiError(400, 'malformed_request', 'request body is not valid JSON');
      }
    }
    const parsed = ref.safeParse({ ...c.req.query(), ...(typeof body === 'object' && body ? body : {}) });
    if (!parsed.success) throw invalidInput(parsed.error);
    const anomaly = await resolveAnomaly(c, parsed.data);
    await deleteAnomaly(c.get('services').db, anomaly);
    return c.json({ message: 'Success', id: anomaly.id });
  });
