/**
 * Elasticsearch (and OpenSearch) through Grafana's datasource proxy (`api/datasources/proxy/<id>`) or
 * directly: one `_msearch` with a `date_histogram` built from the panel's Grafana Elasticsearch target
 * (`query` in Lucene syntax, `timeField`, `metrics`, `bucketAggs`), and the aggregation buckets read back.
 *
 * Web APIs only: runs on Node and in workerd.
 */
import type { Series } from '../learn/detectors/types';
import { seriesFromPoints } from '../learn/series';
import { ObjectColumns, parseJsonFast } from './fast-json';
import { authHeadersFor, datasourceUrl, fetchWithTimeout, isDirectDatasourceUrl } from './grafana';
import { concatPages, pageRanges } from './paging';
import { EMPTY_SERIES, selectSeries, seriesName, unitTarget, type NamedSeries } from './select-series';
import { DatasourceError, type Datasource, type FetchContext, type FetchedSeries, type MetricSource } from './types';

/** Buckets per request at most (Elasticsearch refuses more than `search.max_buckets`, 10 000 by default on 8.x). */
export const ES_PAGE_BUCKETS = 5_000;

interface EsMetric {
  id: string;
  type: string;
  field?: string;
  hide?: boolean;
  settings?: Record<string, unknown>;
}
interface EsBucketAgg {
  id: string;
  type: string;
  field?: string;
  settings?: Record<string, unknown>;
}
/** The Grafana Elasticsearch target fields we read. */
interface EsTarget {
  query?: string;
  timeField?: string;
  index?: string;
  metrics?: EsMetric[];
  bucketAggs?: EsBucketAgg[];
  intervalMs?: number;
}

const VALUE_METRICS = new Set(['avg', 'sum', 'min', 'max', 'cardinality', 'value_count']);
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `'10s'`, `'1m'`, `'1h'`, `'1d'`, `'500ms'` in ms; NaN for anything else (`'auto'`, `'1M'`). */
export function esIntervalMs(interval: unknown): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(String(interval ?? ''));
  return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
}

function str(x: unknown): string | undefined {
  return typeof x === 'string' && x.trim() ? x.trim() : undefined;
}

function targetOf(source: MetricSource): EsTarget {
  const t = unitTarget(source.targets) as EsTarget | undefined;
  if (!t) throw new DatasourceError('bad_query', 'an Elasticsearch unit needs the panel target (query, metrics, bucketAggs)');
  return t;
}

function indexOf(source: MetricSource, target: EsTarget): string {
  const ds = source.datasource as MetricSource['datasource'] & { database?: unknown; index?: unknown };
  const index = str(target.index) ?? str(ds.params?.index) ?? str(ds.index) ?? str(ds.database);
  if (!index) throw new DatasourceError('bad_query', 'the Elasticsearch index is unknown: set datasource.database (or params.index) to the index pattern, e.g. "metrics-*"');
  return index;
}

function timeFieldOf(source: MetricSource, target: EsTarget, histogram: EsBucketAgg): string {
  return str(histogram.field) ?? str(target.timeField) ?? str(source.datasource.params?.timeField) ?? '@timestamp';
}

function metricAgg(m: EsMetric): Record<string, unknown> {
  const field = str(m.field);
  if (m.type === 'count') return {};
  if (!VALUE_METRICS.has(m.type) && m.type !== 'percentiles' && m.type !== 'extended_stats') {
    throw new DatasourceError('bad_query', `Elasticsearch metric type ${m.type} is not supported (use count, avg, sum, min, max, cardinality, value_count, percentiles or extended_stats)`);
  }
  if (!field) throw new DatasourceError('bad_query', `Elasticsearch metric ${m.id} (${m.type}) has no field`);
  if (VALUE_METRICS.has(m.type)) return { [m.id]: { [m.type]: { field } } };
  if (m.type === 'percentiles') {
    const raw = m.settings?.percents;
    const percents = (Array.isArray(raw) ? raw : [50]).map(Number).filter(Number.isFinite);
    return { [m.id]: { percentiles: { field, percents: percents.length ? percents : [50] } } };
  }
  if (m.type === 'extended_stats') return { [m.id]: { extended_stats: { field } } };
  throw new DatasourceError('bad_query', `Elasticsearch metric type ${m.type} is not supported (use count, avg, sum, min, max, cardinality, value_count, percentiles or extended_stats)`);
}

