import type { Context, ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import type { Logger } from '../log';

/** The one error body of the API. Old clients read `message`. */
export interface ErrorBody {
  code: string;
  message: string;
  issues?: { path: string; message: string }[];
}

/** An error a route throws to answer with a specific status and code. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly issues?: ErrorBody['issues'],
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);

/** Turns zod issues into one readable message naming each field, plus the detailed list. */
export function invalidInput(error: z.ZodError): ApiError {
  const issues = error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(body)',
    message: issue.message,
  }));
  const message = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  return new ApiError(400, 'invalid_request', message, issues);
}

/** Maps every thrown error to the JSON error body; unexpected ones become a logged 500. */
export function errorHandler(log: Logger): ErrorHandler {
  return (error, c: Context) => {
    if (error instanceof ApiError) {
      const body: ErrorBody = { code: error.code, message: error.message };
      if (error.issues) body.issues = error.issues;
      // The unread rest of an oversized body makes the connection unusable for a next request.
      if (error.status === 413) c.header('connection', 'close');
      return c.json(body, error.status);
    }
    if (error instanceof HTTPException) {
      const status = error.status as ContentfulStatusCode;
      const code = status === 413 ? 'body_too_large' : status === 400 ? 'malformed_request' : 'http_error';
      return c.json({ code, message: error.message || 'request rejected' } satisfies ErrorBody, status);
    }
    log('request_error', { requestId: c.get('requestId'), error: String((error as Error)?.stack ?? error) });
    return c.json({ code: 'internal', message: 'internal error: see the server log' } satisfies ErrorBody, 500);
  };
}
