// The NATS transport between two simulated hosts (one nats-server each, clustered with routes),
// in this process: two actor systems, as two nodes on two hosts would be.
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, afterEach, describe, expect, it } from 'vitest';
import type { Behavior } from '../../runtime/actor.ts';
import { ActorSystem } from '../../runtime/actor-system.ts';
import { decodeFrame } from '../../runtime/codec.ts';
import { connectNats } from '../../runtime/nats-connection.ts';
import { NatsTransport } from '../../runtime/nats-transport.ts';
import type { DeadLetter } from '../../runtime/dead-letters.ts';
import { type SimulatedHosts, simulateHosts } from '../support/simulated-hosts.ts';

type Num = { type: 'num'; n: number };
type Ping = { type: 'ping'; n: number };

// Two hosts on loopback, one nats-server each, clustered: the transport is what is under test here
// (test/integration/multi-host.test.ts runs whole hosts in network namespaces).
let hosts: SimulatedHosts;
const url = (server: number): string => hosts.hosts[server].natsUrl;
beforeAll(async () => {
  hosts = await simulateHosts(['a', 'b'], { prefer: 'loopback' });
}, 30_000);
afterAll(() => hosts?.close());

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const placement: Record<string, string> = { sink: 'b', pong: 'b', slow: 'b', source: 'a' };

async function node(name: string, server: number, keys: string[], opts: { holdMs?: number; inboundMax?: number; cluster?: string; before?: (s: ActorSystem) => void } = {}) {
  const system = new ActorSystem({ node: name, nodeOf: (a) => placement[a] ?? (a.startsWith('order/') ? 'b' : undefined) });
  opts.before?.(system);
  const nc = await connectNats([url(server)], `test ${name}`);
  const transport = NatsTransport.attach(system, nc, { cluster: opts.cluster ?? 'tt', keys, holdMs: opts.holdMs ?? 5000, holdMax: 100_000, batchMax: 512, inboundMax: opts.inboundMax ?? 100_000, heartbeatMs: 50, silentMs: 300 });
  const stop = async () => {
    await system.shutdown();
    await nc.close();
  };
  cleanups.push(stop);
  return { system, transport, nc, stop };
}

/** Records every n it receives, in order. */
const recorder = (got: number[]): Behavior<Num, null> => ({ init: () => null, receive: (s, m) => (got.push(m.n), s) });

