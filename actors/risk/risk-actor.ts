// The risk actor: every order intent of the signal passes here or nowhere. It keeps what risk
// knows (positions, open orders, last prices, volatility, daily P&L, the breaker) as a value and
// moves it with riskStep (risk-state.ts), which decides through the pure pre-trade checks and the
// circuit breaker machine; this file only carries out the effects: a SubmitOrder to
// `order/<clientOrderId>` per approved order (the order actor is started by it), a CancelOrder to
// every open order when the kill switch goes on, the breaker's timers on the actor's own timers,
// and logs. Ask `{type: 'risk-status'}` for the breaker, the kill switch, the limits in use, the
// exposure per symbol, approvals and rejections by limit and the latest rejections.
//
// Risk is persistent (runtime/persistent-actor.ts): every input but market trades is journaled
// with the risk clock's time and, for an intent or a flatten, the decision taken, so a replay
// rebuilds exactly the open orders, positions, daily P&L, breaker and kill switch, whatever the
// limits are by then. What it says (orders, cancels) goes out once the input is durable. After a
// restart it re-arms the breaker's timers, forgets last prices (no decision on a price from before
// the restart), and sends every open order to its order actor again (which catches up with the
// venue, or places it with the same client order id, which the venue deduplicates). Trades only
// move last prices and volatility: they are not journaled (the snapshot has them as of its time).
// The journal unavailable (PostgreSQL down, appends too slow) opens the breaker, "journal
// unavailable", and nothing is approved until it is back.
import type { ActorContext } from '../../runtime/actor.ts';
import { durableNow } from '../../runtime/clock.ts';
import type { ViewWrite } from '../../runtime/journal.ts';
import { type PersistentContext, persistent } from '../../runtime/persistent-actor.ts';
import type { Behavior } from '../../runtime/actor.ts';
import type { KindContext } from '../../runtime/kind-registry.ts';
import { createLogger, type Logger } from '../../runtime/log.ts';
import type { Trade } from '../feed/market-data.ts';
import type { BreakerTrip, CancelOrder, FlattenRequest, KillSwitch, OrderUpdate, PositionUpdate, SubmitOrder } from '../order/order-protocol.ts';
import type { OrderIntent } from '../signal/order-intent.ts';
import { type BreakerSnapshot, type BreakerState, breakerMachine } from './circuit-breaker.ts';
import { type CheckResult, type Rejection, exposureOf, markOf, portfolioFigures, sigmaOf, worstQty, Z_99 } from './pre-trade-checks.ts';
import { type RiskConfig, type RiskLimits, parseRiskOptions } from './risk-limits.ts';
import { type BreakerTimerInput, type RejectionRecord, type RiskCounters, type RiskEffect, type RiskInput, type RiskState, initialRiskState, riskStep } from './risk-state.ts';
import type { OrderSpec } from '../order/order-protocol.ts';

export interface RiskOptions {
  config: RiskConfig;
  /** prefix of the order actors' addresses: an approved order goes to `<ordersTo><clientOrderId>` */
  ordersTo: string;
  /** journaled inputs between snapshots (default 1000) */
  snapshotEvery?: number;
}

/** What risk journals: an input, the risk clock when it came, and the decision taken on it (intents, flattens). */
export type RiskEvent = { type: 'risk-input'; input: RiskInput; nowMs: number; decision?: CheckResult };

/** Replays one journaled input: the recorded decision is applied, not taken again. */
export const riskApply =
  (config: RiskConfig) =>
  (s: RiskState, e: RiskEvent): RiskState =>
    riskStep(s, e.input, config, e.nowMs, e.decision).state;

/** Risk's state as JSON-safe data (Maps, Sets and NaN survive the journal's codec; the breaker's XState snapshot is kept as value + context). */
export const saveRiskState = (s: RiskState): unknown => ({ ...s, breakerSnapshot: { value: s.breakerSnapshot.value, context: s.breakerSnapshot.context } });

export const loadRiskState = (data: unknown): RiskState => {
  const d = data as RiskState & { breakerSnapshot: { value: BreakerSnapshot['value']; context: BreakerSnapshot['context'] } };
  return { ...d, journalDown: d.journalDown ?? undefined, breakerSnapshot: breakerMachine.resolveState({ value: d.breakerSnapshot.value, context: d.breakerSnapshot.context }) };
};

/** The risk clock: its times outlive a process in the journal. */
const riskNow = (ctx: ActorContext): number => durableNow(ctx.system.clock);

