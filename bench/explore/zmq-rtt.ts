import { parseArgs } from 'node:util';
import { Context, Dealer, Pair, Pull, Push, Reply, Request, Router, type Socket } from 'zeromq';
import { measureUndisturbed } from '../cpu-interference.ts';
import { isEntryScript, runPinnedChild } from '../pinned-process.ts';
import {
  describePingPong,
  medianPingPong,
  pingPongRoleConfig,
  runPingPong,
  runPingPongRole,
  type EchoCounter,
  type PingPongOptions,
  type PingPongResult,
  type PingPongRoleConfig,
  type RoundTripRun,
} from '../raw/pingpong.ts';

/**
 * Where does a zeromq.js ipc:// round trip go, and which way of driving it is fastest? Runs named
 * variants of a 64-byte ping-pong (socket pair, receive loop, send discipline, context options,
 * pinning of the JS and libzmq I/O threads), alternating them round by round, and prints each
 * round plus the median per variant.
 *
 *   node --import tsx bench/explore/zmq-rtt.ts [--rounds 3] [--round-trips 100000] [variant ...]
 */

type PairKind = 'dealer-router' | 'dealer-dealer' | 'pair' | 'push-pull' | 'req-rep' | 'client-server';
type ReceiveLoop = 'iter' | 'receive' | 'spin';
type SendDiscipline = 'await' | 'noawait';

interface TransportConfig {
  pair: PairKind;
  loop: ReceiveLoop;
  send: SendDiscipline;
  /** libzmq ZMQ_THREAD_SCHED_POLICY for the I/O thread: 1 = SCHED_FIFO, 2 = SCHED_RR. */
  sched_policy?: number;
  sched_priority?: number;
  io_threads?: number;
  immediate: boolean;
}

const TRANSPORT_FLAGS = {
  pair: { type: 'string' },
  loop: { type: 'string' },
  send: { type: 'string' },
  'sched-policy': { type: 'string' },
  'sched-priority': { type: 'string' },
  'io-threads': { type: 'string' },
  immediate: { type: 'boolean' },
} as const;

function transportConfig(config: PingPongRoleConfig): TransportConfig {
  const e = config.extra;
  const optionalInt = (v: string | boolean | undefined): number | undefined => (typeof v === 'string' ? Number(v) : undefined);
  return {
    pair: ((e.pair as string | undefined) ?? 'dealer-router') as PairKind,
    loop: ((e.loop as string | undefined) ?? 'iter') as ReceiveLoop,
    send: ((e.send as string | undefined) ?? 'await') as SendDiscipline,
    sched_policy: optionalInt(e['sched-policy']),
    sched_priority: optionalInt(e['sched-priority']),
    io_threads: optionalInt(e['io-threads']),
    immediate: e.immediate === true,
  };
}

function context(t: TransportConfig): Context {
  // Thread options only act when the context starts its I/O thread, i.e. on its first socket.
  const context = new Context({ blocky: false });
  if (t.io_threads !== undefined) context.ioThreads = t.io_threads;
  if (t.sched_policy !== undefined) context.threadSchedulingPolicy = t.sched_policy;
  if (t.sched_priority !== undefined) context.threadPriority = t.sched_priority;
  return context;
}

/** What a role needs from a pair: one send and one receive, whatever the socket types underneath. */
interface Channel {
  send(parts: Buffer[]): Promise<void>;
  receive(): Promise<Buffer[]>;
  readable(): boolean;
  /** The receiving socket itself, for `for await`; absent where receive() reshapes the message. */
  iterable?: AsyncIterable<Buffer[]>;
  sockets: Socket[];
}

