import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { livePid, pidFilePath } from '../runtime/pid-file.ts';
import { ipcSocketPath, type Topology } from '../runtime/topology.ts';
import { backoffDelayMs } from './backoff.ts';
import type { NodeStatus } from './node-main.ts';
import { RestartIntensity } from './restart-intensity.ts';

export interface LaunchOptions {
  topologyFile: string;
  topology: Topology;
  /** Nodes to run (those of this host). */
  nodes: string[];
  /** The `rt` entry script a node process runs (`<rtBin> node <name>`). */
  rtBin: string;
  /** Each node's stdout/stderr go to `<logDir>/<node>.log`. */
  logDir: string;
  out: Writable;
  /** Redraw the status block in place (a terminal) or print it every statusEveryMs (a log). */
  tty: boolean;
  statusEveryMs: number;
  /** How long a node may take to stop after SIGTERM before it is killed. */
  stopTimeoutMs: number;
  /** The application's view of the nodes' gauges: extra status lines (e.g. ticks, orders, P&L). */
  progress?: (gauges: Record<string, number | string>) => string[];
  /** Checked on every status: true stops every node (e.g. a replay has been fully traded). */
  finished?: (gauges: Record<string, number | string>) => boolean;
  /** Added to this process's environment for every node process (e.g. DATABASE_URL). */
  env?: Readonly<Record<string, string>>;
  /** The nodes of the other hosts (over NATS): their gauges join this host's, their lines the status. */
  remote?: { gauges(): Record<string, number | string>; lines(): string[]; readonly allHeard: boolean };
}

type NodeState = 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped' | 'gave-up';

