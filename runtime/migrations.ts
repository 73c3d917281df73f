// Schema migrations: the ordered files sql/NNNN_name.sql, each applied once, in its own
// transaction, recorded in schema_migrations with the file's checksum. A pg advisory lock makes
// nodes that start at the same moment take turns; the second finds nothing left to do.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { Logger } from './log.ts';

/** The repository's migrations. */
export const SQL_DIR = fileURLToPath(new URL('../sql/', import.meta.url));

/** The advisory lock key of migrations (any constant; 'rt-migrations' as ASCII). */
const MIGRATION_LOCK_KEY = 0x72742d6d6967n;
/** Longest wait for the migration lock another process holds. */
const LOCK_WAIT_MS = 120_000;
/** How often a waiting migrator retries the lock. */
const LOCK_POLL_MS = 50;

const FILE_PATTERN = /^(\d{4})_[a-z0-9_]+\.sql$/;

export interface MigrationFile {
  /** The file name without .sql: 0001_journal. */
  readonly version: string;
  readonly file: string;
  readonly sql: string;
  /** sha256 of the file's bytes, hex. */
  readonly checksum: string;
}

export interface MigrationResult {
  /** Versions applied by this call, in order. */
  readonly applied: string[];
  /** Versions found already applied. */
  readonly alreadyApplied: string[];
}

export interface AppliedMigration {
  readonly version: string;
  readonly checksum: string;
  readonly appliedAt: Date;
}

export interface MigrationStatus {
  readonly applied: AppliedMigration[];
  /** Files not applied yet, in order. */
  readonly pending: string[];
  /** Applied versions whose file changed since (migrate refuses to run while there are any). */
  readonly changed: string[];
  /** Applied versions with no file here (a newer release migrated this database). */
  readonly unknown: string[];
}

/** A migration could not be read, verified or applied; the message names the file (and line). */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
  constructor(
    message: string,
    /** The migration file, when one is to blame. */
    readonly file?: string,
    /** 1-based line in that file, when PostgreSQL reported a position. */
    readonly line?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Applies every pending migration of `sqlDir`, in order. Refuses (before applying anything) when an
 * applied migration's file has changed. Running it again applies nothing.
 */
export async function migrate(pool: pg.Pool, sqlDir: string = SQL_DIR, options: { readonly log?: Logger } = {}): Promise<MigrationResult> {
  const files = await readMigrations(sqlDir);
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await acquireLock(client);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version    text        PRIMARY KEY,
        checksum   text        NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const applied = await appliedMigrations(client);
      assertUnchanged(files, applied);
      const unknown = [...applied.keys()].filter((version) => !files.some((f) => f.version === version));
      if (unknown.length > 0) options.log?.warn({ unknown, sqlDir }, 'database has migrations this release does not know (a newer release applied them)');
      const result: MigrationResult = { applied: [], alreadyApplied: [] };
      for (const file of files) {
        if (applied.has(file.version)) {
          result.alreadyApplied.push(file.version);
          continue;
        }
        const started = Date.now();
        await applyOne(client, file);
        options.log?.info({ version: file.version, ms: Date.now() - started }, 'migration applied');
        result.applied.push(file.version);
      }
      return result;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]).catch((error: Error) => {
        broken = error;
      });
    }
  } catch (error) {
    broken ??= error instanceof MigrationError ? undefined : (error as Error);
    throw error;
  } finally {
    // A client whose session broke (or still holds the lock) is destroyed, not reused.
    client.release(broken);
  }
}

/** What migrate would do, without changing anything (no lock, no table created). */
export async function migrationStatus(pool: pg.Pool, sqlDir: string = SQL_DIR): Promise<MigrationStatus> {
  const files = await readMigrations(sqlDir);
  const exists = await pool.query<{ found: string | null }>(`SELECT to_regclass('schema_migrations')::text AS found`);
  const applied = exists.rows[0]?.found == null ? new Map<string, AppliedMigration>() : await appliedMigrations(pool);
  return {
    applied: [...applied.values()],
    pending: files.filter((f) => !applied.has(f.version)).map((f) => f.version),
    changed: files.filter((f) => applied.has(f.version) && applied.get(f.version)?.checksum !== f.checksum).map((f) => f.version),
    unknown: [...applied.keys()].filter((version) => !files.some((f) => f.version === version)),
  };
}

