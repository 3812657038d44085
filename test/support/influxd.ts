/**
 * A throwaway InfluxDB 1.x for integration tests: `/usr/bin/influxd` (Debian package `influxdb`, see
 * `scripts/install-test-servers.sh`) with a generated config in a temp dir, both ports on random loopback ports,
 * no reporting, no logs. A system influxd the package may have started is irrelevant: we never use 8086.
 *
 * @example
 * const influx = await startInfluxd();
 * await influx.createDb('metrics');
 * await influx.writeLines('metrics', 'cpu value=1 1700000000000');
 * // ... influx.url is the upstream for startGrafanaProxy
 * await influx.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopChild } from './processes';

export const INFLUXD_BIN = process.env.INFLUXD_BIN ?? '/usr/bin/influxd';

export interface Influxd {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Writes line protocol with millisecond timestamps (`precision=ms`). */
  writeLines(db: string, lines: string): Promise<void>;
  createDb(name: string): Promise<void>;
  /** Runs an InfluxQL statement directly (no proxy) and returns the JSON answer. */
  query(q: string, db?: string): Promise<unknown>;
  stop(): Promise<void>;
}

export function influxdAvailable(): boolean {
  return existsSync(INFLUXD_BIN);
}

function config(dir: string, bindPort: number, httpPort: number): string {
  return `
reporting-disabled = true
bind-address = "127.0.0.1:${bindPort}"

[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  index-version = "inmem"
  query-log-enabled = false
  trace-logging-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  auth-enabled = false
  log-enabled = false
  suppress-write-log = true
  write-tracing = false
  pprof-enabled = false

[logging]
  level = "error"
  suppress-logo = true

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false
  log-enabled = false

[retention]
  enabled = false

[shard-precreation]
  enabled = false
`;
}

async function waitForPing(url: string, child: ChildProcess, stderr: () => string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`influxd exited (${child.exitCode ?? child.signalCode}) before answering /ping:\n${stderr()}`);
    }
    try {
      const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(500) });
      if (res.status === 204 || res.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`influxd did not answer ${url}/ping within ${ms} ms:\n${stderr()}`);
}

async function startOnce(): Promise<Influxd> {
  const dir = await mkdtemp(join(tmpdir(), 'hastic-influxd-'));
  const [bindPort, httpPort] = [await freePort(), await freePort()];
  const configPath = join(dir, 'influxdb.conf');
  await writeFile(configPath, config(dir, bindPort, httpPort));

  // INFLUXDB_* variables override the config file: keep the caller's environment out.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('INFLUXDB_')));
  const child = spawn(INFLUXD_BIN, ['run', '-config', configPath], {
    env: { ...env, HOME: dir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (err.length < 20_000) err += d.toString();
  });
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);

  const url = `http://127.0.0.1:${httpPort}`;
  const cleanup = async () => {
    process.off('exit', onExit);
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForPing(url, child, () => err);
  } catch (e) {
    await cleanup();
    throw e;
  }

  const query = async (q: string, db?: string): Promise<unknown> => {
    const params = new URLSearchParams({ q, epoch: 'ms' });
    if (db) params.set('db', db);
    const res = await fetch(`${url}/query`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: params.toString(),
    });
    const body = (await res.json()) as { error?: string; results?: Array<{ error?: string }> };
    const error = body.error ?? body.results?.find((r) => r.error)?.error;
    if (!res.ok || error) throw new Error(`influxd query failed (${res.status}): ${error ?? JSON.stringify(body)}`);
    return body;
  };

  let stopped: Promise<void> | undefined;
  return {
    url,
    query,
    async createDb(name) {
      await query(`CREATE DATABASE "${name.replace(/"/g, '\\"')}"`);
    },
    async writeLines(db, lines) {
      const res = await fetch(`${url}/write?${new URLSearchParams({ db, precision: 'ms' })}`, {
        method: 'POST',
        body: lines,
      });
      if (res.status !== 204) throw new Error(`influxd write failed (${res.status}): ${await res.text()}`);
    },
    stop() {
      stopped ??= cleanup();
      return stopped;
    },
  };
}

/** Starts a private influxd (retries on the rare port race) and resolves once `/ping` answers. */
export async function startInfluxd(): Promise<Influxd> {
  if (!influxdAvailable()) throw new Error(`${INFLUXD_BIN} not found: run scripts/install-test-servers.sh`);
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce();
    } catch (e) {
      last = e;
    }
  }
  throw last;
}
