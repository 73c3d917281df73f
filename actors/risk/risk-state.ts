// What risk knows, and how each message changes it: `riskStep(state, input, config, nowMs)`
// returns the next state and the effects to carry out (orders to submit or cancel, breaker timers
// to arm, rejections to log). No I/O, no clock (time is `nowMs`, the risk actor's clock, and the
// market's own times in trades and reports). The state given is consumed: its large collections
// (open orders, recent intent ids, send times) are taken over by the next state rather than copied
// per order (that copy was most of an order's cost); everything else is copied. The actor, the
// property tests and a replay all run this same function, each keeping only the latest state. Every decision is the pre-trade
// checks' (pre-trade-checks.ts) or the breaker machine's (circuit-breaker.ts).
import type { EventObject } from 'xstate';
import type { Trade } from '../feed/market-data.ts';
import { TERMINAL_ORDER_STATES, type BreakerTrip, type KillSwitch, type OrderSpec, type OrderState, type OrderUpdate, type PositionUpdate } from '../order/order-protocol.ts';
import type { OrderIntent } from '../signal/order-intent.ts';
import { type BreakerEvent, type BreakerSnapshot, type BreakerState, breakerStart, breakerStep, breakerView } from './circuit-breaker.ts';
import { type CheckResult, type OpenOrder, type OrderRequest, RATE_WINDOW_MS, type RecentOrder, type Rejection, type RiskView, type SymbolView, checkIntent, flattenOrder } from './pre-trade-checks.ts';
import { type RiskConfig, SYMBOL_RE } from './risk-limits.ts';
import { INITIAL_VOL, MS_PER_DAY, type VolState, sigma1d, volOnTrade } from './volatility.ts';

export interface SymbolRisk extends SymbolView {
  /** risk has seen a fill for this symbol: its fills-derived position is no longer seeded from reports */
  fillsSeen: boolean;
  vol: VolState;
}

export interface RejectionRecord extends Rejection {
  atMs: number;
  intentId: string;
  symbol: string;
  side: string;
  qty: number;
  price: number;
}

export interface RiskCounters {
  approvals: number;
  /** by limit name */
  rejections: Record<string, number>;
  flattens: number;
  cancelsSent: number;
  /** order updates for orders risk did not send (adopted into the open orders when not terminal) */
  unknownOrders: number;
  /** submit-order messages the runtime could not deliver */
  undeliverable: number;
  /** messages with a missing or wrong field, skipped */
  badMessages: number;
  staleTimers: number;
}

export interface RiskState extends RiskView {
  symbols: ReadonlyMap<string, SymbolRisk>;
  breakerSnapshot: BreakerSnapshot;
  /** armed breaker timers: key -> generation (a timer message of another generation is stale), event and due time (to re-arm after a restart) */
  breakerTimers: ReadonlyMap<string, ArmedTimer>;
  timerSeq: number;
  /** risk clock when the breaker entered its current state */
  breakerSinceMs: number;
  /** start of marketDay, ms since epoch (exchange time) */
  marketDayStartMs: number;
  counters: RiskCounters;
  /** newest last, at most config.recentRejectionsMax */
  recentRejections: readonly RejectionRecord[];
  /** set by failover (0 until then) */
  epoch: number;
  /** why the journal cannot take risk's events right now (no order is approved meanwhile); undefined: it can */
  journalDown: string | undefined;
}

export interface ArmedTimer {
  seq: number;
  event: EventObject;
  /** risk clock when it fires */
  dueMs: number;
}

export type FlattenInput = { type: 'flatten'; symbol: string; by: string; requestId: string };
export type BreakerTimerInput = { type: 'breaker-timer'; key: string; seq: number; event: EventObject };
export type SubmitUndeliverable = { type: 'submit-undeliverable'; clientOrderId: string; reason: string };
/** The journal became unavailable (risk's events cannot be made durable) or available again. */
export type JournalHealthInput = { type: 'journal-health'; available: boolean; reason: string };

export type RiskInput = OrderIntent | OrderUpdate | PositionUpdate | Trade | BreakerTrip | KillSwitch | FlattenInput | BreakerTimerInput | SubmitUndeliverable | JournalHealthInput;

