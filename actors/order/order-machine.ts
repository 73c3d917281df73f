// The lifecycle of one order as an XState v5 machine. The machine decides; it performs nothing:
// its named effect actions (`place`, `scheduleRetry`, `scheduleCancelRetry`, `sendCancel`,
// `fillApplied`, `venueError`, `note`, `flag`) have no implementation here and come back from
// xstate's pure `transition()`, for the order actor to carry out (order-actor.ts) and for property
// tests to inspect (test/order/order-machine.test.ts). Timer and rate-limit outcomes come back in
// as events.
//
//   created -> submitted -> acked -> partially_filled -> filled
//                 |  ^        \           /
//   (awaiting_ack <-> backoff)  cancel_pending -> cancelled | expired   (and rejected)
//
// The rules, precisely:
// - Resends: a transient venue reject (VenueReject.transient) or an ack timeout while awaiting the
//   ack schedules a resend of the SAME client order id (the venue deduplicates) after a backoff;
//   at most RETRIES_MAX resends (so at most 4 VenuePlace), then `rejected`. A permanent reject is
//   `rejected` at once. A reject that arrives in `backoff` (an answer to an earlier attempt) or
//   after the ack (a resend's answer) changes nothing.
// - Ack timeout: treated as a transient error (resend with the same id), not as a query: the venue
//   answers a resend of an order it holds with VenueAck{duplicate: true}, which is all a query
//   would have told us, with no extra message type. Giving up after the last timeout also sends a
//   best-effort VenueCancel, so an order the venue did take but never confirmed cannot stay live.
// - Cancel: from submitted, acked or partially_filled -> cancel_pending (VenueCancel sent;
//   prevState remembers where from). A transient cancel reject (VenueCancelReject.transient, or a
//   reason starting "transient:") means the cancel never reached the venue: it is sent again
//   after the same backoff, at most RETRIES_MAX times; past that it counts as a cancel reject.
//   In cancel_pending a fill is applied (it stays pending, or becomes `filled` if complete); an
//   ack is recorded. A cancel the venue rejects returns the
//   order to its previous state *as it is now*: partially_filled if it has fills, else acked if
//   the venue acked it, else `cancelled` (it was cancelled before the venue accepted it: the place
//   was sent first on the same FIFO link, so a venue that does not know the order never took it).
//   A place reject in cancel_pending while the venue has shown nothing of the order (no ack, no
//   fill): permanent -> rejected; transient -> cancelled (the cancel stops the retries); once
//   it has (an ack or a fill), such a reject answers an earlier resend and is ignored.
// - IOC remainder expiry (VenueCancelled.expired) -> expired, or filled if fully filled.
// - Fills: a fill whose tradeId was already applied is ignored (idempotent); one that would take
//   filledQty past the order qty is refused and flagged (`overfill`, reported as a venue error),
//   never applied; one with a non-positive or non-finite qty or price, or another symbol or side,
//   is refused (`bad-fill`). So filledQty only grows, and never past qty.
// - THE RACE RULE. Terminal states (filled, cancelled, rejected, expired) never change state.
//   A late fill (new tradeId, valid, fits) arriving in `cancelled` or `expired` IS applied to the
//   accounting (filledQty, avgPrice, fills) and reported, and the state stays where it is: the
//   venue filled that quantity before it removed the remainder, so the order ends as "partially
//   filled, then cancelled/expired", with filledQty <= qty (even filledQty == qty stays
//   `cancelled`: a terminal state is terminal). In `filled` any new fill is an overfill (refused,
//   flagged). In `rejected` a fill is refused and flagged `fill-after-reject` (reported as a venue
//   error): the venue never confirmed that order, so the fill is an inconsistency for position
//   reconciliation against the venue to settle, not something this machine may book.
import { and, assign, setup, type SnapshotFrom } from 'xstate';
import type { CancelOrder, OrderSpec, OrderState, SubmitOrder, VenueCancelled, VenueFill, VenueReject, VenueToOrder } from './order-protocol.ts';

/** Resends after the first VenuePlace (so at most RETRIES_MAX + 1 places per order). */
export const RETRIES_MAX = 3;

/** Quantities are compared after rounding to this many decimals, so 0.1 + 0.2 fills 0.3. */
export const QTY_DECIMALS = 9;
const QTY_SCALE = 10 ** QTY_DECIMALS;
export const roundQty = (x: number): number => Math.round(x * QTY_SCALE) / QTY_SCALE;

// ---- events the order actor raises itself (timers, rate limiter)

