// The risk actor in an in-process ActorSystem on a ManualClock: order actors are started by the
// SubmitOrder risk sends them (here, recorders), the breaker's cooldown runs on the actor's timers,
// and the kill switch's invariant holds through the real mailboxes.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem } from '../../runtime/actor-system.ts';
import type { Behavior } from '../../runtime/actor.ts';
import { ManualClock } from '../../runtime/clock.ts';
import type { Message } from '../../runtime/message.ts';
import type { CancelOrder, OrderSpec, SubmitOrder } from '../../actors/order/order-protocol.ts';
import { type RiskCommandReply, type RiskMsg, type RiskStatus, risk } from '../../actors/risk/risk-actor.ts';
import { DAY0_MS, SMALL, intent, position, trade, update } from './risk-fixtures.ts';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
};

type Received = { to: string; msg: SubmitOrder | CancelOrder; killOn: boolean };

const LIMITS = { ...SMALL.limits, concentrationMinNotional: 1e9, var99_1dLimit: 1e9, orderRatePerS: 50, maxOpenOrders: 50, maxOpenPositions: 4 };

/** A node with risk at `risk` and order/<id> recorders started on their first message. */
function node(routeOrders = true) {
  const clock = new ManualClock();
  const sys = new ActorSystem({ node: 't', clock, nodeOf: (a) => (routeOrders && a.startsWith('order/') ? 't' : undefined) });
  const received: Received[] = [];
  const world = { killOn: false };
  const recorder = (address: string): Behavior<Message, null> => ({
    init: () => null,
    receive: (s, msg) => {
      received.push({ to: address, msg: msg as SubmitOrder | CancelOrder, killOn: world.killOn });
      return s;
    },
  });
  sys.activate = (address) => {
    if (!routeOrders || !address.startsWith('order/')) return false;
    sys.spawn(address, recorder(address));
    return true;
  };
  const ref = sys.spawn('risk', risk({ config: { ...SMALL, limits: LIMITS }, ordersTo: 'order/' }), { mailbox: { capacity: 10_000, policy: 'reject' } });
  const status = () => sys.ask<RiskStatus>('risk', { type: 'risk-status' }, 1000);
  return { sys, clock, ref, received, world, status };
}

let running: ActorSystem[] = [];
afterEach(async () => {
  for (const s of running) await s.shutdown();
  running = [];
});

