import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * A benchmark child: a TS file run through tsx under `taskset -c <cores>`, so the JS thread and every
 * thread it starts later (libuv pool, V8 workers, libzmq I/O) inherit the pinning. Parent and child
 * talk in stdout lines starting with `@bench `: `ready` once the child can be used, `result` once it
 * has measured, `error` if it failed. Other stdout lines are passed through to the parent's stderr.
 */

const LINE_PREFIX = '@bench ';
const READY_TIMEOUT_MS = 30_000;
const RESULT_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 5_000;
/** A child that outlives this is stuck; it exits on its own so a crashed parent leaves nothing behind. */
const CHILD_LIFETIME_MAX_MS = 600_000;

type MessageKind = 'ready' | 'result' | 'error';

interface Waiter {
  kind: MessageKind;
  resolve: (data: unknown) => void;
  reject: (error: Error) => void;
}

export interface PinnedProcessOptions {
  /** The TS entry file; a `file:` URL (e.g. `import.meta.url`) or a path. */
  file: URL | string;
  /** A `taskset -c` CPU list: "0", "1", "0,1". */
  cores: string;
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Names the child in forwarded output and error messages. */
  label?: string;
  /** Run inside this network namespace (`ip netns exec`): a simulated host. */
  netns?: string;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const execFileAsync = promisify(execFile);
// Resolved here, not by the child, so the child works from any cwd.
const TSX_LOADER = import.meta.resolve('tsx');

export class PinnedProcess {
  readonly label: string;
  readonly cores: string;
  readonly exited: Promise<ChildExit>;
  readonly #child: ChildProcess;
  readonly #inbox: { kind: MessageKind; data: unknown }[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #stderr_tail: string[] = [];
  #exit: ChildExit | undefined;

  private constructor(options: PinnedProcessOptions) {
    const file = options.file instanceof URL ? fileURLToPath(options.file) : options.file;
    this.label = options.label ?? file.split('/').slice(-2).join('/');
    this.cores = options.cores;
    const pinned = ['taskset', '-c', options.cores, process.execPath, '--import', TSX_LOADER, file, ...(options.args ?? [])];
    // `ip netns exec` and taskset both exec their command: the child's pid is the node process's.
    const argv = options.netns ? ['ip', 'netns', 'exec', options.netns, ...pinned] : pinned;
    this.#child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    createInterface({ input: this.#child.stdout! }).on('line', (line) => this.#onLine(line));
    createInterface({ input: this.#child.stderr! }).on('line', (line) => {
      this.#stderr_tail.push(line);
      if (this.#stderr_tail.length > 20) this.#stderr_tail.shift();
      process.stderr.write(`[${this.label}] ${line}\n`);
    });
    this.exited = new Promise((resolve) => {
      this.#child.on('exit', (code, signal) => {
        this.#exit = { code, signal };
        this.#failAll(new Error(`${this.label} exited (code ${code}, signal ${signal}) ${this.#tail()}`));
        resolve(this.#exit);
      });
      this.#child.on('error', (error) => this.#failAll(new Error(`${this.label}: cannot start taskset: ${error.message}`)));
    });
  }

  static start(options: PinnedProcessOptions): PinnedProcess {
    return new PinnedProcess(options);
  }

  get pid(): number {
    const pid = this.#child.pid;
    if (pid === undefined) throw new Error(`${this.label} has no pid: spawn failed`);
    return pid;
  }

  ready<T>(parse: (data: unknown) => T, timeout_ms = READY_TIMEOUT_MS): Promise<T> {
    return this.#next('ready', timeout_ms).then(parse);
  }

  result<T>(parse: (data: unknown) => T, timeout_ms = RESULT_TIMEOUT_MS): Promise<T> {
    return this.#next('result', timeout_ms).then(parse);
  }

  /**
   * Re-pins the child's threads whose name starts with `name_prefix` (e.g. "ZMQbg/IO"), to separate
   * them from the JS thread after start. Returns how many threads were pinned.
   */
  async pinThreads(name_prefix: string, cores: string): Promise<number> {
    const task_dir = `/proc/${this.pid}/task`;
    let pinned = 0;
    for (const tid of await readdir(task_dir)) {
      const name = (await readFile(`${task_dir}/${tid}/comm`, 'utf8')).trim();
      if (!name.startsWith(name_prefix)) continue;
      await execFileAsync('taskset', ['-p', '-c', cores, tid]);
      pinned++;
    }
    return pinned;
  }

