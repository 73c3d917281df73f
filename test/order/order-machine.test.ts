// The order lifecycle machine (DESIGN.md invariant 6) driven through xstate's pure transition()
// by random sequences of venue events, cancels and timers: terminal states are terminal (the race
// rule: a late fill is booked in cancelled/expired without a change of state), filled quantity
// never exceeds the order quantity and never decreases, each tradeId is applied at most once,
// at most 3 resends. Plus the named rules, one by one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { type OrderEvent, orderMachine, type OrderSnapshot, orderStateDetail, orderStateOf, RETRIES_MAX, roundQty } from '../../actors/order/order-machine.ts';
import { type OrderSpec, type OrderState, TERMINAL_ORDER_STATES } from '../../actors/order/order-protocol.ts';

const ID = 'c-1';
const specOf = (qty: number, tif: 'GTC' | 'IOC' = 'GTC'): OrderSpec => ({ clientOrderId: ID, symbol: 'BTCUSDT', side: 'buy', qty, price: 100, tif, reduceOnly: false, intentId: 'i-1', rxMs: 0, epoch: 0 });
const fill = (tradeId: number, qty: number, cumQty = qty, extra: Partial<{ symbol: string; price: number }> = {}): OrderEvent => ({
  type: 'venue-fill',
  clientOrderId: ID,
  symbol: extra.symbol ?? 'BTCUSDT',
  side: 'buy',
  tradeId,
  qty,
  price: extra.price ?? 100,
  cumQty,
  timeMs: 1,
});

/** A cheap assertion for per-step invariants (expect() per step is slow over thousands of runs). */
function holds(ok: boolean, invariant: string, where: () => string): void {
  if (!ok) throw new Error(`invariant broken: ${invariant}; ${where()}`);
}

type Effect = { type: string; params: unknown };

/** Runs events from a fresh order, returning every snapshot and each step's effects. */
function run(spec: OrderSpec, events: OrderEvent[]): { snaps: OrderSnapshot[]; effects: Effect[][] } {
  let [s] = initialTransition(orderMachine, { spec });
  const snaps = [s];
  const effects: Effect[][] = [];
  for (const e of events) {
    const [n, a] = transition(orderMachine, s, e);
    s = n;
    snaps.push(s);
    effects.push(a.map((x) => ({ type: x.type, params: x.params })));
  }
  return { snaps, effects };
}
const last = (r: { snaps: OrderSnapshot[] }): OrderSnapshot => r.snaps[r.snaps.length - 1];

// ---- random venue conversations

type Cmd =
  | { k: 'ack'; duplicate: boolean }
  | { k: 'fill'; trade: number; size: 'part' | 'rest' | 'over' | 'zero' | 'negative' | 'nan' | 'other-symbol'; frac: number }
  | { k: 'reject'; transient: boolean }
  | { k: 'cancel' }
  | { k: 'cancel-reject'; transient: boolean }
  | { k: 'cancelled'; expired: boolean }
  | { k: 'timer' }
  | { k: 'stale-timer'; attempt: number; timer: 'retry' | 'ack' | 'cancel' }
  | { k: 'rate-limited' }
  | { k: 'submit' };

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { arbitrary: fc.record({ k: fc.constant('ack' as const), duplicate: fc.boolean() }), weight: 3 },
  {
    arbitrary: fc.record({
      k: fc.constant('fill' as const),
      trade: fc.integer({ min: 1, max: 8 }),
      size: fc.constantFrom('part', 'part', 'part', 'rest', 'over', 'zero', 'negative', 'nan', 'other-symbol'),
      frac: fc.double({ min: 0.01, max: 1, noNaN: true }),
    }),
    weight: 8,
  },
  { arbitrary: fc.record({ k: fc.constant('reject' as const), transient: fc.boolean() }), weight: 3 },
  { arbitrary: fc.constant({ k: 'cancel' as const }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('cancel-reject' as const), transient: fc.boolean() }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constant('cancelled' as const), expired: fc.boolean() }), weight: 1 },
  { arbitrary: fc.constant({ k: 'timer' as const }), weight: 4 },
  { arbitrary: fc.record({ k: fc.constant('stale-timer' as const), attempt: fc.integer({ min: 0, max: 5 }), timer: fc.constantFrom('retry', 'ack', 'cancel') }), weight: 1 },
  { arbitrary: fc.constant({ k: 'rate-limited' as const }), weight: 1 },
  { arbitrary: fc.constant({ k: 'submit' as const }), weight: 1 },
);

