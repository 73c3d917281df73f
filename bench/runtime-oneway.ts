import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { Behavior } from '../runtime/actor.ts';
import type { ActorRef } from '../runtime/actor-ref.ts';
import { ActorSystem } from '../runtime/actor-system.ts';
import { IpcTransport } from '../runtime/ipc-transport.ts';
import { connectNats } from '../runtime/nats-connection.ts';
import { NatsTransport } from '../runtime/nats-transport.ts';
import { TOPOLOGY_DEFAULTS } from '../runtime/topology.ts';
import { CpuInterference } from './cpu-interference.ts';
import type { BenchReport } from './report.ts';
import { announceReady, announceResult, awaitSignal, isEntryScript, PinnedProcess, runPinnedChild } from './pinned-process.ts';

/**
 * One-way throughput between two node processes through the runtime, over ZeroMQ ipc (one host)
 * or NATS (two hosts: `nats` gives each node its host's server and namespace): actor
 * `producer` on node `src` (core 0) tells actor `consumer` on node `dst` (core 1). Envelopes told
 * in one dispatcher turn are packed into frames of up to batch_max (512) at the end of the turn.
 * The consumer grants credit every CREDIT_EVERY messages (a message back over ipc), so at most
 * WINDOW envelopes are in flight and no queue grows without bound. Payload: `{type, n}`.
 */

const MESSAGES = 4_000_000;
const WARMUP = 400_000;
const CREDIT_EVERY = 20_000;
const WINDOW = 4 * CREDIT_EVERY;
const CHUNK = 1000;
/** Over NATS: longest wait for the other node's first heartbeat. */
const PEER_WAIT_MS = 10_000;

type Item = { type: 'item'; n: number };
type Credit = { type: 'credit'; upTo: number };

const placement: Record<string, string> = { producer: 'src', consumer: 'dst' };

export interface OnewayResult {
  msgs_per_s: number;
  n: number;
  interference_pct: number;
}

/** Over NATS: each node's server (its host's) and network namespace. */
export interface OnewayOverNats {
  producer: { url: string; netns?: string };
  consumer: { url: string; netns?: string };
  /** the servers' pids: on the measured path, so not interference */
  serverPids: number[];
}

async function node(name: string, ipcDir: string): Promise<ActorSystem> {
  const system = new ActorSystem({ node: name, nodeOf: (a) => placement[a] });
  const at = process.argv.indexOf('--nats');
  if (at < 0) {
    await IpcTransport.attach(system, { ipcDir, ...TOPOLOGY_DEFAULTS.transport });
    return system;
  }
  const nc = await connectNats([process.argv[at + 1]], `bench ${name}`);
  const transport = NatsTransport.attach(system, nc, { cluster: 'bench', keys: [name === 'src' ? 'producer' : 'consumer'], ...TOPOLOGY_DEFAULTS.transport });
  // The producer starts once the consumer is up: it waits to hear it (the consumer's credits are
  // held until it hears the producer).
  if (name === 'src') await transport.untilHeard('dst', PEER_WAIT_MS);
  return system;
}

async function consumerMain(ipcDir: string): Promise<void> {
  const system = await node('dst', ipcDir);
  let start = 0;
  const total = WARMUP + MESSAGES;
  const behavior: Behavior<Item, number> = {
    init: () => 0,
    receive: (n, _msg, ctx) => {
      n++;
      if (n === WARMUP) start = performance.now();
      if (n === total) announceResult({ msgs_per_s: (MESSAGES / (performance.now() - start)) * 1000, n: MESSAGES });
      else if (n % CREDIT_EVERY === 0) ctx.tell('producer', { type: 'credit', upTo: n + WINDOW });
      return n;
    },
  };
  system.spawn('consumer', behavior, { mailbox: { capacity: WINDOW + CHUNK, policy: 'reject' } });
  announceReady();
  await new Promise<never>(() => undefined);
}

