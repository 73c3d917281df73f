import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { CpuInterference } from '../cpu-interference.ts';
import { LatencyHistogram, type LatencySummary } from '../latency.ts';
import type { BenchReport } from '../report.ts';
import { PinnedProcess, announceReady, announceResult, awaitSignal, isEntryScript, runPinnedChild } from '../pinned-process.ts';

// Transport files already import it from here; it lives with the child-process concept.
export { isEntryScript } from '../pinned-process.ts';

/**
 * The ping-pong contract shared by every transport: an echo process and a client process, each
 * pinned with `taskset -c`, one message in flight, the client timing each round trip. A transport
 * script supplies the two roles; this file runs them, times them and measures what they cost.
 */

export interface PingPongOptions {
  client_cores: string;
  echo_cores: string;
  payload_bytes: number;
  warmup: number;
  round_trips: number;
  /** The client gives up (and the run fails) after this long, warm-up included. */
  deadline_ms: number;
  /** Transport-specific arguments passed to both roles (variants in bench/explore). */
  args: readonly string[];
  /** Re-pin named threads (e.g. libzmq's "ZMQbg/IO") away from the JS thread before timing starts. */
  thread_pins?: { name_prefix: string; client_cores?: string; echo_cores?: string };
  /** Other processes on the measured path (e.g. nats-servers): their CPU is not interference. */
  path_pids?: readonly number[];
  /** Network namespaces (simulated hosts) of the two processes, when they run on different ones. */
  client_netns?: string;
  echo_netns?: string;
  /** Called once both processes run and the client has been told to go, e.g. to attach a tracer. */
  on_started?: (pids: { client: number; echo: number }) => void;
}

export const PINGPONG_DEFAULTS: PingPongOptions = {
  client_cores: '0',
  echo_cores: '1',
  payload_bytes: 64,
  warmup: 20_000,
  round_trips: 100_000,
  deadline_ms: 60_000,
  args: [],
};

/** CPU time and context switches of one whole process (all threads), per round trip. */
export interface ProcessCost {
  cpu_us: number;
  voluntary_switches: number;
  involuntary_switches: number;
}

export interface PingPongResult {
  latency: LatencySummary;
  rtt_per_s: number;
  client: ProcessCost;
  echo: ProcessCost;
  /** CPU used by other processes during the run, % of all cores; above a few % the run is suspect. */
  interference_pct: number;
}

const processCost = z.object({
  cpu_us: z.number(),
  voluntary_switches: z.number(),
  involuntary_switches: z.number(),
});
const clientReport = z.object({
  latency: z.object({ n: z.number(), p50_us: z.number(), p99_us: z.number(), p999_us: z.number(), max_us: z.number() }),
  elapsed_ms: z.number(),
  cost: processCost,
});
const echoReport = z.object({ cost: processCost });

/** Grace for process start and shutdown on top of the client's own deadline. */
const RESULT_MARGIN_MS = 30_000;

