/**
 * Loads the NAB development subset from ../shared/bench/nab (benchmarks only: the server never reads
 * it). Rows stay in file order, as NAB scores them; windows and labels become row indices.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const NAB_ROOT = resolve(process.env.HASTIC_NAB_ROOT ?? join(import.meta.dirname, '../../../shared/bench/nab'));

export interface NabFile {
  /** `<category>/<file>.csv`, the key of the label files. */
  key: string;
  /** Epoch ms per row, in file order (may repeat or go backwards). */
  t: Float64Array;
  v: Float64Array;
  /** Inclusive row-index windows `[L, R]`, sorted. */
  windows: [number, number][];
  /** Row indices of the labeled anomaly timestamps. */
  labels: number[];
}

const parseTime = (s: string) => Date.parse(`${s.trim().replace(' ', 'T').replace(/(\.\d{3})\d*$/, '$1')}Z`);

function firstRowAtOrAfter(t: Float64Array, ms: number): number {
  for (let i = 0; i < t.length; i++) if (t[i] >= ms) return i;
  return t.length - 1;
}

function lastRowAtOrBefore(t: Float64Array, ms: number): number {
  for (let i = t.length - 1; i >= 0; i--) if (t[i] <= ms) return i;
  return 0;
}

/** Every NAB file of the subset with its windows, sorted by key. */
export function loadNab(root = NAB_ROOT): NabFile[] {
  const windows = JSON.parse(readFileSync(join(root, 'labels/combined_windows.json'), 'utf8')) as Record<string, [string, string][]>;
  const labels = JSON.parse(readFileSync(join(root, 'labels/combined_labels.json'), 'utf8')) as Record<string, string[]>;
  const files: NabFile[] = [];
  for (const category of readdirSync(join(root, 'data')).sort()) {
    for (const name of readdirSync(join(root, 'data', category)).sort()) {
      if (!name.endsWith('.csv')) continue;
      const key = `${category}/${name}`;
      const rows = readFileSync(join(root, 'data', category, name), 'utf8').trim().split('\n').slice(1);
      const t = new Float64Array(rows.length);
      const v = new Float64Array(rows.length);
      rows.forEach((row, i) => {
        const comma = row.indexOf(',');
        t[i] = parseTime(row.slice(0, comma));
        v[i] = Number(row.slice(comma + 1));
      });
      files.push({
        key,
        t,
        v,
        windows: (windows[key] ?? []).map(([a, b]) => [firstRowAtOrAfter(t, parseTime(a)), lastRowAtOrBefore(t, parseTime(b))]),
        labels: (labels[key] ?? []).map((s) => firstRowAtOrAfter(t, parseTime(s))),
      });
    }
  }
  return files;
}
