// The order actor in an in-process ActorSystem against a scripted venue gateway (an actor written
// here that answers VenuePlace / VenueCancel as each test scripts it), with real short timers:
// the happy path, resends of the same client order id with backoff, giving up, the cancel race,
// a rejected cancel, the node's venue rate limit, an ack timeout, and bad input.
import { afterEach, describe, expect, it } from 'vitest';
import { order, orderOptions, type OrderMsg, type OrderStatus } from '../../actors/order/order-actor.ts';
import type { OrderSpec, OrderUpdate, VenueCancel, VenuePlace, VenueToOrder } from '../../actors/order/order-protocol.ts';
import { VenueRateLimits } from '../../actors/order/venue-rate-limit.ts';
import { ActorSystem } from '../../runtime/actor-system.ts';
import { ManualClock } from '../../runtime/clock.ts';
import type { ActorContext, Behavior } from '../../runtime/actor.ts';

type ToVenue = VenuePlace | VenueCancel;
type Seen = { msg: ToVenue; atMs: number };
/** The venue's script: called for every message the gateway receives, with a way to answer the order. */
type Script = (msg: ToVenue, answer: (m: VenueToOrder, delayMs?: number) => void, seen: Seen[]) => void;

const venueGateway = (seen: Seen[], script: Script): Behavior<ToVenue, null> => ({
  init: () => null,
  receive: (s, msg, ctx: ActorContext<ToVenue>) => {
    seen.push({ msg, atMs: performance.now() });
    const id = msg.type === 'venue-place' ? msg.order.clientOrderId : msg.clientOrderId;
    const answer = (m: VenueToOrder, delayMs = 0): void => {
      if (delayMs === 0) ctx.tell(`order/${id}`, m);
      else setTimeout(() => ctx.system.tell(`order/${id}`, m), delayMs);
    };
    script(msg, answer, seen);
    return s;
  },
});

const collector = (out: OrderUpdate[]): Behavior<OrderUpdate, null> => ({ init: () => null, receive: (s, m) => (out.push(m), s) });

const specOf = (id: string, qty = 1): OrderSpec => ({ clientOrderId: id, symbol: 'BTCUSDT', side: 'buy', qty, price: 100, tif: 'GTC', reduceOnly: false, intentId: `i-${id}`, rxMs: 0, epoch: 0 });
const ack = (id: string, duplicate = false): VenueToOrder => ({ type: 'venue-ack', clientOrderId: id, venueOrderId: 42, duplicate });
const fill = (id: string, tradeId: number, qty: number, cumQty: number): VenueToOrder => ({ type: 'venue-fill', clientOrderId: id, symbol: 'BTCUSDT', side: 'buy', tradeId, qty, price: 100, cumQty, timeMs: 1 });
const transient = (id: string): VenueToOrder => ({ type: 'venue-reject', clientOrderId: id, reason: 'venue busy', transient: true });

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let systems: ActorSystem[] = [];
afterEach(async () => {
  for (const s of systems) await s.shutdown();
  systems = [];
});

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function setup(script: Script, options: Record<string, unknown> = {}, clock?: ManualClock) {
  const sys = new ActorSystem({ node: 't', clock });
  systems.push(sys);
  const seen: Seen[] = [];
  const risk: OrderUpdate[] = [];
  const position: OrderUpdate[] = [];
  sys.spawn('venue-gw', venueGateway(seen, script), { mailbox: { capacity: 1000, policy: 'reject' } });
  sys.spawn('risk', collector(risk), { mailbox: { capacity: 1000, policy: 'reject' } });
  sys.spawn('position', collector(position), { mailbox: { capacity: 1000, policy: 'reject' } });
  const rateLimits = new VenueRateLimits();
  const start = (id: string, more: Record<string, unknown> = {}) => {
    const opts = orderOptions({ address: `order/${id}`, node: 't', options: { retry_base_ms: 20, ack_timeout_ms: 1000, linger_ms: 100, ...options, ...more } }, { rateLimits });
    return sys.spawn<OrderMsg, unknown>(`order/${id}`, order(opts) as Behavior<OrderMsg, unknown>, { mailbox: { capacity: 100, policy: 'reject' } });
  };
  const submit = (id: string, qty = 1): void => {
    if (!sys.cellOf(`order/${id}`)) start(id);
    sys.tell(`order/${id}`, { type: 'submit-order', order: specOf(id, qty) });
  };
  const status = (id: string) => sys.ask<OrderStatus>(`order/${id}`, { type: 'order-status' }, 1000);
  const states = (id: string) => risk.filter((u) => u.clientOrderId === id).map((u) => u.state);
  return { sys, seen, risk, position, start, submit, status, states };
}

