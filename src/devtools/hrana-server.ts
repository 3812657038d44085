/**
 * Hrana-over-HTTP dev server — A DEV/TEST TOOL, NOT FOR PRODUCTION.
 *
 * workerd cannot open a SQLite file, so locally the Worker talks to libSQL over HTTP the same way it
 * talks to Turso or sqld in production. No sqld is packaged for our machines, so this speaks just enough
 * of Hrana v2 over HTTP (`POST /v2/pipeline`) for `@libsql/client` / `@libsql/client/web` and Drizzle:
 * execute, batch (with conditions), sequence, describe, store_sql, close_sql, close, get_autocommit.
 *
 * One `libsql` connection serves every stream. Transactions are serialised: a stream that leaves the
 * connection inside a transaction owns it (and keeps its baton) until COMMIT/ROLLBACK/close; other
 * streams' pipelines wait. An owner idle longer than `transactionTimeoutMs` is rolled back and its baton
 * expires. No auth, no TLS, no replication, no cursors (v3): bind it to loopback only.
 *
 * @example
 * const server = await startHranaServer({ file: '.dev/hastic.db', port: 0 });
 * const client = createClient({ url: server.url }); // @libsql/client or @libsql/client/web
 * await server.close();
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'libsql';

export interface HranaServerOptions {
  /** SQLite file (parent folders are created) or `:memory:`. */
  file: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  host?: string;
  /** An idle stream holding a transaction is rolled back after this long (default 10 s, like sqld). */
  transactionTimeoutMs?: number;
}

export interface HranaServer {
  /** `http://host:port`, usable as a libSQL URL. */
  url: string;
  close(): Promise<void>;
}

type HValue =
  | { type: 'null' }
  | { type: 'integer'; value: string }
  | { type: 'float'; value: number }
  | { type: 'text'; value: string }
  | { type: 'blob'; base64: string };
interface HStmt { sql?: string; sql_id?: number; args?: HValue[]; named_args?: { name: string; value: HValue }[]; want_rows?: boolean }
type HCond =
  | { type: 'ok' | 'error'; step: number }
  | { type: 'not'; cond: HCond }
  | { type: 'and' | 'or'; conds: HCond[] }
  | { type: 'is_autocommit' };
type HRequest =
  | { type: 'execute'; stmt: HStmt }
  | { type: 'batch'; batch: { steps: { condition?: HCond | null; stmt: HStmt }[] } }
  | { type: 'sequence' | 'describe'; sql?: string; sql_id?: number }
  | { type: 'store_sql'; sql_id: number; sql: string }
  | { type: 'close_sql'; sql_id: number }
  | { type: 'close' | 'get_autocommit' };
interface StmtResult { cols: { name: string; decltype: string | null }[]; rows: HValue[][]; affected_row_count: number; last_insert_rowid: string | null }
interface Stream { sqls: Map<number, string>; timer?: NodeJS.Timeout; closed: boolean }

const IDLE_STREAM_MS = 60_000;

/** An error answered at the HTTP level (the whole pipeline fails), like sqld does for a bad baton. */
class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

