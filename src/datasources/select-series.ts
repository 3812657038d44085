import type { Series } from '../learn/detectors/types';
import { DatasourceError } from './types';

/** One series of a query's answer, with what identifies it. */
export interface NamedSeries {
  /** Human-readable: measurement/metric name and labels, e.g. `cpu{host="a"}` (see `seriesName`). */
  name: string;
  labels: Record<string, string>;
  /** The query (panel target) it came from, when the source says so. */
  refId?: string;
  series: Series;
}

/**
 * The fields of a Grafana panel target that can name a series. `labels` and `series` are our additive
 * fields; `refId`, `alias` (InfluxQL, Graphite, Elasticsearch) and `legendFormat` (Prometheus) are
 * Grafana's own.
 */
interface TargetHints {
  refId?: unknown;
  alias?: unknown;
  legendFormat?: unknown;
  labels?: unknown;
  series?: unknown;
  hide?: unknown;
}

const text = (x: unknown) => (typeof x === 'string' && x.trim() ? x.trim() : undefined);

const quote = (v: string) => JSON.stringify(v);

/**
 * The name of a series as we show it to users and as a target's `series` field matches it:
 * `metric{k1="v1",k2="v2"}` with the labels sorted by key (Prometheus' notation); just `metric`
 * without labels, just `{...}` without a metric name.
 *
 * @example
 * seriesName('cpu', { host: 'a', dc: 'x' }) // 'cpu{dc="x",host="a"}'
 */
export function seriesName(metric: string | undefined, labels: Record<string, string> = {}): string {
  const keys = Object.keys(labels).sort();
  const body = keys.map((k) => `${k}=${quote(labels[k])}`).join(',');
  return `${metric ?? ''}${keys.length ? `{${body}}` : ''}` || 'series';
}

function labelsOf(x: unknown): Record<string, string> | undefined {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return undefined;
  const entries = Object.entries(x as Record<string, unknown>).filter(([, v]) => v !== undefined && v !== null);
  if (entries.length === 0) return undefined;
  return Object.fromEntries(entries.map(([k, v]) => [k, String(v)]));
}

function listed(pool: NamedSeries[]): string {
  const names = pool.slice(0, 10).map((s) => s.name);
  return `${names.join(', ')}${pool.length > 10 ? `, … (${pool.length} in all)` : ''}`;
}

/** The panel target a unit watches: the first one that is an object and not hidden. */
export function unitTarget(targets: readonly unknown[]): Record<string, unknown> | undefined {
  return targets.find((t): t is Record<string, unknown> => typeof t === 'object' && t !== null && !Array.isArray(t) && !(t as TargetHints).hide);
}

/** The first visible panel target whose `field` holds a query (e.g. `expr`, `target`), else the first visible one. */
export function queryTarget(targets: readonly unknown[], field: string): Record<string, unknown> | undefined {
  const visible = targets.filter(
    (t): t is Record<string, unknown> => typeof t === 'object' && t !== null && !Array.isArray(t) && !(t as TargetHints).hide,
  );
  return visible.find((t) => typeof t[field] === 'string' && (t[field] as string).trim() !== '') ?? visible[0];
}

/**
 * Picks the series a unit watches among those a query returned:
 *
 * 1. no series: undefined; exactly one: that one (whatever the target says — a single series needs no
 *    naming, and an alias only renames it);
 * 2. otherwise the panel's first visible target narrows the candidates, in order:
 *    - `refId`: the series that came from that query (when the source tells);
 *    - `series` (ours): the candidate whose `name` is exactly this — none is an error;
 *    - `labels` (ours, e.g. `{"host": "a"}`): the candidates that carry all these labels — none is an error;
 *    - `alias` / `legendFormat`: a candidate whose name equals it (soft: ignored when none does, since
 *      an alias with `$tag_x` / `{{x}}` renames every series rather than choosing one);
 * 3. one left: that one; several: an error listing them, so the user can narrow the query or name one.
 *
 * Errors are `DatasourceError('bad_query')`: a person has to change the query or the target.
 *
 * @example
 * selectSeries(candidates, [{ refId: 'A', labels: { host: 'a' } }])
 */
export function selectSeries(candidates: NamedSeries[], targets: readonly unknown[]): NamedSeries | undefined {
  if (candidates.length <= 1) return candidates[0];
  const target = unitTarget(targets) as TargetHints | undefined;
  let pool = candidates;
  if (target) {
    const refId = text(target.refId);
    if (refId) {
      const same = pool.filter((s) => s.refId === refId);
      if (same.length) pool = same;
    }
    const wanted = text(target.series);
    if (wanted && pool.length > 1) {
      const named = pool.filter((s) => s.name === wanted);
      if (!named.length) {
        throw new DatasourceError('bad_query', `no series of the query is named ${wanted}: the target's "series" must be one of ${listed(pool)}`);
      }
      pool = named;
    }
    const labels = labelsOf(target.labels);
    if (labels && pool.length > 1) {
      const matching = pool.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      if (!matching.length) {
        throw new DatasourceError(
          'bad_query',
          `no series of the query has the labels ${seriesName('', labels)} the target asks for: candidates are ${listed(pool)}`,
        );
      }
      pool = matching;
    }
    const legend = text(target.alias) ?? text(target.legendFormat);
    if (legend && pool.length > 1) {
      const named = pool.filter((s) => s.name === legend);
      if (named.length) pool = named;
    }
  }
  if (pool.length === 1) return pool[0];
  throw new DatasourceError(
    'bad_query',
    `the query returned ${pool.length} series and the panel's target does not say which to watch: ` +
      `narrow the query, or set the target's "labels" (e.g. {"host": "a"}) or "series" to one of ${listed(pool)}`,
  );
}

/** Empty series. */
export const EMPTY_SERIES = (): Series => ({ t: new Float64Array(0), v: new Float64Array(0) });