describe('order actor', () => {
  it('submit -> ack -> partial fill -> fill: every change goes to risk and position, then it lingers and stops', async () => {
    const t = setup((m, answer) => {
      if (m.type !== 'venue-place') return;
      answer(ack('a1'));
      answer(fill('a1', 1, 0.4, 0.4));
      answer(fill('a1', 2, 0.6, 1));
    });
    t.submit('a1');
    await until('filled', () => t.states('a1').includes('filled'));
    expect(t.states('a1')).toEqual(['submitted', 'acked', 'partially_filled', 'filled']);
    expect(t.position).toEqual(t.risk);
    expect(t.risk.filter((u) => u.fill).map((u) => [u.fill?.tradeId, u.fill?.qty, u.filledQty])).toEqual([
      [1, 0.4, 0.4],
      [2, 0.6, 1],
    ]);
    const st = await t.status('a1');
    expect(st).toMatchObject({ state: 'filled', terminal: true, placesSent: 1, context: { filledQty: 1, avgPrice: 100, fills: [1, 2], venueOrderId: 42 } });
    expect(t.seen.map((s) => s.msg)).toEqual([{ type: 'venue-place', order: specOf('a1'), attempt: 0 }]);
    await until('stopped after linger', () => t.sys.cellOf('order/a1') === undefined);
  });

  it('two transient rejects then an ack: resends with the same client order id after 20 ms, then 40 ms', async () => {
    const t = setup((m, answer, seen) => {
      if (m.type !== 'venue-place') return;
      answer(seen.length <= 2 ? transient('b1') : ack('b1', false));
    });
    t.submit('b1');
    await until('acked', () => t.states('b1').includes('acked'));
    const places = t.seen.map((s) => s.msg as VenuePlace);
    expect(places.map((p) => [p.order.clientOrderId, p.attempt])).toEqual([
      ['b1', 0],
      ['b1', 1],
      ['b1', 2],
    ]);
    const gaps = [t.seen[1].atMs - t.seen[0].atMs, t.seen[2].atMs - t.seen[1].atMs];
    expect(gaps[0]).toBeGreaterThanOrEqual(19);
    expect(gaps[1]).toBeGreaterThanOrEqual(39);
    // each transient reject reached risk as a venue error, the order still submitted
    expect(t.risk.filter((u) => u.venueError).map((u) => u.state)).toEqual(['submitted', 'submitted']);
    expect((await t.status('b1')).context?.attempts).toBe(3);
  });

  it('four transient rejects: rejected after 3 resends, with the reason', async () => {
    const t = setup((m, answer) => {
      if (m.type === 'venue-place') answer(transient('c1'));
    }, { retry_base_ms: 5 });
    t.submit('c1');
    await until('rejected', () => t.states('c1').includes('rejected'));
    expect(t.seen.map((s) => (s.msg as VenuePlace).attempt)).toEqual([0, 1, 2, 3]);
    const last = t.risk[t.risk.length - 1];
    expect(last).toMatchObject({ state: 'rejected', venueError: true, filledQty: 0 });
    expect(last.reason).toMatch(/gave up after 4 attempts.*venue busy/);
  });

  it('cancel, then a fill that arrives after the venue cancelled: applied, the order stays cancelled', async () => {
    const t = setup((m, answer) => {
      if (m.type === 'venue-place') {
        answer(ack('d1'));
        answer(fill('d1', 1, 0.3, 0.3));
      } else {
        answer({ type: 'venue-cancelled', clientOrderId: 'd1', expired: false });
        // the venue had filled more before it processed the cancel; that report comes late
        answer(fill('d1', 2, 0.2, 0.5), 10);
      }
    });
    t.submit('d1');
    await until('partially filled', () => t.states('d1').includes('partially_filled'));
    t.sys.tell('order/d1', { type: 'cancel-order', clientOrderId: 'd1', reason: 'kill switch' });
    await until('late fill', () => t.risk.some((u) => u.fill?.tradeId === 2));
    expect(t.states('d1')).toEqual(['submitted', 'acked', 'partially_filled', 'cancel_pending', 'cancelled', 'cancelled']);
    const late = t.risk[t.risk.length - 1];
    expect(late).toMatchObject({ state: 'cancelled', filledQty: 0.5, fill: { tradeId: 2, qty: 0.2 } });
    expect(t.seen.map((s) => s.msg.type)).toEqual(['venue-place', 'venue-cancel']);
  });

  it('a cancel that did not reach the venue (transient cancel reject) is sent again after the backoff', async () => {
    const t = setup((m, answer, seen) => {
      if (m.type === 'venue-place') answer(ack('j1'));
      else if (seen.filter((x) => x.msg.type === 'venue-cancel').length === 1) answer({ type: 'venue-cancel-reject', clientOrderId: 'j1', reason: 'transient: venue disconnected' });
      else answer({ type: 'venue-cancelled', clientOrderId: 'j1', expired: false });
    });
    t.submit('j1');
    await until('acked', () => t.states('j1').includes('acked'));
    t.sys.tell('order/j1', { type: 'cancel-order', clientOrderId: 'j1', reason: 'kill switch' });
    await until('cancelled', () => t.states('j1').includes('cancelled'));
    const cancels = t.seen.filter((x) => x.msg.type === 'venue-cancel');
    expect(cancels).toHaveLength(2);
    expect(cancels[1].atMs - cancels[0].atMs).toBeGreaterThanOrEqual(19);
    expect(t.states('j1')).toEqual(['submitted', 'acked', 'cancel_pending', 'cancelled']);
  });

  it('a cancel the venue rejects returns the order to where it was (partially_filled; acked without fills)', async () => {
    const t = setup((m, answer) => {
      const id = m.type === 'venue-place' ? m.order.clientOrderId : m.clientOrderId;
      if (m.type === 'venue-place') {
        answer(ack(id));
        if (id === 'e1') answer(fill(id, 1, 0.4, 0.4));
      } else answer({ type: 'venue-cancel-reject', clientOrderId: id, reason: 'order is being matched' });
    });
    t.submit('e1');
    t.submit('e2');
    await until('both live', () => t.states('e1').includes('partially_filled') && t.states('e2').includes('acked'));
    for (const id of ['e1', 'e2']) t.sys.tell(`order/${id}`, { type: 'cancel-order', clientOrderId: id, reason: 'operator' });
    await until('cancels answered', () => t.states('e1').length === 5 && t.states('e2').length === 4);
    expect(t.states('e1')).toEqual(['submitted', 'acked', 'partially_filled', 'cancel_pending', 'partially_filled']);
    expect(t.states('e2')).toEqual(['submitted', 'acked', 'cancel_pending', 'acked']);
    expect(t.risk[t.risk.length - 1].reason).toMatch(/cancel rejected: order is being matched/);
    expect((await t.status('e1')).context?.prevState).toBe('partially_filled');
  });

  it('the rate limit delays orders beyond it (not dropped), and rejects one that would wait past rate_wait_max_ms', async () => {
    // A manual clock: the limit is exact in the runtime's time, whatever the test machine's load.
    const clock = new ManualClock();
    const t = setup((m, answer) => {
      if (m.type === 'venue-place') answer(ack(m.order.clientOrderId));
    }, { rate_orders_max: 3, rate_window_ms: 150, rate_wait_max_ms: 200 }, clock);
    const sent = () => t.seen.map((s) => (s.msg as VenuePlace).order.clientOrderId);
    for (const id of ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7']) t.submit(id);
    await settle();
    // 3 now; r4..r6 wait for the window to move (their slots are booked at 150 ms); r7 would wait 300 ms
    expect(sent()).toEqual(['r1', 'r2', 'r3']);
    expect((await t.status('r4')).rateWait).toEqual({ attempt: 0, atMs: 150 });
    const r7 = t.risk.find((u) => u.clientOrderId === 'r7' && u.state === 'rejected');
    expect(r7?.reason).toBe('venue rate limit: would wait 300 ms, at most 200 ms allowed');
    clock.advance(149);
    await settle();
    expect(sent()).toHaveLength(3);
    clock.advance(1);
    await settle();
    expect(sent()).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    expect(t.risk.filter((u) => u.state === 'acked').map((u) => u.clientOrderId)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    // the next order in this window waits for the slot after r1..r3's window: 150 + 150
    t.submit('r8');
    await settle();
    expect((await t.status('r8')).rateWait).toEqual({ attempt: 0, atMs: 300 });
  });

  it('no ack within ack_timeout_ms: resends with the same id, and the venue deduplicates', async () => {
    const t = setup((m, answer, seen) => {
      if (m.type === 'venue-place' && seen.length === 2) answer(ack('f1', true)); // the first place "got lost"
    }, { ack_timeout_ms: 30, retry_base_ms: 5 });
    t.submit('f1');
    await until('acked', () => t.states('f1').includes('acked'));
    expect(t.seen.map((s) => [(s.msg as VenuePlace).order.clientOrderId, (s.msg as VenuePlace).attempt])).toEqual([
      ['f1', 0],
      ['f1', 1],
    ]);
    expect(t.seen[1].atMs - t.seen[0].atMs).toBeGreaterThanOrEqual(34);
  });

  it('a VenuePlace the runtime cannot deliver (no gateway) is a transient error: resent, then rejected', async () => {
    const t = setup(() => {}, { venue_gateway: 'no-such-gateway', retry_base_ms: 5 });
    t.submit('u1');
    await until('rejected', () => t.states('u1').includes('rejected'));
    const st = await t.status('u1');
    expect(st.placesSent).toBe(4);
    expect(st.context?.lastReason).toMatch(/^gave up after 4 attempts: .*VenuePlace undeliverable to no-such-gateway \(no-route/);
  });

  it('bad venue input changes no order: counted by reason and kept with what it was', async () => {
    const t = setup((m, answer) => {
      if (m.type === 'venue-place') answer(ack('g1'));
    });
    t.submit('g1');
    await until('acked', () => t.states('g1').includes('acked'));
    const before = await t.status('g1');
    const bad: unknown[] = [
      { type: 'venue-fill', clientOrderId: 'g1', tradeId: 'x' },
      { type: 'venue-fill', clientOrderId: 'g1', symbol: 'BTCUSDT', side: 'buy', tradeId: 3, qty: 0, price: 100, cumQty: 0, timeMs: 1 },
      { type: 'venue-fill', clientOrderId: 'g1', symbol: 'BTCUSDT', side: 'buy', tradeId: 4, qty: -0.5, price: 100, cumQty: 0, timeMs: 1 },
      fill('other', 5, 0.5, 0.5),
      { type: 'venue-ack', clientOrderId: 'g1', venueOrderId: 'nope', duplicate: false },
      { type: 'venue-teleport', clientOrderId: 'g1' },
      { type: 'venue-fill', clientOrderId: 'g1', symbol: 'ETHUSDT', side: 'buy', tradeId: 6, qty: 0.5, price: 100, cumQty: 0.5, timeMs: 1 },
    ];
    for (const m of bad) t.sys.tell('order/g1', m as OrderMsg);
    const after = await t.status('g1');
    expect(after.state).toBe('acked');
    expect(after.context).toEqual(before.context);
    expect(after.bad).toEqual({ 'bad-field': 2, 'bad-fill-qty': 2, 'wrong-order': 1, malformed: 1, 'fill-mismatch': 1 });
    expect(after.lastBad).toBe('fill-mismatch: venue-fill "buy" "ETHUSDT" (trade 6): order g1 is buy BTCUSDT');
    expect(t.states('g1')).toEqual(['submitted', 'acked']);
    expect(t.position).toEqual(t.risk);
  });

  it('a bad venue message names the field, the value and what was expected', async () => {
    const t = setup((m, answer) => {
      if (m.type === 'venue-place') answer(ack('h1'));
    });
    t.submit('h1');
    await until('acked', () => t.states('h1').includes('acked'));
    t.sys.tell('order/h1', { type: 'venue-fill', clientOrderId: 'h1', symbol: 'BTCUSDT', side: 'buy', tradeId: 3, qty: 0, price: 100, cumQty: 0, timeMs: 1 });
    expect((await t.status('h1')).lastBad).toBe('bad-fill-qty: venue-fill.qty = 0: expected a finite number > 0 (trade 3)');
    t.sys.tell('order/h1', { ...fill('h2', 1, 1, 1) });
    expect((await t.status('h1')).lastBad).toBe('wrong-order: venue-fill.clientOrderId = "h2": this actor holds order "h1"');
  });

  it('a SubmitOrder for another client order id is refused clearly: risk is told, the actor stops', async () => {
    const t = setup(() => {});
    t.start('k1');
    t.sys.tell('order/k1', { type: 'submit-order', order: specOf('k2') });
    await until('refusal', () => t.risk.length === 1);
    expect(t.risk[0]).toMatchObject({ clientOrderId: 'k2', state: 'rejected' });
    expect(t.risk[0].reason).toBe('submit-order.order.clientOrderId = "k2" arrived at order/k1: expected "k1" (an order lives at order/<its clientOrderId>)');
    expect(t.seen).toEqual([]);
    await until('stopped', () => t.sys.cellOf('order/k1') === undefined);
  });

  it('options: the address must name a client order id, and a bad option names itself', () => {
    expect(() => orderOptions({ address: 'order', node: 't', options: {} })).toThrow(/expected an address order\/<clientOrderId>/);
    expect(() => orderOptions({ address: 'order/x', node: 't', options: { retry_base_ms: 0 } })).toThrow('actor order/x: options.retry_base_ms: expected an integer in 1..60000, got 0');
    expect(() => orderOptions({ address: 'order/x', node: 't', options: { updates_to: 'risk' } })).toThrow(/options.updates_to: expected a list of actor addresses/);
    const o = orderOptions({ address: 'order/x-1', node: 't', options: {} });
    expect(o).toMatchObject({ clientOrderId: 'x-1', venueGateway: 'venue-gw', updatesTo: ['risk', 'position'], retryBaseMs: 50, retryJitter: 0, ackTimeoutMs: 2000, lingerMs: 5000, rateOrdersMax: 180, rateWindowMs: 60_000, rateWaitMaxMs: 2000 });
  });
});