const RISK_STATE_UPSERT = `INSERT INTO risk_state (actor, breaker_state, breaker_reason, kill_switch, kill_switch_by, daily_pnl, pnl_day, open_orders, approvals, rejections, seq_nr, epoch, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now())
  ON CONFLICT (actor) DO UPDATE SET breaker_state = EXCLUDED.breaker_state, breaker_reason = EXCLUDED.breaker_reason, kill_switch = EXCLUDED.kill_switch,
    kill_switch_by = EXCLUDED.kill_switch_by, daily_pnl = EXCLUDED.daily_pnl, pnl_day = EXCLUDED.pnl_day, open_orders = EXCLUDED.open_orders,
    approvals = EXCLUDED.approvals, rejections = EXCLUDED.rejections, seq_nr = EXCLUDED.seq_nr, epoch = EXCLUDED.epoch, updated_at = EXCLUDED.updated_at`;

export function riskOptions(ctx: KindContext): RiskOptions {
  return parseRiskOptions(ctx.options, `actor ${ctx.address}: options`);
}

export type RiskStatusRequest = { type: 'risk-status' };
export type BreakerTimerMsg = BreakerTimerInput;
export type RiskMsg = OrderIntent | OrderUpdate | PositionUpdate | Trade | BreakerTrip | KillSwitch | FlattenRequest | RiskStatusRequest | BreakerTimerMsg;

/** Risk's answer to an operator command (kill switch, breaker trip, flatten), sent when the command has a sender. */
export type RiskCommandReply = {
  type: 'risk-command-reply';
  command: 'kill-switch' | 'breaker-trip' | 'flatten';
  ok: boolean;
  detail: string;
  breaker: BreakerState;
  /** flatten: the order sent */
  clientOrderId?: string;
  /** flatten: why not */
  rejection?: Rejection;
  /** kill switch on: cancels sent */
  cancelled?: number;
};

export interface SymbolExposure {
  positionFromFills: number;
  /** null before the position actor's first report */
  reportedPosition: number | null;
  openBuyQty: number;
  openSellQty: number;
  lastPrice: number;
  /** the larger of |position + open buys| and |position - open sells| over the estimates */
  worstQty: number;
  notional: number;
  sigma1d: number;
  var99: number;
}

export type RiskStatus = {
  type: 'risk-status-reply';
  breaker: { state: BreakerState; reason: string; opens: number; sinceMs: number; probeId: string | null };
  killSwitch: { on: boolean; by: string };
  limits: RiskLimits;
  exposure: Record<string, SymbolExposure>;
  portfolio: { var99: number; grossNotional: number; openOrders: number };
  dailyPnl: { day: string; pnl: number; lossHalt: { day: string; loss: number } | null };
  marketDay: string;
  counters: RiskCounters;
  lastRejection: RejectionRecord | null;
  recentRejections: readonly RejectionRecord[];
};

export function riskStatus(s: RiskState, config: RiskConfig): RiskStatus {
  const exposure: Record<string, SymbolExposure> = {};
  for (const [sym, v] of s.symbols) {
    const e = exposureOf(s, sym);
    const worst = worstQty(e);
    const notional = worst * markOf(s, sym);
    exposure[sym] = {
      positionFromFills: v.positionFromFills,
      reportedPosition: v.reportedPosition ?? null,
      openBuyQty: e.openBuy,
      openSellQty: e.openSell,
      lastPrice: v.lastPrice,
      worstQty: worst,
      notional,
      sigma1d: sigmaOf(s, sym),
      var99: Z_99 * sigmaOf(s, sym) * notional,
    };
  }
  const f = portfolioFigures(s);
  let gross = 0;
  for (const g of f.grossUpper.values()) gross += g;
  const b = s.breaker;
  return {
    type: 'risk-status-reply',
    breaker: { state: b.state, reason: b.reason, opens: b.opens, sinceMs: s.breakerSinceMs, probeId: b.probeId ?? null },
    killSwitch: b.killSwitch,
    limits: config.limits,
    exposure,
    portfolio: { var99: f.var99, grossNotional: gross, openOrders: s.openOrders.size },
    dailyPnl: { day: s.pnlDay, pnl: s.dailyPnl, lossHalt: s.lossHalt ?? null },
    marketDay: s.marketDay,
    counters: s.counters,
    lastRejection: s.recentRejections.at(-1) ?? null,
    recentRejections: s.recentRejections,
  };
}

const timerKey = (key: string): string => `breaker:${key}`;

/** Dead-letter reasons after which a submit-order certainly never reached its order actor. */
const NOT_DELIVERED = new Set(['no-such-actor', 'no-route', 'actor-stopped', 'mailbox-full', 'node-unreachable']);

type Ctx = PersistentContext<RiskMsg, RiskEvent>;

