// The pre-trade checks: pure functions of what risk knows (RiskView), the order asked for, the
// limits and the time. No I/O, no clock, no mutation: a property test calls them directly.
//
// Every rejection names the limit, the value that broke it and the limit's value.
//
// Exposure is counted the conservative way, so that no sequence of approvals can cross a limit
// before fills arrive (invariant 3):
// - Open orders count in full (their unfilled part) on their side: a buy is checked against
//   |position + open buys + this order|, a sell against |position - open sells - this order|.
// - Risk has two views of a position: the fills it has seen in order updates (in step with the
//   open orders, since both come in the same message) and the position actor's last report (which
//   may be ahead of or behind them). The checks take the worse of the two on each side: the higher
//   for buys, the lower for sells.
// - An order passes a size limit either by staying within it or by reducing: a buy that cannot
//   take any position estimate (with the open buys) past flat, or the mirror sell. So an operator
//   can always bring an over-limit book back, and a reducing order never waits on the market.
//
// VaR (99%, one day, parametric): per symbol 2.33 * sigma_1d * |worst quantity| * price, where
// the worst quantity is the larger of the long extreme (position + open buys) and the short extreme
// (position - open sells), sigma_1d comes from volatility.ts and price is the last trade (for the
// order's own symbol, the higher of the last trade and the order's price). The
// portfolio VaR is the plain sum over symbols: no diversification credit (it assumes perfect
// correlation, which is what crypto pairs do in a crash). Rejected when the VaR after the order
// exceeds var_99_1d_limit, unless the order reduces.
//
// Concentration: one symbol's gross notional (worst quantity * price) as a share of the portfolio's
// gross notional after the order, at most concentration_max_pct. It applies only once the gross
// notional after the order exceeds concentration_min_notional (otherwise the first position, 100%
// of a small book, could never open), and not to reducing orders. The share is bounded from
// above (the symbol's upper estimate over the others' lower estimates, the floor against the
// upper estimate of the total) so the two position views cannot hide a concentration.
//
// A size limit that is already exceeded (prices moved, limits lowered) lets only reducing orders
// through: "the VaR would not grow" is not enough, because with two position views a buy can leave
// the upper estimate unchanged while the true exposure grows.
import type { OrderSpec, Side, TimeInForce } from '../order/order-protocol.ts';
import type { OrderIntent } from '../signal/order-intent.ts';
import type { BreakerView } from './circuit-breaker.ts';
import { clientOrderIdFor } from './client-order-id.ts';
import { SYMBOL_RE, isConfigured, limitsFor, type RiskLimits } from './risk-limits.ts';

/** z of the one-sided 99% normal quantile */
export const Z_99 = 2.33;

/** The rate limit's window. */
export const RATE_WINDOW_MS = 1000;

/** Quantities and amounts are doubles: a limit is crossed only beyond this relative slack. */
const REL_EPS = 1e-9;
const QTY_EPS = 1e-9;

export type LimitName =
  | 'bad_intent_id'
  | 'bad_symbol'
  | 'bad_side'
  | 'bad_qty'
  | 'bad_price'
  | 'unknown_symbol'
  | 'no_last_price'
  | 'duplicate_intent'
  | 'duplicate_order'
  | 'kill_switch'
  | 'breaker_open'
  | 'breaker_half_open'
  | 'daily_loss_limit'
  | 'reduce_only'
  | 'order_rate'
  | 'price_band'
  | 'max_open_orders'
  | 'max_position'
  | 'max_notional'
  | 'max_open_positions'
  | 'var_99_1d'
  | 'concentration'
  /** risk's journal cannot take events (PostgreSQL unreachable or too slow) */
  | 'journal_unavailable';

export interface Rejection {
  limit: LimitName;
  /** the value that broke the limit (NaN when the input was not a number) */
  value: number;
  limitValue: number;
  message: string;
}

export type CheckResult = { approved: OrderSpec } | { rejected: Rejection };

export interface OpenOrder {
  clientOrderId: string;
  symbol: string;
  side: Side;
  qty: number;
  price: number;
  /** cumulative filled quantity risk has seen */
  filledQty: number;
  reduceOnly: boolean;
  /** risk clock when it was sent (or first seen) */
  sentMs: number;
  /** as sent (absent for an order risk adopted from an update): what a resend after a restart needs */
  tif?: TimeInForce;
  intentId?: string;
}

