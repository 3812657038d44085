import type { Config } from './config';
import type { Db } from './db/client';
import type { JobDeps } from './learn/runner';
import type { JobQueue } from './learn/jobs';

/** Everything a request or a job needs, built once per host and reached through `c.get('services')`. */
export interface Services extends JobDeps {
  db: Db;
  config: Config;
  jobs: JobQueue;
  /** When this server started (epoch ms), for `GET /`. */
  startedAt: number;
}

export type AppEnv = { Variables: { services: Services; requestId: string } };

export const SERVER_VERSION = '0.1.0';
