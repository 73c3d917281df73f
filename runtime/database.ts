// The database a node (or `rt up`, `rt db`) uses: the server of DATABASE_URL, or else the
// embedded PostgreSQL under the topology's persistence.data_dir. Opening it checks the
// connection (bounded) and applies the migrations, so what is open is ready for the journal.
import { inspect } from 'node:util';
import pg from 'pg';
import { EmbeddedPostgresError, startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.ts';
import type { Logger } from './log.ts';
import { migrate, MigrationError, SQL_DIR } from './migrations.ts';

/** Longest wait for a TCP connection and the server's greeting. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** Longest wait, on close, for the pool's connections to be closed. */
const CLOSE_WAIT_MS = 2_000;
/** Connections a pool holds at most, unless told. */
export const POOL_MAX_DEFAULT = 10;

const EXPECTED_URL = 'expected postgres://user:password@host:port/database';

export interface DatabaseOptions {
  /** DATABASE_URL; unset or empty: the embedded server under dataDir/port. */
  readonly url?: string;
  /** The embedded server's data folder (persistence.data_dir). */
  readonly dataDir: string;
  /** The embedded server's port (persistence.port). */
  readonly port: number;
  /** Most connections of the pool. Default POOL_MAX_DEFAULT. */
  readonly poolMax?: number;
  /** Default CONNECT_TIMEOUT_MS. */
  readonly connectTimeoutMs?: number;
  /** Apply the migrations of sqlDir. Default true. */
  readonly migrate?: boolean;
  /** Default the repository's sql/. */
  readonly sqlDir?: string;
  /** Reported to the server as application_name (pg_stat_activity). Default 'rt'. */
  readonly applicationName?: string;
  readonly log?: Logger;
}

export interface Database {
  /** The connection URL with its password: for child processes' DATABASE_URL. Print maskUrl(url) (toString does). */
  readonly url: string;
  readonly pool: pg.Pool;
  /** true: the embedded server (started by this call or already running); false: DATABASE_URL. */
  readonly embedded: boolean;
  /** Ends the pool, then stops the embedded server if this call started it. Idempotent. */
  close(): Promise<void>;
}

export type DatabaseErrorKind = 'bad-url' | 'refused' | 'timeout' | 'auth' | 'no-database' | 'unreachable' | 'embedded' | 'migration';

/** The database could not be opened; `message` is for the operator (password masked), `kind` for programs. */
export class DatabaseError extends Error {
  override readonly name = 'DatabaseError';
  constructor(
    readonly kind: DatabaseErrorKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The URL with its password (in the user info or a password= parameter) replaced by ***. */
export function maskUrl(url: string): string {
  const userInfo = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i.exec(url);
  let masked: string;
  if (userInfo !== null) {
    const colon = userInfo[2].indexOf(':');
    masked = colon < 0 ? url : `${userInfo[1]}${userInfo[2].slice(0, colon)}:***@${url.slice(userInfo[0].length)}`;
  } else {
    // Not scheme://...: still hide anything shaped like user:password@.
    masked = url.replace(/([^\s:/@]+):[^\s@]*@/, '$1:***@');
  }
  return masked.replace(/([?&]password=)[^&#]*/gi, '$1***');
}

export interface DatabaseAddress {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

/** Checks a DATABASE_URL's shape; the error names DATABASE_URL, the masked value and the expected form. */
export function parseDatabaseUrl(url: string): DatabaseAddress {
  const bad = (why: string): DatabaseError => new DatabaseError('bad-url', `DATABASE_URL: ${JSON.stringify(maskUrl(url))} ${why}; ${EXPECTED_URL}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad('is not a URL');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') throw bad(`has scheme ${parsed.protocol.slice(0, -1)}`);
  if (parsed.hostname === '') throw bad('names no host');
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) throw bad('names no database');
  const port = parsed.port === '' ? 5432 : Number(parsed.port);
  return { host: parsed.hostname, port, database, user: decodeURIComponent(parsed.username) };
}

/**
 * Opens the database: DATABASE_URL's server, or the embedded one (started here if it is not
 * running). Checks the connection within connectTimeoutMs, then applies the migrations.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const given = options.url === undefined || options.url === '' ? undefined : options.url;
  const log = options.log;
  let server: EmbeddedPostgres | undefined;
  let url: string;
  let source: string;
  if (given !== undefined) {
    parseDatabaseUrl(given);
    url = given;
    source = `DATABASE_URL ${maskUrl(given)}`;
  } else {
    try {
      server = await startEmbeddedPostgres({ dataDir: options.dataDir, port: options.port, ...(log === undefined ? {} : { log }) });
    } catch (error) {
      if (error instanceof EmbeddedPostgresError) throw new DatabaseError('embedded', error.message, { cause: error });
      throw error;
    }
    url = server.url;
    source = `embedded PostgreSQL ${maskUrl(url)} (persistence.data_dir ${server.dataDir})`;
  }
  const address = parseDatabaseUrl(url);
  const connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolMax ?? POOL_MAX_DEFAULT,
    connectionTimeoutMillis: connectTimeoutMs,
    application_name: options.applicationName ?? 'rt',
  });
  // An idle connection the server drops (restart, failover) is reported here; without a listener
  // it would crash the process. The next query gets a fresh connection.
  pool.on('error', (error) => log?.warn({ err: error.message, database: maskUrl(url) }, 'idle database connection lost'));
  const live = new Set<pg.PoolClient>();
  pool.on('connect', (client) => live.add(client));
  pool.on('remove', (client) => live.delete(client));

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      try {
        await pool.end();
        // pool.end() resolves before its connections have closed; stopping the server under them
        // would fail them with 57P01. Wait (bounded) for each to be gone.
        const deadline = Date.now() + CLOSE_WAIT_MS;
        while (live.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      } finally {
        await server?.stop();
      }
    })();
    return closed;
  };
  try {
    await checkConnection(pool, source, address, connectTimeoutMs);
    if (options.migrate ?? true) {
      try {
        await migrate(pool, options.sqlDir ?? SQL_DIR, log === undefined ? {} : { log });
      } catch (error) {
        if (error instanceof MigrationError) throw new DatabaseError('migration', `${source}: ${error.message}`, { cause: error });
        throw error;
      }
    }
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  log?.info({ database: maskUrl(url), embedded: server !== undefined, owned: server?.owned ?? false }, 'database open');
  const masked = maskUrl(url);
  return {
    url,
    pool,
    embedded: server !== undefined,
    close,
    toString: () => masked,
    toJSON: () => ({ url: masked, embedded: server !== undefined }),
    [inspect.custom]: () => `Database { url: '${masked}', embedded: ${server !== undefined} }`,
  } as Database;
}

async function checkConnection(pool: pg.Pool, source: string, address: DatabaseAddress, connectTimeoutMs: number): Promise<void> {
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    const { kind, why } = diagnose(error, address, connectTimeoutMs);
    throw new DatabaseError(kind, `${source}: cannot connect to ${address.host}:${address.port}: ${why}`, { cause: error });
  }
}

function diagnose(error: unknown, address: DatabaseAddress, connectTimeoutMs: number): { kind: DatabaseErrorKind; why: string } {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const errors = (error as { errors?: unknown }).errors; // AggregateError: localhost resolves to ::1 and 127.0.0.1
  const codes = Array.isArray(errors) ? errors.map((e) => (e as { code?: unknown }).code) : [code];
  if (codes.includes('ECONNREFUSED')) return { kind: 'refused', why: 'connection refused (ECONNREFUSED); expected a PostgreSQL server listening there' };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { kind: 'unreachable', why: `host ${address.host} not found (${code}); expected a resolvable host name` };
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return { kind: 'unreachable', why: `no route to the host (${code})` };
  if (code === '28P01' || code === '28000') {
    return { kind: 'auth', why: `authentication failed for user ${address.user} (${code} ${message}); expected the user and password of DATABASE_URL to be valid` };
  }
  if (code === '3D000') return { kind: 'no-database', why: `database ${address.database} does not exist (${code}); expected it created (CREATE DATABASE ${address.database})` };
  if (/timeout/i.test(message)) return { kind: 'timeout', why: `no answer within ${connectTimeoutMs} ms (connect timeout); expected a PostgreSQL server reachable there` };
  return { kind: 'unreachable', why: `${typeof code === 'string' ? `${code} ` : ''}${message}` };
}