export const risk = (opts: RiskOptions): Behavior<RiskMsg, RiskState> => {
  const config = opts.config;
  const apply = riskApply(config);
  let log: Logger | undefined;

  const carryOut = (effects: readonly RiskEffect[], ctx: ActorContext<RiskMsg>): void => {
    for (const e of effects) {
      switch (e.kind) {
        case 'submit':
          ctx.tell<SubmitOrder>(opts.ordersTo + e.order.clientOrderId, { type: 'submit-order', order: e.order });
          break;
        case 'cancel':
          ctx.tell<CancelOrder>(opts.ordersTo + e.clientOrderId, { type: 'cancel-order', clientOrderId: e.clientOrderId, reason: e.reason });
          break;
        case 'start-timer':
          ctx.timers.startSingle(timerKey(e.key), { type: 'breaker-timer', key: e.key, seq: e.seq, event: e.event }, e.delayMs);
          break;
        case 'cancel-timer':
          ctx.timers.cancel(timerKey(e.key));
          break;
        case 'rejected':
          log?.debug({ limit: e.record.limit, value: e.record.value, limitValue: e.record.limitValue, intent: e.record.intentId, symbol: e.record.symbol }, `rejected: ${e.record.limit}: ${e.record.message}`);
          break;
        case 'breaker-changed':
          if (e.to === 'open') log?.warn({ from: e.from, to: e.to, reason: e.reason }, `circuit breaker open: ${e.reason}`);
          else log?.info({ from: e.from, to: e.to }, `circuit breaker ${e.to}`);
          break;
        case 'bad-message':
          log?.warn({ msgType: e.type }, `bad message skipped: ${e.detail}`);
          break;
      }
    }
  };

  const reply = (ctx: ActorContext<RiskMsg>, before: RiskState, after: RiskState, msg: KillSwitch | BreakerTrip | FlattenRequest, decision: CheckResult | undefined): void => {
    if (!ctx.sender) return;
    const bad = after.counters.badMessages > before.counters.badMessages;
    const r: RiskCommandReply = { type: 'risk-command-reply', command: msg.type, ok: !bad, detail: '', breaker: after.breaker.state };
    if (bad) r.detail = `refused: malformed ${msg.type}`;
    else if (msg.type === 'kill-switch') {
      r.detail = msg.on ? `kill switch on: breaker held open, ${before.openOrders.size} open orders cancelled` : `kill switch off: breaker ${after.breaker.state}`;
      if (msg.on) r.cancelled = before.openOrders.size;
    } else if (msg.type === 'breaker-trip') r.detail = `breaker ${after.breaker.state}: ${after.breaker.reason}`;
    else if (decision && 'approved' in decision) {
      r.detail = `flatten ${msg.symbol}: reduce-only ${decision.approved.side} ${decision.approved.qty} @ ${decision.approved.price} sent`;
      r.clientOrderId = decision.approved.clientOrderId;
    } else if (decision) {
      r.ok = false;
      r.rejection = decision.rejected;
      r.detail = `flatten ${msg.symbol} rejected: ${decision.rejected.limit}: ${decision.rejected.message}`;
    }
    ctx.reply(r);
  };

  const step = (s: RiskState, input: RiskInput, ctx: Ctx): { state: RiskState; decision?: CheckResult } => {
    const nowMs = riskNow(ctx);
    const marketDayBefore = s.marketDay;
    const r = riskStep(s, input, config, nowMs);
    // Trades move prices only: the snapshot keeps them; journaling each would cost more than it
    // gives. A trade that starts a new market day is journaled: the daily loss limit depends on it.
    // An approval is urgent: its order leaves only once it is durable.
    if (input.type !== 'trade' || r.state.marketDay !== marketDayBefore) {
      ctx.persist(r.decision ? { type: 'risk-input', input, nowMs, decision: r.decision } : { type: 'risk-input', input, nowMs }, { urgent: r.decision !== undefined && 'approved' in r.decision });
    }
    carryOut(r.effects, ctx);
    // Trades only mark prices (the most frequent input): they change no gauge.
    if (input.type !== 'trade') gauges(r.state, ctx);
    return r;
  };

  const gauges = (s: RiskState, ctx: ActorContext<RiskMsg>): void => {
    const g = ctx.system.gauges;
    g.set('risk.breaker', s.breaker.state);
    g.set('risk.kill_switch', s.breaker.killSwitch.on ? 1 : 0);
    g.set('risk.open_orders', s.openOrders.size);
    g.set('risk.approved', s.counters.approvals);
    let rejected = 0;
    for (const [limit, n] of Object.entries(s.counters.rejections)) {
      rejected += n;
      g.set(`risk.rejected.${limit}`, n);
    }
    g.set('risk.rejected', rejected);
  };

  /** After a restart: the breaker's timers again, no stale prices, and every open order to its order actor. */
  const recovered = (s: RiskState, ctx: Ctx): RiskState => {
    const nowMs = riskNow(ctx);
    for (const [key, t] of s.breakerTimers) {
      ctx.timers.startSingle(timerKey(key), { type: 'breaker-timer', key, seq: t.seq, event: t.event }, Math.max(0, Math.ceil(t.dueMs - nowMs)));
    }
    if (ctx.seqNr === 0) {
      gauges(s, ctx);
      return s;
    }
    const symbols = new Map(s.symbols);
    for (const [sym, v] of symbols) symbols.set(sym, { ...v, lastPrice: NaN });
    let resent = 0;
    for (const o of s.openOrders.values()) {
      if (o.tif === undefined || o.intentId === undefined) continue;
      const spec: OrderSpec = { clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, qty: o.qty, price: o.price, tif: o.tif, reduceOnly: o.reduceOnly, intentId: o.intentId, rxMs: 0, epoch: ctx.system.epoch };
      ctx.tell<SubmitOrder>(opts.ordersTo + o.clientOrderId, { type: 'submit-order', order: spec, resend: true });
      resent++;
    }
    log?.info({ seqNr: ctx.seqNr, openOrders: s.openOrders.size, resent, breaker: s.breaker.state, killSwitch: s.breaker.killSwitch.on, dailyPnl: s.dailyPnl }, 'risk recovered from its journal');
    const next = { ...s, symbols };
    gauges(next, ctx);
    return next;
  };

  return persistent<RiskMsg, RiskState, RiskEvent>({
    empty(ctx) {
      log ??= createLogger({ node: ctx.system.node, actor: ctx.self.address });
      // The closed breaker arms no timer: the initial effects are none.
      return initialRiskState(config, riskNow(ctx)).state;
    },
    apply,
    recovered,
    watchJournal: true,
    snapshot: { every: opts.snapshotEvery, save: saveRiskState, load: loadRiskState },
    views(_e, s, meta): ViewWrite[] {
      let rejections = 0;
      for (const n of Object.values(s.counters.rejections)) rejections += n;
      const b = s.breaker;
      return [
        {
          key: `risk_state:${meta.persistenceId}`,
          sql: RISK_STATE_UPSERT,
          params: [meta.persistenceId, b.state, b.reason, b.killSwitch.on, b.killSwitch.by, s.dailyPnl, s.pnlDay, s.openOrders.size, s.counters.approvals, rejections, meta.seqNr, meta.epoch],
        },
      ];
    },

    receive(s, msg, ctx) {
      switch (msg.type) {
        case 'risk-status':
          ctx.reply<RiskStatus>(riskStatus(s, config));
          return s;
        case 'flatten': {
          // Unique across restarts of risk: the wall clock and the count of flattens so far.
          const r = step(s, { type: 'flatten', symbol: msg.symbol, by: msg.by, requestId: `${Date.now()}.${s.counters.flattens}` }, ctx);
          reply(ctx, s, r.state, msg, r.decision);
          return r.state;
        }
        case 'kill-switch':
        case 'breaker-trip': {
          const r = step(s, msg, ctx);
          reply(ctx, s, r.state, msg, undefined);
          return r.state;
        }
        case 'order-intent':
        case 'order-update':
        case 'position-update':
        case 'trade':
        case 'breaker-timer':
          return step(s, msg, ctx).state;
        default: {
          const type = (msg as { type?: unknown }).type;
          carryOut([{ kind: 'bad-message', type: String(type), detail: `unknown message type ${JSON.stringify(type)}` }], ctx);
          return { ...s, counters: { ...s.counters, badMessages: s.counters.badMessages + 1 } };
        }
      }
    },

    onSignal(s, signal, ctx) {
      if (signal.type === '$journal') {
        if (signal.available === (s.journalDown === undefined)) return s;
        if (!signal.available) log?.error({ reason: signal.reason }, `journal unavailable: no order is approved until it is back (${signal.reason})`);
        else log?.info('journal available again');
        return step(s, { type: 'journal-health', available: signal.available, reason: signal.reason }, ctx).state;
      }
      if (signal.type !== '$undeliverable' || signal.message.type !== 'submit-order' || !NOT_DELIVERED.has(signal.reason)) return s;
      const order = (signal.message as SubmitOrder).order;
      return step(s, { type: 'submit-undeliverable', clientOrderId: order.clientOrderId, reason: `${signal.reason}: ${signal.detail}` }, ctx).state;
    },

    summary: (s) => riskStatus(s, config),
  });
};
