/**
 * Vitest globalSetup for the `workers` project. Runs in Node (not workerd): starts the Hrana dev server
 * on a throwaway file and a random port, applies the drizzle migrations, and provides the URL to the
 * pool options (`inject` in vitest.config.ts) and to tests (`inject('libsqlUrl')` from 'vitest').
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createClient } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import type { TestProject } from 'vitest/node';
import type {} from '../env'; // the ProvidedContext this setup provides
import { startHranaServer } from '../../../src/devtools/hrana-server';
import { startGrafanaProxy } from '../../support/grafana-proxy';
import { startInfluxd } from '../../support/influxd';
import { MINUTE, peakSeries } from '../../support/peak-series';
import { startWebhookReceiver } from '../../support/webhook-receiver';

const GRAFANA_API_KEY = 'workers-test-key';

const MIGRATIONS = resolve('drizzle');

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'hastic-workers-test-'));
  const server = await startHranaServer({ file: join(dir, 'test.db'), port: 0 });
  let applied = 0;
  const journal = join(MIGRATIONS, 'meta', '_journal.json');
  if (existsSync(journal)) {
    applied = (JSON.parse(readFileSync(journal, 'utf8')) as { entries: unknown[] }).entries.length;
    const client = createClient({ url: server.url });
    try {
      await migrate(drizzle(client), { migrationsFolder: MIGRATIONS });
    } finally {
      client.close();
    }
  }
  project.provide('libsqlUrl', server.url);
  project.provide('libsqlMigrations', applied);

  // Real datasource for the job tests: influxd with a known series, behind the Grafana stand-in.
  const influx = await startInfluxd();
  const series = peakSeries(Math.floor(Date.now() / MINUTE) * MINUTE - 30 * MINUTE, 3);
  await influx.createDb('metrics');
  await influx.writeLines('metrics', series.lines('cpu', series.start, series.end));
  const grafana = await startGrafanaProxy({ apiKey: GRAFANA_API_KEY, routes: { '1': influx.url } });
  const webhook = await startWebhookReceiver();
  project.provide('grafanaUrl', grafana.url);
  project.provide('grafanaApiKey', GRAFANA_API_KEY);
  project.provide('webhookUrl', webhook.url);
  project.provide('seriesEnd', series.end);

  return async () => {
    await webhook.close();
    await grafana.close();
    await influx.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  };
}
