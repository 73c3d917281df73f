import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseError, maskUrl, openDatabase, parseDatabaseUrl } from '../../runtime/database.ts';
import { freePort } from '../../runtime/free-port.ts';
import { startTestDatabase, type TestDatabase } from '../support/test-database.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await startTestDatabase({ migrate: false });
});

afterAll(async () => {
  await db?.stop();
});

// Unused by the URL cases: openDatabase only starts the embedded server without a URL.
const EMBEDDED = { dataDir: '/nonexistent/never-used', port: 1 };

async function openError(url: string, extra: { connectTimeoutMs?: number } = {}): Promise<DatabaseError> {
  const error = await openDatabase({ url, ...EMBEDDED, ...extra }).then(
    async (opened) => {
      await opened.close();
      throw new Error('test bug: it opened');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DatabaseError);
  return error as DatabaseError;
}

describe('maskUrl', () => {
  it('replaces the password in the user info and in a password= parameter', () => {
    expect(maskUrl('postgres://rt:s3cret@db:5432/rt')).toBe('postgres://rt:***@db:5432/rt');
    expect(maskUrl('postgresql://u:p@ss:w@rd@db/rt?sslmode=require')).toBe('postgresql://u:***@db/rt?sslmode=require');
    expect(maskUrl('postgres://db/rt?user=u&password=pw&x=1')).toBe('postgres://db/rt?user=u&password=***&x=1');
    expect(maskUrl('postgres://only-user@db/rt')).toBe('postgres://only-user@db/rt');
    expect(maskUrl('not a url')).toBe('not a url');
  });
});

describe('parseDatabaseUrl', () => {
  it('reads host, port (default 5432), database and user', () => {
    expect(parseDatabaseUrl('postgresql://me:pw@db.example:6543/trading')).toEqual({ host: 'db.example', port: 6543, database: 'trading', user: 'me' });
    expect(parseDatabaseUrl('postgres://me:pw@db/trading').port).toBe(5432);
  });

  it.each([
    ['postgres//rt:hunter2@db/rt', 'is not a URL'],
    ['mysql://rt:hunter2@db/rt', 'has scheme mysql'],
    ['postgres://rt:hunter2@db', 'names no database'],
  ])('rejects %s naming DATABASE_URL and the expected form, password masked', (url, why) => {
    let error: unknown;
    try {
      parseDatabaseUrl(url);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DatabaseError);
    const message = (error as DatabaseError).message;
    expect(message).toMatch(/^DATABASE_URL: /);
    expect(message).toContain(why);
    expect(message).toContain('expected postgres://user:password@host:port/database');
    expect(message).not.toContain('hunter2');
    expect((error as DatabaseError).kind).toBe('bad-url');
  });
});

describe('openDatabase', () => {
  it('opens DATABASE_URL, applies the migrations, and prints the URL masked', async () => {
    const opened = await openDatabase({ url: db.url, ...EMBEDDED });
    try {
      expect(opened.embedded).toBe(false);
      expect(opened.url).toBe(db.url);
      expect(String(opened)).toBe(db.url.replace(':rt@', ':***@'));
      expect(JSON.stringify(opened)).not.toContain(':rt@');
      const tables = await opened.pool.query(`SELECT to_regclass('journal') AS journal, to_regclass('schema_migrations') AS migrations`);
      expect(tables.rows[0]).toEqual({ journal: 'journal', migrations: 'schema_migrations' });
    } finally {
      await opened.close();
    }
    await opened.close(); // idempotent
  });

  it('rejects an unparsable URL before connecting, password masked', async () => {
    const error = await openError('postgres://rt:hunter2@:5432/rt');
    expect(error.kind).toBe('bad-url');
    expect(error.message).toBe('DATABASE_URL: "postgres://rt:***@:5432/rt" is not a URL; expected postgres://user:password@host:port/database');
  });

  it('names DATABASE_URL (masked), host:port and ECONNREFUSED for a closed port', async () => {
    const port = await freePort();
    const error = await openError(`postgres://rt:hunter2@127.0.0.1:${port}/rt`);
    expect(error.kind).toBe('refused');
    expect(error.message).toBe(
      `DATABASE_URL postgres://rt:***@127.0.0.1:${port}/rt: cannot connect to 127.0.0.1:${port}: connection refused (ECONNREFUSED); expected a PostgreSQL server listening there`,
    );
  });

  it('names the user for a wrong password, password masked', async () => {
    const url = db.url.replace(':rt@', ':hunter2@');
    const error = await openError(url);
    expect(error.kind).toBe('auth');
    expect(error.message).toContain(`DATABASE_URL ${url.replace('hunter2', '***')}: cannot connect to 127.0.0.1:${db.port}: authentication failed for user rt`);
    expect(error.message).not.toContain('hunter2');
  });

  it('names a database that does not exist', async () => {
    const error = await openError(db.url.replace(/\/rt$/, '/missing'));
    expect(error.kind).toBe('no-database');
    expect(error.message).toContain('database missing does not exist (3D000)');
  });

  it('gives up after the connect timeout on a server that never answers', async () => {
    const silent: Server = createServer(() => {}); // accepts, says nothing
    const port = await freePort();
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    try {
      const error = await openError(`postgres://rt:hunter2@127.0.0.1:${port}/rt`, { connectTimeoutMs: 200 });
      expect(error.kind).toBe('timeout');
      expect(error.message).toContain(`cannot connect to 127.0.0.1:${port}: no answer within 200 ms`);
    } finally {
      silent.close();
      silent.unref();
    }
  });

  it('without a URL starts the embedded server under dataDir, and close() stops it', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'rt-open-embedded-'));
    await chmod(root, 0o755);
    try {
      const port = await freePort();
      const opened = await openDatabase({ url: '', dataDir: path.join(root, 'pg'), port });
      expect(opened.embedded).toBe(true);
      expect(opened.url).toBe(`postgres://rt:rt@127.0.0.1:${port}/rt`);
      expect((await opened.pool.query('SELECT count(*)::int AS n FROM schema_migrations')).rows[0].n).toBeGreaterThan(0);
      await opened.close();
      await expect(openDatabase({ url: opened.url, ...EMBEDDED, connectTimeoutMs: 1000 })).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
