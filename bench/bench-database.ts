// The PostgreSQL a persistence benchmark measures against: the server of DATABASE_URL, or else a
// durable embedded server (fsync on, synchronous_commit on) in a temporary data folder on a free
// port, its processes pinned with taskset, removed again by stop(). The settings that decide what a
// commit costs are read back from the server, so a result file says what it was measured on.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { maskUrl } from '../runtime/database.ts';
import { startEmbeddedPostgres } from '../runtime/embedded-postgres.ts';
import { freePort } from '../runtime/free-port.ts';
import { migrate, SQL_DIR } from '../runtime/migrations.ts';
import { processTreeCpuMs } from './process-cpu.ts';

/** Server settings that decide the cost of a commit; every one is reported with the figures. */
const SETTINGS = ['server_version', 'fsync', 'synchronous_commit', 'wal_sync_method', 'full_page_writes', 'shared_buffers', 'wal_buffers', 'commit_delay', 'max_wal_size'] as const;
export type ServerSettings = Record<(typeof SETTINGS)[number], string>;

export interface BenchDatabase {
  /** postgres://... (password in it: print `source`, not this) */
  readonly url: string;
  /** What was measured against, password masked: "embedded PostgreSQL 18.x on 127.0.0.1:5xxxx, data in /tmp/..." */
  readonly source: string;
  readonly embedded: boolean;
  readonly settings: ServerSettings;
  /** The server's CPU list (taskset -c), or undefined when not pinned (DATABASE_URL). */
  readonly cores: string | undefined;
  /** The pids of the server's processes now (postmaster and children); empty for DATABASE_URL. */
  serverPids(): number[];
  /** CPU time the server has used so far (all its processes, exited backends too), ms; undefined for DATABASE_URL. */
  serverCpuMs(): number | undefined;
  stop(): Promise<void>;
}

export interface BenchDatabaseOptions {
  /** DATABASE_URL; unset or empty: an embedded server. */
  readonly url?: string;
  /** taskset -c list for the embedded server's processes. */
  readonly cores: string;
}

export async function startBenchDatabase(options: BenchDatabaseOptions): Promise<BenchDatabase> {
  if (options.url !== undefined && options.url !== '') return external(options.url);
  const root = await mkdtemp(path.join(os.tmpdir(), 'rt-bench-pg-'));
  // As root the server runs as the user postgres, which must be able to reach its data folder.
  await chmod(root, 0o755);
  const dataDir = path.join(root, 'data');
  const remove = (): Promise<void> => rm(root, { recursive: true, force: true });
  let server: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  try {
    server = await startEmbeddedPostgres({ dataDir, port: await freePort(), durable: true });
  } catch (error) {
    await remove();
    throw error;
  }
  const stop = async (): Promise<void> => {
    await server.stop();
    await remove();
  };
  try {
    const postmaster = postmasterPid(dataDir);
    // Children forked later (one backend per connection) inherit the postmaster's affinity.
    for (const pid of [postmaster, ...childrenOf(postmaster)]) execFileSync('taskset', ['-a', '-p', '-c', options.cores, String(pid)], { stdio: 'ignore' });
    const settings = await prepare(server.url);
    return {
      url: server.url,
      source: `embedded PostgreSQL ${settings.server_version} on 127.0.0.1:${server.port}, durable, data in ${dataDir} (${filesystemOf(root)})`,
      embedded: true,
      settings,
      cores: options.cores,
      serverPids: () => [postmaster, ...childrenOf(postmaster)],
      serverCpuMs: () => processTreeCpuMs(postmaster, childrenOf(postmaster)),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function external(url: string): Promise<BenchDatabase> {
  const settings = await prepare(url);
  return {
    url,
    source: `DATABASE_URL ${maskUrl(url)} (PostgreSQL ${settings.server_version}; not started or pinned by the bench)`,
    embedded: false,
    settings,
    cores: undefined,
    serverPids: () => [],
    serverCpuMs: () => undefined,
    stop: async () => {},
  };
}

/** Applies the migrations and reads the settings back. */
async function prepare(url: string): Promise<ServerSettings> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await migrate(pool, SQL_DIR);
    const settings = {} as ServerSettings;
    for (const name of SETTINGS) {
      const r = await pool.query<Record<string, string>>(`SHOW ${name}`);
      settings[name] = Object.values(r.rows[0] ?? {})[0] ?? '?';
    }
    return settings;
  } finally {
    await pool.end();
  }
}

function postmasterPid(dataDir: string): number {
  const pid = Number.parseInt(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n', 1)[0], 10);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${dataDir}/postmaster.pid: no pid on its first line; expected the running server's`);
  return pid;
}

function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 4 (ppid) follows the command name, which may hold spaces: count from the last ')'.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) out.push(Number(name));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

function filesystemOf(dir: string): string {
  try {
    return execFileSync('df', ['--output=fstype,source', dir], { encoding: 'utf8' }).trim().split('\n').at(-1)?.trim().replace(/\s+/, ' on ') ?? '?';
  } catch {
    return 'filesystem unknown';
  }
}