/** Starts the dev server. Resolves once it listens. */
export async function startHranaServer(options: HranaServerOptions): Promise<HranaServer> {
  const { file, port = 0, host = '127.0.0.1', transactionTimeoutMs = 10_000 } = options;
  if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true });
  const db = new Database(file, { timeout: 5 });
  db.exec('PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;');
  const totalChanges = db.prepare('SELECT total_changes()').raw(true).safeIntegers(true);
  const lastRowid = db.prepare('SELECT last_insert_rowid()').raw(true).safeIntegers(true);
  const scalar = (s: typeof totalChanges) => (s.get([]) as unknown as [bigint])[0];

  const batons = new Map<string, Stream>();
  let owner: Stream | null = null; // the stream whose transaction is open on the connection
  let waiters: (() => void)[] = [];

  const release = () => {
    owner = null;
    const wake = waiters;
    waiters = [];
    wake.forEach((w) => w());
  };
  const dropStream = (s: Stream) => {
    s.closed = true;
    clearTimeout(s.timer);
    if (owner === s) {
      if (db.inTransaction) db.exec('ROLLBACK');
      release();
    }
  };

  const sqlOf = (s: Stream, r: { sql?: string; sql_id?: number }): string => {
    if (r.sql != null) return r.sql;
    const sql = r.sql_id != null ? s.sqls.get(r.sql_id) : undefined;
    if (sql === undefined) throw Object.assign(new Error(`SQL text not found (sql_id ${r.sql_id})`), { code: 'SQL_NOT_FOUND' });
    return sql;
  };

  const execute = (s: Stream, stmt: HStmt): StmtResult => {
    const prepared = db.prepare(sqlOf(s, stmt));
    const named = stmt.named_args ?? [];
    if (named.length > 0 && (stmt.args?.length ?? 0) > 0) throw new Error('Mixing positional and named arguments is not supported by this dev server');
    // libsql binds named parameters by their bare name (a `:name` key would silently bind NULL).
    const params = named.length > 0
      ? Object.fromEntries(named.map((a) => [a.name.replace(/^[:@$]/, ''), decodeValue(a.value)]))
      : (stmt.args ?? []).map(decodeValue);
    const before = scalar(totalChanges);
    let cols: StmtResult['cols'] = [];
    let rows: HValue[][] = [];
    if (prepared.reader) {
      prepared.raw(true).safeIntegers(true);
      cols = prepared.columns().map((c) => ({ name: c.name, decltype: c.type ?? null }));
      const all = prepared.all(params) as unknown as unknown[][];
      if (stmt.want_rows !== false) rows = all.map((row) => row.map(encodeValue));
    } else {
      prepared.run(params);
    }
    // total_changes() also counts DDL as 0 and RETURNING rows correctly, where run().changes is stale.
    const affected = Number(scalar(totalChanges) - before);
    return { cols, rows, affected_row_count: affected, last_insert_rowid: affected > 0 ? String(scalar(lastRowid)) : null };
  };

  const evalCond = (c: HCond, results: unknown[], errors: unknown[]): boolean => {
    switch (c.type) {
      case 'ok': return results[c.step] != null;
      case 'error': return errors[c.step] != null;
      case 'not': return !evalCond(c.cond, results, errors);
      case 'and': return c.conds.every((x) => evalCond(x, results, errors));
      case 'or': return c.conds.some((x) => evalCond(x, results, errors));
      case 'is_autocommit': return !db.inTransaction;
      default: throw new Error(`Unknown batch condition ${(c as { type: string }).type}`);
    }
  };

  const handleRequest = (s: Stream, req: HRequest): object => {
    if (s.closed) throw Object.assign(new Error('Stream is closed'), { code: 'STREAM_CLOSED' });
    switch (req.type) {
      case 'execute': return { type: 'execute', result: execute(s, req.stmt) };
      case 'batch': {
        const results: (StmtResult | null)[] = [];
        const errors: (object | null)[] = [];
        req.batch.steps.forEach((step, i) => {
          results[i] = errors[i] = null;
          if (step.condition && !evalCond(step.condition, results, errors)) return;
          try { results[i] = execute(s, step.stmt); } catch (e) { errors[i] = toError(e); }
        });
        return { type: 'batch', result: { step_results: results, step_errors: errors } };
      }
      case 'sequence': db.exec(sqlOf(s, req)); return { type: 'sequence' };
      case 'describe': return { type: 'describe', result: describe(db, sqlOf(s, req)) };
      case 'store_sql': s.sqls.set(req.sql_id, req.sql); return { type: 'store_sql' };
      case 'close_sql': s.sqls.delete(req.sql_id); return { type: 'close_sql' };
      case 'get_autocommit': return { type: 'get_autocommit', is_autocommit: !db.inTransaction };
      case 'close': dropStream(s); return { type: 'close' };
      default: throw Object.assign(new Error(`Unknown request type ${(req as { type: string }).type}`), { code: 'UNKNOWN_REQUEST' });
    }
  };

  const pipeline = async (body: { baton?: string | null; requests?: HRequest[] }) => {
    if (!Array.isArray(body.requests)) throw new HttpError(400, 'Body must be {"baton"?, "requests": [...]}');
    let stream: Stream | undefined;
    if (body.baton) {
      stream = batons.get(body.baton);
      if (!stream) throw new HttpError(400, 'Unknown or expired baton (stream closed, or its transaction was rolled back after a timeout)');
      batons.delete(body.baton);
    } else {
      stream = { sqls: new Map(), closed: false };
    }
    clearTimeout(stream.timer);
    while (owner !== null && owner !== stream) await new Promise<void>((r) => waiters.push(r)); // one writer at a time
    // From here to the end everything is synchronous, so no other pipeline can interleave.
    const results = body.requests.map((req) => {
      try { return { type: 'ok', response: handleRequest(stream, req) }; } catch (e) { return { type: 'error', error: toError(e) }; }
    });
    if (stream.closed) return { baton: null, base_url: null, results };
    if (db.inTransaction) owner = stream;
    else if (owner === stream) release();
    const baton = randomUUID();
    batons.set(baton, stream);
    const s = stream;
    s.timer = setTimeout(() => { batons.delete(baton); dropStream(s); }, owner === s ? transactionTimeoutMs : IDLE_STREAM_MS);
    s.timer.unref();
    return { baton, base_url: null, results };
  };

  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown, type = 'application/json') => {
      // Exactly `application/json` (no charset): the Hrana client only parses error bodies then.
      res.writeHead(status, { 'content-type': type });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '');
    if (req.method === 'GET' && (path === '/v2' || path === '/health' || path === '')) return send(200, '', 'text/plain');
    if (req.method === 'GET' && path === '/version') return send(200, 'hastic-hrana-dev (Hrana v2 over HTTP)', 'text/plain');
    if (req.method !== 'POST' || path !== '/v2/pipeline') return send(404, `Not found: ${req.method} ${path}`, 'text/plain');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Parameters<typeof pipeline>[0];
      try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { return send(400, { message: 'Body is not valid JSON' }); }
      pipeline(body).then(
        (out) => send(200, out),
        (e) => send(e instanceof HttpError ? e.status : 500, { message: e instanceof Error ? e.message : String(e) }),
      );
    });
  });

  await new Promise<void>((ok, fail) => { server.once('error', fail); server.listen(port, host, ok); });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    async close() {
      for (const s of batons.values()) dropStream(s);
      batons.clear();
      release();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      db.close();
    },
  };
}