export type RiskEffect =
  | { kind: 'submit'; order: OrderSpec }
  | { kind: 'cancel'; clientOrderId: string; reason: string }
  | { kind: 'start-timer'; key: string; seq: number; event: EventObject; delayMs: number }
  | { kind: 'cancel-timer'; key: string }
  | { kind: 'rejected'; record: RejectionRecord }
  | { kind: 'breaker-changed'; from: BreakerState; to: BreakerState; reason: string }
  | { kind: 'bad-message'; type: string; detail: string };

export interface RiskStepResult {
  state: RiskState;
  effects: RiskEffect[];
  /** the answer to an intent or a flatten */
  decision?: CheckResult;
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Most symbols risk keeps a view of (a message for one more is counted as bad and skipped). */
export const SYMBOLS_MAX = 1024;
/** Orders risk did not send are adopted as open up to this many times max_open_orders; past it, the breaker opens. */
export const ADOPTED_ORDERS_FACTOR = 4;
const ORDER_STATES: readonly OrderState[] = ['created', 'submitted', 'acked', 'partially_filled', 'filled', 'cancel_pending', 'cancelled', 'rejected', 'expired'];

export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export function initialRiskState(config: RiskConfig, nowMs: number): RiskStepResult {
  const b = breakerStart(config.breaker);
  let state: RiskState = {
    epoch: 0,
    journalDown: undefined,
    breaker: breakerView(b.snapshot),
    breakerSnapshot: b.snapshot,
    breakerTimers: new Map(),
    timerSeq: 0,
    breakerSinceMs: nowMs,
    symbols: new Map(),
    openOrders: new Map(),
    sentMs: [],
    recentOrders: [],
    intentIds: new Set(),
    marketDay: '',
    marketDayStartMs: -Infinity,
    dailyPnl: 0,
    pnlDay: '',
    lossHalt: undefined,
    counters: { approvals: 0, rejections: {}, flattens: 0, cancelsSent: 0, unknownOrders: 0, undeliverable: 0, badMessages: 0, staleTimers: 0 },
    recentRejections: [],
  };
  const effects: RiskEffect[] = [];
  state = armTimers(state, b.timers, effects, nowMs);
  return { state, effects };
}

function armTimers(s: RiskState, timers: ReturnType<typeof breakerStep>['timers'], effects: RiskEffect[], nowMs: number): RiskState {
  if (timers.length === 0) return s;
  const armed = new Map(s.breakerTimers);
  let seq = s.timerSeq;
  for (const t of timers) {
    if (t.kind === 'cancel-timer') {
      if (armed.delete(t.key)) effects.push({ kind: 'cancel-timer', key: t.key });
    } else {
      seq++;
      armed.set(t.key, { seq, event: t.event, dueMs: nowMs + t.delayMs });
      effects.push({ kind: 'start-timer', key: t.key, seq, event: t.event, delayMs: t.delayMs });
    }
  }
  return { ...s, breakerTimers: armed, timerSeq: seq };
}

function applyBreaker(s: RiskState, event: BreakerEvent | EventObject, nowMs: number, effects: RiskEffect[]): RiskState {
  const r = breakerStep(s.breakerSnapshot, event);
  if (r.snapshot === s.breakerSnapshot && r.timers.length === 0) return s;
  const view = breakerView(r.snapshot);
  const from = s.breaker.state;
  let next: RiskState = { ...s, breakerSnapshot: r.snapshot, breaker: view };
  if (view.state !== from) {
    next.breakerSinceMs = nowMs;
    effects.push({ kind: 'breaker-changed', from, to: view.state, reason: view.reason });
  }
  next = armTimers(next, r.timers, effects, nowMs);
  return next;
}

const newSymbol = (config: RiskConfig): SymbolRisk => ({
  positionFromFills: 0,
  reportedPosition: undefined,
  lastPrice: NaN,
  markPrice: NaN,
  sigma1d: config.volatility.defaultSigma1d,
  fillsSeen: false,
  vol: INITIAL_VOL,
});

const withSymbol = (s: RiskState, symbol: string, v: SymbolRisk): RiskState => ({ ...s, symbols: new Map(s.symbols).set(symbol, v) });

const tooManySymbols = (s: RiskState, symbol: string): boolean => !s.symbols.has(symbol) && s.symbols.size >= SYMBOLS_MAX;

const hasOpenOrders = (s: RiskState, symbol: string): boolean => {
  for (const o of s.openOrders.values()) if (o.symbol === symbol) return true;
  return false;
};

const bad = (s: RiskState, effects: RiskEffect[], type: string, detail: string): RiskState => {
  effects.push({ kind: 'bad-message', type, detail });
  return { ...s, counters: { ...s.counters, badMessages: s.counters.badMessages + 1 } };
};

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Records the answer to an order request: an approved order becomes open and is submitted. */
function decided(s: RiskState, req: OrderRequest, result: CheckResult, config: RiskConfig, nowMs: number, effects: RiskEffect[]): RiskState {
  if ('rejected' in result) {
    const r = result.rejected;
    const record: RejectionRecord = { ...r, atMs: nowMs, intentId: String(req.intentId), symbol: String(req.symbol), side: String(req.side), qty: req.qty, price: req.price };
    effects.push({ kind: 'rejected', record });
    const kept = [...s.recentRejections, record];
    return {
      ...s,
      counters: { ...s.counters, rejections: { ...s.counters.rejections, [r.limit]: (s.counters.rejections[r.limit] ?? 0) + 1 } },
      recentRejections: kept.length > config.recentRejectionsMax ? kept.slice(kept.length - config.recentRejectionsMax) : kept,
    };
  }
  const order = result.approved;
  const open: OpenOrder = { clientOrderId: order.clientOrderId, symbol: order.symbol, side: order.side, qty: order.qty, price: order.price, filledQty: 0, reduceOnly: order.reduceOnly, sentMs: nowMs, tif: order.tif, intentId: order.intentId };
  // The collections are taken over from `s`, not copied: copying them per order was most of an
  // order's cost (bench/orders-throughput.ts). The caller's `s` is consumed (see the header).
  const intentIds = (s.intentIds as Set<string>).add(order.intentId);
  for (const id of intentIds) {
    if (intentIds.size <= config.intentIdsMax) break;
    intentIds.delete(id);
  }
  const sentMs = s.sentMs as number[];
  while (sentMs.length > 0 && sentMs[0] <= nowMs - RATE_WINDOW_MS) sentMs.shift();
  sentMs.push(nowMs);
  const recentOrders = s.recentOrders as RecentOrder[];
  while (recentOrders.length > 0 && nowMs - recentOrders[0].atMs >= config.limits.duplicateWindowMs) recentOrders.shift();
  const recent: RecentOrder = { symbol: order.symbol, side: order.side, qty: order.qty, price: order.price, atMs: nowMs };
  let next: RiskState = {
    ...s,
    openOrders: (s.openOrders as Map<string, OpenOrder>).set(order.clientOrderId, open),
    sentMs,
    recentOrders: (recentOrders.push(recent), recentOrders),
    intentIds,
    counters: { ...s.counters, approvals: s.counters.approvals + 1 },
  };
  effects.push({ kind: 'submit', order });
  // Admitted while half-open: this order is the one probe.
  if (!order.reduceOnly && s.breaker.state === 'half_open') next = applyBreaker(next, { type: 'PROBE', clientOrderId: order.clientOrderId }, nowMs, effects);
  return next;
}

/** While the journal is down nothing is approved: an approval that cannot be made durable could be lost, and its order sent twice. */
const journalRefusal = (s: RiskState): CheckResult | undefined =>
  s.journalDown === undefined ? undefined : { rejected: { limit: 'journal_unavailable', value: 1, limitValue: 0, message: `journal unavailable (${s.journalDown}): no order is approved until risk's events can be made durable` } };

function onIntent(s: RiskState, intent: OrderIntent, config: RiskConfig, nowMs: number, effects: RiskEffect[], recorded: CheckResult | undefined): RiskStepResult {
  const decision = recorded ?? journalRefusal(s) ?? checkIntent(s, intent, config.limits, nowMs);
  const req: OrderRequest = { intentId: intent.id, symbol: intent.symbol, side: intent.side, qty: intent.qty, price: intent.limitPrice, reduceOnly: false, rxMs: intent.rxMs, marketUpdateId: intent.bookU };
  return { state: decided(s, req, decision, config, nowMs, effects), effects, decision };
}

function onFlatten(s: RiskState, f: FlattenInput, config: RiskConfig, nowMs: number, effects: RiskEffect[], recorded: CheckResult | undefined): RiskStepResult {
  const decision = recorded ?? journalRefusal(s) ?? flattenOrder(s, f.symbol, f.by, f.requestId, config.limits, nowMs);
  const counted: RiskState = { ...s, counters: { ...s.counters, flattens: s.counters.flattens + 1 } };
  const req: OrderRequest =
    'approved' in decision
      ? { ...decision.approved }
      : { intentId: `operator:flatten:${f.symbol}:${f.by}:${f.requestId}`, symbol: f.symbol, side: 'sell', qty: NaN, price: NaN, reduceOnly: true, rxMs: 0 };
  return { state: decided(counted, req, decision, config, nowMs, effects), effects, decision };
}

function onOrderUpdate(s: RiskState, u: OrderUpdate, config: RiskConfig, nowMs: number, effects: RiskEffect[]): RiskState {
  if (typeof u.clientOrderId !== 'string' || typeof u.symbol !== 'string' || !SYMBOL_RE.test(u.symbol) || (u.side !== 'buy' && u.side !== 'sell') || !ORDER_STATES.includes(u.state) || !finite(u.qty) || u.qty <= 0 || !finite(u.filledQty) || u.filledQty < 0) {
    return bad(s, effects, 'order-update', `order update ${JSON.stringify(u.clientOrderId)}: expected clientOrderId, symbol, side, state, qty > 0 and filledQty >= 0`);
  }
  if (tooManySymbols(s, u.symbol)) return bad(s, effects, 'order-update', `order update for ${u.symbol}: already ${SYMBOLS_MAX} symbols`);
  const sign = u.side === 'buy' ? 1 : -1;
  const terminal = TERMINAL_ORDER_STATES.includes(u.state);
  const known = s.openOrders.get(u.clientOrderId);
  let next = s;
  let filledDelta: number;
  const openOrders = s.openOrders as Map<string, OpenOrder>;
  if (known) {
    // filledQty is cumulative: a repeated update adds nothing.
    const filled = Math.min(known.qty, Math.max(known.filledQty, u.filledQty));
    filledDelta = filled - known.filledQty;
    if (terminal) openOrders.delete(u.clientOrderId);
    else if (filledDelta > 0) openOrders.set(u.clientOrderId, { ...known, filledQty: filled });
  } else {
    // Not sent by this incarnation of risk (sent before a restart): count what it can still do.
    filledDelta = u.fill && finite(u.fill.qty) && u.fill.qty > 0 ? u.fill.qty : 0;
    next = { ...next, counters: { ...next.counters, unknownOrders: next.counters.unknownOrders + 1 } };
    if (!terminal && openOrders.size >= config.limits.maxOpenOrders * ADOPTED_ORDERS_FACTOR) {
      next = applyBreaker({ ...next, openOrders }, { type: 'TRIP', reason: `order ${u.clientOrderId} not sent by risk and ${openOrders.size} orders already open: exposure cannot be tracked` }, nowMs, effects);
    } else if (!terminal) {
      openOrders.set(u.clientOrderId, { clientOrderId: u.clientOrderId, symbol: u.symbol, side: u.side, qty: u.qty, price: finite(u.price) ? u.price : 0, filledQty: Math.min(u.qty, u.filledQty), reduceOnly: false, sentMs: nowMs });
    }
  }
  next = { ...next, openOrders };
  const sym = next.symbols.get(u.symbol) ?? newSymbol(config);
  if (filledDelta > 0 || !next.symbols.has(u.symbol)) {
    next = withSymbol(next, u.symbol, filledDelta > 0 ? { ...sym, positionFromFills: sym.positionFromFills + sign * filledDelta, fillsSeen: true } : sym);
  }

  if (u.venueError === true) {
    next = applyBreaker(next, { type: 'VENUE_ERROR', atMs: nowMs, clientOrderId: u.clientOrderId, reason: u.reason ?? u.state }, nowMs, effects);
  } else if (next.breaker.probeId === u.clientOrderId) {
    if (u.state === 'rejected') next = applyBreaker(next, { type: 'PROBE_FAILED', clientOrderId: u.clientOrderId, reason: u.reason ?? 'rejected' }, nowMs, effects);
    else if (u.state !== 'created' && u.state !== 'submitted' && u.state !== 'cancel_pending') next = applyBreaker(next, { type: 'PROBE_OK', clientOrderId: u.clientOrderId }, nowMs, effects);
  }
  return next;
}

function onPositionUpdate(s: RiskState, p: PositionUpdate, config: RiskConfig, nowMs: number, effects: RiskEffect[]): RiskState {
  // day '' is a position book that has not seen a dated event yet: a position, no daily P&L.
  if (typeof p.symbol !== 'string' || !SYMBOL_RE.test(p.symbol) || !finite(p.qty) || !finite(p.dailyPnl) || typeof p.day !== 'string' || (p.day !== '' && !DAY_RE.test(p.day))) {
    return bad(s, effects, 'position-update', `position update for ${JSON.stringify(p.symbol)}: expected a symbol, finite qty and dailyPnl, and day YYYY-MM-DD`);
  }
  if (tooManySymbols(s, p.symbol)) return bad(s, effects, 'position-update', `position update for ${p.symbol}: already ${SYMBOLS_MAX} symbols`);
  const sym = s.symbols.get(p.symbol) ?? newSymbol(config);
  // A fresh risk (after a restart) learns positions from the reports; once it has seen fills of
  // its own, both views are kept and the checks take the worse.
  const seed = !sym.fillsSeen && !hasOpenOrders(s, p.symbol);
  let next = withSymbol(s, p.symbol, {
    ...sym,
    reportedPosition: p.qty,
    markPrice: finite(p.markPrice) && p.markPrice > 0 ? p.markPrice : sym.markPrice,
    positionFromFills: seed ? p.qty : sym.positionFromFills,
  });
  if (p.day === '') return next;
  if (p.day > next.marketDay) next = { ...next, marketDay: p.day, marketDayStartMs: Date.parse(`${p.day}T00:00:00Z`) };
  if (p.day >= next.pnlDay) next = { ...next, pnlDay: p.day, dailyPnl: p.dailyPnl };
  const limit = config.limits.dailyLossLimit;
  if (p.day === next.marketDay && p.dailyPnl <= -limit && next.lossHalt?.day !== p.day) {
    next = { ...next, lossHalt: { day: p.day, loss: -p.dailyPnl } };
    next = applyBreaker(next, { type: 'TRIP', reason: `daily loss limit: loss ${-p.dailyPnl} >= ${limit} on ${p.day}` }, nowMs, effects);
  }
  return next;
}

function onTrade(s: RiskState, t: Trade, config: RiskConfig, effects: RiskEffect[]): RiskState {
  if (typeof t.symbol !== 'string' || !SYMBOL_RE.test(t.symbol) || !finite(t.price) || t.price <= 0 || !finite(t.timeMs)) {
    return bad(s, effects, 'trade', `trade ${JSON.stringify(t.symbol)} @ ${String(t.price)}: expected a symbol, a price > 0 and timeMs`);
  }
  if (tooManySymbols(s, t.symbol)) return bad(s, effects, 'trade', `trade for ${t.symbol}: already ${SYMBOLS_MAX} symbols`);
  const sym = s.symbols.get(t.symbol) ?? newSymbol(config);
  const vol = volOnTrade(sym.vol, t.price, t.timeMs, config.volatility);
  let next = withSymbol(s, t.symbol, { ...sym, lastPrice: t.price, vol, sigma1d: vol === sym.vol ? sym.sigma1d : sigma1d(vol, config.volatility) });
  if (t.timeMs >= next.marketDayStartMs + MS_PER_DAY) {
    const start = Math.floor(t.timeMs / MS_PER_DAY) * MS_PER_DAY;
    next = { ...next, marketDay: utcDay(start), marketDayStartMs: start };
  }
  return next;
}

function onKillSwitch(s: RiskState, k: KillSwitch, nowMs: number, effects: RiskEffect[]): RiskState {
  if (typeof k.on !== 'boolean' || typeof k.by !== 'string' || k.by === '') return bad(s, effects, 'kill-switch', `kill switch: expected on (true/false) and by (who), got on=${JSON.stringify(k.on)} by=${JSON.stringify(k.by)}`);
  let next = applyBreaker(s, { type: 'KILL_SWITCH', on: k.on, by: k.by }, nowMs, effects);
  if (k.on) {
    for (const o of next.openOrders.values()) effects.push({ kind: 'cancel', clientOrderId: o.clientOrderId, reason: `kill switch on (by ${k.by})` });
    next = { ...next, counters: { ...next.counters, cancelsSent: next.counters.cancelsSent + next.openOrders.size } };
  }
  return next;
}

function onUndeliverable(s: RiskState, u: SubmitUndeliverable, nowMs: number, effects: RiskEffect[]): RiskState {
  const o = s.openOrders.get(u.clientOrderId);
  let next: RiskState = { ...s, counters: { ...s.counters, undeliverable: s.counters.undeliverable + 1 } };
  // It never reached its order actor, so it cannot be at the venue: no longer open.
  if (o && o.filledQty === 0) {
    const openOrders = new Map(next.openOrders);
    openOrders.delete(u.clientOrderId);
    next = { ...next, openOrders };
  }
  const reason = `submit-order undeliverable: ${u.reason}`;
  const event: BreakerEvent = next.breaker.probeId === u.clientOrderId ? { type: 'PROBE_FAILED', clientOrderId: u.clientOrderId, reason } : { type: 'VENUE_ERROR', atMs: nowMs, clientOrderId: u.clientOrderId, reason };
  return applyBreaker(next, event, nowMs, effects);
}

function onJournalHealth(s: RiskState, h: JournalHealthInput, nowMs: number, effects: RiskEffect[]): RiskState {
  if (h.available) return s.journalDown === undefined ? s : { ...s, journalDown: undefined };
  const reason = h.reason || 'unreachable';
  const next: RiskState = { ...s, journalDown: reason };
  // Open, with the reason an operator must see; it closes through cooldown and probe once the journal is back.
  return s.journalDown === undefined ? applyBreaker(next, { type: 'TRIP', reason: `journal unavailable: ${reason}` }, nowMs, effects) : next;
}

/**
 * One message through risk. `recorded`: the decision on an intent or flatten taken when it first
 * arrived (replay from the journal applies it instead of deciding again under today's limits).
 */
export function riskStep(s: RiskState, input: RiskInput, config: RiskConfig, nowMs: number, recorded?: CheckResult): RiskStepResult {
  const effects: RiskEffect[] = [];
  switch (input.type) {
    case 'order-intent':
      return onIntent(s, input, config, nowMs, effects, recorded);
    case 'flatten':
      return onFlatten(s, input, config, nowMs, effects, recorded);
    case 'journal-health':
      return { state: onJournalHealth(s, input, nowMs, effects), effects };
    case 'order-update':
      return { state: onOrderUpdate(s, input, config, nowMs, effects), effects };
    case 'position-update':
      return { state: onPositionUpdate(s, input, config, nowMs, effects), effects };
    case 'trade':
      return { state: onTrade(s, input, config, effects), effects };
    case 'breaker-trip':
      if (typeof input.reason !== 'string' || input.reason === '') return { state: bad(s, effects, 'breaker-trip', `breaker trip: expected a reason, got ${JSON.stringify(input.reason)}`), effects };
      return { state: applyBreaker(s, { type: 'TRIP', reason: input.reason }, nowMs, effects), effects };
    case 'kill-switch':
      return { state: onKillSwitch(s, input, nowMs, effects), effects };
    case 'breaker-timer': {
      if (s.breakerTimers.get(input.key)?.seq !== input.seq) return { state: { ...s, counters: { ...s.counters, staleTimers: s.counters.staleTimers + 1 } }, effects };
      const armed = new Map(s.breakerTimers);
      armed.delete(input.key);
      return { state: applyBreaker({ ...s, breakerTimers: armed }, input.event, nowMs, effects), effects };
    }
    case 'submit-undeliverable':
      return { state: onUndeliverable(s, input, nowMs, effects), effects };
  }
}
