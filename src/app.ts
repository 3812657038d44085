import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { requestId } from 'hono/request-id';
import { ApiError, errorHandler } from './http/errors';
import { alertRoutes } from './routes/alerts';
import { anomalyRoutes } from './routes/anomalies';
import { rootRoutes } from './routes/root';
import { segmentRoutes } from './routes/segments';
import type { AppEnv, Services } from './services';

/**
 * Builds the HTTP app on top of the host's services. The same app serves Node and Workers.
 * @example
 *   const app = createApp(services);
 *   serve({ fetch: app.fetch, port: 8000 });
 */
export function createApp(services: Services) {
  const app = new Hono<AppEnv>();
  app.use(requestId());
  app.use(async (c, next) => {
    c.set('services', services);
    const started = Date.now();
    await next();
    services.log('request', {
      requestId: c.get('requestId'),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Date.now() - started,
    });
  });
  app.use(cors({ origin: services.config.corsOrigin, allowMethods: ['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS'] }));
  app.use(
    bodyLimit({
      maxSize: services.config.maxBodyBytes,
      onError: () => {
        throw new ApiError(413, 'body_too_large', `request body is larger than ${services.config.maxBodyBytes} bytes`);
      },
    }),
  );
  app.route('/', rootRoutes);
  app.route('/anomalies', anomalyRoutes);
  app.route('/segments', segmentRoutes);
  app.route('/alerts', alertRoutes);
  app.notFound((c) => c.json({ code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError(errorHandler(services.log));
  return app;
}