function intervalFor(target: EsTarget, histogram: EsBucketAgg, fromMs: number, toMs: number): { text: string; ms: number } {
  const raw = str(histogram.settings?.interval);
  const ms = esIntervalMs(raw);
  if (ms > 0) return { text: raw!, ms };
  const fromTarget = Number(target.intervalMs);
  const auto = fromTarget > 0 ? fromTarget : Math.max(1000, Math.ceil((toMs - fromMs) / 1000 / 1000) * 1000);
  return { text: `${auto}ms`, ms: auto };
}

/** The histogram (last bucket aggregation) and the terms aggregations that split series before it. */
function bucketAggsOf(target: EsTarget): { terms: EsBucketAgg[]; histogram: EsBucketAgg } {
  const aggs = Array.isArray(target.bucketAggs) ? target.bucketAggs : [];
  const histogram = aggs[aggs.length - 1] ?? { id: '2', type: 'date_histogram' };
  if (histogram.type !== 'date_histogram') {
    throw new DatasourceError('bad_query', 'the last group-by of an Elasticsearch target must be a date histogram');
  }
  const terms = aggs.slice(0, -1);
  for (const a of terms) {
    if (a.type !== 'terms' || !str(a.field)) throw new DatasourceError('bad_query', `Elasticsearch group-by ${a.type} is not supported (use terms before the date histogram)`);
  }
  return { terms, histogram };
}

function metricsOf(target: EsTarget): EsMetric[] {
  const metrics = (Array.isArray(target.metrics) && target.metrics.length ? target.metrics : [{ id: '1', type: 'count' }]).filter((m) => !m.hide);
  if (!metrics.length) throw new DatasourceError('bad_query', 'every metric of the Elasticsearch target is hidden');
  return metrics.map((m, k) => ({ ...m, id: String(m.id ?? k + 1) }));
}

/**
 * The `_msearch` body for `[fromMs, toMs)`: header line (index) and search line with `size: 0`, a
 * range filter on the time field (`epoch_millis`, `gte`/`lt`), the Lucene `query` and the aggregations
 * (terms..., then `date_histogram` with `fixed_interval`, or `interval` when `datasource.esVersion` < 7,
 * `min_doc_count: 0`, and the metrics inside).
 *
 * @example
 * esSearchBody(source, from, to) // '{"index":"metrics-*",...}\n{"size":0,"query":...,"aggs":...}\n'
 */
export function esSearchBody(source: MetricSource, fromMs: number, toMs: number): string {
  const target = targetOf(source);
  const index = indexOf(source, target);
  const { terms, histogram } = bucketAggsOf(target);
  const timeField = timeFieldOf(source, target, histogram);
  const interval = intervalFor(target, histogram, fromMs, toMs);
  const version = Number((source.datasource as { esVersion?: unknown }).esVersion ?? 8);
  const metricAggs = Object.assign({}, ...metricsOf(target).map(metricAgg));
  let aggs: Record<string, unknown> = {
    [histogram.id]: {
      date_histogram: {
        field: timeField,
        [version > 0 && version < 7 ? 'interval' : 'fixed_interval']: interval.text,
        min_doc_count: 0,
        extended_bounds: { min: Math.floor(fromMs), max: Math.ceil(toMs) - 1 },
        format: 'epoch_millis',
      },
      ...(Object.keys(metricAggs).length ? { aggs: metricAggs } : {}),
    },
  };
  for (const t of [...terms].reverse()) {
    const size = Number(t.settings?.size ?? 10) || 10;
    aggs = { [t.id]: { terms: { field: t.field, size, min_doc_count: Number(t.settings?.min_doc_count ?? 1) || 1 }, aggs } };
  }
  const query = str(target.query) ?? '*';
  const header = { search_type: 'query_then_fetch', ignore_unavailable: true, index };
  const search = {
    size: 0,
    query: {
      bool: {
        filter: [
          { range: { [timeField]: { gte: Math.floor(fromMs), lt: Math.ceil(toMs), format: 'epoch_millis' } } },
          { query_string: { analyze_wildcard: true, query } },
        ],
      },
    },
    aggs,
  };
  return `${JSON.stringify(header)}\n${JSON.stringify(search)}\n`;
}

