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
  const transport = new NatsTransport(system, nc, { cluster: 'bench', keys: [name === 'src' ? 'producer' : 'consumer'], ...TOPOLOGY_DEFAULTS.transport });
  system.attachTransport(transport);
  transport.start();
  // The producer starts once the consumer is up: it waits to hear it (the consumer's credits are
  // held until it hears the producer).
  for (const end = Date.now() + 10_000; name === 'src' && !transport.canSend('dst'); ) {
    if (Date.now() > end) throw new Error('node dst not heard over NATS within 10 s');
    await new Promise((r) => setTimeout(r, 20));
  }
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
