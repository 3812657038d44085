/**
 * A throwaway graphite-web (Debian `graphite-web`, Django dev server) for integration tests, on a random
 * loopback port with its own settings module and storage dir. Series are written as whisper files with
 * `python3-whisper` (what carbon-cache does on disk; no carbon daemon, no flush delay). Whisper keeps a
 * fixed window back from *now*: write timestamps inside `retentionMs` of the wall clock.
 *
 * @example
 * const g = await startGraphite();
 * await g.writeSeries('servers.web1.cpu', 30_000, [[Date.now() - 60_000, 1.5]]);
 * // ... g.url is the upstream for startGrafanaProxy
 * await g.stop();
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireBinary, spawnServer, waitReady } from './processes';

/** Debian's python: graphite-web and whisper are installed for it, not for any pyenv python. */
export const GRAPHITE_PYTHON = process.env.GRAPHITE_PYTHON ?? '/usr/bin/python3';
export const GRAPHITE_WEB_DIR = '/usr/lib/python3/dist-packages/graphite';

export interface GraphiteServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /**
   * Creates (or replaces) the whisper file of `path` (dots -> folders) with one archive of `stepMs`
   * resolution covering `retentionMs`, and writes the points (epoch ms; null or NaN leaves a gap).
   */
  writeSeries(path: string, stepMs: number, points: Array<[number, number | null]>, retentionMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const SETTINGS = `
import os
_root = os.environ['HASTIC_GRAPHITE_DIR']
SECRET_KEY = 'hastic-integration-tests'
STORAGE_DIR = os.path.join(_root, 'storage')
WHISPER_DIR = os.path.join(STORAGE_DIR, 'whisper/')
LOG_DIR = os.path.join(STORAGE_DIR, 'log', 'webapp')
INDEX_FILE = os.path.join(STORAGE_DIR, 'index')
ALLOWED_HOSTS = ['*']
TIME_ZONE = 'UTC'
DEBUG = False
CARBONLINK_HOSTS = []
DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': os.path.join(STORAGE_DIR, 'graphite.db')}}
`;

const WRITER = `
import json, os, sys, whisper
req = json.load(sys.stdin)
path = req['file']
os.makedirs(os.path.dirname(path), exist_ok=True)
if os.path.exists(path):
    os.remove(path)
whisper.create(path, [(req['step'], req['slots'])], xFilesFactor=0)
points = [(t, v) for t, v in req['points'] if v is not None]
for k in range(0, len(points), 10000):
    whisper.update_many(path, points[k:k + 10000])
`;

function runPython(script: string, stdin: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(GRAPHITE_PYTHON, ['-c', script], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr?.on('data', (d: Buffer) => {
      if (err.length < 20_000) err += d.toString();
    });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`whisper write failed (${code}):\n${err}`))));
    p.stdin?.end(stdin);
  });
}

export async function startGraphite(): Promise<GraphiteServer> {
  requireBinary(GRAPHITE_PYTHON, 'python3');
  requireBinary(GRAPHITE_WEB_DIR, 'graphite-web');
  const dir = await mkdtemp(join(tmpdir(), 'hastic-graphite-'));
  const whisperDir = join(dir, 'storage', 'whisper');
  await mkdir(join(dir, 'py'), { recursive: true });
  await mkdir(whisperDir, { recursive: true });
  await mkdir(join(dir, 'storage', 'log', 'webapp'), { recursive: true });
  await writeFile(join(dir, 'py', 'hastic_graphite_settings.py'), SETTINGS);
  const env = {
    HASTIC_GRAPHITE_DIR: dir,
    PYTHONPATH: join(dir, 'py'),
    GRAPHITE_SETTINGS_MODULE: 'hastic_graphite_settings',
    DJANGO_SETTINGS_MODULE: 'graphite.settings',
    PYTHONDONTWRITEBYTECODE: '1',
  };
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const proc = spawnServer(GRAPHITE_PYTHON, ['-m', 'django', 'runserver', `127.0.0.1:${port}`, '--noreload'], env);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitReady(`${url}/render?target=hastic.ready&format=json`, proc.child, proc.output, 'graphite-web');
    } catch (e) {
      last = e;
      await proc.stop();
      continue;
    }
    let stopped: Promise<void> | undefined;
    return {
      url,
      async writeSeries(path, stepMs, points, retentionMs = 30 * 86_400_000) {
        const step = Math.round(stepMs / 1000);
        const file = join(whisperDir, ...path.split('.')) + '.wsp';
        const body = JSON.stringify({
          file,
          step,
          slots: Math.ceil(retentionMs / stepMs),
          points: points.map(([t, v]) => [t / 1000, v === null || Number.isNaN(v) ? null : v]),
        });
        await runPython(WRITER, body);
      },
      stop() {
        stopped ??= proc.stop().then(() => rm(dir, { recursive: true, force: true }));
        return stopped;
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw last;
}
