// A real PostgreSQL for a test: its own temporary data folder and a free port, fsync off (a test
// database does not survive the machine crashing, and needs not). stop() stops it and removes the folder.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../runtime/embedded-postgres.ts';
import { freePort } from '../../runtime/free-port.ts';
import { migrate, SQL_DIR } from '../../runtime/migrations.ts';

export interface TestDatabase {
  /** postgres://rt:rt@127.0.0.1:<port>/rt */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Apply the migrations of `sqlDir` before returning. Default true. */
  readonly migrate?: boolean;
  /** Default the repository's sql/. */
  readonly sqlDir?: string;
}

export async function startTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'rt-test-pg-'));
  // As root the server runs as the user postgres, which must be able to reach its data folder.
  await chmod(root, 0o755);
  const dataDir = path.join(root, 'data');
  try {
    const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), durable: false });
    const stop = async (): Promise<void> => {
      await server.stop();
      await rm(root, { recursive: true, force: true });
    };
    if (options.migrate ?? true) {
      const pool = new pg.Pool({ connectionString: server.url, max: 1 });
      pool.on('error', () => {}); // a connection still closing if the caller stops the server at once
      try {
        await migrate(pool, options.sqlDir ?? SQL_DIR);
      } catch (error) {
        await stop();
        throw error;
      } finally {
        await pool.end();
      }
    }
    return { url: server.url, port: server.port, dataDir, stop };
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}