export interface SymbolView {
  /** net position from the fills risk saw in order updates, buys positive */
  positionFromFills: number;
  /** the position actor's last report (undefined before the first) */
  reportedPosition: number | undefined;
  /** last trade price (NaN before the first trade) */
  lastPrice: number;
  /** the position actor's last mark (NaN before the first report with one) */
  markPrice: number;
  /** one-day volatility, a fraction of the price */
  sigma1d: number;
}

export interface RecentOrder {
  symbol: string;
  side: Side;
  qty: number;
  price: number;
  atMs: number;
}

/** What the checks read. RiskState (risk-state.ts) is one. */
export interface RiskView {
  /** lease epoch stamped on every order (0 until failover) */
  epoch: number;
  breaker: BreakerView;
  symbols: ReadonlyMap<string, SymbolView>;
  openOrders: ReadonlyMap<string, OpenOrder>;
  /** when the orders of the last RATE_WINDOW_MS were sent (risk clock) */
  sentMs: readonly number[];
  /** orders sent within the duplicate window */
  recentOrders: readonly RecentOrder[];
  /** intent ids already approved (bounded) */
  intentIds: ReadonlySet<string>;
  /** the current UTC trading day, from the market's own times (trades, position reports) */
  marketDay: string;
  /** daily P&L from the position actor's last report, and the day it is for */
  dailyPnl: number;
  pnlDay: string;
  /** the day the daily loss limit was hit and the loss then: until a later day, reduce-only only */
  lossHalt: { day: string; loss: number } | undefined;
}

/** An order to check: an intent of the signal, or an operator's reduce-only flatten. */
export interface OrderRequest {
  intentId: string;
  symbol: string;
  side: Side;
  qty: number;
  price: number;
  reduceOnly: boolean;
  rxMs: number;
  /** the book update the intent was decided on (carried to the venue: match_at decision) */
  marketUpdateId?: number;
}

const over = (value: number, limit: number): boolean => value > limit * (1 + REL_EPS) + 1e-12;

const fmt = (x: number): string => (Number.isFinite(x) ? String(Math.round(x * 1e8) / 1e8) : String(x));

const reject = (limit: LimitName, value: number, limitValue: number, message: string): { rejected: Rejection } => ({ rejected: { limit, value, limitValue, message } });

const NO_SYMBOL: SymbolView = { positionFromFills: 0, reportedPosition: undefined, lastPrice: NaN, markPrice: NaN, sigma1d: NaN };

/** The position estimates risk holds for a symbol: fills seen, and the last report if any. */
export function positionsOf(v: SymbolView): number[] {
  return v.reportedPosition === undefined ? [v.positionFromFills] : [v.positionFromFills, v.reportedPosition];
}

/** Unfilled quantity of a symbol's open orders, per side. */
export function openQty(view: RiskView, symbol: string): { buy: number; sell: number } {
  let buy = 0;
  let sell = 0;
  for (const o of view.openOrders.values()) {
    if (o.symbol !== symbol) continue;
    const rest = Math.max(0, o.qty - o.filledQty);
    if (o.side === 'buy') buy += rest;
    else sell += rest;
  }
  return { buy, sell };
}

/** A symbol's exposure: the long and short extremes over the position estimates with all open orders filling. */
export interface Exposure {
  /** highest position the symbol can reach: max(estimates) + open buys */
  hi: number;
  /** lowest: min(estimates) - open sells */
  lo: number;
  /** the estimates, and open quantity per side (for the lower bound) */
  positions: number[];
  openBuy: number;
  openSell: number;
}

export function exposureOf(view: RiskView, symbol: string): Exposure {
  const positions = positionsOf(view.symbols.get(symbol) ?? NO_SYMBOL);
  const { buy, sell } = openQty(view, symbol);
  return { hi: Math.max(...positions) + buy, lo: Math.min(...positions) - sell, positions, openBuy: buy, openSell: sell };
}

const withOrder = (e: Exposure, side: Side, qty: number): Exposure =>
  side === 'buy' ? { ...e, hi: e.hi + qty, openBuy: e.openBuy + qty } : { ...e, lo: e.lo - qty, openSell: e.openSell + qty };

/** Worst absolute quantity the symbol can reach (upper bound over the estimates). */
export const worstQty = (e: Exposure): number => Math.max(Math.abs(e.hi), Math.abs(e.lo));

/** The least worst quantity over the estimates (a lower bound of the true one). */
const worstQtyLower = (e: Exposure): number => Math.min(...e.positions.map((p) => Math.max(Math.abs(p + e.openBuy), Math.abs(p - e.openSell))));

/** A buy that cannot take any estimate (with the open buys) past flat, or the mirror sell. */
const reduces = (e: Exposure, side: Side, qty: number): boolean => (side === 'buy' ? e.hi + qty <= QTY_EPS : e.lo - qty >= -QTY_EPS);

