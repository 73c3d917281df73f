import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Behavior } from '../../runtime/actor.ts';
import { ActorSystem, DuplicateAddressError } from '../../runtime/actor-system.ts';
import { AskTimeoutError, UndeliverableError } from '../../runtime/ask.ts';
import { ManualClock } from '../../runtime/clock.ts';
import type { Signal } from '../../runtime/signal.ts';

type Num = { type: 'num'; from: string; n: number };
type Echo = { type: 'echo'; text: string };

/** Resolves after the dispatcher has had a few turns. */
const settle = async (turns = 5): Promise<void> => {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
};

const recorder = (log: Num[]): Behavior<Num, null> => ({
  init: () => null,
  receive: (s, msg) => {
    log.push(msg);
    return s;
  },
});

describe('actor system', () => {
  it('a message the behaviour has no case for is a dead letter (unhandled) and the state is kept', async () => {
    const sys = new ActorSystem();
    const seen: string[] = [];
    sys.deadLetters.subscribe((d) => seen.push(`${d.reason}:${d.message.type}`));
    const counted: number[] = [];
    const ref = sys.spawn<{ type: string }, { n: number }>('c', {
      init: () => ({ n: 0 }),
      receive: (s, m) => {
        switch (m.type) {
          case 'inc':
            counted.push(s.n + 1);
            return { n: s.n + 1 };
        }
        return undefined as unknown as { n: number };
      },
    });
    ref.tell({ type: 'inc' });
    ref.tell({ type: 'stray' });
    ref.tell({ type: 'inc' });
    await settle();
    expect(counted).toEqual([1, 2]);
    expect(seen).toEqual(['unhandled:stray']);
  });

  it('delivers FIFO per sender->receiver pair, whatever the interleaving (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 200 }), async (senders) => {
        const sys = new ActorSystem();
        const log: Num[] = [];
        const r = sys.spawn('r', recorder(log), { mailbox: { capacity: 1000, policy: 'reject' } });
        const next: Record<string, number> = { a: 0, b: 0, c: 0 };
        for (const s of senders) r.tell({ type: 'num', from: s, n: next[s]++ });
        await settle();
        for (const s of ['a', 'b', 'c']) {
          expect(log.filter((x) => x.from === s).map((x) => x.n)).toEqual([...Array(next[s]).keys()]);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('reject policy: a full mailbox dead-letters the message and tells the sending actor', async () => {
    const sys = new ActorSystem();
    const blocked: Behavior<Num, null> = { init: () => null, receive: (s) => s };
    const target = sys.spawn('slow', blocked, { mailbox: { capacity: 2, policy: 'reject' } });
    const signals: Signal[] = [];
    const sender = sys.spawn<Num, null>('sender', {
      init: () => null,
      receive: (s, _m, ctx) => {
        for (let i = 0; i < 3; i++) ctx.tell(target, { type: 'num', from: 'sender', n: i });
        return s;
      },
      onSignal: (s, sig) => (signals.push(sig), s),
    });
    // Stop the target's dispatcher turn from draining: fill it before any turn runs.
    sender.tell({ type: 'num', from: 'x', n: 0 });
    await settle();
    expect(sys.deadLetters.count('mailbox-full')).toBe(1);
    expect(signals).toHaveLength(1);
    expect(signals[0]).toMatchObject({ type: '$undeliverable', to: 'slow', reason: 'mailbox-full' });
    expect((signals[0] as { detail: string }).detail).toMatch(/capacity 2, policy reject/);
  });

  it('backpressure policy: tell reports "full" and nothing is dead-lettered', () => {
    const sys = new ActorSystem();
    const t = sys.spawn<Num, null>('bp', { init: () => null, receive: (s) => s }, { mailbox: { capacity: 1, policy: 'backpressure' } });
    expect(t.tell({ type: 'num', from: '', n: 1 })).toBe('queued');
    expect(t.tell({ type: 'num', from: '', n: 2 })).toBe('full');
    expect(sys.deadLetters.total).toBe(0);
  });

  it('conflate policy: only the newest message per key is handled', async () => {
    const sys = new ActorSystem();
    const log: Num[] = [];
    const r = sys.spawn('book', recorder(log), { mailbox: { capacity: 8, policy: 'conflate', conflateKey: 'from' } });
    for (let i = 0; i < 5; i++) r.tell({ type: 'num', from: 'BTC', n: i });
    r.tell({ type: 'num', from: 'ETH', n: 0 });
    await settle();
    expect(log).toEqual([
      { type: 'num', from: 'BTC', n: 4 },
      { type: 'num', from: 'ETH', n: 0 },
    ]);
  });

  it('ask resolves with the reply, and rejects with AskTimeoutError when none comes in time', async () => {
    const clock = new ManualClock();
    const sys = new ActorSystem({ clock });
    const echo = sys.spawn<Echo, null>('echo', { init: () => null, receive: (s, m, ctx) => (ctx.reply(m), s) });
    const mute = sys.spawn<Echo, null>('mute', { init: () => null, receive: (s) => s });
    await expect(sys.ask(echo, { type: 'echo', text: 'hi' }, 100)).resolves.toEqual({ type: 'echo', text: 'hi' });
    const p = sys.ask(mute, { type: 'echo', text: 'hi' }, 100);
    await settle();
    clock.advance(99);
    clock.advance(1);
    await expect(p).rejects.toBeInstanceOf(AskTimeoutError);
    await expect(p).rejects.toThrow('ask mute (echo): no reply within 100 ms');
  });

  it('ask to an address nobody holds fails at once with the reason', async () => {
    const sys = new ActorSystem();
    await expect(sys.ask<Echo, Echo>('nobody', { type: 'echo', text: '' }, 1000)).rejects.toBeInstanceOf(UndeliverableError);
    expect(sys.deadLetters.count('no-route')).toBe(1);
  });

  it('ask to a full mailbox fails at once with reason mailbox-full, whatever the policy', async () => {
    for (const policy of ['reject', 'backpressure'] as const) {
      const sys = new ActorSystem();
      const t = sys.spawn<Echo, null>('t', { init: () => null, receive: (s) => s }, { mailbox: { capacity: 1, policy } });
      t.tell({ type: 'echo', text: 'fills it' });
      const e = await sys.ask<Echo, Echo>(t, { type: 'echo', text: '' }, 1000).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(UndeliverableError);
      expect((e as UndeliverableError).reason).toBe('mailbox-full');
    }
  });

  it('a late reply to an expired ask is a dead letter, not a crash', async () => {
    const clock = new ManualClock();
    const sys = new ActorSystem({ clock });
    let replyTo: ReturnType<typeof sys.ref> | undefined;
    const slow = sys.spawn<Echo, null>('slow', { init: () => null, receive: (s, _m, ctx) => ((replyTo = ctx.sender), s) });
    const p = sys.ask(slow, { type: 'echo', text: '' }, 10);
    await settle();
    clock.advance(10);
    await expect(p).rejects.toBeInstanceOf(AskTimeoutError);
    const late: Echo = { type: 'echo', text: 'late' };
    replyTo?.tell(late);
    expect(sys.deadLetters.total).toBe(1);
  });

  it('watchers get a death notice with the reason when the watched actor stops or fails', async () => {
    const sys = new ActorSystem();
    sys.onUnsupervisedFailure = (cell, error) => void cell.terminate({ kind: 'failed', error });
    const notices: Signal[] = [];
    const victim = sys.spawn<Echo, null>('victim', {
      init: () => null,
      receive: (s, m) => {
        if (m.text === 'die') throw new Error('boom');
        return s;
      },
    });
    sys.spawn<Echo, null>('watcher', {
      init: (ctx) => (ctx.watch(victim), null),
      receive: (s) => s,
      onSignal: (s, sig) => (notices.push(sig), s),
    });
    victim.tell({ type: 'echo', text: 'die' });
    await settle();
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ type: '$terminated', address: 'victim', reason: { kind: 'failed' } });
    // Watching an actor that is not there yields a notice at once.
    sys.spawn<Echo, null>('late-watcher', { init: (ctx) => (ctx.watch(victim), null), receive: (s) => s, onSignal: (s, sig) => (notices.push(sig), s) });
    await settle();
    expect(notices).toHaveLength(2);
  });

  it('messages to a stopped actor, and those it left queued, become dead letters with the reason', async () => {
    const sys = new ActorSystem();
    const t = sys.spawn<Echo, null>('t', { init: () => null, receive: (s) => s });
    t.tell({ type: 'echo', text: 'queued' });
    await sys.stop(t);
    expect(sys.deadLetters.latest()[0]).toMatchObject({ to: 't', reason: 'actor-stopped' });
    expect(t.tell({ type: 'echo', text: 'after' })).toBe('dead');
  });

  it('refuses a second actor at an address that is taken, saying what was expected', () => {
    const sys = new ActorSystem();
    sys.spawn<Echo, null>('one', { init: () => null, receive: (s) => s });
    expect(() => sys.spawn<Echo, null>('one', { init: () => null, receive: (s) => s })).toThrow(DuplicateAddressError);
    expect(() => sys.spawn<Echo, null>('one', { init: () => null, receive: (s) => s })).toThrow(/already running at address "one": expected a free address/);
  });

  it('timers deliver to self and are cancelled when the actor stops', async () => {
    const clock = new ManualClock();
    const sys = new ActorSystem({ clock });
    const ticks: number[] = [];
    type Tick = { type: 'tick' };
    const t = sys.spawn<Tick, number>('ticker', {
      init: (ctx) => (ctx.timers.startPeriodic('t', { type: 'tick' }, 10), 0),
      receive: (n) => (ticks.push(n), n + 1),
    });
    clock.advance(35);
    await settle();
    expect(ticks).toEqual([0, 1, 2]);
    await sys.stop(t);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('stopping a parent stops its children first, in reverse start order', async () => {
    const sys = new ActorSystem();
    const order: string[] = [];
    const leaf = (name: string): Behavior<Echo, null> => ({ init: () => null, receive: (s) => s, stop: () => void order.push(name) });
    const parent = sys.spawn<Echo, null>('parent', {
      init: (ctx) => {
        ctx.spawn('c1', leaf('c1'));
        ctx.spawn('c2', leaf('c2'));
        return null;
      },
      receive: (s) => s,
      stop: () => void order.push('parent'),
    });
    await sys.stop(parent);
    expect(order).toEqual(['c2', 'c1', 'parent']);
  });

  it('a stop hook that hangs is abandoned after the shutdown timeout', async () => {
    const sys = new ActorSystem();
    const events: string[] = [];
    sys.events.on('stop-timeout', (e: { address: string }) => events.push(e.address));
    const t = sys.spawn<Echo, null>('hang', { init: () => null, receive: (s) => s, stop: () => new Promise<void>(() => {}) }, { shutdownTimeoutMs: 20 });
    await sys.stop(t);
    expect(events).toEqual(['hang']);
  });
});