  /** Sends a one-word line to the child's stdin, for a child waiting in `awaitSignal(word)`. */
  signal(word: string): void {
    this.#child.stdin!.write(`${word}\n`);
  }

  /** SIGTERM, then SIGKILL if the child has not exited within `timeout_ms`. */
  async stop(timeout_ms = STOP_TIMEOUT_MS): Promise<ChildExit> {
    if (this.#exit) return this.#exit;
    this.#child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#child.kill('SIGKILL');
        resolve();
      }, timeout_ms);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }

  #onLine(line: string): void {
    if (!line.startsWith(LINE_PREFIX)) {
      process.stderr.write(`[${this.label}] ${line}\n`);
      return;
    }
    const body = line.slice(LINE_PREFIX.length);
    const space = body.indexOf(' ');
    const kind = space < 0 ? body : body.slice(0, space);
    if (kind !== 'ready' && kind !== 'result' && kind !== 'error') {
      this.#failAll(new Error(`${this.label} sent unknown handshake line "${line}"`));
      return;
    }
    const data: unknown = space < 0 ? null : JSON.parse(body.slice(space + 1));
    if (kind === 'error') {
      this.#failAll(new Error(`${this.label} failed: ${String(data)}`));
      return;
    }
    const index = this.#waiters.findIndex((w) => w.kind === kind);
    if (index < 0) {
      this.#inbox.push({ kind, data });
      return;
    }
    const [waiter] = this.#waiters.splice(index, 1);
    waiter.resolve(data);
  }

  #next(kind: MessageKind, timeout_ms: number): Promise<unknown> {
    const index = this.#inbox.findIndex((m) => m.kind === kind);
    if (index >= 0) return Promise.resolve(this.#inbox.splice(index, 1)[0].data);
    if (this.#exit) return Promise.reject(new Error(`${this.label} already exited before "${kind}" ${this.#tail()}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(new Error(`${this.label}: no "${kind}" within ${timeout_ms} ms ${this.#tail()}`));
      }, timeout_ms);
      const waiter: Waiter = {
        kind,
        resolve: (data) => {
          clearTimeout(timer);
          resolve(data);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  #failAll(error: Error): void {
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  #tail(): string {
    return this.#stderr_tail.length === 0 ? '' : `; stderr tail:\n${this.#stderr_tail.join('\n')}`;
  }
}

/* ---- child side ---- */

/** True when `module_url` is the script node was started with; a bench file is then a child or a CLI, not an import. */
export function isEntryScript(module_url: string): boolean {
  return process.argv[1] === fileURLToPath(module_url);
}

function announce(kind: MessageKind, data: unknown): void {
  // stdout to a pipe is synchronous on Linux, so the line is out before any process.exit().
  process.stdout.write(`${LINE_PREFIX}${kind} ${JSON.stringify(data ?? null)}\n`);
}

export function announceReady(data: unknown = null): void {
  announce('ready', data);
}

export function announceResult(data: unknown): void {
  announce('result', data);
}

const signals_seen: string[] = [];
const signal_waiters: { word: string; resolve: () => void }[] = [];

function onParentLine(line: string): void {
  const word = line.trim();
  const index = signal_waiters.findIndex((w) => w.word === word);
  if (index < 0) {
    signals_seen.push(word);
    return;
  }
  signal_waiters.splice(index, 1)[0].resolve();
}

/** Resolves when the parent calls `signal(word)`; rejects after `timeout_ms` so a child never waits forever. */
export function awaitSignal(word: string, timeout_ms = READY_TIMEOUT_MS): Promise<void> {
  const seen = signals_seen.indexOf(word);
  if (seen >= 0) {
    signals_seen.splice(seen, 1);
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${word}" signal from the parent within ${timeout_ms} ms`)), timeout_ms);
    signal_waiters.push({
      word,
      resolve: () => {
        clearTimeout(timer);
        resolve();
      },
    });
  });
}

/**
 * Runs a child's main: reports a thrown error as an `error` line and exits non-zero, exits when the
 * parent goes away (stdin closes), and exits after a hard lifetime bound so no child is left behind.
 */
export function runPinnedChild(main: () => Promise<void>): void {
  createInterface({ input: process.stdin })
    .on('line', onParentLine)
    .on('close', () => process.exit(0));
  setTimeout(() => {
    process.stderr.write(`pinned child exceeded ${CHILD_LIFETIME_MAX_MS} ms, exiting\n`);
    process.exit(3);
  }, CHILD_LIFETIME_MAX_MS).unref();
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      announce('error', error instanceof Error ? (error.stack ?? error.message) : String(error));
      process.exit(1);
    },
  );
}
