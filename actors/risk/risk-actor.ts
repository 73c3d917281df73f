// The risk actor: every order intent of the signal passes here or nowhere. It keeps what risk
// knows (positions, open orders, last prices, volatility, daily P&L, the breaker) as a value and
// moves it with riskStep (risk-state.ts), which decides through the pure pre-trade checks and the
// circuit breaker machine; this file only carries out the effects: a SubmitOrder to
// `order/<clientOrderId>` per approved order (the order actor is started by it), a CancelOrder to
// every open order when the kill switch goes on, the breaker's timers on the actor's own timers,
// and logs. Ask `{type: 'risk-status'}` for the breaker, the kill switch, the limits in use, the
// exposure per symbol, approvals and rejections by limit and the latest rejections.
import type { ActorContext, Behavior } from '../../runtime/actor.ts';
import type { KindContext } from '../../runtime/kind-registry.ts';
import { createLogger, type Logger } from '../../runtime/log.ts';
import type { Trade } from '../feed/market-data.ts';
import type { BreakerTrip, CancelOrder, FlattenRequest, KillSwitch, OrderUpdate, PositionUpdate, SubmitOrder } from '../order/order-protocol.ts';
import type { OrderIntent } from '../signal/order-intent.ts';
import type { BreakerState } from './circuit-breaker.ts';
import { type CheckResult, type Rejection, exposureOf, markOf, portfolioFigures, sigmaOf, worstQty, Z_99 } from './pre-trade-checks.ts';
import { type RiskConfig, type RiskLimits, parseRiskOptions } from './risk-limits.ts';
import { type BreakerTimerInput, type RejectionRecord, type RiskCounters, type RiskEffect, type RiskInput, type RiskState, initialRiskState, riskStep } from './risk-state.ts';

export interface RiskOptions {
  config: RiskConfig;
  /** prefix of the order actors' addresses: an approved order goes to `<ordersTo><clientOrderId>` */
  ordersTo: string;
}

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

export const risk = (opts: RiskOptions): Behavior<RiskMsg, RiskState> => {
  const config = opts.config;
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

  const step = (s: RiskState, input: RiskInput, ctx: ActorContext<RiskMsg>): { state: RiskState; decision?: CheckResult } => {
    const r = riskStep(s, input, config, ctx.system.clock.now());
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

  return {
    init(ctx) {
      log ??= createLogger({ node: ctx.system.node, actor: ctx.self.address });
      const r = initialRiskState(config, ctx.system.clock.now());
      carryOut(r.effects, ctx);
      gauges(r.state, ctx);
      return r.state;
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
      if (signal.type !== '$undeliverable' || signal.message.type !== 'submit-order' || !NOT_DELIVERED.has(signal.reason)) return s;
      const order = (signal.message as SubmitOrder).order;
      return step(s, { type: 'submit-undeliverable', clientOrderId: order.clientOrderId, reason: `${signal.reason}: ${signal.detail}` }, ctx).state;
    },

    summary: (s) => riskStatus(s, config),
  };
};