/** The price risk values a symbol at: last trade, else the position's mark, else its open orders' highest price (0 if none). */
export function markOf(view: RiskView, symbol: string): number {
  const v = view.symbols.get(symbol);
  if (v && v.lastPrice > 0) return v.lastPrice;
  if (v && v.markPrice > 0) return v.markPrice;
  let px = 0;
  for (const o of view.openOrders.values()) if (o.symbol === symbol && o.price > px) px = o.price;
  return px;
}

/** Never used in practice: the state gives every symbol with exposure a view (and its sigma). */
const SIGMA_1D_UNKNOWN = 1;

export const sigmaOf = (view: RiskView, symbol: string): number => {
  const s = view.symbols.get(symbol)?.sigma1d;
  return s !== undefined && s >= 0 ? s : SIGMA_1D_UNKNOWN;
};

/** Symbols with exposure: a non-zero position estimate or an open order. */
export function activeSymbols(view: RiskView): Set<string> {
  const out = new Set<string>();
  for (const [sym, v] of view.symbols) if (positionsOf(v).some((p) => Math.abs(p) > QTY_EPS)) out.add(sym);
  for (const o of view.openOrders.values()) out.add(o.symbol);
  return out;
}

export interface PortfolioFigures {
  /** 99% one-day VaR, sum over symbols */
  var99: number;
  /** gross notional, upper estimate per symbol */
  grossUpper: Map<string, number>;
  /** gross notional, lower estimate per symbol */
  grossLower: Map<string, number>;
}

/** VaR and gross notionals of the book, with `change` applied to one symbol's exposure. */
export function portfolioFigures(view: RiskView, change?: { symbol: string; exposure: Exposure; price: number }): PortfolioFigures {
  const symbols = activeSymbols(view);
  if (change) symbols.add(change.symbol);
  let var99 = 0;
  const grossUpper = new Map<string, number>();
  const grossLower = new Map<string, number>();
  for (const sym of symbols) {
    const e = change?.symbol === sym ? change.exposure : exposureOf(view, sym);
    const px = change?.symbol === sym ? change.price : markOf(view, sym);
    const upper = worstQty(e) * px;
    grossUpper.set(sym, upper);
    grossLower.set(sym, worstQtyLower(e) * px);
    var99 += Z_99 * sigmaOf(view, sym) * upper;
  }
  return { var99, grossUpper, grossLower };
}

const sum = (m: Map<string, number>): number => {
  let t = 0;
  for (const v of m.values()) t += v;
  return t;
};

/** Trading halted by the daily loss limit (reduce-only orders only) on the view's market day. */
export function lossHalted(view: RiskView, limits: RiskLimits): { day: string; loss: number } | undefined {
  if (view.lossHalt !== undefined && view.marketDay <= view.lossHalt.day) return view.lossHalt;
  if (view.pnlDay !== '' && view.pnlDay >= view.marketDay && view.dailyPnl <= -limits.dailyLossLimit) return { day: view.pnlDay, loss: -view.dailyPnl };
  return undefined;
}

/** The quantity a reduce-only order of `side` may have: what every position estimate agrees can be reduced, less open orders of that side. */
export function reducibleQty(view: RiskView, symbol: string, side: Side): number {
  const e = exposureOf(view, symbol);
  return side === 'sell' ? Math.max(0, e.lo) : Math.max(0, -e.hi);
}

