import { zValidator } from '@hono/zod-validator';
import type { ValidationTargets } from 'hono';
import { z } from 'zod';
import { invalidInput } from './errors';

/** `zValidator` that answers our JSON error body (400, naming each bad field). */
export const validate = <T extends z.ZodType, Target extends keyof ValidationTargets>(target: Target, schema: T) =>
  zValidator(target, schema, (result) => {
    if (!result.success) throw invalidInput(result.error as unknown as z.ZodError);
  });

/** A query parameter holding a finite number (rejects '', 'abc', 'NaN'). */
export const numericParam = z
  .string()
  .trim()
  .regex(/^-?\d+(\.\d+)?$/, 'must be a number')
  .transform(Number);

/** An integer query parameter. */
export const integerParam = z.string().trim().regex(/^-?\d+$/, 'must be an integer').transform(Number);
