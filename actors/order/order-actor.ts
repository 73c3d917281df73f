// The order actor: one per order, at `order/<clientOrderId>`, started by its first message (a
// SubmitOrder from risk). It runs the order's lifecycle machine (order-machine.ts) with xstate's
// pure `transition()`, and carries out the effects the machine returns: VenuePlace / VenueCancel
// to the venue gateway, resends after a backoff, an ack timeout, the node's venue rate limit
// (venue-rate-limit.ts), and an OrderUpdate to risk and position after every change of state,
// every applied fill and every venue error.
//
// - Resends use the same clientOrderId (attempt 1..3 in VenuePlace): the venue deduplicates.
// - Ack timeout (`ack_timeout_ms`): treated as a transient error, so the order is resent with the
//   same id after the backoff (the venue answers a resend of an order it holds with a duplicate
//   ack); simpler than a VenueQueryOrder round trip, which has no answer message in the protocol.
// - A VenuePlace the runtime could not deliver (gateway mailbox full, no route) is a transient
//   error too. A transient cancel reject resends the VenueCancel after the same backoff.
// - Rate limit: every VenuePlace (first send and resends) takes a slot of the venue's sliding
//   window, shared by the node's order actors; past the limit it waits for its slot (a timer),
//   at most `rate_wait_max_ms`, else the order is rejected with reason "venue rate limit".
// - In a terminal state it stays `linger_ms` (late fills of the cancel race are still applied,
//   see order-machine.ts), then stops itself; its restart type in topology is `transient`.
// - Bad input (a venue message that does not check out, another order's message, a fill with a
//   non-positive qty) changes nothing: it is counted by reason and logged with what it was.
// - Persistent (runtime/persistent-actor.ts): every event that goes through the machine is
//   journaled (persistence id `order/<clientOrderId>`) with the states before and after, and the
//   orders, order_audit_trail and fills tables follow in the same transaction. OrderUpdates and
//   resends go out once the event behind them is durable; the first VenuePlace does not wait (risk's
//   approval is durable, and the venue deduplicates a place sent again after a crash). A new
//   order (risk's SubmitOrder, not a resend) reads no journal when it starts. Recovered (its node restarted),
//   an order tells risk and position again where it stands and every fill it applied (both
//   deduplicate), then asks the venue where the order is (VenueQueryOrder), so fills made while
//   it was away are applied, and resumes a backoff that was running. A SubmitOrder for an order
//   it already holds (risk resends its open orders after its own restart) does the same.
import { machineInitialTransition as initialTransition, machineTransition as transition } from '../machine-transition.ts';
import type { ActorContext, Behavior } from '../../runtime/actor.ts';
import { durableNow } from '../../runtime/clock.ts';
import type { ViewWrite } from '../../runtime/journal.ts';
import { type EventMeta, type PersistentContext, persistent } from '../../runtime/persistent-actor.ts';
import type { KindContext } from '../../runtime/kind-registry.ts';
import { createLogger, type Logger } from '../../runtime/log.ts';
import type { Signal } from '../../runtime/signal.ts';
import { type BadInputReason, checkOrderSpec, checkVenueMessage, isVenueMessage } from './order-input.ts';
import {
  type FillParams,
  type FlagKind,
  isTerminal,
  type OrderContext,
  type OrderEvent,
  orderMachine,
  type OrderSnapshot,
  orderStateDetail,
  orderStateOf,
} from './order-machine.ts';
import { CLIENT_ORDER_ID_RE, type OrderSpec, type OrderState, type OrderUpdate, type SubmitOrder, type VenueCancel, type VenuePlace, type VenueQueryOrder } from './order-protocol.ts';
import { DEFAULT_RATE_ORDERS_MAX, DEFAULT_RATE_WINDOW_MS, nodeVenueRateLimits, type SlidingWindowLimit, type VenueRateLimits } from './venue-rate-limit.ts';