function metricName(m: EsMetric): string {
  if (m.type === 'count') return 'count';
  return `${m.type}(${m.field ?? ''})`;
}

interface Bucket {
  key?: unknown;
  doc_count?: unknown;
  [agg: string]: unknown;
}

function bucketValue(b: Bucket, m: EsMetric): number {
  if (m.type === 'count') return typeof b.doc_count === 'number' ? b.doc_count : NaN;
  const agg = b[m.id] as { value?: unknown; values?: unknown; std_deviation?: unknown; avg?: unknown } | undefined;
  if (!agg || typeof agg !== 'object') return NaN;
  if (m.type === 'percentiles') {
    const values = agg.values as Record<string, unknown> | Array<{ value?: unknown }> | undefined;
    const first = Array.isArray(values) ? values[0]?.value : values ? Object.values(values)[0] : undefined;
    return typeof first === 'number' ? first : NaN;
  }
  if (m.type === 'extended_stats') {
    const stat = str(m.settings?.stat) ?? 'std_deviation';
    const x = (agg as Record<string, unknown>)[stat];
    return typeof x === 'number' ? x : NaN;
  }
  return typeof agg.value === 'number' ? agg.value : NaN;
}

/**
 * The series of an `_msearch` answer for `source`'s target: one candidate per metric and per
 * combination of terms keys (labelled `{<field>: <key>}`), named `avg(value){host="a"}` (`count` for a
 * count). Buckets outside `[fromMs, toMs)` are dropped.
 *
 * @throws DatasourceError 'bad_query' for an Elasticsearch error, 'bad_response' for anything that
 * is not an `_msearch` answer.
 */
export function parseEsResponse(body: unknown, source: MetricSource, fromMs = -Infinity, toMs = Infinity): NamedSeries[] {
  const responses = (body as { responses?: unknown } | null)?.responses;
  if (!Array.isArray(responses)) {
    throw new DatasourceError('bad_response', 'Elasticsearch answered JSON without "responses": is datasource.url the Elasticsearch proxy (or an _msearch URL)?');
  }
  const r = responses[0] as { error?: unknown; status?: unknown; aggregations?: unknown } | undefined;
  if (r?.error) {
    const e = r.error as { reason?: unknown; root_cause?: Array<{ reason?: unknown }>; caused_by?: { reason?: unknown } };
    const reason = [e.reason, e.root_cause?.[0]?.reason, e.caused_by?.reason].find((x) => typeof x === 'string') ?? JSON.stringify(r.error).slice(0, 300);
    throw new DatasourceError('bad_query', `Elasticsearch: ${reason}`);
  }
  const target = targetOf(source);
  const { terms, histogram } = bucketAggsOf(target);
  const metrics = metricsOf(target);
  const out: NamedSeries[] = [];
  const walk = (aggs: unknown, level: number, labels: Record<string, string>) => {
    const id = level < terms.length ? terms[level].id : histogram.id;
    const agg = (aggs as Record<string, { buckets?: unknown }> | undefined)?.[id];
    if (!agg) {
      if (level === 0 && aggs !== undefined) throw new DatasourceError('bad_response', `Elasticsearch answered without aggregation ${id}`);
      return;
    }
    if (agg.buckets instanceof ObjectColumns) {
      if (level < terms.length) throw new DatasourceError('bad_response', `Elasticsearch answered terms buckets without sub-aggregation ${histogram.id}`);
      columnSeries(agg.buckets, labels);
      return;
    }
    const buckets = Array.isArray(agg.buckets) ? (agg.buckets as Bucket[]) : agg.buckets && typeof agg.buckets === 'object' ? Object.values(agg.buckets as Record<string, Bucket>) : [];
    if (level < terms.length) {
      for (const b of buckets) walk(b, level + 1, { ...labels, [String(terms[level].field)]: String(b.key) });
      return;
    }
    const n = buckets.length;
    for (const m of metrics) {
      const t = new Float64Array(n);
      const v = new Float64Array(n);
      let k = 0;
      for (let i = 0; i < n; i++) {
        const b = buckets[i];
        const key = typeof b.key === 'number' ? b.key : Number(b.key);
        if (!(key >= fromMs && key < toMs)) continue;
        t[k] = key;
        v[k] = bucketValue(b, m);
        k++;
      }
      const series: Series = seriesFromPoints(t.subarray(0, k), v.subarray(0, k));
      out.push({ name: seriesName(metricName(m), labels), labels: { ...labels, metric: metricName(m) }, refId: (target as { refId?: string }).refId, series });
    }
  };
  const columnSeries = (cols: ObjectColumns, labels: Record<string, string>) => {
    const keys = cols.get('key');
    const n = keys ? cols.length : 0;
    for (const m of metrics) {
      let vc: Float64Array | undefined;
      if (m.type === 'count') vc = cols.get('doc_count');
      else if (m.type === 'percentiles') {
        const prefix = `${m.id}.values.`;
        for (const [path, col] of cols.columns) {
          if (path.startsWith(prefix)) {
            vc = col;
            break;
          }
        }
      } else if (m.type === 'extended_stats') vc = cols.get(`${m.id}.${str(m.settings?.stat) ?? 'std_deviation'}`);
      else vc = cols.get(`${m.id}.value`);
      const t = new Float64Array(n);
      const v = new Float64Array(n);
      let k = 0;
      for (let i = 0; i < n; i++) {
        const key = keys![i];
        if (!(key >= fromMs && key < toMs)) continue;
        t[k] = key;
        v[k] = vc === undefined ? NaN : vc[i];
        k++;
      }
      const series: Series = seriesFromPoints(t.subarray(0, k), v.subarray(0, k));
      out.push({ name: seriesName(metricName(m), labels), labels: { ...labels, metric: metricName(m) }, refId: (target as { refId?: string }).refId, series });
    }
  };
  if (r?.aggregations === undefined) return out;
  walk(r.aggregations, 0, {});
  return out;
}