const until = async (cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('NATS transport across two hosts', () => {
  it('delivers every envelope from one sender to one receiver in order, none twice, by logical address', async () => {
    const b = await node('b', 1, ['sink', 'order/*']);
    const a = await node('a', 0, ['source']);
    const got: number[] = [];
    b.system.spawn('sink', recorder(got), { mailbox: { capacity: 100_000, policy: 'backpressure' } });
    const orders: string[] = [];
    b.system.activate = (address) => {
      if (!address.startsWith('order/')) return false;
      b.system.spawn(address, { init: () => null, receive: (s) => (orders.push(address), s) });
      return true;
    };
    await until(() => a.transport.canSend('b'), 5000, 'a hears b');
    const N = 20_000;
    for (let i = 1; i <= N; i++) {
      a.system.tell('sink', { type: 'num', n: i });
      // Several turns' worth of frames, not one giant frame.
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    // An address with characters a subject token cannot hold still reaches its actor.
    a.system.tell('order/rt-1.2*x', { type: 'num', n: 0 });
    await until(() => got.length === N && orders.length === 1, 10_000, `${N} envelopes`);
    expect(got).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(orders).toEqual(['order/rt-1.2*x']);
    const st = b.transport.stats();
    expect(st.gaps).toBe(0);
    expect(st.duplicates).toBe(0);
    expect(st.receivedEnvelopes).toBe(N + 1);
  });

  it('carries asks and their replies across hosts', async () => {
    const b = await node('b', 1, ['pong']);
    const a = await node('a', 0, ['source']);
    b.system.spawn('pong', { init: () => null, receive: (s, m: Ping, ctx) => (ctx.reply({ type: 'ping', n: m.n * 2 }), s) });
    await until(() => a.transport.canSend('b'), 5000, 'a hears b');
    const replies = await Promise.all([1, 2, 3].map((n) => a.system.ask<Ping, Ping>('pong', { type: 'ping', n }, 2000)));
    expect(replies.map((r) => r.n)).toEqual([2, 4, 6]);
  });

  it('shows cross-host mailbox traffic on rt.<cluster>.mail.<address>, as `nats sub` would', async () => {
    const b = await node('b', 1, ['sink']);
    const a = await node('a', 0, ['source']);
    const got: number[] = [];
    b.system.spawn('sink', recorder(got));
    const watcher: NatsConnection = await connect({ servers: url(1) });
    cleanups.push(() => watcher.close());
    const seen: { subject: string; to: string; type: string; n: unknown }[] = [];
    watcher.subscribe('rt.tt.mail.>', { callback: (_e, m) => decodeFrame(m.data).envelopes.forEach((e) => seen.push({ subject: m.subject, to: e.to, type: e.type, n: (e.body as Num).n })) });
    await watcher.flush();
    await until(() => a.transport.canSend('b'), 5000, 'a hears b');
    a.system.tell('sink', { type: 'num', n: 7 });
    await until(() => got.length === 1 && seen.length === 1);
    expect(seen).toEqual([{ subject: 'rt.tt.mail.sink', to: 'sink', type: 'num', n: 7 }]);
  });

  it('holds envelopes for a peer not heard yet and delivers them when it appears; past hold_ms they are dead letters, sender told', async () => {
    const a = await node('a', 0, ['source'], { holdMs: 600 });
    const dead: DeadLetter[] = [];
    a.system.deadLetters.subscribe((d) => dead.push(d));
    a.system.tell('sink', { type: 'num', n: 1 });
    await new Promise((r) => setTimeout(r, 900));
    expect(dead.map((d) => [d.reason, d.to])).toEqual([['node-unreachable', 'sink']]);
    expect(dead[0].detail).toContain('hold_ms');
    a.system.tell('sink', { type: 'num', n: 2 });
    const got: number[] = [];
    await node('b', 1, ['sink'], { before: (s) => s.spawn('sink', recorder(got)) });
    await until(() => got.length === 1, 5000, 'the held envelope');
    expect(got).toEqual([2]);
  });

  it('resumes delivery after the receiver’s nats-server is killed and restarted under traffic, and reports what was lost', async () => {
    const b = await node('b', 1, ['sink']);
    const a = await node('a', 0, ['source'], { holdMs: 30_000 });
    const got: number[] = [];
    b.system.spawn('sink', recorder(got), { mailbox: { capacity: 1_000_000, policy: 'backpressure' } });
    const gaps: { from: number; to: number }[] = [];
    b.system.events.on('transport-gap', (g: { from: number; to: number }) => gaps.push(g));
    await until(() => a.transport.canSend('b'), 5000, 'a hears b');
    let sent = 0;
    let running = true;
    const traffic = (async () => {
      while (running && sent < 200_000) {
        for (let k = 0; k < 50; k++) a.system.tell('sink', { type: 'num', n: ++sent });
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    await until(() => got.length > 1000, 5000, 'traffic flowing');
    await hosts.restartNats('b', 300);
    const atRestart = sent;
    await until(() => got.length > 0 && got[got.length - 1] > atRestart + 1000, 20_000, 'delivery after the restart');
    running = false;
    await traffic;
    await until(() => got[got.length - 1] === sent, 10_000, 'the last envelope');
    // In order, never twice; every envelope not delivered is accounted for as a reported gap.
    for (let i = 1; i < got.length; i++) expect(got[i]).toBeGreaterThan(got[i - 1]);
    const lost = sent - got.length;
    expect(b.transport.stats().gaps).toBe(lost);
    expect(gaps.reduce((s, g) => s + g.to - g.from + 1, 0)).toBe(lost);
    expect(b.transport.stats().disconnects).toBeGreaterThanOrEqual(1);
    console.log(`nats-server restart under traffic: ${sent} sent, ${got.length} delivered, ${lost} lost and reported in ${gaps.length} gap(s)`);
  }, 60_000);

  it('reports a slow consumer: past inbound_max what arrives for a full back-pressured mailbox is counted and dead-lettered, the rest delivered in order', async () => {
    const b = await node('b', 1, ['slow'], { inboundMax: 100 });
    const a = await node('a', 0, ['source']);
    const got: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    b.system.spawn('slow', {
      init: () => null,
      receive: (s, m: Num, ctx) => {
        got.push(m.n);
        if (m.n === 1) ctx.suspendUntil(gate, (st) => st);
        return s;
      },
    }, { mailbox: { capacity: 10, policy: 'backpressure' } });
    const slow: { dropped: number }[] = [];
    b.system.events.on('slow-consumer', (e: { dropped: number }) => slow.push(e));
    const dead: DeadLetter[] = [];
    b.system.deadLetters.subscribe((d) => dead.push(d));
    await until(() => a.transport.canSend('b'), 5000, 'a hears b');
    for (let i = 1; i <= 300; i++) {
      a.system.tell('slow', { type: 'num', n: i });
      await new Promise((r) => setImmediate(r));
    }
    await until(() => b.transport.stats().slowConsumerDropped > 0, 5000, 'a slow consumer');
    await new Promise((r) => setTimeout(r, 100));
    release();
    const st = () => b.transport.stats();
    await until(() => got.length + st().slowConsumerDropped === 300, 5000, 'everything delivered or dropped');
    expect(slow.reduce((s, e) => s + e.dropped, 0)).toBe(st().slowConsumerDropped);
    expect(dead.filter((d) => d.reason === 'slow-consumer').length).toBe(st().slowConsumerDropped);
    for (let i = 1; i < got.length; i++) expect(got[i]).toBeGreaterThan(got[i - 1]);
    expect(st().gaps).toBe(0);
  });
});
