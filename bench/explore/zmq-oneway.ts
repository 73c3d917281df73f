import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Packr } from 'msgpackr';
import { z } from 'zod';
import { Context, Dealer, Pair, Pull, Push, Router } from 'zeromq';
import { CpuInterference, measureUndisturbed } from '../cpu-interference.ts';
import { PinnedProcess, announceReady, announceResult, awaitSignal, isEntryScript, runPinnedChild } from '../pinned-process.ts';

/**
 * One-way throughput of zeromq.js over ipc:// between two pinned processes (sender core 0,
 * receiver core 1 unless a variant says otherwise). An envelope is 64 bytes (or one small msgpackr
 * object); variants change the socket pair, how envelopes are framed (one per message, packed into
 * one frame, multipart, a msgpackr array), the send discipline and pinning. Throughput is counted
 * at the receiver, first message to last, in envelopes per second.
 *
 *   node --import tsx bench/explore/zmq-oneway.ts [--rounds 3] [variant ...]
 */

type PairKind = 'push-pull' | 'push-binds' | 'dealer-router' | 'pair';
type Shape = 'single' | 'packed' | 'multipart' | 'msgpackr';
/**
 * await: `await send()` per frame. writable: sendTimeout 0, send without awaiting while
 * `socket.writable`, otherwise one awaited send with the timeout back at -1. ebusy: default
 * timeout, no await; a send that throws EBUSY waits for the pending one and retries.
 */
type SendDiscipline = 'await' | 'writable' | 'ebusy';
type ReceiveLoop = 'iter' | 'receive';

const ENVELOPE_BYTES = 64;
const DEADLINE_MS = 60_000;

interface RoleConfig {
  role: 'sender' | 'receiver';
  path: string;
  pair: PairKind;
  shape: Shape;
  batch: number;
  envelopes: number;
  send: SendDiscipline;
  loop: ReceiveLoop;
  hwm?: number;
}

function roleConfig(): RoleConfig {
  const { values } = parseArgs({
    options: {
      role: { type: 'string' },
      path: { type: 'string' },
      pair: { type: 'string', default: 'push-pull' },
      shape: { type: 'string', default: 'single' },
      batch: { type: 'string', default: '1' },
      envelopes: { type: 'string', default: '1000000' },
      send: { type: 'string', default: 'await' },
      loop: { type: 'string', default: 'iter' },
      hwm: { type: 'string' },
    },
  });
  if (values.role !== 'sender' && values.role !== 'receiver') throw new Error(`--role ${String(values.role)}: expected sender or receiver`);
  if (values.path === undefined) throw new Error('--path: expected a socket path');
  return {
    role: values.role,
    path: values.path,
    pair: values.pair as PairKind,
    shape: values.shape as Shape,
    batch: Number(values.batch),
    envelopes: Number(values.envelopes),
    send: values.send as SendDiscipline,
    loop: values.loop as ReceiveLoop,
    hwm: values.hwm === undefined ? undefined : Number(values.hwm),
  };
}

/** A quote-sized envelope, as the runtime would batch them. */
function envelope(seq: number): { type: 'quote'; seq: number; instrument: string; bid: number; ask: number; ts: number } {
  return { type: 'quote', seq, instrument: 'BTC-USD', bid: 64123.5, ask: 64124, ts: 1_732_250_000_000_123 };
}

function socketOptions(config: RoleConfig): { context: Context; linger: number; sendHighWaterMark?: number; receiveHighWaterMark?: number } {
  const context = new Context({ blocky: false });
  const options = { context, linger: 0 };
  if (config.hwm === undefined) return options;
  return config.role === 'sender' ? { ...options, sendHighWaterMark: config.hwm } : { ...options, receiveHighWaterMark: config.hwm };
}

