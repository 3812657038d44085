import type { Series } from '../learn/detectors/types';

/** The datasource object the Grafana panel sends in `POST /anomalies` (shape of the seed API). */
export interface DatasourceSpec {
  type: string;
  url: string;
  method?: string;
  params?: Record<string, unknown>;
  data?: unknown;
}

/** Everything needed to query one unit's metric. */
export interface MetricSource {
  panelUrl: string;
  datasource: DatasourceSpec;
  targets: unknown[];
}

/** What a datasource needs from the host: network, credentials and limits. */
export interface FetchContext {
  fetch: typeof fetch;
  /** Grafana API key or service-account token, sent as `Authorization: Bearer`. */
  apiKey?: string;
  /** Per-request timeout in milliseconds. */
  timeoutMs: number;
}

export type DatasourceErrorKind =
  | 'unreachable'
  | 'timeout'
  | 'unauthorized'
  | 'bad_query'
  | 'bad_response'
  | 'unsupported';

/** A typed datasource failure whose message tells the user what to fix. */
export class DatasourceError extends Error {
  override name = 'DatasourceError';
  constructor(
    readonly kind: DatasourceErrorKind,
    message: string,
  ) {
    super(message);
  }
  /** Transient faults are worth retrying; the rest need a person to change something. */
  get transient(): boolean {
    return this.kind === 'unreachable' || this.kind === 'timeout';
  }
}

/** A fetched series; `name` says which one was used when the query returned several. */
export interface FetchedSeries extends Series {
  name?: string;
}

export interface Datasource {
  /** Returns the points with `fromMs <= t < toMs`, sorted by time (may be empty). */
  query(source: MetricSource, fromMs: number, toMs: number, ctx: FetchContext): Promise<FetchedSeries>;
}
