import { mulberry32 } from './random';

/** A synthetic 1-minute metric with known peaks, written to a real datasource by integration tests. */
export const MINUTE = 60_000;

export interface Peak {
  centre: number;
  height: number;
  halfWidth: number;
}


/**
 * `days` of data ending at `end`: baseline 10 with a daily wave and noise, plus a triangular peak every
 * 6 hours (heights 8-11, widths 5-7 points, shifted a little so they are not periodic).
 */
export function peakSeries(end: number, days: number) {
  const start = end - days * 24 * 60 * MINUTE;
  const peaks: Peak[] = Array.from({ length: days * 4 - 1 }, (_, i) => ({
    centre: start + (i + 1) * 6 * 60 * MINUTE + (i % 3) * 17 * MINUTE,
    height: 8 + (i % 4),
    halfWidth: 2 + (i % 2),
  }));
  const valueAt = (t: number, noise: () => number, extra: Peak[]) => {
    let v = 10 + Math.sin((2 * Math.PI * (t - start)) / (24 * 60 * MINUTE)) + (noise() - 0.5) * 0.6;
    for (const p of [...peaks, ...extra]) {
      const d = Math.abs(t - p.centre) / MINUTE;
      if (d <= p.halfWidth) v += p.height * (1 - d / (p.halfWidth + 1));
    }
    return v;
  };
  /** InfluxDB line protocol (ms precision) for `[from, to]`, with optional extra peaks. */
  const lines = (measurement: string, from: number, to: number, extra: Peak[] = []) => {
    const noise = mulberry32(from / MINUTE);
    const out: string[] = [];
    for (let t = from; t <= to; t += MINUTE) out.push(`${measurement} value=${valueAt(t, noise, extra).toFixed(4)} ${t}`);
    return out.join('\n');
  };
  return { start, end, peaks, lines };
}

/** Whether a detected segment covers time `t`, with two minutes of slack (segments are rounded to points). */
export const covers = (s: { start: number; finish: number }, t: number) => s.start - 2 * MINUTE <= t && t <= s.finish + 2 * MINUTE;