async function sender(config: RoleConfig): Promise<void> {
  const options = socketOptions(config);
  const address = `ipc://${config.path}`;
  const socket = config.pair === 'dealer-router' ? new Dealer(options) : config.pair === 'pair' ? new Pair(options) : new Push(options);
  if (config.pair === 'push-binds') await socket.bind(address);
  else socket.connect(address);
  announceReady();
  await awaitSignal('go');

  const packr = new Packr({ useRecords: true });
  const single = Buffer.alloc(ENVELOPE_BYTES, 0x5a);
  const packed = Buffer.alloc(ENVELOPE_BYTES * config.batch, 0x5a);
  const multipart = Array.from({ length: config.batch }, () => single);
  const objects = Array.from({ length: config.batch }, (_, i) => envelope(i));
  const frame = (index: number): Buffer | Buffer[] => {
    switch (config.shape) {
      case 'single':
        return single;
      case 'packed':
        return packed;
      case 'multipart':
        return multipart;
      case 'msgpackr':
        // Re-encoded per frame: the encode cost is part of what the runtime pays per batch.
        for (let i = 0; i < objects.length; i++) objects[i].seq = index * config.batch + i;
        return packr.pack(objects);
    }
  };

  const frames = Math.ceil(config.envelopes / config.batch);
  const usage_start = process.resourceUsage();
  const start_ns = process.hrtime.bigint();
  const deadline_ns = start_ns + BigInt(DEADLINE_MS) * 1_000_000n;
  let pending: Promise<void> | undefined;
  if (config.send === 'writable') socket.sendTimeout = 0;
  for (let i = 0; i < frames; i++) {
    if ((i & 1023) === 0 && process.hrtime.bigint() > deadline_ns) throw new Error(`sender passed the ${DEADLINE_MS} ms deadline at frame ${i}`);
    const message = frame(i);
    switch (config.send) {
      case 'await':
        await socket.send(message);
        break;
      case 'writable':
        if (socket.writable) {
          // Settled synchronously with sendTimeout 0; POLLOUT promised it cannot fail with EAGAIN.
          void socket.send(message);
        } else {
          socket.sendTimeout = -1;
          await socket.send(message);
          socket.sendTimeout = 0;
        }
        break;
      case 'ebusy':
        for (;;) {
          try {
            pending = socket.send(message);
            break;
          } catch (error) {
            if ((error as { code?: string }).code !== 'EBUSY') throw error;
            await pending;
          }
        }
        break;
    }
  }
  await pending;
  const usage = process.resourceUsage();
  announceResult({
    elapsed_ms: Number(process.hrtime.bigint() - start_ns) / 1e6,
    cpu_us_per_envelope: (usage.userCPUTime + usage.systemCPUTime - usage_start.userCPUTime - usage_start.systemCPUTime) / (frames * config.batch),
  });
  // Queued frames still have to leave through the I/O thread; the parent stops us after the receiver is done.
  await new Promise<never>(() => undefined);
}

async function receiver(config: RoleConfig): Promise<void> {
  const options = socketOptions(config);
  const address = `ipc://${config.path}`;
  const socket = config.pair === 'dealer-router' ? new Router(options) : config.pair === 'pair' ? new Pair(options) : new Pull(options);
  if (config.pair === 'push-binds') socket.connect(address);
  else await socket.bind(address);
  announceReady();

  const unpackr = new Packr({ useRecords: true });
  const payload_from = config.pair === 'dealer-router' ? 1 : 0;
  const count = (parts: Buffer[]): number => {
    switch (config.shape) {
      case 'single':
        return 1;
      case 'packed':
        return parts[payload_from].length / ENVELOPE_BYTES;
      case 'multipart':
        return parts.length - payload_from;
      case 'msgpackr':
        return (unpackr.unpack(parts[payload_from]) as unknown[]).length;
    }
  };

  let received = 0;
  let frames = 0;
  let start_ns = 0n;
  let usage_start = process.resourceUsage();
  const onFrame = (parts: Buffer[]): boolean => {
    if (frames++ === 0) {
      start_ns = process.hrtime.bigint();
      usage_start = process.resourceUsage();
    }
    received += count(parts);
    if ((frames & 1023) === 0 && process.hrtime.bigint() - start_ns > BigInt(DEADLINE_MS) * 1_000_000n) {
      throw new Error(`receiver passed the ${DEADLINE_MS} ms deadline at ${received} envelopes`);
    }
    return received < config.envelopes;
  };
  if (config.loop === 'iter') {
    for await (const parts of socket) if (!onFrame(parts)) break;
  } else {
    while (onFrame(await socket.receive()));
  }
  const elapsed_ms = Number(process.hrtime.bigint() - start_ns) / 1e6;
  const usage = process.resourceUsage();
  announceResult({
    envelopes: received,
    frames,
    elapsed_ms,
    cpu_us_per_envelope: (usage.userCPUTime + usage.systemCPUTime - usage_start.userCPUTime - usage_start.systemCPUTime) / received,
  });
  await new Promise<never>(() => undefined);
}