describe('risk actor', () => {
  it('approves an intent by telling order/<clientOrderId> a SubmitOrder, and answers risk-status with breaker, limits, exposure and rejections by limit', async () => {
    const n = node();
    running.push(n.sys);
    n.ref.tell(trade('AAA', 100, DAY0_MS));
    n.ref.tell(intent('i1', 'AAA', 'buy', 0.5, 100));
    n.ref.tell(intent('i2', 'AAA', 'buy', 0, 100));
    n.ref.tell(intent('i3', 'ZZZ', 'buy', 1, 100));
    await settle();
    expect(n.received).toHaveLength(1);
    const submit = n.received[0];
    expect(submit.msg.type).toBe('submit-order');
    const order = (submit.msg as SubmitOrder).order;
    expect(submit.to).toBe(`order/${order.clientOrderId}`);
    expect(order).toMatchObject({ symbol: 'AAA', side: 'buy', qty: 0.5, price: 100, tif: 'IOC', intentId: 'i1', epoch: 0 });

    const s = await n.status();
    expect(s.breaker.state).toBe('closed');
    expect(s.killSwitch).toEqual({ on: false, by: '' });
    expect(s.limits).toEqual(LIMITS);
    expect(s.exposure.AAA).toMatchObject({ positionFromFills: 0, reportedPosition: null, openBuyQty: 0.5, openSellQty: 0, lastPrice: 100, worstQty: 0.5, notional: 50 });
    expect(s.counters.approvals).toBe(1);
    expect(s.counters.rejections).toEqual({ bad_qty: 1, unknown_symbol: 1 });
    expect(s.lastRejection).toMatchObject({ limit: 'unknown_symbol', intentId: 'i3', symbol: 'ZZZ' });
    expect(s.recentRejections).toHaveLength(2);
    expect(n.sys.gauges.get('risk.approved')).toBe(1);
    expect(n.sys.gauges.get('risk.breaker')).toBe('closed');
  });

  it('kill switch: cancels every open order, replies to the operator, holds the breaker open; flatten is allowed; off then the cooldown on the actor timers lets one probe through', async () => {
    const n = node();
    running.push(n.sys);
    n.ref.tell(trade('AAA', 100, DAY0_MS));
    n.ref.tell(intent('a', 'AAA', 'buy', 0.5, 100));
    n.ref.tell(intent('b', 'AAA', 'buy', 0.2, 100.1));
    await settle();
    const [a, b] = n.received.map((r) => (r.msg as SubmitOrder).order);
    n.ref.tell(update(a, 'filled', 0.5, { fill: { tradeId: 1, qty: 0.5, price: 100, timeMs: DAY0_MS } }));
    n.ref.tell(position('AAA', 0.5, 0));
    await settle();
    const reply = await n.sys.ask<RiskCommandReply, RiskMsg>('risk', { type: 'kill-switch', on: true, by: 'alice' }, 1000);
    expect(reply).toMatchObject({ type: 'risk-command-reply', command: 'kill-switch', ok: true, breaker: 'open', cancelled: 1 });
    await settle();
    expect(n.received.filter((r) => r.msg.type === 'cancel-order').map((r) => r.to)).toEqual([`order/${b.clientOrderId}`]);

    const flat = await n.sys.ask<RiskCommandReply, RiskMsg>('risk', { type: 'flatten', symbol: 'AAA', by: 'alice' }, 1000);
    expect(flat).toMatchObject({ ok: true, command: 'flatten' });
    await settle();
    const f = n.received.at(-1)!.msg as SubmitOrder;
    expect(f.order).toMatchObject({ side: 'sell', qty: 0.5, reduceOnly: true, price: 99.5 });
    expect(f.order.intentId).toMatch(/^operator:flatten:AAA:alice:/);

    n.clock.advance(100 * SMALL.breaker.cooldownMs);
    await settle();
    n.ref.tell(intent('c', 'AAA', 'buy', 0.1, 100));
    await settle();
    expect((await n.status()).lastRejection).toMatchObject({ limit: 'kill_switch', intentId: 'c' });

    await n.sys.ask<RiskCommandReply, RiskMsg>('risk', { type: 'kill-switch', on: false, by: 'alice' }, 1000);
    n.clock.advance(SMALL.breaker.cooldownMs);
    await settle();
    expect((await n.status()).breaker.state).toBe('half_open');
    n.ref.tell(intent('d', 'AAA', 'buy', 0.1, 100));
    n.ref.tell(intent('e', 'AAA', 'buy', 0.2, 100));
    await settle();
    const s = await n.status();
    expect(s.breaker.probeId).toBe((n.received.at(-1)!.msg as SubmitOrder).order.clientOrderId);
    expect(s.lastRejection).toMatchObject({ limit: 'breaker_half_open', intentId: 'e' });
  });

  it('a SubmitOrder that cannot be delivered (no order actor can be started) is no longer open and counts toward the breaker', async () => {
    const n = node(false);
    running.push(n.sys);
    n.ref.tell(trade('AAA', 100, DAY0_MS));
    for (let i = 0; i < 3; i++) n.ref.tell(intent(`u${i}`, 'AAA', 'buy', 0.1 * (i + 1), 100));
    await settle();
    const s = await n.status();
    expect(s.counters.undeliverable).toBe(3);
    expect(s.portfolio.openOrders).toBe(0);
    expect(s.breaker.state).toBe('open');
    expect(s.breaker.reason).toMatch(/^3 venue errors within 2000 ms \(last: submit-order undeliverable: no-route/);
  });

  it('property: whatever the sequence of intents, fills, venue errors, clock advances and kill-switch toggles, no order leaves risk while the kill switch is on (but reduce-only), and every order open when it goes on is told to cancel', async () => {
    type Op =
      | { op: 'intent'; sym: 'AAA' | 'BBB'; side: 'buy' | 'sell'; qty: number; offBps: number }
      | { op: 'kill'; on: boolean }
      | { op: 'fill'; n: number }
      | { op: 'error'; n: number }
      | { op: 'advance'; ms: number }
      | { op: 'flatten'; sym: 'AAA' | 'BBB' };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant('intent' as const), sym: fc.constantFrom('AAA' as const, 'BBB' as const), side: fc.constantFrom('buy' as const, 'sell' as const), qty: fc.constantFrom(0.1, 0.2, 0.3), offBps: fc.integer({ min: -30, max: 30 }) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('kill' as const), on: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('fill' as const), n: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('error' as const), n: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 2000 }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('flatten' as const), sym: fc.constantFrom('AAA' as const, 'BBB' as const) }) },
    );
    let submitted = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const n = node();
        try {
          n.ref.tell(trade('AAA', 100, DAY0_MS));
          n.ref.tell(trade('BBB', 50, DAY0_MS));
          await settle();
          const open = new Map<string, OrderSpec>();
          let seen = 0;
          let intents = 0;
          for (const [i, o] of ops.entries()) {
            if (o.op === 'intent') {
              intents++;
              n.ref.tell(intent(`p${i}`, o.sym, o.side, o.qty, (o.sym === 'AAA' ? 100 : 50) * (1 + o.offBps / 10_000)));
            } else if (o.op === 'kill') {
              const before = new Set(open.keys());
              n.ref.tell({ type: 'kill-switch', on: o.on, by: 'ops' });
              await settle();
              n.world.killOn = o.on;
              if (o.on) {
                const cancelled = new Set(n.received.slice(seen).flatMap((r) => (r.msg.type === 'cancel-order' ? [r.msg.clientOrderId] : [])));
                expect(cancelled).toEqual(before);
              }
            } else if (o.op === 'fill' || o.op === 'error') {
              const all = [...open.values()];
              if (all.length === 0) continue;
              const spec = all[o.n % all.length];
              open.delete(spec.clientOrderId);
              n.ref.tell(o.op === 'fill' ? update(spec, 'filled', spec.qty, { fill: { tradeId: i, qty: spec.qty, price: spec.price, timeMs: DAY0_MS } }) : update(spec, 'rejected', 0, { venueError: true, reason: 'venue busy' }));
            } else if (o.op === 'advance') {
              n.clock.advance(o.ms);
            } else {
              n.ref.tell({ type: 'flatten', symbol: o.sym, by: 'ops' });
            }
            await settle();
            for (const r of n.received.slice(seen)) {
              if (r.msg.type !== 'submit-order') continue;
              submitted++;
              // Invariant 4: while the kill switch is on, nothing but reduce-only leaves risk.
              if (r.killOn) expect(r.msg.order.reduceOnly, `order ${r.msg.order.intentId} sent while the kill switch was on`).toBe(true);
              open.set(r.msg.order.clientOrderId, r.msg.order);
            }
            seen = n.received.length;
          }
          const s = await n.status();
          // Every intent and flatten got an answer: approved (and sent) or rejected with a limit.
          let rejected = 0;
          for (const count of Object.values(s.counters.rejections)) rejected += count;
          expect(s.counters.approvals).toBe(n.received.filter((r) => r.msg.type === 'submit-order').length);
          expect(s.counters.approvals + rejected).toBe(intents + s.counters.flattens);
          expect(s.killSwitch.on).toBe(n.world.killOn);
          if (n.world.killOn) expect(s.breaker.state).toBe('open');
        } finally {
          await n.sys.shutdown();
        }
      }),
      { numRuns: 60 },
    );
    expect(submitted).toBeGreaterThan(50);
  });
});