/** Parses an `_msearch` answer; histogram `buckets` become columns (no object per bucket). */
export function parseEsJson(text: string): unknown {
  return parseJsonFast(text, { objectRowKeys: ['buckets'] });
}

/** The `_msearch` request for one page. */
export function esRequest(source: MetricSource, fromMs: number, toMs: number, ctx: FetchContext): { url: URL; init: RequestInit } {
  const url = datasourceUrl(source);
  if (!/\/_msearch\/?$/.test(url.pathname)) url.pathname = `${url.pathname.replace(/\/+$/, '')}/_msearch`;
  return {
    url,
    init: {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/x-ndjson', ...authHeadersFor(source, url, ctx) },
      body: esSearchBody(source, fromMs, toMs),
    },
  };
}

/**
 * The `elasticsearch` datasource. Long ranges are split so that one request asks for at most
 * `ES_PAGE_BUCKETS` histogram buckets.
 *
 * @example
 * await elasticsearch.query({ panelUrl: 'http://grafana:3000/d/x',
 *   datasource: { type: 'elasticsearch', url: 'api/datasources/proxy/4', database: 'metrics-*' },
 *   targets: [{ refId: 'A', query: 'host:a', timeField: '@timestamp', metrics: [{ id: '1', type: 'avg', field: 'value' }],
 *     bucketAggs: [{ id: '2', type: 'date_histogram', field: '@timestamp', settings: { interval: '1m' } }] }] }, from, to, ctx);
 */
export const elasticsearch: Datasource = {
  async query(source, fromMs, toMs, ctx): Promise<FetchedSeries> {
    if (!(toMs > fromMs)) return EMPTY_SERIES();
    const target = targetOf(source);
    const { histogram } = bucketAggsOf(target);
    const step = intervalFor(target, histogram, fromMs, toMs).ms;
    const label = isDirectDatasourceUrl(source.datasource.url) ? 'Elasticsearch' : 'Grafana';
    const parts: Series[] = [];
    let name: string | undefined;
    for (const [from, to] of pageRanges(fromMs, toMs, step * ES_PAGE_BUCKETS)) {
      const { url, init } = esRequest(source, from, to, ctx);
      const body = await fetchWithTimeout(url, init, ctx, parseEsJson, label);
      const chosen = selectSeries(parseEsResponse(body, source, from, to), source.targets);
      if (!chosen) continue;
      name ??= chosen.name;
      parts.push(chosen.series);
    }
    return { ...concatPages(parts), ...(name !== undefined ? { name } : {}) };
  },
};
