import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, MigrationError, migrationStatus, readMigrations, SQL_DIR } from '../../runtime/migrations.ts';
import { startTestDatabase, type TestDatabase } from '../support/test-database.ts';

let db: TestDatabase;
let pool: pg.Pool;
const folders: string[] = [];

beforeAll(async () => {
  db = await startTestDatabase({ migrate: false });
  pool = quiet(new pg.Pool({ connectionString: db.url, max: 4 }));
});

afterAll(async () => {
  await pool?.end();
  await db?.stop();
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

/** pool.end() does not wait for its connections to close: one still closing when the server stops reports 57P01 here. */
function quiet(p: pg.Pool): pg.Pool {
  p.on('error', () => {});
  return p;
}

/** A fresh database on the test server, so each test starts from empty. */
async function freshDatabase(name: string): Promise<pg.Pool> {
  await pool.query(`CREATE DATABASE ${name}`);
  return quiet(new pg.Pool({ connectionString: db.url.replace(/\/rt$/, `/${name}`), max: 4 }));
}

async function sqlDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rt-sql-'));
  folders.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

async function schemaOf(p: pg.Pool): Promise<unknown> {
  const columns = await p.query(
    `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
     WHERE table_schema = 'public' ORDER BY table_name, column_name`,
  );
  const indexes = await p.query(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`);
  return { columns: columns.rows, indexes: indexes.rows };
}

describe('migrate', () => {
  it('applies every file from empty, and applying again applies nothing and leaves the schema identical', async () => {
    const target = await freshDatabase('from_empty');
    try {
      const versions = (await readMigrations(SQL_DIR)).map((f) => f.version);
      expect(versions).toContain('0001_journal');
      const first = await migrate(target);
      expect(first).toEqual({ applied: versions, alreadyApplied: [] });
      const before = await schemaOf(target);
      const tables = await target.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`);
      expect(tables.rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['journal', 'snapshots', 'orders', 'fills', 'positions', 'risk_state', 'schema_migrations']));

      const second = await migrate(target);
      expect(second).toEqual({ applied: [], alreadyApplied: versions });
      expect(await schemaOf(target)).toEqual(before);
      const status = await migrationStatus(target);
      expect(status.pending).toEqual([]);
      expect(status.applied.map((a) => a.version)).toEqual(versions);
    } finally {
      await target.end();
    }
  });

  it('is safe when two processes migrate at once: each migration is applied exactly once', async () => {
    const target = await freshDatabase('concurrent');
    const other = quiet(new pg.Pool({ connectionString: db.url.replace(/\/rt$/, '/concurrent'), max: 2 }));
    try {
      const [a, b] = await Promise.all([migrate(target), migrate(other)]);
      const versions = (await readMigrations(SQL_DIR)).map((f) => f.version);
      expect([...a.applied, ...b.applied].sort()).toEqual(versions);
      for (const result of [a, b]) expect([...result.applied, ...result.alreadyApplied].sort()).toEqual(versions);
      const rows = await target.query('SELECT count(*)::int AS n FROM schema_migrations');
      expect(rows.rows[0].n).toBe(versions.length);
    } finally {
      await other.end();
      await target.end();
    }
  });

  it('status of an empty database lists every file pending and creates nothing', async () => {
    const target = await freshDatabase('status_only');
    try {
      const status = await migrationStatus(target);
      expect(status.applied).toEqual([]);
      expect(status.pending).toEqual((await readMigrations(SQL_DIR)).map((f) => f.version));
      const exists = await target.query(`SELECT to_regclass('schema_migrations') AS t`);
      expect(exists.rows[0].t).toBeNull();
    } finally {
      await target.end();
    }
  });

  it('refuses an applied migration whose file changed, naming the file, and applies nothing', async () => {
    const dir = await sqlDir({ '0001_a.sql': 'CREATE TABLE a (id int);\n' });
    const target = await freshDatabase('changed');
    try {
      await migrate(target, dir);
      await writeFile(path.join(dir, '0001_a.sql'), 'CREATE TABLE a (id bigint);\n');
      await writeFile(path.join(dir, '0002_b.sql'), 'CREATE TABLE b (id int);\n');
      const error = await migrate(target, dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as MigrationError).message).toContain(path.join(dir, '0001_a.sql'));
      expect((error as MigrationError).message).toMatch(/changed after it was applied/);
      expect((error as MigrationError).file).toBe(path.join(dir, '0001_a.sql'));
      const b = await target.query(`SELECT to_regclass('b') AS t`);
      expect(b.rows[0].t).toBeNull();
      expect((await migrationStatus(target, dir)).changed).toEqual(['0001_a']);
    } finally {
      await target.end();
    }
  });

  it('fails a broken migration naming the file and line, leaving no partial table', async () => {
    const broken = ['-- a good start', 'CREATE TABLE half_done (id int);', '', 'CREATE TABLE nope (id int,', '  name txet NOT NULL', ');', ''].join('\n');
    const dir = await sqlDir({ '0001_good.sql': 'CREATE TABLE good (id int);\n', '0002_broken.sql': broken });
    const target = await freshDatabase('broken');
    try {
      const error = await migrate(target, dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      const file = path.join(dir, '0002_broken.sql');
      expect((error as MigrationError).message).toContain(`${file}:5:`);
      expect((error as MigrationError).message).toMatch(/type "txet" does not exist/);
      expect((error as MigrationError).line).toBe(5);
      const tables = await target.query(`SELECT to_regclass('good') AS good, to_regclass('half_done') AS half`);
      expect(tables.rows[0]).toEqual({ good: 'good', half: null });
      expect((await migrationStatus(target, dir)).pending).toEqual(['0002_broken']);
    } finally {
      await target.end();
    }
  });

  it('rejects a misnamed migration file, naming it and the expected form', async () => {
    const dir = await sqlDir({ '1_first.sql': 'SELECT 1;' });
    await expect(migrate(pool, dir)).rejects.toThrow(`${path.join(dir, '1_first.sql')}: migration file name "1_first.sql" is not valid; expected NNNN_name.sql`);
  });

  it('applies the repository migrations unchanged from a copy (the checksum is of the bytes)', async () => {
    const dir = await sqlDir({});
    for (const f of await readMigrations(SQL_DIR)) await copyFile(f.file, path.join(dir, path.basename(f.file)));
    const target = await freshDatabase('copied');
    try {
      await migrate(target);
      expect((await migrate(target, dir)).applied).toEqual([]);
    } finally {
      await target.end();
    }
  });
});
