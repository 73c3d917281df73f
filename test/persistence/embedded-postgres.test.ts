import { chmod, mkdtemp, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedPostgresError, startEmbeddedPostgres } from '../../runtime/embedded-postgres.ts';
import { freePort } from '../../runtime/free-port.ts';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'rt-embedded-'));
  await chmod(root, 0o755); // as root the server runs as postgres, which must reach the folder
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('startEmbeddedPostgres', () => {
  it('initialises a cluster, serves the database rt on 127.0.0.1, shares a running server (owned=false), stops, and starts again on its data', async () => {
    const dataDir = path.join(root, 'cluster');
    const port = await freePort();
    const first = await startEmbeddedPostgres({ dataDir, port, durable: false });
    let stopped = false;
    try {
      expect(first).toMatchObject({ url: `postgres://rt:rt@127.0.0.1:${port}/rt`, owned: true, port });
      await query(first.url, 'CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)');
      const settings = await query(first.url, `SELECT current_setting('listen_addresses') AS listen, current_database() AS db`);
      expect(settings.rows[0]).toEqual({ listen: '127.0.0.1', db: 'rt' });

      // Another port asked for: the running server on this folder is shared anyway.
      const second = await startEmbeddedPostgres({ dataDir, port: port + 1, durable: false });
      expect(second).toMatchObject({ url: first.url, owned: false, port });
      await second.stop(); // a no-op: the server is not its to stop
      expect((await query(first.url, 'SELECT 1 AS one')).rows[0].one).toBe(1);

      await first.stop();
      stopped = true;
      await expect(query(first.url, 'SELECT 1')).rejects.toThrow(/ECONNREFUSED/);

      const again = await startEmbeddedPostgres({ dataDir, port, durable: false });
      try {
        expect(again.owned).toBe(true);
        expect((await query(again.url, 'SELECT id FROM kept')).rows).toEqual([{ id: 42 }]);
      } finally {
        await again.stop();
      }
    } finally {
      if (!stopped) await first.stop();
    }
  });

  it('refuses a port taken by another program, naming the port and persistence.port', async () => {
    const blocker: Server = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const error = await startEmbeddedPostgres({ dataDir: path.join(root, 'blocked'), port, durable: false }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EmbeddedPostgresError);
      expect((error as Error).message).toContain(`persistence.port: port ${port} on 127.0.0.1 is taken by another program`);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('refuses a data folder that holds other files and no cluster, naming persistence.data_dir', async () => {
    const dataDir = path.join(root, 'not-a-cluster');
    await mkdir(dataDir);
    await writeFile(path.join(dataDir, 'notes.txt'), 'mine');
    await expect(startEmbeddedPostgres({ dataDir, port: await freePort(), durable: false })).rejects.toThrow(
      `persistence.data_dir: ${dataDir} is not empty and holds no PostgreSQL cluster (no PG_VERSION)`,
    );
  });

  it('creates missing folders above the data folder reachable (as root the server runs as postgres)', async () => {
    const dataDir = path.join(root, 'fresh', 'project', '.data', 'pg');
    const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), durable: false });
    await server.stop();
    expect((await stat(path.join(root, 'fresh', 'project', '.data'))).mode & 0o777).toBe(0o755);
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
  });

  if (process.getuid?.() !== 0) console.warn('SKIPPED the unreachable-folder test: it needs root (only as root does the server run as another user)');
  it.skipIf(process.getuid?.() !== 0)('as root, a folder above the data folder that postgres cannot pass is named, with the fix', async () => {
    const closed = path.join(root, 'closed');
    await mkdir(closed, { mode: 0o700 });
    await chmod(closed, 0o700);
    const dataDir = path.join(closed, 'pg');
    await expect(startEmbeddedPostgres({ dataDir, port: await freePort(), durable: false })).rejects.toThrow(
      `persistence.data_dir: the embedded PostgreSQL runs as the user postgres (this process is root), which cannot reach ${dataDir}: ${closed} is mode 700; expected others to be able to pass through it (chmod o+x ${closed})`,
    );
  });
});