export interface OrderOptions {
  /** the actor's address, `order/<clientOrderId>` */
  address: string;
  /** the client order id the address names: a SubmitOrder for another id is refused */
  clientOrderId: string;
  /** venue_gateway: where VenuePlace / VenueCancel go (default `venue-gw`); also the rate limit's key */
  venueGateway: string;
  /** updates_to: who gets every OrderUpdate (default [risk, position]) */
  updatesTo: string[];
  /** retry_base_ms: the first resend's backoff; then doubled (default 50) */
  retryBaseMs: number;
  /** retry_jitter: each backoff is stretched by a random fraction in [0, jitter) (default 0: none) */
  retryJitter: number;
  /** ack_timeout_ms: no answer to a VenuePlace this long is a transient error (default 2000) */
  ackTimeoutMs: number;
  /** linger_ms: time kept after a terminal state, and to wait for a SubmitOrder at start (default 5000) */
  lingerMs: number;
  /** rate_orders_max, rate_window_ms: the venue's order rate limit (default 180 per 60000 ms) */
  rateOrdersMax: number;
  rateWindowMs: number;
  /** rate_wait_max_ms: the longest an order waits for a rate-limit slot before it is rejected (default 2000) */
  rateWaitMaxMs: number;
  /**
   * approval_max_age_ms: a SubmitOrder whose approval is older than this is rejected, not placed
   * (its approval waited that long to become durable, e.g. the database was down: the market it
   * was decided on is gone). Default 5000.
   */
  approvalMaxAgeMs: number;
  /** the node's shared limits (default: nodeVenueRateLimits, one per process) */
  rateLimits: VenueRateLimits;
  /** for jitter (default Math.random) */
  random: () => number;
}