/** The migration files of `sqlDir`, in order; other files (README.md) are ignored, a misnamed .sql is an error. */
export async function readMigrations(sqlDir: string): Promise<MigrationFile[]> {
  let names: string[];
  try {
    names = await readdir(sqlDir);
  } catch (error) {
    throw new MigrationError(`${sqlDir}: cannot read the migrations folder (${(error as NodeJS.ErrnoException).code ?? String(error)}); expected a folder of NNNN_name.sql files`);
  }
  const files: MigrationFile[] = [];
  const byNumber = new Map<string, string>();
  for (const name of names.filter((n) => n.endsWith('.sql')).sort()) {
    const file = path.join(sqlDir, name);
    const match = FILE_PATTERN.exec(name);
    if (match === null) throw new MigrationError(`${file}: migration file name "${name}" is not valid; expected NNNN_name.sql (four digits, lower-case name)`, file);
    const number = match[1];
    const twin = byNumber.get(number);
    if (twin !== undefined) throw new MigrationError(`${file}: migration number ${number} is also used by ${twin}; expected each number once`, file);
    byNumber.set(number, name);
    const bytes = await readFile(file);
    files.push({ version: name.slice(0, -'.sql'.length), file, sql: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') });
  }
  return files;
}

async function acquireLock(client: pg.PoolClient): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    const got = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [MIGRATION_LOCK_KEY.toString()]);
    if (got.rows[0]?.locked === true) return;
    if (Date.now() > deadline) {
      throw new MigrationError(`another process has held the migration lock (pg advisory lock ${MIGRATION_LOCK_KEY}) for over ${LOCK_WAIT_MS} ms; expected its migration to finish`);
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

async function appliedMigrations(db: pg.Pool | pg.PoolClient): Promise<Map<string, AppliedMigration>> {
  const rows = await db.query<{ version: string; checksum: string; applied_at: Date }>(
    'SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version',
  );
  return new Map(rows.rows.map((row) => [row.version, { version: row.version, checksum: row.checksum, appliedAt: row.applied_at }]));
}

function assertUnchanged(files: readonly MigrationFile[], applied: ReadonlyMap<string, AppliedMigration>): void {
  for (const file of files) {
    const done = applied.get(file.version);
    if (done === undefined || done.checksum === file.checksum) continue;
    throw new MigrationError(
      `${file.file}: changed after it was applied on ${done.appliedAt.toISOString()} (checksum ${done.checksum.slice(0, 12)}... then, ${file.checksum.slice(0, 12)}... now); ` +
        'expected applied migrations never to change: restore the file and put the change in a new migration',
      file.file,
    );
  }
}

async function applyOne(client: pg.PoolClient, file: MigrationFile): Promise<void> {
  await client.query('BEGIN');
  try {
    // One simple-protocol query: the file may hold many statements.
    await client.query(file.sql);
    await client.query('INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)', [file.version, file.checksum]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    const position = Number.parseInt((error as { position?: unknown }).position as string, 10);
    const line = Number.isInteger(position) && position > 0 ? lineAt(file.sql, position) : undefined;
    const where = line === undefined ? file.file : `${file.file}:${line}`;
    throw new MigrationError(`${where}: migration ${file.version} failed, nothing of it applied: ${(error as Error).message}`, file.file, line, { cause: error });
  }
}

/** The 1-based line of PostgreSQL's 1-based character `position` in `sql`. */
function lineAt(sql: string, position: number): number {
  let line = 1;
  let chars = 0;
  for (const ch of sql) {
    if (++chars >= position) break;
    if (ch === '\n') line++;
  }
  return line;
}
