// `rt db` and the database part of `rt up`, as child processes: what an operator runs.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { freePort } from '../../runtime/free-port.ts';
import { SQL_DIR } from '../../runtime/migrations.ts';
import { startTestDatabase, type TestDatabase } from '../support/test-database.ts';

const RT = join(import.meta.dirname, '../../bin/rt.mjs');
const dir = mkdtempSync(join(tmpdir(), 'rt-db-cli-'));
chmodSync(dir, 0o755); // as root the embedded server runs as postgres, which must reach its folder
let db: TestDatabase;

beforeAll(async () => {
  db = await startTestDatabase({ migrate: false });
});

afterAll(async () => {
  await db?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs rt as a child process; env entries set to undefined are removed. */
function rt(args: string[], env: Record<string, string | undefined>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RT, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

function topology(name: string, persistence: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `cluster: ${name}
hosts:
  local: { address: 127.0.0.1 }
transport: { ipc_dir: ${join(dir, `${name}-ipc`)} }
persistence: ${persistence}
nodes:
  n1: { host: local, cores: [0], actors: [e, position] }
actors:
  e: { kind: echo }
  # persistent: rt up opens the database for this node
  position: { kind: position, options: { reconcile_every_ms: 600000 } }
`,
  );
  return file;
}

describe('rt db', () => {
  it('migrate applies every migration of DATABASE_URL and says which; again applies nothing; status lists them', async () => {
    const first = await rt(['db', 'migrate'], { DATABASE_URL: db.url });
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('applied 0001_journal\n');
    expect(first.stdout).toContain('applied 0002_trading_views\n');
    expect(first.stdout).toMatch(/postgres:\/\/rt:\*\*\*@127\.0\.0\.1:\d+\/rt: \d+ migrations applied, 0 already applied/);

    const second = await rt(['db', 'migrate'], { DATABASE_URL: db.url });
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/: 0 migrations applied, \d+ already applied/);

    const status = await rt(['db', 'status'], { DATABASE_URL: db.url });
    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(/^applied {2}0001_journal {2}\d{4}-\d\d-\d\dT/m);
    expect(status.stdout).toMatch(/: \d+ applied, 0 pending\n$/);
  });

  it.each([
    ['an unparsable DATABASE_URL', 'postgres//rt:hunter2@db/rt', 'rt db migrate: DATABASE_URL: "postgres//rt:***@db/rt" is not a URL; expected postgres://user:password@host:port/database'],
    ['a closed port', 'postgres://rt:hunter2@127.0.0.1:PORT/rt', 'rt db migrate: DATABASE_URL postgres://rt:***@127.0.0.1:PORT/rt: cannot connect to 127.0.0.1:PORT: connection refused (ECONNREFUSED)'],
  ])('migrate with %s exits 1 with the reason on stderr, password masked, no stack trace', async (_what, template, expected) => {
    const port = String(await freePort());
    const r = await rt(['db', 'migrate'], { DATABASE_URL: template.replaceAll('PORT', port) });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(expected.replaceAll('PORT', port));
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stdout).toBe('');
  });

  it('a migration changed after it was applied: migrate exits 1 naming the file, status exits 1 marking it', async () => {
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      await admin.query('CREATE DATABASE tampered');
    } finally {
      await admin.end();
    }
    const url = db.url.replace(/\/rt$/, '/tampered');
    expect((await rt(['db', 'migrate'], { DATABASE_URL: url })).status).toBe(0);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`UPDATE schema_migrations SET checksum = 'edited' WHERE version = '0001_journal'`);
    } finally {
      await client.end();
    }
    const migrated = await rt(['db', 'migrate'], { DATABASE_URL: url });
    expect(migrated.status).toBe(1);
    expect(migrated.stderr).toContain(`rt db migrate: ${join(SQL_DIR, '0001_journal.sql')}: changed after it was applied`);
    expect(migrated.stderr).not.toMatch(/^\s+at /m);
    const status = await rt(['db', 'status'], { DATABASE_URL: url });
    expect(status.status).toBe(1);
    expect(status.stdout).toMatch(/^applied {2}0001_journal {2}\S+ {2}CHANGED since it was applied$/m);
    expect(status.stderr).toContain('rt db status: 0001_journal changed after being applied');
  });

  it('a wrong action is a usage error (exit 2)', () => {
    const r = spawnSync(process.execPath, [RT, 'db', 'migrat'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('rt db: unknown action "migrat": expected migrate or status');
  });

  it('without DATABASE_URL starts the embedded server of the topology, migrates, and stops it again', async () => {
    const dataDir = join(dir, 'embedded-pg');
    const port = await freePort();
    const file = topology('dbembedded', `{ data_dir: ${dataDir}, port: ${port} }`);
    const r = await rt(['db', 'migrate', '--topology', file], { DATABASE_URL: undefined });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`rt db migrate: embedded PostgreSQL postgres://rt:***@127.0.0.1:${port}/rt (data ${dataDir})`);
    expect(r.stdout).toContain('applied 0001_journal');
    expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
  });
});

describe('rt up and its database', () => {
  it('a database that cannot be opened: exit 1, the reason on stderr, no node started', async () => {
    const blocker: Server = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const file = topology('upblocked', `{ data_dir: ${join(dir, 'blocked-pg')}, port: ${port} }`);
      const logs = join(dir, 'blocked-logs');
      const r = await rt(['up', '--topology', file, '--log-dir', logs], { DATABASE_URL: undefined });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`rt up: persistence.port: port ${port} on 127.0.0.1 is taken by another program`);
      expect(r.stderr).toContain('rt up: no node started');
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(existsSync(logs)).toBe(false);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('a bad DATABASE_URL: exit 1, the reason on stderr, no node started', async () => {
    const file = topology('upbadurl', '{}');
    const logs = join(dir, 'badurl-logs');
    const r = await rt(['up', '--topology', file, '--log-dir', logs], { DATABASE_URL: 'mysql://rt:hunter2@db/rt' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('rt up: DATABASE_URL: "mysql://rt:***@db/rt" has scheme mysql; expected postgres://user:password@host:port/database');
    expect(existsSync(logs)).toBe(false);
  });
});