async function producerMain(ipcDir: string): Promise<void> {
  const system = await node('src', ipcDir);
  announceReady();
  await awaitSignal('go');
  const total = WARMUP + MESSAGES;
  type Go = Credit | { type: 'more' };
  const item: Item = { type: 'item', n: 0 };
  const behavior: Behavior<Go, { sent: number; allowed: number }> = {
    init: () => ({ sent: 0, allowed: WINDOW }),
    receive: (s, msg, ctx) => {
      if (msg.type === 'credit') s.allowed = Math.max(s.allowed, Math.min(msg.upTo, total));
      // Send a chunk per turn and come back for more, so frames leave while the window is open.
      const end = Math.min(s.allowed, s.sent + CHUNK);
      for (let i = s.sent; i < end; i++) ctx.tell('consumer', item);
      const more = end > s.sent && end < s.allowed;
      s.sent = end;
      if (more) ctx.tell(ctx.self as ActorRef<Go>, { type: 'more' });
      return s;
    },
  };
  const producer = system.spawn('producer', behavior, { mailbox: { capacity: 64, policy: 'reject' } });
  producer.tell({ type: 'more' });
  await new Promise<never>(() => undefined);
}

export async function measureRuntimeOneway(nats?: OnewayOverNats): Promise<OnewayResult> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-oneway-'));
  const file = new URL(import.meta.url);
  const over = (side: 'producer' | 'consumer'): string[] => (nats ? ['--nats', nats[side].url] : []);
  const consumer = PinnedProcess.start({ file, cores: '1', args: ['--role', 'consumer', '--dir', dir, ...over('consumer')], label: 'oneway consumer', netns: nats?.consumer.netns });
  let producer: PinnedProcess | undefined;
  try {
    await consumer.ready(() => null);
    producer = PinnedProcess.start({ file, cores: '0', args: ['--role', 'producer', '--dir', dir, ...over('producer')], label: 'oneway producer', netns: nats?.producer.netns });
    await producer.ready(() => null);
    const interference = new CpuInterference([consumer.pid, producer.pid, ...(nats?.serverPids ?? [])]);
    interference.start();
    producer.signal('go');
    const r = await consumer.result((d) => z.object({ msgs_per_s: z.number(), n: z.number() }).parse(d));
    return { ...r, interference_pct: interference.stop() };
  } finally {
    await Promise.all([producer?.stop(), consumer.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
}

if (isEntryScript(import.meta.url)) {
  const role = process.argv[process.argv.indexOf('--role') + 1];
  const dir = process.argv[process.argv.indexOf('--dir') + 1];
  if (process.argv.includes('--role')) runPinnedChild(() => (role === 'consumer' ? consumerMain(dir) : producerMain(dir)));
  else console.log(await measureRuntimeOneway());
}

/**
 * Runs the one-way measurement `rounds` times and adds its median as `<prefix>.oneway.msgs_per_s`,
 * the spread (min, max) in the note. One-way throughput varies more from run to run than latency
 * does (how envelopes fall into frames depends on timing), so it takes several rounds.
 */
export async function addOnewayFigure(report: BenchReport, prefix: string, rounds: number, measure: () => Promise<OnewayResult>, note: string): Promise<void> {
  const results: OnewayResult[] = [];
  for (let i = 0; i < rounds; i++) {
    const r = await measure();
    console.log(`round ${i + 1} ${prefix} one-way ${Math.round(r.msgs_per_s).toLocaleString('en-US')} msg/s (other-cpu ${r.interference_pct.toFixed(1)}%)`);
    results.push(r);
  }
  const rates = results.map((r) => r.msgs_per_s);
  const median = [...results].sort((x, y) => x.msgs_per_s - y.msgs_per_s)[Math.floor(results.length / 2)];
  report.add({
    name: `${prefix}.oneway.msgs_per_s`,
    value: median.msgs_per_s,
    unit: 'msg/s',
    better: 'higher',
    n: median.n,
    note: `${note}; credit every ${CREDIT_EVERY}; median of ${rounds} rounds (min ${Math.round(Math.min(...rates))}, max ${Math.round(Math.max(...rates))})`,
  });
}