function decodeValue(v: HValue | null | undefined): unknown {
  switch (v?.type) {
    case undefined: case 'null': return null;
    case 'integer': return BigInt(v.value);
    case 'float': return Number(v.value);
    case 'text': return v.value;
    case 'blob': return Buffer.from(v.base64, 'base64');
    default: throw new Error(`Unknown value type ${(v as { type: string }).type}`);
  }
}

function encodeValue(v: unknown): HValue {
  if (v === null || v === undefined) return { type: 'null' };
  if (typeof v === 'bigint') return { type: 'integer', value: v.toString() };
  if (typeof v === 'number') return { type: 'float', value: v };
  if (typeof v === 'string') return { type: 'text', value: v };
  if (v instanceof Uint8Array) return { type: 'blob', base64: Buffer.from(v).toString('base64') };
  return { type: 'text', value: String(v) };
}

function toError(e: unknown): { message: string; code: string } {
  const err = e as { message?: string; code?: unknown };
  return { message: err?.message ?? String(e), code: typeof err?.code === 'string' ? err.code : 'SQLITE_ERROR' };
}

/** Best effort: libsql does not expose parameter metadata, so parameters are scanned from the text. */
function describe(db: Database.Database, sql: string) {
  const stmt = db.prepare(sql);
  const bare = sql.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\//g, '');
  const params = [...bare.matchAll(/\?\d*|[:@$][A-Za-z_]\w*/g)].map((m) => ({ name: m[0] === '?' ? null : m[0] }));
  return {
    params,
    cols: stmt.reader ? stmt.columns().map((c) => ({ name: c.name, decltype: c.type ?? null })) : [],
    is_explain: /^\s*explain\b/i.test(sql),
    is_readonly: /^\s*(select|explain|with\s[\s\S]*\bselect\b(?![\s\S]*\b(insert|update|delete)\b))/i.test(sql) && !/\breturning\b/i.test(sql),
  };
}

// `npm run hrana -- --file data/dev.db --port 8080`
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({ options: { file: { type: 'string', default: 'data/dev.db' }, port: { type: 'string', default: '8080' }, host: { type: 'string', default: '127.0.0.1' } } });
  const server = await startHranaServer({ file: values.file!, port: Number(values.port), host: values.host });
  console.log(`Hrana dev server (NOT for production) on ${server.url} — file ${values.file}`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
