import type { Series } from '../learn/detectors/types';
import { DatasourceError } from './types';

/** One series of a query's answer, with what identifies it. */
export interface NamedSeries {
  /** Human-readable: measurement/metric name and labels, e.g. `cpu{host="a"}`. */
  name: string;
  labels: Record<string, string>;
  /** The query (panel target) it came from, when the source says so. */
  refId?: string;
  series: Series;
}

/** The fields of a Grafana panel target that can name a series (`labels` is our additive field). */
interface TargetHints {
  refId?: unknown;
  alias?: unknown;
  legendFormat?: unknown;
  labels?: unknown;
  hide?: unknown;
}

const text = (x: unknown) => (typeof x === 'string' && x.trim() ? x.trim() : undefined);

/**
 * Picks the series a unit watches among those a query returned: the only one; else the one the
 * panel's first visible target names — by `refId`, by an `alias`/`legendFormat` equal to its name,
 * or by a `labels` object it matches. A choice that stays ambiguous is an error listing the
 * candidates, so the user can narrow the query. Returns undefined when there is no series at all.
 */
export function selectSeries(candidates: NamedSeries[], targets: unknown[]): NamedSeries | undefined {
  if (candidates.length <= 1) return candidates[0];
  const target = targets.find((t): t is TargetHints => typeof t === 'object' && t !== null && !(t as TargetHints).hide);
  let pool = candidates;
  const narrow = (keep: (s: NamedSeries) => boolean) => {
    const kept = pool.filter(keep);
    if (kept.length) pool = kept;
  };
  if (target) {
    const refId = text(target.refId);
    if (refId) narrow((s) => s.refId === refId);
    const legend = text(target.alias) ?? text(target.legendFormat);
    if (legend && pool.length > 1) narrow((s) => s.name === legend);
    const labels = target.labels;
    if (labels && typeof labels === 'object' && pool.length > 1) {
      narrow((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === String(v)));
    }
  }
  if (pool.length === 1) return pool[0];
  const names = pool.slice(0, 10).map((s) => s.name);
  throw new DatasourceError(
    'bad_query',
    `the query returned ${pool.length} series and the panel's target does not say which to watch: ` +
      `narrow the query, or set the target's alias or labels to one of ${names.join(', ')}${pool.length > 10 ? ', …' : ''}`,
  );
}
