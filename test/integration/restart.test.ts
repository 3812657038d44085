/**
 * A crash mid-learning loses nothing: kill the real server process while its learning job waits on a
 * slow Grafana, start it again on the same database, and the unit reaches `ready`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGrafanaProxy, type GrafanaProxy } from '../support/grafana-proxy';
import { startInfluxd, type Influxd } from '../support/influxd';
import { freePort } from '../support/processes';

const MINUTE = 60_000;

describe('restart mid-learning (Node host process)', () => {
  let influx: Influxd;
  let grafana: GrafanaProxy;
  let dir: string;
  let child: ChildProcess | undefined;
  let port: number;

  const startProcess = async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/node.ts'], {
      env: {
        ...process.env,
        HASTIC_PORT: String(port),
        HASTIC_DB_URL: `file:${join(dir, 'hastic.db')}`,
        HASTIC_API_KEY: 'key',
        HASTIC_FETCH_TIMEOUT: '120',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout!.on('data', (chunk) => (output += chunk));
    proc.stderr!.on('data', (chunk) => (output += chunk));
    await expect.poll(() => output, { timeout: 20_000 }).toContain('listening');
    return proc;
  };
  const api = async (path: string, init?: RequestInit) => (await fetch(`http://127.0.0.1:${port}${path}`, init)).json() as Promise<any>;

  beforeAll(async () => {
    influx = await startInfluxd();
    await influx.createDb('m');
    const end = Math.floor(Date.now() / MINUTE) * MINUTE;
    const points: string[] = [];
    for (let t = end - 2 * 24 * 60 * MINUTE; t < end; t += MINUTE) points.push(`load value=${(5 + Math.sin(t / 3.6e6)).toFixed(3)} ${t}`);
    await influx.writeLines('m', points.join('\n'));
    grafana = await startGrafanaProxy({ apiKey: 'key', routes: { '1': influx.url }, slowMs: 600_000 });
    dir = mkdtempSync(join(tmpdir(), 'hastic-restart-'));
    port = await freePort();
  }, 60_000);
  afterAll(async () => {
    child?.kill('SIGKILL');
    await grafana?.close();
    await influx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the interrupted learning again after a restart', async () => {
    grafana.setFault('slow');
    child = await startProcess();
    const { anomaly_id: id } = await api('/anomalies', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'load',
        metric: { targets: [] },
        panelUrl: `${grafana.url}/d/x?panelId=1`,
        datasource: { type: 'influxdb', url: 'api/datasources/proxy/1/query', params: { db: 'm', q: 'SELECT "value" FROM "load" WHERE $timeFilter', epoch: 'ms' } },
      }),
    });
    // The job is running: it has asked Grafana and waits for the slow answer.
    await expect.poll(() => grafana.requests.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect((await api(`/anomalies/status?id=${id}`)).status).toBe('learning');

    child.kill('SIGKILL');
    await new Promise((done) => child!.once('exit', done));
    grafana.setFault(null);

    child = await startProcess();
    await expect.poll(async () => (await api(`/anomalies/status?id=${id}`)).status, { timeout: 30_000 }).toBe('ready');
  });
});