/* ---- parent side ---- */

interface Variant {
  args: string[];
  sender_cores?: string;
  receiver_cores?: string;
  /** Re-pin libzmq I/O threads after start. */
  io_cores?: { sender: string; receiver: string };
}

const SINGLE = ['--envelopes', '1000000'];
const BATCH64 = ['--batch', '64', '--envelopes', '10000000'];

const VARIANTS: Record<string, Variant> = {
  'push-pull': { args: [...SINGLE] },
  'push-pull-receive-loop': { args: [...SINGLE, '--loop', 'receive'] },
  'push-pull-writable': { args: [...SINGLE, '--send', 'writable'] },
  'push-pull-ebusy': { args: [...SINGLE, '--send', 'ebusy'] },
  'push-binds': { args: [...SINGLE, '--pair', 'push-binds'] },
  'dealer-router': { args: [...SINGLE, '--pair', 'dealer-router'] },
  pair: { args: [...SINGLE, '--pair', 'pair'] },
  'push-pull-hwm-10k': { args: [...SINGLE, '--hwm', '10000'] },
  'push-pull-io-other-core': { args: [...SINGLE], io_cores: { sender: '1', receiver: '0' } },
  'push-pull-all-core-0': { args: [...SINGLE], sender_cores: '0', receiver_cores: '0' },
  'push-pull-unpinned': { args: [...SINGLE], sender_cores: '0,1', receiver_cores: '0,1' },
  'push-pull-ebusy-io-other-core': { args: [...SINGLE, '--send', 'ebusy'], io_cores: { sender: '1', receiver: '0' } },
  'push-pull-ebusy-unpinned': { args: [...SINGLE, '--send', 'ebusy'], sender_cores: '0,1', receiver_cores: '0,1' },
  'multipart-64': { args: ['--shape', 'multipart', ...BATCH64] },
  'packed-64': { args: ['--shape', 'packed', ...BATCH64] },
  'packed-64-ebusy': { args: ['--shape', 'packed', '--send', 'ebusy', ...BATCH64] },
  'packed-64-io-other-core': { args: ['--shape', 'packed', ...BATCH64], io_cores: { sender: '1', receiver: '0' } },
  'packed-64-unpinned': { args: ['--shape', 'packed', ...BATCH64], sender_cores: '0,1', receiver_cores: '0,1' },
  'packed-256': { args: ['--shape', 'packed', '--batch', '256', '--envelopes', '20000000'] },
  'msgpackr-64': { args: ['--shape', 'msgpackr', ...BATCH64] },
  'msgpackr-64-dealer-router': { args: ['--shape', 'msgpackr', '--pair', 'dealer-router', ...BATCH64] },
  'msgpackr-64-io-other-core': { args: ['--shape', 'msgpackr', ...BATCH64], io_cores: { sender: '1', receiver: '0' } },
  'msgpackr-64-unpinned': { args: ['--shape', 'msgpackr', ...BATCH64], sender_cores: '0,1', receiver_cores: '0,1' },
};