/** Every check, in order; the first that fails is the answer. */
export function checkOrder(view: RiskView, req: OrderRequest, limits: RiskLimits, nowMs: number): CheckResult {
  const { symbol, side, qty, price } = req;
  const what = () => `${req.side} ${fmt(req.qty)} ${req.symbol} @ ${fmt(req.price)}`;

  // -- bad input
  if (typeof req.intentId !== 'string' || req.intentId === '') return reject('bad_intent_id', NaN, 0, `intent id ${JSON.stringify(req.intentId)}: expected a non-empty string`);
  if (typeof symbol !== 'string' || !SYMBOL_RE.test(symbol)) return reject('bad_symbol', NaN, 0, `symbol ${JSON.stringify(symbol)}: expected upper-case letters and digits`);
  if (side !== 'buy' && side !== 'sell') return reject('bad_side', NaN, 0, `side ${JSON.stringify(side)}: expected buy or sell`);
  if (typeof qty !== 'number' || !Number.isFinite(qty) || qty <= 0) return reject('bad_qty', typeof qty === 'number' ? qty : NaN, 0, `quantity ${String(qty)}: expected a finite number > 0`);
  if (typeof price !== 'number' || !Number.isFinite(price) || price <= 0) return reject('bad_price', typeof price === 'number' ? price : NaN, 0, `price ${String(price)}: expected a finite number > 0`);

  const sv = view.symbols.get(symbol);
  const lastPrice = sv && sv.lastPrice > 0 ? sv.lastPrice : NaN;
  if (Number.isNaN(lastPrice) && !isConfigured(limits, symbol)) {
    return reject('unknown_symbol', 0, 0, `${symbol}: unknown symbol (not in the limits and no trade seen for it)`);
  }
  if (view.intentIds.has(req.intentId)) return reject('duplicate_intent', 2, 1, `intent ${req.intentId} was already approved (an intent is approved at most once)`);

  // -- halts: only reduce-only orders pass
  if (!req.reduceOnly) {
    const b = view.breaker;
    if (b.killSwitch.on) return reject('kill_switch', 1, 0, `kill switch is on (by ${b.killSwitch.by}): only reduce-only orders pass`);
    // The loss limit before the breaker: it trips the breaker too, but it is the longer-lasting reason.
    const halt = lossHalted(view, limits);
    if (halt) return reject('daily_loss_limit', halt.loss, limits.dailyLossLimit, `daily loss limit hit on ${halt.day} (loss ${fmt(halt.loss)} >= ${fmt(limits.dailyLossLimit)}): only reduce-only orders until the next UTC trading day`);
    if (b.state === 'open') return reject('breaker_open', 1, 0, `circuit breaker is open (${b.reason}): only reduce-only orders pass`);
    if (b.state === 'half_open' && !b.probeAvailable) return reject('breaker_half_open', 1, 1, `circuit breaker is half-open with its one probe order (${b.probeId}) in flight: no other order until its outcome`);
  } else {
    const reducible = reducibleQty(view, symbol, side);
    if (over(qty, reducible)) return reject('reduce_only', qty, reducible, `reduce-only ${what()}: only ${fmt(reducible)} can be reduced (every position estimate, less open ${side}s)`);
  }

  // -- flow
  for (const o of view.recentOrders) {
    if (o.symbol === symbol && o.side === side && o.qty === qty && o.price === price && nowMs - o.atMs < limits.duplicateWindowMs) {
      return reject('duplicate_order', nowMs - o.atMs, limits.duplicateWindowMs, `${what()}: the same order was sent ${fmt(nowMs - o.atMs)} ms ago (within the ${limits.duplicateWindowMs} ms duplicate window)`);
    }
  }
  const inWindow = view.sentMs.filter((t) => t > nowMs - RATE_WINDOW_MS).length + 1;
  if (inWindow > limits.orderRatePerS) return reject('order_rate', inWindow, limits.orderRatePerS, `${inWindow} orders within 1 s > ${limits.orderRatePerS} per s`);

  // -- price
  const ref = Number.isNaN(lastPrice) ? (sv && sv.markPrice > 0 ? sv.markPrice : NaN) : lastPrice;
  if (Number.isNaN(ref)) return reject('no_last_price', 0, 0, `${symbol}: no trade seen yet: the price band, notional and VaR need a last price`);
  const bandBps = (Math.abs(price - ref) / ref) * 10_000;
  if (over(bandBps, limits.priceBandBps)) return reject('price_band', bandBps, limits.priceBandBps, `${what()}: ${fmt(bandBps)} bps from the last trade ${fmt(ref)} > ${limits.priceBandBps} bps`);

  // -- exposure
  if (view.openOrders.size + 1 > limits.maxOpenOrders) return reject('max_open_orders', view.openOrders.size + 1, limits.maxOpenOrders, `${view.openOrders.size + 1} open orders > ${limits.maxOpenOrders}`);
  const sl = limitsFor(limits, symbol);
  const before = exposureOf(view, symbol);
  const after = withOrder(before, side, qty);
  const reducing = reduces(before, side, qty);
  const sideQty = Math.abs(side === 'buy' ? after.hi : after.lo);
  const sideName = side === 'buy' ? 'position + open buys + this buy' : 'position - open sells - this sell';
  if (!reducing && over(sideQty, sl.maxPosition)) return reject('max_position', sideQty, sl.maxPosition, `${symbol}: |${sideName}| = ${fmt(sideQty)} > max_position ${fmt(sl.maxPosition)}`);
  const px = Math.max(ref, price);
  const notional = sideQty * px;
  if (!reducing && over(notional, sl.maxNotional)) return reject('max_notional', notional, sl.maxNotional, `${symbol}: |${sideName}| * ${fmt(px)} = ${fmt(notional)} > max_notional ${fmt(sl.maxNotional)}`);
  if (!reducing) {
    const active = activeSymbols(view);
    active.add(symbol);
    if (active.size > limits.maxOpenPositions) return reject('max_open_positions', active.size, limits.maxOpenPositions, `${active.size} symbols with a position or open order (${[...active].sort().join(', ')}) > ${limits.maxOpenPositions}`);

    const fAfter = portfolioFigures(view, { symbol, exposure: after, price: px });
    if (over(fAfter.var99, limits.var99_1dLimit)) {
      return reject('var_99_1d', fAfter.var99, limits.var99_1dLimit, `99% 1-day VaR after ${what()} = ${fmt(fAfter.var99)} > ${fmt(limits.var99_1dLimit)} (sigma_1d ${symbol} ${fmt(sigmaOf(view, symbol))})`);
    }
    const symGross = fAfter.grossUpper.get(symbol) ?? 0;
    const totalUpper = sum(fAfter.grossUpper);
    if (totalUpper > limits.concentrationMinNotional) {
      const othersLower = sum(fAfter.grossLower) - (fAfter.grossLower.get(symbol) ?? 0);
      const pct = (100 * symGross) / (symGross + othersLower);
      if (over(pct, limits.concentrationMaxPct)) {
        return reject('concentration', pct, limits.concentrationMaxPct, `${symbol} would be ${fmt(pct)}% of the gross notional (${fmt(symGross)} of ${fmt(symGross + othersLower)}) > ${limits.concentrationMaxPct}%`);
      }
    }
  }

  const clientOrderId = clientOrderIdFor(req.intentId);
  if (view.openOrders.has(clientOrderId)) return reject('duplicate_intent', 2, 1, `intent ${req.intentId}: its order ${clientOrderId} is already open`);
  return {
    approved: {
      clientOrderId,
      symbol,
      side,
      qty,
      price,
      tif: 'IOC',
      reduceOnly: req.reduceOnly,
      intentId: req.intentId,
      rxMs: req.rxMs,
      epoch: view.epoch,
      approvedMs: nowMs,
      ...(req.marketUpdateId !== undefined ? { marketUpdateId: req.marketUpdateId } : {}),
    },
  };
}