/** The backoff is over: resend as attempt `attempt`. */
export type OrderRetry = { type: 'order-retry'; attempt: number };
/** The backoff after a transient cancel reject is over: send cancel number `attempt` again. */
export type OrderCancelRetry = { type: 'order-cancel-retry'; attempt: number };
/** No answer to attempt `attempt` within the ack timeout. */
export type OrderAckTimeout = { type: 'order-ack-timeout'; attempt: number };
/** The node's venue rate limit would hold this order longer than its wait bound: it was never sent. */
export type OrderRateLimited = { type: 'order-rate-limited'; waitMs: number; waitMaxMs: number };

export type OrderEvent = SubmitOrder | CancelOrder | VenueToOrder | OrderRetry | OrderCancelRetry | OrderAckTimeout | OrderRateLimited;

export type FlagKind = 'overfill' | 'duplicateFill' | 'badFill' | 'fillAfterReject' | 'ignored';

/** Things refused or ignored, by kind: each is also returned as a `flag` effect when it happens. */
export type OrderFlags = Record<FlagKind, number> & {
  /** fills whose venue cumQty disagreed with this order's own sum (applied anyway: tradeIds decide) */
  cumQtyMismatches: number;
};

export type PrevState = 'submitted' | 'acked' | 'partially_filled';

export interface OrderContext {
  spec: OrderSpec;
  /** sum of applied fills, rounded to QTY_DECIMALS; never decreases, never exceeds spec.qty */
  filledQty: number;
  /** volume-weighted price of the applied fills (0 before the first) */
  avgPrice: number;
  /** tradeIds applied, in order of arrival */
  fills: number[];
  /** VenuePlace messages decided so far (first send + resends), so the next attempt number */
  attempts: number;
  venueOrderId: number | undefined;
  lastReason: string | undefined;
  /** VenueCancel messages sent for the current cancel request (first + resends after transient rejects) */
  cancelAttempts: number;
  /** where a cancel came from (set on entering cancel_pending) */
  prevState: PrevState | undefined;
  flags: OrderFlags;
}

export interface OrderInput {
  spec: OrderSpec;
}

// ---- effects (returned by transition(), carried out by the order actor)

export type PlaceParams = { attempt: number };
export type RetryParams = { attempt: number; retry: number };
export type FillParams = { tradeId: number; qty: number; price: number; timeMs: number };
export type ReasonParams = { reason: string };
export type FlagParams = { kind: FlagKind };

const fillOf = (e: OrderEvent): VenueFill => {
  if (e.type !== 'venue-fill') throw new TypeError(`expected a venue-fill event, got ${e.type}`);
  return e;
};
const rejectOf = (e: OrderEvent): VenueReject => {
  if (e.type !== 'venue-reject') throw new TypeError(`expected a venue-reject event, got ${e.type}`);
  return e;
};
const cancelledOf = (e: OrderEvent): VenueCancelled => {
  if (e.type !== 'venue-cancelled') throw new TypeError(`expected a venue-cancelled event, got ${e.type}`);
  return e;
};

const positive = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x > 0;

/** Why a fill cannot be applied to this order at all (whatever the state), or undefined. */
export function fillProblem(spec: OrderSpec, f: VenueFill): string | undefined {
  if (!positive(f.qty)) return `qty ${f.qty}: expected a finite number > 0`;
  if (!positive(f.price)) return `price ${f.price}: expected a finite number > 0`;
  if (!Number.isFinite(f.tradeId)) return `tradeId ${f.tradeId}: expected a finite number`;
  if (f.symbol !== spec.symbol) return `symbol ${f.symbol}: expected ${spec.symbol}`;
  if (f.side !== spec.side) return `side ${f.side}: expected ${spec.side}`;
  return undefined;
}

type Args = { context: OrderContext; event: OrderEvent };
const flagged = (kind: FlagKind) => [
  { type: 'countFlag', params: { kind } },
  { type: 'flag', params: { kind } },
] as const;
/** Remembers a reason (lastReason) and reports it with this step's update (`note`). */
const because = (why: (a: Args) => string) => [
  { type: 'setReason', params: (a: Args): ReasonParams => ({ reason: why(a) }) },
  { type: 'note', params: (a: Args): ReasonParams => ({ reason: why(a) }) },
] as const;
const venueError = (why: (a: Args) => string) => [...because(why), { type: 'venueError', params: (a: Args): ReasonParams => ({ reason: why(a) }) }] as const;

const fillApplied = {
  type: 'fillApplied',
  params: ({ event }: Args): FillParams => {
    const f = fillOf(event);
    return { tradeId: f.tradeId, qty: f.qty, price: f.price, timeMs: f.timeMs };
  },
} as const;