/** Runs one ping-pong of `script` (a transport file whose roles use `runPingPongRole`). */
export async function runPingPong(script: URL, overrides: Partial<PingPongOptions> = {}): Promise<PingPongResult> {
  const options = { ...PINGPONG_DEFAULTS, ...overrides };
  const dir = await mkdtemp(join(tmpdir(), 'bench-pingpong-'));
  const common = [
    '--path', join(dir, 'pingpong.sock'),
    '--payload', String(options.payload_bytes),
    '--warmup', String(options.warmup),
    '--round-trips', String(options.round_trips),
    '--deadline-ms', String(options.deadline_ms),
    ...options.args,
  ];
  const name = fileURLToPath(script).split('/').pop() ?? 'pingpong';
  let echo: PinnedProcess | undefined;
  let client: PinnedProcess | undefined;
  try {
    echo = PinnedProcess.start({ file: script, cores: options.echo_cores, args: ['--role', 'echo', ...common], label: `${name} echo`, netns: options.echo_netns });
    await echo.ready(() => null);
    client = PinnedProcess.start({ file: script, cores: options.client_cores, args: ['--role', 'client', ...common], label: `${name} client`, netns: options.client_netns });
    await client.ready(() => null);
    const pins = options.thread_pins;
    if (pins?.echo_cores !== undefined) await requirePinned(echo, pins.name_prefix, pins.echo_cores);
    if (pins?.client_cores !== undefined) await requirePinned(client, pins.name_prefix, pins.client_cores);
    const interference = new CpuInterference([client.pid, echo.pid, ...(options.path_pids ?? [])]);
    interference.start();
    client.signal('go');
    options.on_started?.({ client: client.pid, echo: echo.pid });
    const timeout_ms = options.deadline_ms + RESULT_MARGIN_MS;
    const client_result = await client.result((d) => clientReport.parse(d), timeout_ms);
    const interference_pct = interference.stop();
    const echo_result = await echo.result((d) => echoReport.parse(d), RESULT_MARGIN_MS);
    return {
      latency: client_result.latency,
      rtt_per_s: (client_result.latency.n / client_result.elapsed_ms) * 1000,
      client: client_result.cost,
      echo: echo_result.cost,
      interference_pct,
    };
  } finally {
    await Promise.all([client?.stop(), echo?.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
}

async function requirePinned(child: PinnedProcess, name_prefix: string, cores: string): Promise<void> {
  const count = await child.pinThreads(name_prefix, cores);
  if (count === 0) throw new Error(`${child.label}: no thread named ${name_prefix}* to pin to cores ${cores}`);
}

/**
 * The entry point of a ping-pong transport script: started with `--role` (by runPingPong) it runs
 * that role; run alone (`node --import tsx <script>`) it measures once and prints one line.
 */
export async function pingPongScript(moduleUrl: string, roles: PingPongRoles, label: string, extra_options: Record<string, { type: 'string' | 'boolean' }> = {}): Promise<void> {
  if (!isEntryScript(moduleUrl)) return;
  if (process.argv.includes('--role')) runPinnedChild(() => runPingPongRole(pingPongRoleConfig(extra_options), roles));
  else console.log(describePingPong(label, await runPingPong(new URL(moduleUrl))));
}

/* ---- child side ---- */

export interface PingPongRoleConfig {
  role: 'echo' | 'client';
  /** A filesystem path in a fresh temp dir; the parent deletes the dir afterwards. */
  path: string;
  payload_bytes: number;
  warmup: number;
  round_trips: number;
  deadline_ms: number;
  /** The transport's own options, as given after the common ones. */
  extra: Record<string, string | boolean | undefined>;
}

export interface PingPongRoles {
  /** Binds, calls `counter.ready()`, then echoes every message, calling `counter.onMessage()`; never returns. */
  echo: (config: PingPongRoleConfig, counter: EchoCounter) => Promise<void>;
  /** Connects, awaits `run.ready()`, then calls `run.next()` once per round trip until it returns false. */
  client: (config: PingPongRoleConfig, run: RoundTripRun) => Promise<void>;
}

/** Parses a role's argv: the common options above plus any `--name value` pairs the transport defines. */
export function pingPongRoleConfig(
  extra_options: Record<string, { type: 'string' | 'boolean' }> = {},
  argv: string[] = process.argv.slice(2),
): PingPongRoleConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      role: { type: 'string' },
      path: { type: 'string' },
      payload: { type: 'string' },
      warmup: { type: 'string' },
      'round-trips': { type: 'string' },
      'deadline-ms': { type: 'string' },
      ...extra_options,
    },
    strict: true,
  });
  const role = values.role;
  if (role !== 'echo' && role !== 'client') throw new Error(`--role ${String(role)}: expected echo or client`);
  if (typeof values.path !== 'string') throw new Error('--path: expected a socket path');
  const extra: Record<string, string | boolean | undefined> = {};
  const all: Record<string, string | boolean | undefined> = values;
  for (const key of Object.keys(extra_options)) extra[key] = all[key];
  return {
    role,
    path: values.path,
    payload_bytes: positiveInt('--payload', values.payload),
    warmup: positiveInt('--warmup', values.warmup),
    round_trips: positiveInt('--round-trips', values['round-trips']),
    deadline_ms: positiveInt('--deadline-ms', values['deadline-ms']),
    extra,
  };
}