async function channel(config: PingPongRoleConfig, side: 'bind' | 'connect'): Promise<Channel> {
  const t = transportConfig(config);
  const ctx = context(t);
  const base = { context: ctx, linger: 0, immediate: t.immediate };
  // Only sockets that send take sendTimeout (zeromq seals its socket objects against unknown options).
  const sending = { ...base, sendTimeout: t.send === 'noawait' ? 0 : -1 };
  const a = `ipc://${config.path}`;
  const b = `ipc://${config.path}.back`;
  const attach = async (socket: Socket, address: string): Promise<void> => {
    if (side === 'bind') await socket.bind(address);
    else socket.connect(address);
  };
  const single = (socket: Dealer | Router | Pair | Request | Reply): Channel => ({
    send: (parts) => socket.send(parts),
    receive: () => socket.receive(),
    readable: () => socket.readable,
    iterable: socket,
    sockets: [socket],
  });
  switch (t.pair) {
    case 'dealer-router': {
      if (side === 'connect') {
        const s = new Dealer(sending);
        await attach(s, a);
        return single(s);
      }
      const s = new Router(sending);
      await attach(s, a);
      return single(s);
    }
    case 'dealer-dealer': {
      const s = new Dealer(sending);
      await attach(s, a);
      return single(s);
    }
    case 'pair': {
      const s = new Pair(sending);
      await attach(s, a);
      return single(s);
    }
    case 'req-rep': {
      const s = side === 'connect' ? new Request(sending) : new Reply(sending);
      await attach(s, a);
      return single(s);
    }
    case 'client-server': {
      // Imported only here: loading the draft module prints an "experimental" warning.
      const { Client, Server } = await import('zeromq/draft.js');
      if (side === 'connect') {
        const s = new Client(sending);
        await attach(s, a);
        return { send: (p) => s.send(p[0]), receive: async () => [(await s.receive())[0]], readable: () => s.readable, sockets: [s] };
      }
      // SERVER answers through a routing id kept from the request; the echo stores it in parts[1].
      const s = new Server(sending);
      await attach(s, a);
      return {
        send: (p) => s.send(p[0], { routingId: p[1].readUInt32LE(0) }),
        receive: async () => {
          const [message, { routingId }] = await s.receive();
          const id = Buffer.alloc(4);
          id.writeUInt32LE(routingId, 0);
          return [message, id];
        },
        readable: () => s.readable,
        sockets: [s],
      };
    }
    case 'push-pull': {
      // Two one-way pipes: client PUSH -> echo PULL on `a`, echo PUSH -> client PULL on `b`.
      const push = new Push(sending);
      const pull = new Pull(base);
      await attach(push, side === 'bind' ? b : a);
      await attach(pull, side === 'bind' ? a : b);
      return { send: (p) => push.send(p), receive: () => pull.receive(), readable: () => pull.readable, iterable: pull, sockets: [push, pull] };
    }
  }
}

/** Spinning keeps the JS thread off epoll; bounded by the run's deadline through `spin_until_ns`. */
function spinUntilReadable(ch: Channel, spin_until_ns: bigint): void {
  let spins = 0;
  while (!ch.readable()) {
    if ((++spins & 0xffff) === 0 && process.hrtime.bigint() > spin_until_ns) throw new Error('spin exceeded the deadline');
  }
}

function sendWith(t: TransportConfig, ch: Channel, parts: Buffer[]): Promise<void> | undefined {
  if (t.send === 'await') return ch.send(parts);
  // sendTimeout 0 makes send() synchronous: the promise is already settled, only a failure matters.
  ch.send(parts).catch((error: unknown) => {
    process.stderr.write(`send failed: ${String(error)}\n`);
    process.exit(1);
  });
  return undefined;
}

async function echo(config: PingPongRoleConfig, counter: EchoCounter): Promise<void> {
  const t = transportConfig(config);
  const ch = await channel(config, 'bind');
  counter.ready();
  const deadline_ns = process.hrtime.bigint() + BigInt(config.deadline_ms + 60_000) * 1_000_000n;
  if (t.loop === 'iter' && ch.iterable) {
    for await (const parts of ch.iterable) {
      counter.onMessage();
      await sendWith(t, ch, parts);
    }
    return;
  }
  for (;;) {
    if (t.loop === 'spin') spinUntilReadable(ch, deadline_ns);
    const parts = await ch.receive();
    counter.onMessage();
    await sendWith(t, ch, parts);
  }
}