export function orderOptions(ctx: KindContext, inject: { rateLimits?: VenueRateLimits; random?: () => number } = {}): OrderOptions {
  const o = ctx.options as Record<string, unknown>;
  const where = `actor ${ctx.address}: options`;
  const slash = ctx.address.indexOf('/');
  const clientOrderId = slash < 0 ? '' : ctx.address.slice(slash + 1);
  if (!CLIENT_ORDER_ID_RE.test(clientOrderId)) {
    throw new TypeError(`actor ${ctx.address}: expected an address order/<clientOrderId> with a client order id of 1..36 of [.A-Za-z0-9:/_-], got ${JSON.stringify(clientOrderId)}`);
  }
  const address = (k: string, d: string): string => {
    const v = o[k] ?? d;
    if (typeof v !== 'string' || v === '') throw new TypeError(`${where}.${k}: expected an actor address, got ${JSON.stringify(v)}`);
    return v;
  };
  const int = (k: string, d: number, min: number, max: number): number => {
    const v = o[k] ?? d;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new TypeError(`${where}.${k}: expected an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
    return v;
  };
  const updatesTo = o.updates_to ?? ['risk', 'position'];
  if (!Array.isArray(updatesTo) || !updatesTo.every((a) => typeof a === 'string' && a !== '')) {
    throw new TypeError(`${where}.updates_to: expected a list of actor addresses, got ${JSON.stringify(updatesTo)}`);
  }
  const jitter = o.retry_jitter ?? 0;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) throw new TypeError(`${where}.retry_jitter: expected a fraction in 0..1, got ${JSON.stringify(jitter)}`);
  return {
    address: ctx.address,
    clientOrderId,
    venueGateway: address('venue_gateway', 'venue-gw'),
    updatesTo: updatesTo as string[],
    retryBaseMs: int('retry_base_ms', 50, 1, 60_000),
    retryJitter: jitter,
    ackTimeoutMs: int('ack_timeout_ms', 2000, 1, 600_000),
    lingerMs: int('linger_ms', 5000, 0, 3_600_000),
    rateOrdersMax: int('rate_orders_max', DEFAULT_RATE_ORDERS_MAX, 1, 1_000_000),
    rateWindowMs: int('rate_window_ms', DEFAULT_RATE_WINDOW_MS, 1, 86_400_000),
    rateWaitMaxMs: int('rate_wait_max_ms', 2000, 0, 600_000),
    approvalMaxAgeMs: int('approval_max_age_ms', 5000, 1, 3_600_000),
    rateLimits: inject.rateLimits ?? nodeVenueRateLimits,
    random: inject.random ?? Math.random,
  };
}

/** The backoff before resend number `retry` (1, 2, 3): base, 2 x base, 4 x base, each stretched by the jitter. */
export function retryDelayMs(opts: Pick<OrderOptions, 'retryBaseMs' | 'retryJitter' | 'random'>, retry: number): number {
  const base = opts.retryBaseMs * 2 ** Math.max(0, retry - 1);
  return Math.round(base * (1 + opts.retryJitter * opts.random()));
}

export type OrderStatusRequest = { type: 'order-status' };
/** A rate-limit slot booked for attempt `attempt` has come. */
type RateSlot = { type: 'order-rate-slot'; attempt: number };
/** Lingering (or waiting for a SubmitOrder) is over: stop. */
type Linger = { type: 'order-linger' };
export type OrderMsg = OrderEvent | OrderStatusRequest | RateSlot | Linger;

export interface OrderStatus {
  type: 'order-status-reply';
  address: string;
  clientOrderId: string;
  /** `awaiting-submit` until the SubmitOrder arrives */
  state: OrderState | 'awaiting-submit';
  /** with the sub-state, e.g. `submitted.backoff` */
  detail: string;
  terminal: boolean;
  context: OrderContext | undefined;
  placesSent: number;
  updatesSent: number;
  /** a VenuePlace waiting for its rate-limit slot */
  rateWait: { attempt: number; atMs: number } | undefined;
  rateWaits: number;
  bad: Partial<Record<BadInputReason, number>>;
  lastBad: string | undefined;
}

export interface OrderActorState {
  snap: OrderSnapshot | undefined;
  /** every fill the machine applied, in order (what a recovered order tells position again) */
  fills: FillParams[];
  waiting: { attempt: number; atMs: number } | undefined;
  placesSent: number;
  rateWaits: number;
  updatesSent: number;
  bad: Partial<Record<BadInputReason, number>>;
  lastBad: string | undefined;
}

// One logger for all order actors of the process: there may be thousands of them.
let logger: Logger | undefined;
const log = (): Logger => (logger ??= createLogger({ component: 'order' }));

const FLAG_LEVEL: Record<FlagKind, 'error' | 'warn' | 'debug'> = { overfill: 'error', fillAfterReject: 'error', badFill: 'warn', duplicateFill: 'debug', ignored: 'debug' };

/** What an order journals: one event through its machine, with the states it went from and to, and when (µs since epoch). */
export type OrderJournalEvent = { type: 'order-event'; event: OrderEvent; from: string; to: string; atUs: number };

/** One journaled event onto an order's state: the machine's pure transition (recovery runs only this). */
export function orderApply(s: OrderActorState, e: OrderJournalEvent): OrderActorState {
  const event = e.event;
  if (!s.snap) {
    if (event.type !== 'submit-order') return s;
    s.snap = initialTransition(orderMachine, { spec: event.order })[0];
  }
  const [next, actions] = transition(orderMachine, s.snap, event);
  s.snap = next;
  for (const a of actions) if (a.type === 'fillApplied') s.fills.push(a.params as FillParams);
  return s;
}

export const emptyOrderState = (): OrderActorState => ({ snap: undefined, fills: [], waiting: undefined, placesSent: 0, rateWaits: 0, updatesSent: 0, bad: {}, lastBad: undefined });

const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

const ORDER_UPSERT = `INSERT INTO orders (client_order_id, intent_id, symbol, side, qty, price, time_in_force, reduce_only, state, filled_qty, avg_fill_price, venue_order_id, reason, epoch, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, to_timestamp($15::float8 / 1e6), to_timestamp($15::float8 / 1e6))
  ON CONFLICT (client_order_id) DO UPDATE SET state = EXCLUDED.state, filled_qty = EXCLUDED.filled_qty, avg_fill_price = EXCLUDED.avg_fill_price,
    venue_order_id = EXCLUDED.venue_order_id, reason = EXCLUDED.reason, epoch = EXCLUDED.epoch, updated_at = EXCLUDED.updated_at`;
const AUDIT_INSERT = `INSERT INTO order_audit_trail (client_order_id, seq_nr, event, state_from, state_to, correlation_id, detail, epoch, at)
  VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, to_timestamp($9::float8 / 1e6)) ON CONFLICT (client_order_id, seq_nr) DO NOTHING`;
const FILL_INSERT = `INSERT INTO fills (client_order_id, trade_id, symbol, side, qty, price, fill_time, epoch, booked_at)
  VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7::float8 / 1000), $8, to_timestamp($9::float8 / 1e6)) ON CONFLICT (client_order_id, trade_id) DO NOTHING`;

/** The operator's rows that follow from one order event: the order as it now is, its audit line, and a fill it applied. */
function orderViews(e: OrderJournalEvent, s: OrderActorState, meta: EventMeta): ViewWrite[] {
  const snap = s.snap;
  if (!snap) return [];
  const c = snap.context;
  const spec = c.spec;
  const out: ViewWrite[] = [
    {
      key: `orders:${spec.clientOrderId}`,
      sql: ORDER_UPSERT,
      params: [spec.clientOrderId, spec.intentId, spec.symbol, spec.side, spec.qty, spec.price, spec.tif, spec.reduceOnly, orderStateOf(snap), c.filledQty, c.filledQty > 0 ? c.avgPrice : null, c.venueOrderId ?? null, c.lastReason ?? null, meta.epoch, e.atUs],
    },
    { sql: AUDIT_INSERT, params: [spec.clientOrderId, meta.seqNr, e.event.type, e.from, e.to, spec.intentId, JSON.stringify(e.event), meta.epoch, e.atUs] },
  ];
  const ev = e.event;
  if (ev.type === 'venue-fill' && c.fills.includes(ev.tradeId)) {
    out.push({ sql: FILL_INSERT, params: [spec.clientOrderId, String(ev.tradeId), spec.symbol, spec.side, ev.qty, ev.price, ev.timeMs, meta.epoch, e.atUs] });
  }
  return out;
}

const saveOrderState = (s: OrderActorState): unknown => ({ snap: s.snap ? { value: s.snap.value, context: s.snap.context } : null, fills: s.fills });
const loadOrderState = (d: unknown): OrderActorState => {
  const x = d as { snap: { value: OrderSnapshot['value']; context: OrderContext } | null; fills: FillParams[] };
  return { ...emptyOrderState(), snap: x.snap ? orderMachine.resolveState({ value: x.snap.value, context: x.snap.context }) : undefined, fills: x.fills };
};

export const order = (opts: OrderOptions): Behavior<OrderMsg, OrderActorState> => {
  const limit: SlidingWindowLimit = opts.rateLimits.of(opts.venueGateway, opts.rateOrdersMax, opts.rateWindowMs);
  type Ctx = PersistentContext<OrderMsg, OrderJournalEvent>;

  const badInput = (s: OrderActorState, ctx: Ctx, reason: BadInputReason, detail: string, msg: unknown): void => {
    s.bad[reason] = (s.bad[reason] ?? 0) + 1;
    s.lastBad = `${reason}: ${detail}`;
    log().warn({ actor: opts.address, node: ctx.system.node, reason, detail, msg, from: ctx.sender?.address }, 'order: bad input skipped');
  };

  const sendPlace = (s: OrderActorState, ctx: Ctx, spec: OrderSpec, attempt: number): void => {
    ctx.tell<VenuePlace>(opts.venueGateway, { type: 'venue-place', order: spec, attempt });
    s.placesSent++;
    ctx.timers.startSingle('ack-timeout', { type: 'order-ack-timeout', attempt }, opts.ackTimeoutMs);
  };

  /** Sends now, or books a later slot and waits for it, or (slot too far) returns the event that rejects the order. */
  const place = (s: OrderActorState, ctx: Ctx, spec: OrderSpec, attempt: number): OrderEvent | undefined => {
    const d = limit.reserve(ctx.system.clock.now(), opts.rateWaitMaxMs);
    if (!d.ok) return { type: 'order-rate-limited', waitMs: Math.ceil(d.waitMs), waitMaxMs: opts.rateWaitMaxMs };
    if (d.waitMs <= 0) {
      sendPlace(s, ctx, spec, attempt);
      return undefined;
    }
    s.waiting = { attempt, atMs: d.atMs };
    s.rateWaits++;
    ctx.timers.startSingle('rate-slot', { type: 'order-rate-slot', attempt }, Math.ceil(d.waitMs));
    return undefined;
  };

  /** A booked slot no longer needed goes back to the node's limit. */
  const dropWaiting = (s: OrderActorState, ctx: ActorContext<OrderMsg>): void => {
    if (!s.waiting) return;
    limit.release(s.waiting.atMs, ctx.system.clock.now());
    ctx.timers.cancel('rate-slot');
    s.waiting = undefined;
  };

  const publish = (ctx: Ctx, s: OrderActorState, snap: OrderSnapshot, extra: { reason?: string; fill?: FillParams; venueError?: boolean }): void => {
    const c = snap.context;
    const u: OrderUpdate = {
      type: 'order-update',
      clientOrderId: c.spec.clientOrderId,
      symbol: c.spec.symbol,
      side: c.spec.side,
      qty: c.spec.qty,
      price: c.spec.price,
      state: orderStateOf(snap),
      filledQty: c.filledQty,
    };
    if (extra.reason !== undefined) u.reason = extra.reason;
    if (extra.fill) u.fill = extra.fill;
    if (extra.venueError) u.venueError = true;
    for (const to of opts.updatesTo) ctx.tell(to, u);
    s.updatesSent++;
  };

  /** One event through the machine, then its effects, then the events those effects raised. */
  const step = (s: OrderActorState, ctx: Ctx, event: OrderEvent): void => {
    const before = s.snap as OrderSnapshot;
    const [next, actions] = transition(orderMachine, before, event);
    s.snap = next;
    // The first submit's cause (risk's approval) is durable already, and a place sent twice is
    // deduplicated by the venue: the VenuePlace need not wait for this event to commit.
    ctx.persist({ type: 'order-event', event, from: orderStateDetail(before), to: orderStateDetail(next), atUs: nowUs() }, { hold: event.type !== 'submit-order' });
    const spec = next.context.spec;
    const raised: OrderEvent[] = [];
    const extra: { reason?: string; fill?: FillParams; venueError?: boolean } = {};
    for (const a of actions) {
      switch (a.type) {
        case 'place': {
          const e = place(s, ctx, spec, (a.params as { attempt: number }).attempt);
          if (e) raised.push(e);
          break;
        }
        case 'scheduleRetry': {
          const p = a.params as { attempt: number; retry: number };
          ctx.timers.startSingle('retry', { type: 'order-retry', attempt: p.attempt }, retryDelayMs(opts, p.retry));
          break;
        }
        case 'scheduleCancelRetry': {
          const p = a.params as { attempt: number; retry: number };
          ctx.timers.startSingle('cancel-retry', { type: 'order-cancel-retry', attempt: p.attempt }, retryDelayMs(opts, p.retry));
          break;
        }
        case 'sendCancel':
          ctx.tell<VenueCancel>(opts.venueGateway, { type: 'venue-cancel', clientOrderId: spec.clientOrderId, symbol: spec.symbol });
          break;
        case 'fillApplied':
          extra.fill = a.params as FillParams;
          s.fills.push(extra.fill);
          break;
        case 'venueError':
          extra.venueError = true;
          break;
        case 'note':
          extra.reason = (a.params as { reason: string }).reason;
          break;
        case 'flag': {
          const kind = (a.params as { kind: FlagKind }).kind;
          log()[FLAG_LEVEL[kind]]({ actor: opts.address, node: ctx.system.node, flag: kind, state: orderStateDetail(before), event, reason: extra.reason }, `order: ${kind}`);
          break;
        }
      }
    }
    // Timers and a waiting slot belong to the sub-state that armed them.
    const detail = orderStateDetail(next);
    if (detail !== 'submitted.awaiting_ack') {
      ctx.timers.cancel('ack-timeout');
      dropWaiting(s, ctx);
    }
    if (detail !== 'submitted.backoff') ctx.timers.cancel('retry');
    if (detail !== 'cancel_pending') ctx.timers.cancel('cancel-retry');
    if (orderStateOf(before) !== orderStateOf(next) || extra.fill || extra.venueError) publish(ctx, s, next, extra);
    if (isTerminal(next) && !isTerminal(before)) {
      ctx.timers.startSingle('linger', { type: 'order-linger' }, opts.lingerMs);
      ctx.system.gauges.add(`orders.${orderStateOf(next)}`);
    }
    for (const e of raised) step(s, ctx, e);
  };

  /** The update risk and position would have had last: where the order stands, with no fill. */
  const stateUpdate = (snap: OrderSnapshot): OrderUpdate => {
    const c = snap.context;
    return { type: 'order-update', clientOrderId: c.spec.clientOrderId, symbol: c.spec.symbol, side: c.spec.side, qty: c.spec.qty, price: c.spec.price, state: orderStateOf(snap), filledQty: c.filledQty };
  };

  /**
   * After a restart (this order's, or risk's): risk hears where the order stands, position every
   * fill again (it deduplicates by trade id), and an open order asks the venue where it is.
   */
  const catchUp = (s: OrderActorState, ctx: Ctx): void => {
    const snap = s.snap;
    if (!snap) return;
    const c = snap.context;
    const u = stateUpdate(snap);
    for (const to of opts.updatesTo) {
      if (to.startsWith('position')) for (const fill of s.fills) ctx.tell<OrderUpdate>(to, { ...u, fill });
      ctx.tell<OrderUpdate>(to, u);
    }
    if (isTerminal(snap)) {
      ctx.timers.startSingle('linger', { type: 'order-linger' }, opts.lingerMs);
      return;
    }
    ctx.timers.cancel('linger');
    ctx.tell<VenueQueryOrder>(opts.venueGateway, { type: 'venue-query-order', clientOrderId: c.spec.clientOrderId, symbol: c.spec.symbol });
    const detail = orderStateDetail(snap);
    // A timer of the sub-state did not survive the restart: arm it again.
    if (detail === 'submitted.awaiting_ack') ctx.timers.startSingle('ack-timeout', { type: 'order-ack-timeout', attempt: c.attempts - 1 }, opts.ackTimeoutMs);
    else if (detail === 'submitted.backoff') ctx.timers.startSingle('retry', { type: 'order-retry', attempt: c.attempts }, retryDelayMs(opts, c.attempts));
    else if (detail === 'cancel_pending') ctx.tell<VenueCancel>(opts.venueGateway, { type: 'venue-cancel', clientOrderId: c.spec.clientOrderId, symbol: c.spec.symbol });
  };

  const submit = (s: OrderActorState, ctx: Ctx, msg: SubmitOrder): void => {
    if (s.snap) {
      // Risk sends its open orders again after it restarted: tell it where this one stands.
      if (msg.resend === true && msg.order?.clientOrderId === opts.clientOrderId) return catchUp(s, ctx);
      return step(s, ctx, msg); // a second submit: the machine counts and ignores it
    }
    const c = checkOrderSpec(msg.order);
    if (!c.ok) return badInput(s, ctx, c.reason, c.detail, msg);
    const spec = c.value;
    if (spec.clientOrderId !== opts.clientOrderId) {
      // A routing error, not a venue answer: refuse the order loudly, tell risk it will not be
      // placed, and stop (a restart could not make this address hold that order).
      const detail = `submit-order.order.clientOrderId = ${JSON.stringify(spec.clientOrderId)} arrived at ${opts.address}: expected ${JSON.stringify(opts.clientOrderId)} (an order lives at order/<its clientOrderId>)`;
      s.bad['wrong-order'] = (s.bad['wrong-order'] ?? 0) + 1;
      s.lastBad = `wrong-order: ${detail}`;
      log().error({ actor: opts.address, node: ctx.system.node, msg, from: ctx.sender?.address }, `order refused: ${detail}`);
      const u: OrderUpdate = { type: 'order-update', clientOrderId: spec.clientOrderId, symbol: spec.symbol, side: spec.side, qty: spec.qty, price: spec.price, state: 'rejected', filledQty: 0, reason: detail };
      for (const to of opts.updatesTo) ctx.tell(to, u);
      void ctx.stop();
      return;
    }
    // On risk's time base (approvedMs is risk's durableNow).
    const now = durableNow(ctx.system.clock);
    if (msg.resend !== true && spec.approvedMs !== undefined && now - spec.approvedMs > opts.approvalMaxAgeMs) {
      const reason = `approval is ${Math.round(now - spec.approvedMs)} ms old (approval_max_age_ms ${opts.approvalMaxAgeMs}): not placed`;
      log().warn({ actor: opts.address, node: ctx.system.node, ageMs: now - spec.approvedMs }, `order refused: ${reason}`);
      ctx.system.gauges.add('orders.stale_approvals');
      const u: OrderUpdate = { type: 'order-update', clientOrderId: spec.clientOrderId, symbol: spec.symbol, side: spec.side, qty: spec.qty, price: spec.price, state: 'rejected', filledQty: 0, reason };
      for (const to of opts.updatesTo) ctx.tell(to, u);
      void ctx.stop();
      return;
    }
    s.snap = initialTransition(orderMachine, { spec })[0];
    ctx.system.gauges.add('orders.submitted');
    ctx.timers.cancel('linger');
    step(s, ctx, { type: 'submit-order', order: spec });
  };

  return persistent<OrderMsg, OrderActorState, OrderJournalEvent>({
    empty(ctx) {
      // Started by a message that is not a SubmitOrder (a late fill after this order stopped, a
      // cancel for an order long gone): nothing to do here, so do not stay.
      ctx.timers.startSingle('linger', { type: 'order-linger' }, opts.lingerMs);
      return emptyOrderState();
    },
    apply: orderApply,
    // Risk's SubmitOrder of a new order: nothing to recover, no journal read on the hot path.
    fresh: (first) => first.type === 'submit-order' && first.resend !== true,
    recovered(s, ctx) {
      if (ctx.seqNr > 0) catchUp(s, ctx);
      return s;
    },
    views: orderViews,
    snapshot: { save: saveOrderState, load: loadOrderState },

    receive(s, msg, ctx) {
      if (typeof msg !== 'object' || msg === null) {
        badInput(s, ctx, 'malformed', `expected a message object, got ${JSON.stringify(msg)}`, msg);
        return s;
      }
      switch (msg.type) {
        case 'order-status':
          ctx.reply<OrderStatus>(status(opts, s));
          return s;
        case 'order-linger':
          void ctx.stop();
          return s;
        case 'submit-order':
          submit(s, ctx, msg);
          return s;
        case 'order-rate-slot': {
          if (!s.snap || s.waiting?.attempt !== msg.attempt || orderStateDetail(s.snap) !== 'submitted.awaiting_ack') return s;
          // Timers have millisecond resolution: never send before the booked slot.
          const early = s.waiting.atMs - ctx.system.clock.now();
          if (early > 0) {
            ctx.timers.startSingle('rate-slot', msg, Math.ceil(early));
            return s;
          }
          s.waiting = undefined;
          sendPlace(s, ctx, s.snap.context.spec, msg.attempt);
          return s;
        }
        case 'cancel-order':
          if (msg.clientOrderId !== opts.clientOrderId) {
            badInput(s, ctx, 'wrong-order', `cancel-order.clientOrderId = ${JSON.stringify(msg.clientOrderId)}: this actor holds order ${JSON.stringify(opts.clientOrderId)}`, msg);
            return s;
          }
          if (!s.snap) badInput(s, ctx, 'no-order', `cancel-order for ${opts.clientOrderId}, which this actor never received (it may have finished and stopped)`, msg);
          else step(s, ctx, msg);
          return s;
        case 'order-retry':
        case 'order-cancel-retry':
        case 'order-ack-timeout':
        case 'order-rate-limited':
          if (s.snap) step(s, ctx, msg);
          return s;
        default: {
          if (!isVenueMessage(msg)) {
            badInput(s, ctx, 'malformed', `unknown message type ${JSON.stringify((msg as { type?: unknown }).type)}`, msg);
            return s;
          }
          const c = checkVenueMessage(msg, opts.clientOrderId, s.snap?.context.spec);
          if (!c.ok) badInput(s, ctx, c.reason, c.detail, msg);
          else if (!s.snap) badInput(s, ctx, 'no-order', `${c.value.type} for ${opts.clientOrderId}, which this actor never received (it may have finished and stopped)`, msg);
          else step(s, ctx, c.value);
          return s;
        }
      }
    },

    onSignal(s, signal: Signal, ctx) {
      // A VenuePlace that never reached the gateway is a transient venue error: back off and resend.
      if (signal.type !== '$undeliverable' || !s.snap) return s;
      const m = signal.message as Partial<VenuePlace> | Partial<VenueCancel>;
      if (m.type === 'venue-place' && 'attempt' in m && m.attempt === s.snap.context.attempts - 1 && orderStateDetail(s.snap) === 'submitted.awaiting_ack') {
        step(s, ctx, { type: 'venue-reject', clientOrderId: opts.clientOrderId, reason: `VenuePlace undeliverable to ${signal.to} (${signal.reason}: ${signal.detail})`, transient: true });
      } else if (m.type === 'venue-cancel' || (signal.message as OrderUpdate).type === 'order-update') {
        // A lost cancel leaves the order live at the venue; a lost update (a fill!) leaves risk or
        // position behind until reconciliation: say so loudly.
        log().error({ actor: opts.address, node: ctx.system.node, to: signal.to, reason: signal.reason, detail: signal.detail, msg: signal.message }, `order: ${signal.message.type} undeliverable`);
      }
      return s;
    },

    stop(s, ctx) {
      dropWaiting(s, ctx);
    },

    summary(s) {
      if (!s.snap) return { state: 'awaiting-submit', bad: s.bad };
      const c = s.snap.context;
      return { state: orderStateDetail(s.snap), filledQty: c.filledQty, qty: c.spec.qty, attempts: c.attempts, lastReason: c.lastReason, bad: s.bad };
    },
  });
};

function status(opts: OrderOptions, s: OrderActorState): OrderStatus {
  return {
    type: 'order-status-reply',
    address: opts.address,
    clientOrderId: opts.clientOrderId,
    state: s.snap ? orderStateOf(s.snap) : 'awaiting-submit',
    detail: s.snap ? orderStateDetail(s.snap) : 'awaiting-submit',
    terminal: s.snap ? isTerminal(s.snap) : false,
    context: s.snap?.context,
    placesSent: s.placesSent,
    updatesSent: s.updatesSent,
    rateWait: s.waiting,
    rateWaits: s.rateWaits,
    bad: { ...s.bad },
    lastBad: s.lastBad,
  };
}