function positiveInt(flag: string, value: string | boolean | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} ${String(value)}: expected a positive integer`);
  return n;
}

/** Runs the role named in the config: the echo until stopped, the client until its run completes. */
export async function runPingPongRole(config: PingPongRoleConfig, roles: PingPongRoles): Promise<void> {
  if (config.role === 'echo') {
    await roles.echo(config, new EchoCounter(config));
    return;
  }
  const run = new RoundTripRun(config);
  await roles.client(config, run);
  announceResult(run.report());
  // Stay alive (idle) until the parent stops us, so it can still read this process's CPU ticks.
  await new Promise<never>(() => undefined);
}

/** Reads `process.resourceUsage()` (all threads of this process) across the timed part of a run. */
class CostMeter {
  #start: NodeJS.ResourceUsage | undefined;

  start(): void {
    this.#start = process.resourceUsage();
  }

  stop(operations: number): ProcessCost {
    const start = this.#start;
    if (!start) throw new Error('CostMeter.stop() before start()');
    const end = process.resourceUsage();
    const cpu = end.userCPUTime + end.systemCPUTime - start.userCPUTime - start.systemCPUTime;
    return {
      cpu_us: cpu / operations,
      voluntary_switches: (end.voluntaryContextSwitches - start.voluntaryContextSwitches) / operations,
      involuntary_switches: (end.involuntaryContextSwitches - start.involuntaryContextSwitches) / operations,
    };
  }
}

/** Counts echoed messages so the echo reports its own cost over exactly the client's timed window. */
export class EchoCounter {
  readonly #warmup: number;
  readonly #total: number;
  readonly #meter = new CostMeter();
  #seen = 0;

  constructor(config: PingPongRoleConfig) {
    this.#warmup = config.warmup;
    this.#total = config.warmup + config.round_trips;
  }

  /** Call once bound: tells the parent the echo accepts connections. */
  ready(): void {
    announceReady();
  }

  /** Call once per message received, before echoing it. */
  onMessage(): void {
    this.#seen++;
    if (this.#seen === this.#warmup + 1) this.#meter.start();
    if (this.#seen === this.#total) announceResult({ cost: this.#meter.stop(this.#total - this.#warmup) });
  }
}

/**
 * The client's round-trip clock: `next()` ends the round trip in flight (if any) and starts the next,
 * switching from warm-up to timing after `warmup` round trips. Returns false when the timed
 * round trips are done; throws once the deadline has passed so no loop runs unbounded.
 */
export class RoundTripRun {
  readonly #histogram = new LatencyHistogram();
  readonly #meter = new CostMeter();
  readonly #warmup: number;
  readonly #round_trips: number;
  readonly #deadline_ms: number;
  #deadline_ns = 0n;
  #watchdog: NodeJS.Timeout | undefined;
  #cost: ProcessCost | undefined;
  #completed = 0;
  #in_flight_since_ns = 0n;
  #timed_since_ns = 0n;
  #elapsed_ms = 0;

  constructor(config: PingPongRoleConfig) {
    this.#warmup = config.warmup;
    this.#round_trips = config.round_trips;
    this.#deadline_ms = config.deadline_ms;
  }

  /** Call once connected: tells the parent, then waits for its go so thread re-pinning precedes timing. */
  async ready(): Promise<void> {
    announceReady();
    await awaitSignal('go');
    // A stalled transport never calls next() again; this bounds the run without a per-trip timer.
    this.#watchdog = setTimeout(() => {
      throw new Error(`no round trip completed for the ${this.#deadline_ms} ms deadline (${this.#completed} done)`);
    }, this.#deadline_ms);
    this.#deadline_ns = process.hrtime.bigint() + BigInt(this.#deadline_ms) * 1_000_000n;
  }

  next(): boolean {
    const now = process.hrtime.bigint();
    if (this.#in_flight_since_ns !== 0n) {
      this.#histogram.recordNs(Number(now - this.#in_flight_since_ns));
      this.#completed++;
    }
    if (this.#deadline_ns === 0n) throw new Error('RoundTripRun.next() before ready()');
    if ((this.#completed & 1023) === 0 && now > this.#deadline_ns) {
      throw new Error(`round trips exceeded the ${this.#deadline_ms} ms deadline after ${this.#completed} of ${this.#warmup + this.#round_trips}`);
    }
    if (this.#completed === this.#warmup) {
      this.#histogram.reset();
      this.#meter.start();
      this.#timed_since_ns = process.hrtime.bigint();
    }
    if (this.#completed === this.#warmup + this.#round_trips) {
      this.#elapsed_ms = Number(now - this.#timed_since_ns) / 1e6;
      this.#cost = this.#meter.stop(this.#round_trips);
      this.#in_flight_since_ns = 0n;
      clearTimeout(this.#watchdog);
      return false;
    }
    this.#in_flight_since_ns = process.hrtime.bigint();
    return true;
  }

  report(): { latency: LatencySummary; elapsed_ms: number; cost: ProcessCost } {
    if (this.#cost === undefined) {
      throw new Error(`round-trip run reported after ${this.#completed} of ${this.#warmup + this.#round_trips}`);
    }
    return { latency: this.#histogram.summary(), elapsed_ms: this.#elapsed_ms, cost: this.#cost };
  }
}

/** Per-field medians over rounds, so one noisy round does not decide a comparison. */
export function medianPingPong(rounds: readonly PingPongResult[]): PingPongResult {
  if (rounds.length === 0) throw new Error('medianPingPong of no rounds');
  const m = (pick: (r: PingPongResult) => number): number => {
    const sorted = rounds.map(pick).sort((x, y) => x - y);
    return sorted[Math.floor(sorted.length / 2)];
  };
  const cost = (side: (r: PingPongResult) => ProcessCost): ProcessCost => ({
    cpu_us: m((r) => side(r).cpu_us),
    voluntary_switches: m((r) => side(r).voluntary_switches),
    involuntary_switches: m((r) => side(r).involuntary_switches),
  });
  return {
    latency: {
      n: m((r) => r.latency.n),
      p50_us: m((r) => r.latency.p50_us),
      p99_us: m((r) => r.latency.p99_us),
      p999_us: m((r) => r.latency.p999_us),
      max_us: m((r) => r.latency.max_us),
    },
    rtt_per_s: m((r) => r.rtt_per_s),
    client: cost((r) => r.client),
    echo: cost((r) => r.echo),
    interference_pct: m((r) => r.interference_pct),
  };
}

/**
 * Adds `<prefix>.rtt.p50_us/p99_us/p999_us` (medians over rounds, as BENCH.md names them) and the
 * supporting `<prefix>.rtt_per_s`, `<prefix>.cpu_us_per_rtt` and `<prefix>.switches_per_rtt`.
 */
export function addPingPongFigures(report: BenchReport, prefix: string, rounds: readonly PingPongResult[], note: string): PingPongResult {
  const median = medianPingPong(rounds);
  const full_note = `${note}; median of ${rounds.length} rounds`;
  report.addLatency(`${prefix}.rtt`, median.latency, full_note);
  const n = median.latency.n;
  report.add({ name: `${prefix}.rtt_per_s`, value: median.rtt_per_s, unit: 'rtt/s', better: 'higher', n, note: 'one message in flight' });
  const switches = (c: ProcessCost): number => c.voluntary_switches + c.involuntary_switches;
  report.add({ name: `${prefix}.cpu_us_per_rtt`, value: median.client.cpu_us + median.echo.cpu_us, unit: 'us', better: 'lower', n, note: 'both processes, all threads' });
  report.add({ name: `${prefix}.switches_per_rtt`, value: switches(median.client) + switches(median.echo), unit: 'switches', better: 'lower', n, note: 'context switches, both processes' });
  return median;
}

/** One line per run for scripts that print rather than report: latency, rate and cost. */
export function describePingPong(label: string, result: PingPongResult): string {
  const { latency: l, client: c, echo: e } = result;
  const f = (n: number): string => n.toFixed(1);
  return (
    `${label.padEnd(44)} p50 ${f(l.p50_us).padStart(6)}  p99 ${f(l.p99_us).padStart(6)}  p99.9 ${f(l.p999_us).padStart(7)} us` +
    `  ${Math.round(result.rtt_per_s).toString().padStart(6)} rtt/s` +
    `  cpu/rtt ${f(c.cpu_us)}+${f(e.cpu_us)} us` +
    `  switches/rtt ${(c.voluntary_switches + c.involuntary_switches).toFixed(2)}+${(e.voluntary_switches + e.involuntary_switches).toFixed(2)}` +
    `  other-cpu ${result.interference_pct.toFixed(1)}%`
  );
}