/** The signal's intent: never reduce-only. */
export function checkIntent(view: RiskView, intent: OrderIntent, limits: RiskLimits, nowMs: number): CheckResult {
  return checkOrder(view, { intentId: intent.id, symbol: intent.symbol, side: intent.side, qty: intent.qty, price: intent.limitPrice, reduceOnly: false, rxMs: intent.rxMs, marketUpdateId: intent.bookU }, limits, nowMs);
}

/**
 * The operator's flatten: a reduce-only IOC order for what every position estimate agrees can be
 * reduced (less open orders already reducing it), at a marketable price (the last trade minus the
 * price band for a sell, plus for a buy). Allowed while halted (breaker, kill switch, loss limit).
 * `requestId` makes the intent id unique (`operator:flatten:<symbol>:<by>:<requestId>`).
 */
export function flattenOrder(view: RiskView, symbol: string, by: string, requestId: string, limits: RiskLimits, nowMs: number): CheckResult {
  const intentId = `operator:flatten:${symbol}:${by}:${requestId}`;
  const sv = view.symbols.get(symbol);
  const ref = sv ? (sv.lastPrice > 0 ? sv.lastPrice : sv.markPrice) : NaN;
  const sell = reducibleQty(view, symbol, 'sell');
  const buy = reducibleQty(view, symbol, 'buy');
  const side: Side = sell > 0 ? 'sell' : 'buy';
  const qty = Math.max(sell, buy);
  if (!(qty > QTY_EPS)) {
    const e = exposureOf(view, symbol);
    return reject('reduce_only', 0, 0, `flatten ${symbol}: nothing every position estimate agrees can be reduced (estimates ${e.positions.map(fmt).join(', ')}; open buys ${fmt(e.openBuy)}, sells ${fmt(e.openSell)})`);
  }
  if (!(ref > 0)) return reject('no_last_price', 0, 0, `flatten ${symbol}: no trade or mark price seen: a marketable price needs one`);
  const band = limits.priceBandBps / 10_000;
  const price = side === 'sell' ? ref * (1 - band) : ref * (1 + band);
  return checkOrder(view, { intentId, symbol, side, qty, price, reduceOnly: true, rxMs: 0 }, limits, nowMs);
}
