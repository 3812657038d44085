/**
 * Parse throughput per datasource: one answer of N points (default 1M) in each source's real wire
 * format, timed from the body text to the candidate series (typed arrays), best of R runs.
 * Prometheus and Graphite are included when their adapters exist (imported dynamically).
 *
 * `npm run bench -- datasource-parse [points] [runs] [source]` prints one JSON line, then a table.
 */
import { parseEsJson, parseEsResponse } from '../src/datasources/elasticsearch';
import { parseGrafanaFrames, parseGrafanaJson } from '../src/datasources/grafana-query';
import { parseInfluxJson, parseInfluxSeries } from '../src/datasources/influxdb';
import { parseFluxCsv } from '../src/datasources/influxdb-flux';
import type { MetricSource } from '../src/datasources/types';

const T0 = Date.UTC(2024, 0, 1);
const STEP = 10_000;

interface Case {
  source: string;
  format: string;
  build(n: number): string;
  parse(text: string): number;
}

/** A value with a realistic mix: decimals, integers, a null now and then. */
const value = (i: number) => (i % 97 === 0 ? null : i % 5 === 0 ? i % 1000 : Math.round(Math.sin(i / 50) * 1e4) / 100);

function joinBuilt(n: number, item: (i: number) => string): string {
  const parts = new Array<string>(n);
  for (let i = 0; i < n; i++) parts[i] = item(i);
  return parts.join(',');
}

const points = (list: Array<{ series: { t: Float64Array } }>) => list.reduce((m, c) => m + c.series.t.length, 0);

const ES_SOURCE: MetricSource = {
  panelUrl: 'http://g/d/x',
  datasource: { type: 'elasticsearch', url: 'api/datasources/proxy/1', database: 'm' } as MetricSource['datasource'],
  targets: [{ refId: 'A', metrics: [{ id: '1', type: 'avg', field: 'v' }], bucketAggs: [{ id: '2', type: 'date_histogram', field: '@timestamp', settings: { interval: '10s' } }] }],
};

const CASES: Case[] = [
  {
    source: 'influxql',
    format: 'JSON rows',
    build: (n) => `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","value"],"values":[${joinBuilt(n, (i) => `[${T0 + i * STEP},${value(i)}]`)}]}]}]}`,
    parse: (text) => points(parseInfluxSeries(parseInfluxJson(text))),
  },
  {
    source: 'flux',
    format: 'annotated CSV',
    build: (n) => {
      const head = '#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string\r\n#group,false,false,true,true,false,false,true,true,true\r\n#default,_result,,,,,,,,\r\n,result,table,_start,_stop,_time,_value,_field,_measurement,host\r\n';
      const start = new Date(T0).toISOString().replace('.000', '');
      const stop = new Date(T0 + n * STEP).toISOString().replace('.000', '');
      const rows = new Array<string>(n);
      for (let i = 0; i < n; i++) {
        const v = value(i);
        rows[i] = `,,0,${start},${stop},${new Date(T0 + i * STEP).toISOString().replace('.000', '')},${v === null ? '' : v},usage_user,cpu,a`;
      }
      return `${head}${rows.join('\r\n')}\r\n\r\n`;
    },
    parse: (text) => points(parseFluxCsv(text)),
  },
  {
    source: 'grafana (api/ds/query)',
    format: 'JSON data frames',
    build: (n) =>
      `{"results":{"A":{"status":200,"frames":[{"schema":{"refId":"A","fields":[{"name":"Time","type":"time","typeInfo":{"frame":"time.Time"}},{"name":"Value","type":"number","typeInfo":{"frame":"float64"},"labels":{"host":"a"}}]},"data":{"values":[[${joinBuilt(n, (i) => String(T0 + i * STEP))}],[${joinBuilt(n, (i) => String(value(i)))}]]}}]}}}`,
    parse: (text) => points(parseGrafanaFrames(parseGrafanaJson(text))),
  },
  {
    source: 'elasticsearch',
    format: 'JSON buckets',
    build: (n) =>
      `{"took":10,"responses":[{"took":10,"timed_out":false,"hits":{"total":{"value":${n},"relation":"eq"},"max_score":null,"hits":[]},"aggregations":{"2":{"buckets":[${joinBuilt(n, (i) => `{"key_as_string":"${T0 + i * STEP}","key":${T0 + i * STEP},"doc_count":3,"1":{"value":${value(i)}}}`)}]}},"status":200}]}`,
    parse: (text) => points(parseEsResponse(parseEsJson(text), ES_SOURCE)),
  },
];

async function optionalCases(): Promise<Case[]> {
  const out: Case[] = [];
  try {
    const p = (await import('../src/datasources/prometheus')) as {
      parsePrometheusJson(text: string): unknown;
      parsePrometheusResponse(body: unknown): Array<{ series: { t: Float64Array } }>;
    };
    out.push({
      source: 'prometheus',
      format: 'JSON matrix',
      build: (n) =>
        `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"cpu","host":"a"},"values":[${joinBuilt(n, (i) => `[${(T0 + i * STEP) / 1000},"${value(i) ?? 'NaN'}"]`)}]}]}}`,
      parse: (text) => points(p.parsePrometheusResponse(p.parsePrometheusJson(text))),
    });
  } catch {
    /* no Prometheus adapter yet */
  }
  try {
    const g = (await import('../src/datasources/graphite')) as {
      parseGraphiteJson(text: string): unknown;
      parseGraphiteResponse(body: unknown): Array<{ series: { t: Float64Array } }>;
    };
    out.push({
      source: 'graphite',
      format: 'JSON datapoints',
      build: (n) => `[{"target":"cpu.a","tags":{"name":"cpu.a"},"datapoints":[${joinBuilt(n, (i) => `[${value(i)},${(T0 + i * STEP) / 1000}]`)}]}]`,
      parse: (text) => points(g.parseGraphiteResponse(g.parseGraphiteJson(text))),
    });
  } catch {
    /* no Graphite adapter yet */
  }
  return out;
}

export default async function datasourceParse(args: string[]): Promise<void> {
  const n = Number(args[0] ?? 1_000_000);
  const runs = Number(args[1] ?? 5);
  const only = args[2];
  const rows: Array<{ source: string; format: string; points: number; mb: number; bestMs: number; pointsPerSec: number }> = [];
  for (const c of [...CASES, ...(await optionalCases())]) {
    if (only && !c.source.startsWith(only)) continue;
    // Decoded from bytes like a fetch body (`res.text()`): a flat string, not the rope `join` builds.
    const text = new TextDecoder().decode(new TextEncoder().encode(c.build(n)));
    let best = Infinity;
    let got = 0;
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      got = c.parse(text);
      best = Math.min(best, performance.now() - t0);
    }
    // An adapter may drop a point at an edge (e.g. a leading null); anything more is a parsing bug.
    if (got < n * 0.999) throw new Error(`${c.source}: parsed ${got} points, expected ${n}`);
    rows.push({ source: c.source, format: c.format, points: got, mb: Math.round(text.length / 1e5) / 10, bestMs: Math.round(best), pointsPerSec: Math.round(n / (best / 1000)) });
  }
  console.log(JSON.stringify({ bench: 'datasource-parse', points: n, runs, results: rows }));
  console.log('');
  console.log('source                   format             MB     best ms   points/s');
  for (const r of rows) {
    console.log(`${r.source.padEnd(24)} ${r.format.padEnd(18)} ${String(r.mb).padStart(6)} ${String(r.bestMs).padStart(9)} ${r.pointsPerSec.toLocaleString('en-US').padStart(12)}`);
  }
}
