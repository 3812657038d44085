// Types for tests that run inside workerd (@cloudflare/vitest-pool-workers).
/// <reference types="@cloudflare/vitest-pool-workers/types" />

declare module 'vitest' {
  interface ProvidedContext {
    /** Provided by test/workers/setup/global-setup.ts. */
    libsqlUrl: string;
    libsqlMigrations: number;
    grafanaUrl: string;
    grafanaApiKey: string;
    webhookUrl: string;
    seriesEnd: number;
  }
}

export {};
