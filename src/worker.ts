/** Cloudflare Workers entry: HTTP (fetch), the job queue consumer (queue) and detection ticks (scheduled). */
import { createClient } from '@libsql/client/web';
import { createApp } from './app';
import { ConfigError, parseConfig } from './config';
import { createDb } from './db/client';
import type { Job, JobQueue } from './learn/jobs';
import { recordFailure, runJob, type JobDeps } from './learn/runner';
import { detectionTick } from './learn/schedule';
import { loggerFor } from './log';
import type { Services } from './services';

interface Host {
  services: Services;
  app: ReturnType<typeof createApp>;
}

/** Built once per isolate and environment: the libSQL HTTP client is reusable across requests. */
let cached: { env: Env; host: Host } | undefined;

function hostFor(env: Env): Host {
  if (cached?.env === env) return cached.host;
  const config = parseConfig(env as unknown as Record<string, unknown>);
  const db = createDb(createClient({ url: config.dbUrl, authToken: config.dbAuthToken }));
  const jobs: JobQueue = {
    enqueue: async (job) => {
      await env.JOBS.send(job);
    },
  };
  const services: Services = { db, config, jobs, fetch: (...args) => fetch(...args), now: Date.now, log: loggerFor(config.log), startedAt: Date.now() };
  const host = { services, app: createApp(services) };
  cached = { env, host };
  return host;
}

const isDeadLetterQueue = (name: string) => name.endsWith('-dlq');

/** Runs a batch: ack what is done, retry the rest with 2^attempts s delay, record the last failure. */
async function consume(batch: MessageBatch<Job>, deps: JobDeps): Promise<void> {
  for (const message of batch.messages) {
    const job = message.body;
    if (isDeadLetterQueue(batch.queue)) {
      await recordFailure(deps, job, 'the job failed too often and was dead-lettered: see the Worker logs');
      message.ack();
      continue;
    }
    try {
      await runJob(deps, job);
      message.ack();
    } catch (error) {
      const reason = (error as Error).message ?? String(error);
      if (message.attempts >= deps.config.jobAttempts) {
        await recordFailure(deps, job, reason);
        message.ack();
      } else {
        deps.log('job_retry', { ...job, attempts: message.attempts, error: reason });
        message.retry({ delaySeconds: 2 ** message.attempts });
      }
    }
  }
}

export default {
  async fetch(request, env, ctx) {
    let host: Host;
    try {
      host = hostFor(env);
    } catch (error) {
      const message = error instanceof ConfigError ? error.message : String(error);
      return Response.json({ code: 'bad_configuration', message }, { status: 500 });
    }
    return host.app.fetch(request, env, ctx);
  },

  async queue(batch, env) {
    await consume(batch, hostFor(env).services);
  },

  async scheduled(_controller, env, ctx) {
    const { services } = hostFor(env);
    ctx.waitUntil(detectionTick(services, services.jobs));
  },
} satisfies ExportedHandler<Env, Job>;
