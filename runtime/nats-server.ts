// A nats-server process (Debian's `nats-server` package), started and stopped by the product: by
// `rt up` for the hosts of this machine whose NATS URL points here and finds nothing listening,
// and by the tests and benches, which start their own on free ports and stop them. Several of
// them form one cluster with routes, as one server per host does in production.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';

/** Longest wait for a started server to say it is ready. */
const START_TIMEOUT_MS = 10_000;
/** Longest wait for a server to exit after SIGTERM before SIGKILL. */
const STOP_TIMEOUT_MS = 5_000;

export interface NatsServerOptions {
  /** Client port. */
  port: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Server name in logs and the cluster (default `rt-<port>`). */
  name?: string;
  /** Cluster (route) port; with routes, the servers form one cluster. */
  clusterPort?: number;
  /** Routes to the other servers of the cluster: nats://host:clusterPort. */
  routes?: string[];
  /** HTTP monitoring port (/varz, /connz, /routez). */
  monitorPort?: number;
  /** Run inside this network namespace (`ip netns exec`): a simulated host. */
  netns?: string;
  /** Pin the server to these cores (`taskset -c`), e.g. "1". */
  cores?: string;
  /** Extra environment; GOMAXPROCS=1 is the default (about 20% faster round trips on 2 cores). */
  env?: Record<string, string>;
}

export class NatsServerMissingError extends Error {
  constructor() {
    super('nats-server is not installed: expected the nats-server command (Debian: apt-get install -y nats-server; `npm test` and `npm start` run bin/setup.mjs, which installs it as root)');
    this.name = 'NatsServerMissingError';
  }
}

export function natsServerInstalled(): boolean {
  return spawnSync('sh', ['-c', 'command -v nats-server'], { stdio: 'ignore' }).status === 0;
}

export class NatsServer {
  private exited: Promise<number | null>;
  private log = '';

  private constructor(
    private readonly proc: ChildProcess,
    readonly options: NatsServerOptions,
  ) {
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  }

  /** nats://host:port */
  get url(): string {
    return `nats://${this.options.host ?? '127.0.0.1'}:${this.options.port}`;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Starts the server and resolves once it accepts clients; throws with its log if it does not. */
  static async start(o: NatsServerOptions): Promise<NatsServer> {
    if (!natsServerInstalled()) throw new NatsServerMissingError();
    const host = o.host ?? '127.0.0.1';
    const args = ['-a', host, '-p', String(o.port), '-n', o.name ?? `rt-${o.port}`];
    if (o.clusterPort !== undefined) args.push('--cluster_name', 'rt', '--cluster', `nats://${host}:${o.clusterPort}`);
    if (o.routes && o.routes.length > 0) args.push('--routes', o.routes.join(','));
    if (o.monitorPort !== undefined) args.push('-m', String(o.monitorPort));
    const server = o.cores ? ['taskset', '-c', o.cores, 'nats-server', ...args] : ['nats-server', ...args];
    const argv = o.netns ? ['ip', 'netns', 'exec', o.netns, ...server] : server;
    const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GOMAXPROCS: '1', ...o.env } });
    const running = new NatsServer(proc, o);
    const collect = (b: Buffer): void => {
      running.log = (running.log + b.toString()).slice(-8192);
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), START_TIMEOUT_MS);
      const check = (): void => {
        if (running.log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      proc.stderr?.on('data', check);
      proc.stdout?.on('data', check);
      proc.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (!ready) {
      proc.kill('SIGKILL');
      throw new Error(`nats-server on ${host}:${o.port}${o.netns ? ` (netns ${o.netns})` : ''} did not start within ${START_TIMEOUT_MS} ms:\n${running.log.trim().split('\n').slice(-8).join('\n')}`);
    }
    return running;
  }

  /** The server's own log so far (the last 8 KiB). */
  output(): string {
    return this.log;
  }

  /** Kills the server at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** Stops the server (SIGTERM, then SIGKILL after STOP_TIMEOUT_MS). */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

/** How long a probe of a port waits for a connection before it calls the port free. */
const LISTEN_PROBE_MS = 500;

/** Whether something accepts TCP connections at host:port (within LISTEN_PROBE_MS). */
export function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(LISTEN_PROBE_MS, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * For a topology on one host, where NATS carries inspection only: the servers of the host's list
 * that are on this machine and not running are started (and stopped by stop()), so `rt up` needs
 * no NATS setup, as it needs no database setup. Across hosts NATS is a cluster operators run
 * (ansible/systemd), and nothing is started.
 */
export async function startMissingNats(urls: readonly string[], say: (line: string) => void): Promise<{ stop(): Promise<void> }> {
  const started: NatsServer[] = [];
  for (const url of urls) {
    const u = new URL(url);
    const host = u.hostname;
    const port = Number(u.port || 4222);
    if (!['127.0.0.1', 'localhost', '::1'].includes(host)) continue;
    if (await listening(host, port)) continue;
    if (!natsServerInstalled()) {
      say(`nats-server is not installed: no inspection over NATS at ${url} (apt-get install -y nats-server)`);
      continue;
    }
    started.push(await NatsServer.start({ host: host === 'localhost' ? '127.0.0.1' : host, port, name: `rt-${port}` }));
    say(`started nats-server at ${url} (inspection: nats req rt.<cluster>.inspect.<actor> '')`);
  }
  return { stop: async () => void (await Promise.all(started.map((s) => s.stop()))) };
}