const TERMINAL = new Set<OrderState>(TERMINAL_ORDER_STATES);
/** States in which a valid, new, fitting fill is booked (the race rule includes cancelled and expired). */
const BOOKS_FILLS = new Set<OrderState>(['submitted', 'acked', 'partially_filled', 'cancel_pending', 'cancelled', 'expired']);

describe('order machine (property)', () => {
  it('over any venue conversation: terminal states are terminal, filledQty <= qty and never decreases, each tradeId applied once, at most 3 resends, fills booked exactly by the rule', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.boolean(), fc.array(fc.constantFrom('transient', 'timeout'), { maxLength: 5 }), fc.array(cmdArb, { maxLength: 60 }), (qtyMilli, ioc, flaky, tail) => {
        // A flaky venue first (transient rejects, silence), so the resend bound is reached often.
        const cmds: Cmd[] = [...flaky.flatMap((f): Cmd[] => (f === 'transient' ? [{ k: 'reject', transient: true }, { k: 'timer' }] : [{ k: 'timer' }, { k: 'timer' }])), ...tail];
        const spec = specOf(qtyMilli / 1000, ioc ? 'IOC' : 'GTC');
        let [s] = initialTransition(orderMachine, { spec });
        // The timer the last effects armed: a resend after backoff, or the ack timeout of the last place.
        let pending: OrderEvent | undefined;
        const placed: number[] = [];
        const applied = new Set<number>();
        let appliedSum = 0;
        let terminalAt: OrderState | undefined;
        let cancels = 0;
        let cancelRequests = 0;

        const send = (e: OrderEvent): Effect[] => {
          const before = s;
          const [n, actions] = transition(orderMachine, s, e);
          s = n;
          const effects = actions.map((a) => ({ type: a.type, params: a.params }));
          for (const a of effects) {
            if (a.type === 'place') {
              const attempt = (a.params as { attempt: number }).attempt;
              placed.push(attempt);
              pending = { type: 'order-ack-timeout', attempt };
            }
            if (a.type === 'scheduleRetry') pending = { type: 'order-retry', attempt: (a.params as { attempt: number }).attempt };
            if (a.type === 'scheduleCancelRetry') pending = { type: 'order-cancel-retry', attempt: (a.params as { attempt: number }).attempt };
            if (a.type === 'sendCancel') cancels++;
          }
          const c = s.context;
          const state = orderStateOf(s);
          const where = () => `after ${JSON.stringify(e)} in ${orderStateDetail(before)}: ${JSON.stringify({ state, filledQty: c.filledQty, attempts: c.attempts })}`;
          // filled quantity: within the order, never down
          holds(c.filledQty <= spec.qty, 'filledQty <= qty', where);
          holds(c.filledQty >= before.context.filledQty, 'filledQty never decreases', where);
          // terminal states are terminal
          holds(terminalAt === undefined || state === terminalAt, `terminal ${terminalAt} stays`, where);
          if (TERMINAL.has(state)) terminalAt = state;
          // resends
          holds(c.attempts <= RETRIES_MAX + 1, 'at most 3 resends', where);
          holds(c.cancelAttempts <= RETRIES_MAX + 1, 'at most 3 cancel resends per cancel request', where);
          // state and quantity agree
          holds(state !== 'filled' || c.filledQty === spec.qty, 'filled means filledQty = qty', where);
          holds(state !== 'partially_filled' || c.filledQty > 0, 'partially_filled has fills', where);
          holds(!['rejected', 'created', 'submitted'].includes(state) || c.filledQty === 0, `${state} has no fills`, where);
          return effects;
        };

        send({ type: 'submit-order', order: spec });
        for (const cmd of cmds) {
          const c = s.context;
          switch (cmd.k) {
            case 'ack':
              send({ type: 'venue-ack', clientOrderId: ID, venueOrderId: 7, duplicate: cmd.duplicate });
              break;
            case 'fill': {
              const left = roundQty(spec.qty - c.filledQty);
              const part = Math.max(0.001, Math.floor(left * cmd.frac * 1000) / 1000);
              const qty = { part, rest: left > 0 ? left : 0.001, over: roundQty(left + 0.001), zero: 0, negative: -part, nan: NaN, 'other-symbol': part }[cmd.size];
              const e = fill(cmd.trade, qty, roundQty(c.filledQty + qty), cmd.size === 'other-symbol' ? { symbol: 'ETHUSDT' } : {});
              const valid = Number.isFinite(qty) && qty > 0 && cmd.size !== 'other-symbol';
              const expectBooked = valid && !applied.has(cmd.trade) && roundQty(c.filledQty + qty) <= spec.qty && BOOKS_FILLS.has(orderStateOf(s));
              const stateBefore = orderStateOf(s);
              const effects = send(e);
              const booked = effects.filter((x) => x.type === 'fillApplied').length;
              const where = () => `fill ${JSON.stringify(e)} in ${stateBefore} with ${c.filledQty} filled, trades ${JSON.stringify(c.fills)}`;
              holds(booked === (expectBooked ? 1 : 0), `booked iff valid, new, fits and the state books fills (expected ${expectBooked})`, where);
              if (expectBooked) {
                applied.add(cmd.trade);
                appliedSum = roundQty(appliedSum + qty);
                // the race rule: booked in a terminal state without leaving it
                holds(!TERMINAL.has(stateBefore) || orderStateOf(s) === stateBefore, 'a late fill leaves the terminal state as it is', where);
              } else {
                holds(s.context.filledQty === c.filledQty, 'a refused fill changes nothing', where);
              }
              break;
            }
            case 'reject':
              send({ type: 'venue-reject', clientOrderId: ID, reason: 'r', transient: cmd.transient });
              break;
            case 'cancel':
              cancelRequests++;
              send({ type: 'cancel-order', clientOrderId: ID, reason: 'kill switch' });
              break;
            case 'cancel-reject':
              send({ type: 'venue-cancel-reject', clientOrderId: ID, reason: cmd.transient ? 'venue disconnected' : 'unknown order', transient: cmd.transient });
              break;
            case 'cancelled':
              send({ type: 'venue-cancelled', clientOrderId: ID, expired: cmd.expired });
              break;
            case 'timer':
              if (pending) {
                const e = pending;
                pending = undefined;
                send(e);
              }
              break;
            case 'stale-timer':
              send({ retry: { type: 'order-retry', attempt: cmd.attempt }, ack: { type: 'order-ack-timeout', attempt: cmd.attempt }, cancel: { type: 'order-cancel-retry', attempt: cmd.attempt } }[cmd.timer] as OrderEvent);
              break;
            case 'rate-limited':
              send({ type: 'order-rate-limited', waitMs: 5000, waitMaxMs: 2000 });
              break;
            case 'submit':
              send({ type: 'submit-order', order: spec });
              break;
          }
        }
        const c = s.context;
        // each tradeId at most once, and filledQty is exactly the sum of what was booked
        expect(new Set(c.fills).size).toBe(c.fills.length);
        expect(c.fills.length).toBe(applied.size);
        expect(c.filledQty).toBe(appliedSum);
        // places are attempts 0, 1, 2, ... with no gap, at most 1 + 3 resends
        expect(placed).toEqual(placed.map((_, i) => i));
        expect(placed.length).toBeLessThanOrEqual(RETRIES_MAX + 1);
        expect(c.attempts).toBe(placed.length);
        // VenueCancel: at most 1 + 3 per cancel request (+ 1 best effort when the last ack timeout gives up)
        expect(cancels).toBeLessThanOrEqual(cancelRequests * (RETRIES_MAX + 1) + 1);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('order machine (rules)', () => {
  const spec = specOf(1);
  const submit: OrderEvent = { type: 'submit-order', order: spec };
  const ack: OrderEvent = { type: 'venue-ack', clientOrderId: ID, venueOrderId: 9, duplicate: false };
  const transient: OrderEvent = { type: 'venue-reject', clientOrderId: ID, reason: 'busy', transient: true };
  const cancel: OrderEvent = { type: 'cancel-order', clientOrderId: ID, reason: 'kill switch' };

  it('created -> submitted -> acked -> partially_filled -> filled, with the volume-weighted price', () => {
    const r = run(spec, [submit, ack, fill(1, 0.4, 0.4, { price: 100 }), fill(2, 0.6, 1, { price: 110 })]);
    expect(r.snaps.map(orderStateOf)).toEqual(['created', 'submitted', 'acked', 'partially_filled', 'filled']);
    expect(last(r).context.avgPrice).toBeCloseTo(106, 9);
    expect(r.effects[0]).toEqual([{ type: 'place', params: { attempt: 0 } }]);
  });

  it('a transient reject backs off and resends as the next attempt; the 4th transient reject rejects the order', () => {
    const events: OrderEvent[] = [submit];
    for (let a = 1; a <= RETRIES_MAX; a++) events.push(transient, { type: 'order-retry', attempt: a });
    events.push(transient);
    const r = run(spec, events);
    const places = r.effects.flat().filter((e) => e.type === 'place');
    expect(places.map((p) => p.params)).toEqual([{ attempt: 0 }, { attempt: 1 }, { attempt: 2 }, { attempt: 3 }]);
    expect(r.effects.flat().filter((e) => e.type === 'scheduleRetry').map((e) => e.params)).toEqual([
      { attempt: 1, retry: 1 },
      { attempt: 2, retry: 2 },
      { attempt: 3, retry: 3 },
    ]);
    expect(orderStateOf(last(r))).toBe('rejected');
    expect(last(r).context.lastReason).toMatch(/gave up after 4 attempts/);
  });

  it('a permanent reject rejects at once', () => {
    const r = run(spec, [submit, { type: 'venue-reject', clientOrderId: ID, reason: 'insufficient margin', transient: false }]);
    expect(orderStateOf(last(r))).toBe('rejected');
    expect(r.effects[1].map((e) => e.type)).toContain('venueError');
  });

  it('an ack timeout resends the same order (next attempt); a timeout for an earlier attempt is ignored', () => {
    const r = run(spec, [submit, { type: 'order-ack-timeout', attempt: 0 }, { type: 'order-retry', attempt: 1 }, { type: 'order-ack-timeout', attempt: 0 }, { ...ack, duplicate: true } as OrderEvent]);
    expect(r.snaps.map(orderStateDetail)).toEqual(['created', 'submitted.awaiting_ack', 'submitted.backoff', 'submitted.awaiting_ack', 'submitted.awaiting_ack', 'acked']);
    expect(last(r).context.flags.ignored).toBe(1);
  });

  it('after the last ack timeout it gives up and cancels at the venue, best effort', () => {
    const events: OrderEvent[] = [submit];
    for (let a = 1; a <= RETRIES_MAX; a++) events.push({ type: 'order-ack-timeout', attempt: a - 1 }, { type: 'order-retry', attempt: a });
    events.push({ type: 'order-ack-timeout', attempt: RETRIES_MAX });
    const r = run(spec, events);
    expect(orderStateOf(last(r))).toBe('rejected');
    expect(r.effects[r.effects.length - 1].map((e) => e.type)).toContain('sendCancel');
  });

  it('a fill after a cancel request is applied; a cancel the venue rejects returns to partially_filled (or acked without fills)', () => {
    const r = run(spec, [submit, ack, cancel, fill(1, 0.3), { type: 'venue-cancel-reject', clientOrderId: ID, reason: 'too late' }]);
    expect(r.snaps.map(orderStateOf)).toEqual(['created', 'submitted', 'acked', 'cancel_pending', 'cancel_pending', 'partially_filled']);
    expect(last(r).context.filledQty).toBe(0.3);
    expect(last(r).context.prevState).toBe('acked');
    const r2 = run(spec, [submit, ack, cancel, { type: 'venue-cancel-reject', clientOrderId: ID, reason: 'busy' }]);
    expect(orderStateOf(last(r2))).toBe('acked');
    const r3 = run(spec, [submit, ack, fill(1, 0.2), cancel, { type: 'venue-cancel-reject', clientOrderId: ID, reason: 'busy' }]);
    expect(orderStateOf(last(r3))).toBe('partially_filled');
  });

  it('a transient cancel reject resends the cancel after a backoff, at most 3 times; then the order returns to where it was', () => {
    const down: OrderEvent = { type: 'venue-cancel-reject', clientOrderId: ID, reason: 'transient: venue disconnected' };
    const events: OrderEvent[] = [submit, ack, cancel];
    for (let a = 1; a <= RETRIES_MAX; a++) events.push(down, { type: 'order-cancel-retry', attempt: a });
    events.push({ ...down, transient: true } as OrderEvent);
    const r = run(spec, events);
    expect(r.effects.flat().filter((e) => e.type === 'sendCancel')).toHaveLength(1 + RETRIES_MAX);
    expect(r.effects.flat().filter((e) => e.type === 'scheduleCancelRetry').map((e) => e.params)).toEqual([
      { attempt: 1, retry: 1 },
      { attempt: 2, retry: 2 },
      { attempt: 3, retry: 3 },
    ]);
    expect(orderStateOf(r.snaps[r.snaps.length - 2])).toBe('cancel_pending');
    expect(orderStateOf(last(r))).toBe('acked');
    // a resent cancel that gets through
    const r2 = run(spec, [submit, ack, cancel, down, { type: 'order-cancel-retry', attempt: 1 }, { type: 'venue-cancelled', clientOrderId: ID, expired: false }]);
    expect(orderStateOf(last(r2))).toBe('cancelled');
  });

  it('a fill that completes the order while the cancel is pending makes it filled', () => {
    const r = run(spec, [submit, ack, cancel, fill(1, 1), { type: 'venue-cancelled', clientOrderId: ID, expired: false }]);
    expect(orderStateOf(last(r))).toBe('filled');
  });

  it('a cancel before the venue accepted the order, rejected by a venue that does not know it, ends cancelled', () => {
    const r = run(spec, [submit, cancel, { type: 'venue-cancel-reject', clientOrderId: ID, reason: 'unknown order' }]);
    expect(r.snaps.map(orderStateOf)).toEqual(['created', 'submitted', 'cancel_pending', 'cancelled']);
  });

  it('the race: a late fill after cancelled is booked and the order stays cancelled; past the order qty it is refused', () => {
    const r = run(spec, [submit, ack, fill(1, 0.4), cancel, { type: 'venue-cancelled', clientOrderId: ID, expired: false }, fill(2, 0.5), fill(3, 0.2), fill(2, 0.5)]);
    expect(r.snaps.slice(-4).map(orderStateOf)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
    expect(last(r).context.filledQty).toBe(0.9);
    expect(last(r).context.fills).toEqual([1, 2]);
    expect(last(r).context.flags).toMatchObject({ overfill: 1, duplicateFill: 1 });
    expect(r.effects[5].map((e) => e.type)).toEqual(['fillApplied']);
  });

  it('IOC remainder expiry: expired, or filled when fully filled; a late fill in expired is booked', () => {
    const ioc = specOf(1, 'IOC');
    const expired: OrderEvent = { type: 'venue-cancelled', clientOrderId: ID, expired: true };
    const r = run(ioc, [{ type: 'submit-order', order: ioc }, ack, fill(1, 0.25), expired, fill(2, 0.25)]);
    expect(orderStateOf(last(r))).toBe('expired');
    expect(last(r).context.filledQty).toBe(0.5);
    const r2 = run(ioc, [{ type: 'submit-order', order: ioc }, ack, fill(1, 1), expired]);
    expect(orderStateOf(last(r2))).toBe('filled');
  });

  it('filled and rejected refuse every new fill, flagged as overfill / fill-after-reject', () => {
    const r = run(spec, [submit, ack, fill(1, 1), fill(2, 0.001)]);
    expect(orderStateOf(last(r))).toBe('filled');
    expect(last(r).context.flags.overfill).toBe(1);
    expect(r.effects[3].map((e) => e.type)).toContain('venueError');
    const r2 = run(spec, [submit, { type: 'venue-reject', clientOrderId: ID, reason: 'no', transient: false }, fill(1, 0.5)]);
    expect(orderStateOf(last(r2))).toBe('rejected');
    expect(last(r2).context.filledQty).toBe(0);
    expect(last(r2).context.flags.fillAfterReject).toBe(1);
  });

  it('quantities add up in decimal: 0.1 + 0.2 fills 0.3', () => {
    const r = run(specOf(0.3), [{ type: 'submit-order', order: specOf(0.3) }, ack, fill(1, 0.1), fill(2, 0.2)]);
    expect(orderStateOf(last(r))).toBe('filled');
    expect(last(r).context.filledQty).toBe(0.3);
  });

  it('the node rate limit rejects an order it would hold too long', () => {
    const r = run(spec, [submit, { type: 'order-rate-limited', waitMs: 5000, waitMaxMs: 2000 }]);
    expect(orderStateOf(last(r))).toBe('rejected');
    expect(last(r).context.lastReason).toMatch(/^venue rate limit/);
  });
});
