import { existsSync } from 'node:fs';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
// Brings the `ProvidedContext` augmentation (libsqlUrl, libsqlMigrations) into this file's type scope.
import type {} from './test/workers/setup/global-setup';

// The Worker entry and its wrangler config are picked up once they exist, so the workerd smoke tests
// run before the Worker is written. Without them the runner still gets a bare module Worker.
const workerMain = existsSync('src/worker.ts') ? './src/worker.ts' : undefined;
const wranglerConfig = workerMain && existsSync('wrangler.toml') ? './wrangler.toml' : undefined;

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/workers/**'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [
          // A function so that `inject` sees what globalSetup provided (it runs before the pool starts).
          cloudflareTest(({ inject }) => ({
            main: workerMain,
            wrangler: wranglerConfig ? { configPath: wranglerConfig } : undefined,
            miniflare: {
              // wrangler.toml is the source of truth once used; these only stand in without it.
              ...(wranglerConfig ? {} : { compatibilityDate: '2026-04-01', compatibilityFlags: ['nodejs_compat'] }),
              // Overrides any [vars] value: the Worker talks to the per-run Hrana dev server.
              bindings: {
                HASTIC_DB_URL: inject('libsqlUrl'),
                HASTIC_API_KEY: inject('grafanaApiKey'),
                HASTIC_WEBHOOK_URL: inject('webhookUrl'),
                HASTIC_JOB_ATTEMPTS: '3',
                HASTIC_LOG: 'silent',
              },
            },
          })),
        ],
        test: {
          name: 'workers',
          include: ['test/workers/**/*.test.ts'],
          globalSetup: ['test/workers/setup/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