interface Managed {
  name: string;
  state: NodeState;
  proc: ChildProcess | undefined;
  pid: number | undefined;
  restarts: number;
  intensity: RestartIntensity;
  status: NodeStatus | undefined;
  lastExit: string;
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * `rt up`: the supervisor of one host's node processes. It starts each node pinned to its cores,
 * restarts a node that dies (exponential backoff, at most max_restarts within within_s, from the
 * node's `restart` settings), shows one status line per node, and on stop sends SIGTERM to every
 * node, waits for them (SIGKILL after stopTimeoutMs), and removes their socket files.
 * A node that exhausts its restart budget makes `rt up` stop everything and exit non-zero, as an
 * OTP supervisor escalates: at that point a human (or systemd) must look.
 */
export class NodeLauncher {
  private readonly managed = new Map<string, Managed>();
  private readonly taskset = hasTaskset();
  private stopping: Promise<void> | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private drawnLines = 0;
  private failure: string | undefined;
  private resolveDone!: (code: number) => void;
  /** Resolves with the exit code once every node has stopped. */
  readonly done = new Promise<number>((r) => (this.resolveDone = r));

  constructor(private readonly o: LaunchOptions) {
    mkdirSync(o.logDir, { recursive: true });
    for (const name of o.nodes) {
      const r = o.topology.nodes[name].restart;
      this.managed.set(name, {
        name,
        state: 'starting',
        proc: undefined,
        pid: undefined,
        restarts: 0,
        intensity: new RestartIntensity({ maxRestarts: r.maxRestarts, withinMs: r.withinS * 1000 }),
        status: undefined,
        lastExit: '',
      });
    }
  }

  start(): void {
    for (const m of this.managed.values()) this.spawn(m);
    this.statusTimer = setInterval(() => this.drawStatus(), this.o.tty ? 1000 : this.o.statusEveryMs);
    this.drawStatus();
  }

  /** Every node's latest gauges, merged (gauge names are unique across nodes by convention). */
  gauges(): Record<string, number | string> {
    const all: Record<string, number | string> = {};
    if (this.o.remote) Object.assign(all, this.o.remote.gauges());
    for (const m of this.managed.values()) Object.assign(all, m.status?.gauges);
    return all;
  }

  private allReporting(): boolean {
    for (const m of this.managed.values()) if (m.state !== 'running' || m.status === undefined) return false;
    return this.o.remote?.allHeard ?? true;
  }

  pids(): Record<string, number | undefined> {
    return Object.fromEntries([...this.managed.values()].map((m) => [m.name, m.pid]));
  }

  private spawn(m: Managed): void {
    const spec = this.o.topology.nodes[m.name];
    // A node killed with SIGKILL leaves its socket file behind; the new one binds a fresh one.
    // (A live owner of the name keeps its socket: the new process will refuse to start instead.)
    const ipcDir = this.o.topology.transport.ipcDir;
    if (livePid(ipcDir, m.name) === undefined) rmSync(ipcSocketPath(ipcDir, m.name), { force: true });
    const logFd = openSync(join(this.o.logDir, `${m.name}.log`), 'a');
    const nodeArgs = [this.o.rtBin, 'node', m.name, '--topology', this.o.topologyFile];
    // Under taskset every thread the node ever starts inherits the pinning from the first instruction.
    const [cmd, args] = this.taskset
      ? ['taskset', ['-c', spec.cores.join(','), process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
    const proc = spawn(cmd, args, { stdio: ['ignore', logFd, logFd, 'ipc'], env: { ...process.env, ...this.o.env } });
    closeSync(logFd);
    m.proc = proc;
    m.pid = proc.pid;
    m.state = 'running';
    m.status = undefined;
    proc.on('message', (msg: NodeStatus) => {
      if (!msg || msg.type !== 'node-status') return;
      m.status = msg;
      // Finished only with every node reporting: a node that cannot start reports nothing, and
      // the gauges without it could look finished (no open orders) when nothing was traded.
      if (this.o.finished && !this.stopping && this.allReporting() && this.o.finished(this.gauges())) {
        this.log('finished; stopping every node');
        void this.stop();
      }
    });
    proc.on('exit', (code, signal) => this.onExit(m, proc, code, signal));
  }

  private onExit(m: Managed, proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (m.proc !== proc) return;
    m.proc = undefined;
    m.lastExit = signal ? `killed by ${signal}` : `exit ${code}`;
    if (this.stopping) {
      m.state = 'stopped';
      return;
    }
    const now = performance.now();
    if (!m.intensity.tryRestart(now)) {
      m.state = 'gave-up';
      const r = this.o.topology.nodes[m.name].restart;
      this.failure = `node ${m.name} died (${m.lastExit}) more than ${r.maxRestarts} times within ${r.withinS} s; stopping all nodes`;
      this.o.out.write(`rt up: ${this.failure}\n`);
      void this.stop();
      return;
    }
    m.restarts++;
    m.state = 'backoff';
    const r = this.o.topology.nodes[m.name].restart;
    const delay = backoffDelayMs({ minMs: r.backoffMinMs, maxMs: r.backoffMaxMs }, m.intensity.recent(now));
    this.log(`node ${m.name} ${m.lastExit}; restarting in ${delay} ms (restart ${m.restarts})`);
    setTimeout(() => {
      if (!this.stopping) this.spawn(m);
    }, delay);
  }

  /** SIGTERM to every node, SIGKILL to those still there after stopTimeoutMs; then clean up. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const live = [...this.managed.values()].filter((m) => m.proc);
    for (const m of live) m.state = 'stopping';
    await Promise.all(
      live.map(
        (m) =>
          new Promise<void>((resolve) => {
            const proc = m.proc as ChildProcess;
            const kill = setTimeout(() => proc.kill('SIGKILL'), this.o.stopTimeoutMs);
            proc.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            proc.kill('SIGTERM');
          }),
      ),
    );
    for (const m of this.managed.values()) {
      if (m.state !== 'gave-up') m.state = 'stopped';
      const ipcDir = this.o.topology.transport.ipcDir;
      if (livePid(ipcDir, m.name) === undefined) {
        rmSync(ipcSocketPath(ipcDir, m.name), { force: true });
        rmSync(pidFilePath(ipcDir, m.name), { force: true });
      }
    }
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.drawStatus();
    this.resolveDone(this.failure ? 1 : 0);
  }

  private log(line: string): void {
    if (this.o.tty) this.drawnLines = 0;
    this.o.out.write(`rt up: ${line}\n`);
  }

  statusLines(): string[] {
    return [...this.managed.values()].map((m) => {
      const spec = this.o.topology.nodes[m.name];
      const s = m.status;
      const pinned = s ? s.cores.join(',') : '?';
      return [
        m.name.padEnd(12),
        m.state.padEnd(8),
        `pid ${String(m.pid ?? '-').padEnd(7)}`,
        `cores ${spec.cores.join(',')} (in force ${pinned})`.padEnd(24),
        `${(s?.msgsPerS ?? 0).toLocaleString('en-US').padStart(10)} msg/s`,
        `restarts ${m.restarts}`,
        s && s.restarts ? `actor restarts ${s.restarts}` : '',
        s && s.held ? `held ${s.held}` : '',
        m.lastExit ? `last ${m.lastExit}` : '',
      ]
        .filter(Boolean)
        .join('  ');
    });
  }

  private drawStatus(): void {
    const lines = [...this.statusLines(), ...(this.o.remote?.lines() ?? []), ...(this.o.progress?.(this.gauges()) ?? [])];
    if (this.o.tty && this.drawnLines) this.o.out.write(`\x1b[${this.drawnLines}A\x1b[J`);
    this.o.out.write(lines.join('\n') + '\n');
    this.drawnLines = this.o.tty ? lines.length : 0;
  }
}