const senderReport = z.object({ elapsed_ms: z.number(), cpu_us_per_envelope: z.number() });
const receiverReport = z.object({ envelopes: z.number(), frames: z.number(), elapsed_ms: z.number(), cpu_us_per_envelope: z.number() });

interface OneWayResult {
  envelopes_per_s: number;
  frames_per_s: number;
  sender_cpu_us: number;
  receiver_cpu_us: number;
  interference_pct: number;
}

async function runVariant(variant: Variant): Promise<OneWayResult> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-oneway-'));
  const file = new URL(import.meta.url);
  const common = ['--path', join(dir, 'oneway.sock'), ...variant.args];
  let receiver: PinnedProcess | undefined;
  let sender: PinnedProcess | undefined;
  try {
    receiver = PinnedProcess.start({ file, cores: variant.receiver_cores ?? '1', args: ['--role', 'receiver', ...common], label: 'oneway receiver' });
    await receiver.ready(() => null);
    sender = PinnedProcess.start({ file, cores: variant.sender_cores ?? '0', args: ['--role', 'sender', ...common], label: 'oneway sender' });
    await sender.ready(() => null);
    if (variant.io_cores) {
      await receiver.pinThreads('ZMQbg/IO', variant.io_cores.receiver);
      await sender.pinThreads('ZMQbg/IO', variant.io_cores.sender);
    }
    const interference = new CpuInterference([sender.pid, receiver.pid]);
    interference.start();
    sender.signal('go');
    const received = await receiver.result((d) => receiverReport.parse(d), DEADLINE_MS + 30_000);
    const interference_pct = interference.stop();
    const sent = await sender.result((d) => senderReport.parse(d), 30_000);
    return {
      envelopes_per_s: (received.envelopes / received.elapsed_ms) * 1000,
      frames_per_s: (received.frames / received.elapsed_ms) * 1000,
      sender_cpu_us: sent.cpu_us_per_envelope,
      receiver_cpu_us: received.cpu_us_per_envelope,
      interference_pct,
    };
  } finally {
    await Promise.all([sender?.stop(), receiver?.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
}

function describe(label: string, r: OneWayResult): string {
  return (
    `${label.padEnd(34)} ${(r.envelopes_per_s / 1e3).toFixed(0).padStart(7)}k env/s  ${(r.frames_per_s / 1e3).toFixed(0).padStart(5)}k frames/s` +
    `  cpu/env ${r.sender_cpu_us.toFixed(3)}+${r.receiver_cpu_us.toFixed(3)} us  other-cpu ${r.interference_pct.toFixed(1)}%`
  );
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { rounds: { type: 'string', default: '3' } }, allowPositionals: true });
  const names = positionals.length > 0 ? positionals : Object.keys(VARIANTS);
  for (const name of names) if (!(name in VARIANTS)) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(', ')}`);
  const results = new Map<string, OneWayResult[]>(names.map((n) => [n, []]));
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const name of names) {
      const result = await measureUndisturbed(() => runVariant(VARIANTS[name]));
      results.get(name)!.push(result);
      console.log(describe(`r${round} ${name}`, result));
    }
  }
  console.log('\nmedian of rounds:');
  for (const [name, list] of results) {
    const m = (pick: (r: OneWayResult) => number): number => list.map(pick).sort((a, b) => a - b)[Math.floor(list.length / 2)];
    console.log(
      describe(name, {
        envelopes_per_s: m((r) => r.envelopes_per_s),
        frames_per_s: m((r) => r.frames_per_s),
        sender_cpu_us: m((r) => r.sender_cpu_us),
        receiver_cpu_us: m((r) => r.receiver_cpu_us),
        interference_pct: m((r) => r.interference_pct),
      }),
    );
  }
}

if (isEntryScript(import.meta.url)) {
  if (process.argv.includes('--role')) {
    const config = roleConfig();
    runPinnedChild(() => (config.role === 'sender' ? sender(config) : receiver(config)));
  } else {
    await main();
  }
}