async function client(config: PingPongRoleConfig, run: RoundTripRun): Promise<void> {
  const t = transportConfig(config);
  const ch = await channel(config, 'connect');
  await run.ready();
  const payload = [Buffer.alloc(config.payload_bytes, 0x5a)];
  const deadline_ns = process.hrtime.bigint() + BigInt(config.deadline_ms) * 1_000_000n;
  const iterator = t.loop === 'iter' ? ch.iterable?.[Symbol.asyncIterator]() : undefined;
  while (run.next()) {
    await sendWith(t, ch, payload);
    if (t.loop === 'spin') spinUntilReadable(ch, deadline_ns);
    const reply = iterator ? (await iterator.next()).value : await ch.receive();
    if (!reply || reply[0].length !== config.payload_bytes) throw new Error('bad reply');
  }
  for (const s of ch.sockets) s.close();
}

interface Variant {
  args: string[];
  options?: Partial<PingPongOptions>;
}

const IO_ON_OTHER_CORE = { thread_pins: { name_prefix: 'ZMQbg/IO', client_cores: '1', echo_cores: '0' } };

/** Named variants; the default pinning is client on core 0, echo on core 1, I/O threads inherit. */
const VARIANTS: Record<string, Variant> = {
  'dealer-router': { args: [] },
  'dealer-router-receive': { args: ['--loop', 'receive'] },
  'dealer-router-noawait': { args: ['--send', 'noawait'] },
  'dealer-router-immediate': { args: ['--immediate'] },
  'dealer-dealer': { args: ['--pair', 'dealer-dealer'] },
  pair: { args: ['--pair', 'pair'] },
  'push-pull': { args: ['--pair', 'push-pull'] },
  'req-rep': { args: ['--pair', 'req-rep'] },
  'client-server': { args: ['--pair', 'client-server'] },
  'io-threads-2': { args: ['--io-threads', '2'] },
  'io-fifo': { args: ['--sched-policy', '1', '--sched-priority', '10'] },
  'io-other-core': { args: [], options: IO_ON_OTHER_CORE },
  'noawait-io-other-core': { args: ['--send', 'noawait'], options: IO_ON_OTHER_CORE },
  'pair-noawait': { args: ['--pair', 'pair', '--send', 'noawait'] },
  'req-rep-noawait': { args: ['--pair', 'req-rep', '--send', 'noawait'] },
  'all-core-0': { args: [], options: { client_cores: '0', echo_cores: '0' } },
  unpinned: { args: [], options: { client_cores: '0,1', echo_cores: '0,1' } },
  'spin-client-io-other-core': { args: ['--loop', 'spin'], options: { thread_pins: { name_prefix: 'ZMQbg/IO', client_cores: '1' } } },
};

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { rounds: { type: 'string', default: '3' }, 'round-trips': { type: 'string', default: '100000' } },
    allowPositionals: true,
  });
  const names = positionals.length > 0 ? positionals : Object.keys(VARIANTS);
  for (const name of names) if (!(name in VARIANTS)) throw new Error(`unknown variant ${name}; known: ${Object.keys(VARIANTS).join(', ')}`);
  const rounds = Number(values.rounds);
  const results = new Map<string, PingPongResult[]>(names.map((n) => [n, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const name of names) {
      const variant = VARIANTS[name];
      const result = await measureUndisturbed(() =>
        runPingPong(new URL(import.meta.url), { round_trips: Number(values['round-trips']), args: variant.args, ...variant.options }),
      );
      results.get(name)!.push(result);
      console.log(describePingPong(`r${round} ${name}`, result));
    }
  }
  console.log('\nmedian of rounds (by p50; p99 is the median p99):');
  for (const [name, list] of results) console.log(describePingPong(name, medianPingPong(list)));
}

if (isEntryScript(import.meta.url)) {
  if (process.argv.includes('--role')) {
    runPinnedChild(() => runPingPongRole(pingPongRoleConfig(TRANSPORT_FLAGS), { echo, client }));
  } else {
    await main();
  }
}
