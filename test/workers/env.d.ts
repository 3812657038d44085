// What test/workers/setup/global-setup.ts provides to the workerd tests (`inject(...)`).
declare module 'vitest' {
  interface ProvidedContext {
    /** `http://127.0.0.1:<port>` of the Hrana dev server, migrated to the latest schema. */
    libsqlUrl: string;
    /** How many drizzle migrations were applied. */
    libsqlMigrations: number;
    /** The Grafana-proxy stand-in in front of a real influxd holding `peakSeries` in db `metrics`. */
    grafanaUrl: string;
    /** The bearer key the stand-in wants (also given to the Worker as HASTIC_API_KEY). */
    grafanaApiKey: string;
    /** A webhook receiver (GET lists what it received); the Worker's HASTIC_WEBHOOK_URL. */
    webhookUrl: string;
    /** The last timestamp written to influxd. */
    seriesEnd: number;
  }
}

export {};