const applyFill = ['applyFill', fillApplied] as const;

const place = { type: 'place', params: ({ context }: Args): PlaceParams => ({ attempt: context.attempts - 1 }) } as const;

/** The order's transitions on a fill, where a fill that is not complete leads to `partial`. */
const onFill = (partial: 'partially_filled' | 'stay') =>
  [
    { guard: 'badFill', actions: flagged('badFill') },
    { guard: 'duplicateFill', actions: flagged('duplicateFill') },
    { guard: 'overfill', actions: [...venueError(({ context, event }) => overfillText(context, fillOf(event))), ...flagged('overfill')] },
    { guard: 'completesOrder', target: '#order.filled', actions: applyFill },
    partial === 'stay' ? { actions: applyFill } : { target: '#order.partially_filled', actions: applyFill },
  ] as const;

/** The race: a late fill in `cancelled` / `expired` is booked, and the state stays. */
const onLateFill = [
  { guard: 'badFill', actions: flagged('badFill') },
  { guard: 'duplicateFill', actions: flagged('duplicateFill') },
  { guard: 'overfill', actions: [...venueError(({ context, event }) => overfillText(context, fillOf(event))), ...flagged('overfill')] },
  { actions: applyFill },
] as const;

const overfillText = (c: OrderContext, f: VenueFill): string =>
  `overfill refused: trade ${f.tradeId} qty ${f.qty} on top of ${c.filledQty} filled would exceed order qty ${c.spec.qty}`;

const onVenueCancelled = [
  { guard: 'fullyFilled', target: '#order.filled' },
  { guard: 'expiredRemainder', target: '#order.expired', actions: because(({ context }) => `IOC remainder expired at the venue (${context.filledQty} of ${context.spec.qty} filled)`) },
  { target: '#order.cancelled', actions: because(({ context }) => `cancelled at the venue (${context.filledQty} of ${context.spec.qty} filled)`) },
] as const;

