import { Hono } from 'hono';
import { z } from 'zod';
import { applyLabelChanges, listVisibleSegments, UnknownSegmentError } from '../db/segments';
import { ApiError } from '../http/errors';
import { integerParam, numericParam, validate } from '../http/validate';
import type { AppEnv } from '../services';
import { resolveAnomaly } from './resolve';

const listQuery = z.object({
  anomaly_id: z.string().trim().min(1, 'required'),
  last_segment: integerParam.optional(),
  from: numericParam.optional(),
  to: numericParam.optional(),
});

const timestamp = z.number().finite().min(0).max(8.64e15);
const span = z
  .object({ start: timestamp, finish: timestamp })
  .refine((s) => s.start <= s.finish, { message: 'start must not be after finish', path: ['start'] });

const patchBody = z.object({
  anomaly_id: z.string().trim().min(1).optional(),
  name: z.string().trim().min(1).optional(),
  added_segments: z.array(span).max(10_000).default([]),
  removed_segments: z.array(z.number().int().min(0)).max(10_000).default([]),
});

export const segmentRoutes = new Hono<AppEnv>()
  .get('/', validate('query', listQuery), async (c) => {
    const query = c.req.valid('query');
    const anomaly = await resolveAnomaly(c, { id: query.anomaly_id }, 'anomaly_id');
    const rows = await listVisibleSegments(c.get('services').db, anomaly.id, {
      lastSegment: query.last_segment,
      from: query.from,
      to: query.to,
    });
    return c.json({
      segments: rows.map((s) => ({
        id: s.id,
        start: s.start,
        finish: s.finish,
        labeled: s.kind === 'labeled',
        ...(s.kind === 'detected' ? { confidence: s.confidence } : {}),
      })),
    });
  })
  .patch('/', validate('json', patchBody), async (c) => {
    const body = c.req.valid('json');
    const anomaly = await resolveAnomaly(c, { id: body.anomaly_id, name: body.name }, 'anomaly_id');
    const { db, jobs, now } = c.get('services');
    try {
      const { addedIds, generation } = await applyLabelChanges(
        db,
        anomaly.id,
        body.added_segments.map((s) => ({ start: Math.round(s.start), finish: Math.round(s.finish) })),
        [...new Set(body.removed_segments)],
        now(),
      );
      await jobs.enqueue({ kind: 'learn', anomalyId: anomaly.id, generation });
      return c.json({ added_ids: addedIds });
    } catch (error) {
      if (error instanceof UnknownSegmentError) {
        throw new ApiError(404, 'not_found', `removed_segments: ${error.message}`, [
          { path: 'removed_segments', message: error.message },
        ]);
      }
      throw error;
    }
  });
