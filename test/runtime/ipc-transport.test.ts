import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import type { Behavior } from '../../runtime/actor.ts';
import { ActorSystem } from '../../runtime/actor-system.ts';
import { IpcTransport, ipcEndpoint } from '../../runtime/ipc-transport.ts';
import type { Signal } from '../../runtime/signal.ts';

type Num = { type: 'num'; n: number };
type Ask = { type: 'ping'; n: number };

const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function ipcDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rt-ipc-'));
  dirs.push(d);
  return d;
}

/** A node in this process: its own actor system and transport, placement given as a map. */
async function node(name: string, dir: string, placement: Record<string, string>, opts: { holdMs?: number; holdMax?: number } = {}) {
  const system = new ActorSystem({ node: name, nodeOf: (a) => placement[a] });
  const transport = await IpcTransport.attach(system, { ipcDir: dir, holdMs: opts.holdMs ?? 5000, holdMax: opts.holdMax ?? 100_000, batchMax: 512 });
  const stop = async () => system.shutdown();
  cleanups.push(stop);
  return { system, transport, stop };
}

const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

const recorder = (log: number[]): Behavior<Num, null> => ({ init: () => null, receive: (s, m) => (log.push(m.n), s) });

describe('ZeroMQ IPC transport', () => {
  it('delivers across nodes by logical address, in order, each message once', async () => {
    const dir = ipcDir();
    const placement = { sink: 'b', src: 'a' };
    const a = await node('a', dir, placement);
    const b = await node('b', dir, placement);
    const log: number[] = [];
    b.system.spawn('sink', recorder(log), { mailbox: { capacity: 100_000, policy: 'reject' } });
    for (let i = 0; i < 20_000; i++) a.system.tell('sink', { type: 'num', n: i });
    await until(() => log.length === 20_000);
    expect(log).toEqual([...Array(20_000).keys()]);
    expect(b.transport.stats()).toMatchObject({ duplicates: 0, gaps: 0, badFrames: 0, receivedEnvelopes: 20_000 });
    // Batching: far fewer frames than envelopes.
    expect(b.transport.stats().receivedFrames).toBeLessThan(1000);
  });

  it('ask across nodes gets the reply routed back to the asking node', async () => {
    const dir = ipcDir();
    const placement = { echo: 'b' };
    const a = await node('a', dir, placement);
    const b = await node('b', dir, placement);
    b.system.spawn<Ask, null>('echo', { init: () => null, receive: (s, m, ctx) => (ctx.reply({ type: 'pong', n: m.n }), s) });
    await expect(a.system.ask('echo', { type: 'ping', n: 7 }, 2000)).resolves.toEqual({ type: 'pong', n: 7 });
  });

  it('holds messages for a node that is down and delivers them, in order, when it comes up', async () => {
    const dir = ipcDir();
    const placement = { sink: 'b' };
    const a = await node('a', dir, placement);
    for (let i = 0; i < 100; i++) a.system.tell('sink', { type: 'num', n: i });
    await new Promise((r) => setTimeout(r, 150));
    expect(a.transport.stats().links[0]).toMatchObject({ node: 'b', connected: false, held: 100 });
    const b = await node('b', dir, placement);
    const log: number[] = [];
    b.system.spawn('sink', recorder(log));
    await until(() => log.length === 100);
    expect(log).toEqual([...Array(100).keys()]);
  });

  it('after hold_ms a held message becomes a dead letter and its sender is told why', async () => {
    const dir = ipcDir();
    const a = await node('a', dir, { sink: 'b' }, { holdMs: 100 });
    const signals: Signal[] = [];
    a.system.spawn<Num, null>('src', {
      init: (ctx) => (ctx.tell('sink', { type: 'num', n: 1 }), null),
      receive: (s) => s,
      onSignal: (s, sig) => (signals.push(sig), s),
    });
    await until(() => signals.length === 1);
    expect(signals[0]).toMatchObject({ type: '$undeliverable', to: 'sink', reason: 'node-unreachable' });
    expect((signals[0] as { detail: string }).detail).toBe('node b unreachable: not reachable for 100 ms (hold_ms)');
    expect(a.system.deadLetters.count('node-unreachable')).toBe(1);
  });

  it('past hold_max a message for an unreachable node is a dead letter at once', async () => {
    const dir = ipcDir();
    const a = await node('a', dir, { sink: 'b' }, { holdMax: 10 });
    for (let i = 0; i < 15; i++) a.system.tell('sink', { type: 'num', n: i });
    await new Promise((r) => setTimeout(r, 20));
    expect(a.system.deadLetters.count('node-unreachable')).toBe(5);
    expect(a.system.deadLetters.latest(1)[0].detail).toMatch(/10 envelopes already held \(hold_max 10\)/);
  });

  it('back-pressure: a full backpressure mailbox pauses reading, and nothing is lost', async () => {
    const dir = ipcDir();
    const placement = { slow: 'b' };
    const a = await node('a', dir, placement);
    const b = await node('b', dir, placement);
    const log: number[] = [];
    b.system.spawn<Num, null>(
      'slow',
      {
        init: () => null,
        receive: (s, m) => {
          // A slow handler: 0.2 ms of work per message, so frames arrive faster than it drains.
          const end = performance.now() + 0.2;
          while (performance.now() < end);
          log.push(m.n);
          return s;
        },
      },
      { mailbox: { capacity: 16, policy: 'backpressure' } },
    );
    for (let i = 0; i < 2000; i++) a.system.tell('slow', { type: 'num', n: i });
    await until(() => log.length === 2000, 10_000);
    expect(log).toEqual([...Array(2000).keys()]);
    expect(b.system.deadLetters.total).toBe(0);
  });

  it('a malformed frame is counted and skipped; the next good one is delivered', async () => {
    const dir = ipcDir();
    const b = await node('b', dir, { sink: 'b' });
    const log: number[] = [];
    b.system.spawn('sink', recorder(log));
    const push = new zmq.Push({ linger: 0 });
    push.connect(ipcEndpoint(dir, 'b'));
    await push.send(Buffer.from('not msgpack at all \xff\xfe'));
    await until(() => b.transport.stats().badFrames === 1);
    push.close();
    const a = await node('a', dir, { sink: 'b' });
    a.system.tell('sink', { type: 'num', n: 42 });
    await until(() => log.length === 1);
    expect(b.transport.stats().badFrames).toBe(1);
  });

  it('a node that stops with envelopes held dead-letters them with the reason', async () => {
    const dir = ipcDir();
    const a = await node('a', dir, { sink: 'b' });
    for (let i = 0; i < 3; i++) a.system.tell('sink', { type: 'num', n: i });
    await new Promise((r) => setTimeout(r, 20));
    await a.stop();
    expect(a.system.deadLetters.count('node-unreachable')).toBe(3);
    expect(a.system.deadLetters.latest(1)[0].detail).toBe('node b unreachable: this node stopped with the envelope still held');
  });

  it('refuses to watch an actor of another node rather than fake a death notice', async () => {
    const dir = ipcDir();
    const a = await node('a', dir, { far: 'b', near: 'a' });
    const errors: Error[] = [];
    a.system.events.on('failure', (e: { error: Error }) => errors.push(e.error));
    a.system.onUnsupervisedFailure = () => undefined;
    a.system.spawn<Num, null>('near', { init: (ctx) => (ctx.watch(a.system.ref('far')), null), receive: (s) => s });
    expect(errors[0]?.message).toBe('near cannot watch far: it lives on node b, and death notices do not cross nodes (watch an actor of this node)');
  });

  it('close() removes the socket file', async () => {
    const dir = ipcDir();
    const a = await node('a', dir, {});
    expect(existsSync(join(dir, 'a.sock'))).toBe(true);
    await a.stop();
    expect(existsSync(join(dir, 'a.sock'))).toBe(false);
  });
});