export const orderMachine = setup({
  types: {
    context: {} as OrderContext,
    events: {} as OrderEvent,
    input: {} as OrderInput,
  },
  actions: {
    // ---- effects: no implementation here; the actor performs them
    place: (_, _p: PlaceParams) => {},
    scheduleRetry: (_, _p: RetryParams) => {},
    scheduleCancelRetry: (_, _p: RetryParams) => {},
    sendCancel: () => {},
    fillApplied: (_, _p: FillParams) => {},
    venueError: (_, _p: ReasonParams) => {},
    note: (_, _p: ReasonParams) => {},
    flag: (_, _p: FlagParams) => {},
    // ---- context updates
    countAttempt: assign({ attempts: ({ context }) => context.attempts + 1 }),
    countCancelAttempt: assign({ cancelAttempts: ({ context }) => context.cancelAttempts + 1 }),
    setPrev: assign((_, p: { prev: PrevState }) => ({ prevState: p.prev, cancelAttempts: 1 })),
    recordAck: assign({ venueOrderId: ({ context, event }) => (event.type === 'venue-ack' ? event.venueOrderId : context.venueOrderId) }),
    setReason: assign((_, p: ReasonParams) => ({ lastReason: p.reason })),
    countFlag: assign(({ context }, p: FlagParams) => ({ flags: { ...context.flags, [p.kind]: context.flags[p.kind] + 1 } })),
    applyFill: assign(({ context, event }) => {
      const f = fillOf(event);
      const filledQty = roundQty(context.filledQty + f.qty);
      const avgPrice = (context.avgPrice * context.filledQty + f.price * f.qty) / (context.filledQty + f.qty);
      const mismatch = Number.isFinite(f.cumQty) && roundQty(f.cumQty) !== filledQty ? 1 : 0;
      return {
        filledQty,
        avgPrice,
        fills: [...context.fills, f.tradeId],
        flags: { ...context.flags, cumQtyMismatches: context.flags.cumQtyMismatches + mismatch },
      };
    }),
  },
  guards: {
    badFill: ({ context, event }) => fillProblem(context.spec, fillOf(event)) !== undefined,
    duplicateFill: ({ context, event }) => context.fills.includes(fillOf(event).tradeId),
    overfill: ({ context, event }) => roundQty(context.filledQty + fillOf(event).qty) > roundQty(context.spec.qty),
    completesOrder: ({ context, event }) => roundQty(context.filledQty + fillOf(event).qty) >= roundQty(context.spec.qty),
    fullyFilled: ({ context }) => roundQty(context.filledQty) >= roundQty(context.spec.qty),
    hasFills: ({ context }) => context.filledQty > 0,
    wasAcked: ({ context }) => context.venueOrderId !== undefined,
    venueHasIt: ({ context }) => context.venueOrderId !== undefined || context.filledQty > 0,
    transient: ({ event }) => rejectOf(event).transient,
    retriesLeft: ({ context }) => context.attempts - 1 < RETRIES_MAX,
    expiredRemainder: ({ event }) => cancelledOf(event).expired,
    currentAttempt: ({ context, event }) => event.type === 'order-ack-timeout' && event.attempt === context.attempts - 1,
    ackTimedOut: ({ event }) => event.type === 'order-ack-timeout',
    transientCancelReject: ({ event }) => event.type === 'venue-cancel-reject' && (event.transient === true || /^transient:/i.test(event.reason)),
    cancelRetriesLeft: ({ context }) => context.cancelAttempts - 1 < RETRIES_MAX,
    nextCancelAttempt: ({ context, event }) => event.type === 'order-cancel-retry' && event.attempt === context.cancelAttempts,
    nextAttempt: ({ context, event }) => event.type === 'order-retry' && event.attempt === context.attempts,
  },
}).createMachine({
  id: 'order',
  context: ({ input }) => ({
    spec: input.spec,
    filledQty: 0,
    avgPrice: 0,
    fills: [],
    attempts: 0,
    cancelAttempts: 0,
    venueOrderId: undefined,
    lastReason: undefined,
    prevState: undefined,
    flags: { overfill: 0, duplicateFill: 0, badFill: 0, fillAfterReject: 0, ignored: 0, cumQtyMismatches: 0 },
  }),
  initial: 'created',
  // Anything a state does not handle (a second submit, a duplicate ack, a stale timer, a late
  // cancel answer) is counted and otherwise ignored.
  on: { '*': { actions: flagged('ignored') } },
  states: {
    created: {
      on: {
        'submit-order': { target: 'submitted', actions: ['countAttempt', place] },
        'cancel-order': { target: 'cancelled', actions: because(({ event }) => `cancelled before it was sent: ${event.type === 'cancel-order' ? event.reason : ''}`) },
      },
    },
    submitted: {
      initial: 'awaiting_ack',
      on: {
        'venue-ack': { target: 'acked', actions: 'recordAck' },
        'venue-fill': onFill('partially_filled'),
        'venue-cancelled': onVenueCancelled,
        'cancel-order': {
          target: 'cancel_pending',
          actions: [{ type: 'setPrev', params: { prev: 'submitted' } }, 'sendCancel', ...because(({ event }) => `cancel requested: ${event.type === 'cancel-order' ? event.reason : ''}`)],
        },
      },
      states: {
        awaiting_ack: {
          on: {
            'venue-reject': [
              { guard: 'transient', target: 'retrying_check', actions: venueError(({ context, event }) => `venue busy on attempt ${context.attempts - 1} (transient): ${rejectOf(event).reason}`) },
              { target: '#order.rejected', actions: venueError(({ event }) => `venue rejected: ${rejectOf(event).reason}`) },
            ],
            // A timeout for an earlier attempt (its timer outlived a resend) is stale: ignored.
            'order-ack-timeout': {
              guard: 'currentAttempt',
              target: 'retrying_check',
              actions: venueError(({ context }) => `no answer from the venue to attempt ${context.attempts - 1} within the ack timeout`),
            },
            'order-rate-limited': {
              target: '#order.rejected',
              actions: because(({ event }) => (event.type === 'order-rate-limited' ? `venue rate limit: would wait ${event.waitMs} ms, at most ${event.waitMaxMs} ms allowed` : 'venue rate limit')),
            },
          },
        },
        // Transient: decide between a resend after a backoff and giving up. (An eventless state,
        // so the transient-reject and ack-timeout paths share one rule.)
        retrying_check: {
          always: [
            { guard: 'retriesLeft', target: 'backoff', actions: [{ type: 'scheduleRetry', params: ({ context }: Args): RetryParams => ({ attempt: context.attempts, retry: context.attempts }) }] },
            // The venue may hold an order it never confirmed: cancel it, best effort.
            { guard: 'ackTimedOut', target: '#order.rejected', actions: ['sendCancel', ...because(({ context }) => `gave up after ${context.attempts} attempts: ${context.lastReason ?? ''}`)] },
            { target: '#order.rejected', actions: because(({ context }) => `gave up after ${context.attempts} attempts: ${context.lastReason ?? ''}`) },
          ],
        },
        backoff: {
          on: {
            'order-retry': { guard: 'nextAttempt', target: 'awaiting_ack', actions: ['countAttempt', place] },
          },
        },
      },
    },
    acked: {
      on: {
        'venue-fill': onFill('partially_filled'),
        'venue-cancelled': onVenueCancelled,
        'cancel-order': {
          target: 'cancel_pending',
          actions: [{ type: 'setPrev', params: { prev: 'acked' } }, 'sendCancel', ...because(({ event }) => `cancel requested: ${event.type === 'cancel-order' ? event.reason : ''}`)],
        },
      },
    },
    partially_filled: {
      on: {
        'venue-fill': onFill('partially_filled'),
        'venue-cancelled': onVenueCancelled,
        'cancel-order': {
          target: 'cancel_pending',
          actions: [{ type: 'setPrev', params: { prev: 'partially_filled' } }, 'sendCancel', ...because(({ event }) => `cancel requested: ${event.type === 'cancel-order' ? event.reason : ''}`)],
        },
      },
    },
    cancel_pending: {
      on: {
        'venue-fill': onFill('stay'),
        'venue-ack': { actions: 'recordAck' },
        'order-cancel-retry': { guard: 'nextCancelAttempt', actions: ['countCancelAttempt', 'sendCancel'] },
        'venue-cancelled': onVenueCancelled,
        'venue-cancel-reject': [
          // The cancel never reached the venue: send it again after a backoff (at most RETRIES_MAX times).
          {
            guard: and(['transientCancelReject', 'cancelRetriesLeft']),
            actions: [
              ...because(({ event }) => `cancel did not reach the venue (${event.type === 'venue-cancel-reject' ? event.reason : ''}): resending`),
              { type: 'scheduleCancelRetry', params: ({ context }: Args): RetryParams => ({ attempt: context.cancelAttempts, retry: context.cancelAttempts }) },
            ],
          },
          { guard: 'hasFills', target: 'partially_filled', actions: because(({ event }) => `cancel rejected: ${event.type === 'venue-cancel-reject' ? event.reason : ''}`) },
          { guard: 'wasAcked', target: 'acked', actions: because(({ event }) => `cancel rejected: ${event.type === 'venue-cancel-reject' ? event.reason : ''}`) },
          { target: 'cancelled', actions: because(({ event }) => `cancelled before the venue accepted it (venue: ${event.type === 'venue-cancel-reject' ? event.reason : ''})`) },
        ],
        'venue-reject': [
          // The venue holds the order (acked or filled): this answers an earlier resend.
          { guard: 'venueHasIt', actions: flagged('ignored') },
          { guard: 'transient', target: 'cancelled', actions: venueError(({ event }) => `cancelled while retrying (venue: ${rejectOf(event).reason})`) },
          { target: 'rejected', actions: venueError(({ event }) => `venue rejected: ${rejectOf(event).reason}`) },
        ],
      },
    },
    filled: {
      tags: ['terminal'],
      on: {
        'venue-fill': [
          { guard: 'duplicateFill', actions: flagged('duplicateFill') },
          { guard: 'badFill', actions: flagged('badFill') },
          { actions: [...venueError(({ context, event }) => overfillText(context, fillOf(event))), ...flagged('overfill')] },
        ],
      },
    },
    cancelled: { tags: ['terminal'], on: { 'venue-fill': onLateFill } },
    expired: { tags: ['terminal'], on: { 'venue-fill': onLateFill } },
    rejected: {
      tags: ['terminal'],
      on: {
        'venue-fill': [
          { guard: 'badFill', actions: flagged('badFill') },
          { actions: [
              ...venueError(({ event }) => `fill after reject refused: trade ${fillOf(event).tradeId} qty ${fillOf(event).qty} @ ${fillOf(event).price} (the venue never confirmed this order; reconciliation settles it)`),
              ...flagged('fillAfterReject'),
            ] },
        ],
      },
    },
  },
});

export type OrderMachine = typeof orderMachine;
export type OrderSnapshot = SnapshotFrom<OrderMachine>;

/** The top-level state of the protocol (`submitted` for both of its sub-states). */
export function orderStateOf(s: OrderSnapshot): OrderState {
  const v = s.value;
  return (typeof v === 'string' ? v : Object.keys(v)[0]) as OrderState;
}

/** The full state, e.g. `submitted.backoff`. */
export function orderStateDetail(s: OrderSnapshot): string {
  const v = s.value;
  if (typeof v === 'string') return v;
  const [k, sub] = Object.entries(v)[0];
  return `${k}.${String(sub)}`;
}

export const isTerminal = (s: OrderSnapshot): boolean => s.hasTag('terminal');
