// The position actor: positions, average cost, realized and unrealized P&L marked on every trade,
// daily P&L, maximum drawdown with an alert, and reconciliation with the venue's positions
// (every `reconcile_every_ms` and on demand). Positions are compared only at a consistent cut:
// when the venue has sent exactly as many fills as this actor has booked (otherwise fills are in
// flight and it looks again shortly). A difference at a consistent cut, seen twice, opens risk's
// breaker with the reason.
//
// Persistent (runtime/persistent-actor.ts): every fill it books is journaled, and every mark of a
// symbol it holds a position in (a mark of a flat symbol changes no P&L, so it is not), so a
// replay gives back the positions, average costs, realized, unrealized and daily P&L and the
// drawdown exactly; the positions and position_snapshots tables follow in the same transaction.
// Its position updates to risk go out once what they report is durable. Recovered, it reports
// every position to risk and reconciles with the venue at once.
import type { ActorContext, Behavior } from '../../runtime/actor.ts';
import type { ViewWrite } from '../../runtime/journal.ts';
import { type EventMeta, type PersistentContext, persistent } from '../../runtime/persistent-actor.ts';
import type { KindContext } from '../../runtime/kind-registry.ts';
import { createLogger, type Logger } from '../../runtime/log.ts';
import type { Trade } from '../feed/market-data.ts';
import type { BreakerTrip, OrderUpdate, PositionUpdate, VenuePositions, VenuePositionsRequest } from '../order/order-protocol.ts';
import type { Side } from '../order/order-protocol.ts';
import { type PnlSnapshot, PositionBook, type PositionBookData, QTY_EPSILON } from './position-book.ts';

export interface PositionOptions {
  risk: string;
  venueGateway: string;
  /** starting equity in quote currency: the base of the drawdown percentage */
  capital: number;
  maxDrawdownPct: number;
  reconcileEveryMs: number;
  reconcileConfirmMs: number;
  /** most P&L updates per symbol on marks alone, in exchange time (fills always publish) */
  markPublishMs: number;
  /** fills remembered for deduplication (by client order id and trade id) */
  seenFillsMax: number;
  /** journaled events between snapshots (default: persistence.snapshot_every) */
  snapshotEvery: number | undefined;
}

export function positionOptions(ctx: KindContext): PositionOptions {
  const o = ctx.options as Record<string, unknown>;
  const where = `actor ${ctx.address}: options`;
  const str = (k: string, d: string): string => {
    const v = o[k] ?? d;
    if (typeof v !== 'string' || v === '') throw new TypeError(`${where}.${k}: expected an actor address, got ${JSON.stringify(v)}`);
    return v;
  };
  const num = (k: string, d: number, ok: (v: number) => boolean, what: string): number => {
    const v = o[k] ?? d;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new TypeError(`${where}.${k}: expected ${what}, got ${JSON.stringify(v)}`);
    return v;
  };
  return {
    risk: str('risk', 'risk'),
    venueGateway: str('venue_gateway', 'venue-gw'),
    capital: num('capital', 100_000, (v) => v > 0, 'a positive amount of quote currency'),
    maxDrawdownPct: num('max_drawdown_pct', 5, (v) => v > 0 && v <= 100, 'a percentage in (0, 100]'),
    reconcileEveryMs: num('reconcile_every_ms', 10_000, (v) => Number.isInteger(v) && v >= 100, 'an integer >= 100'),
    reconcileConfirmMs: num('reconcile_confirm_ms', 500, (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1'),
    markPublishMs: num('mark_publish_ms', 100, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0'),
    seenFillsMax: num('seen_fills_max', 100_000, (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1'),
    snapshotEvery: o.snapshot_every === undefined ? undefined : num('snapshot_every', 1000, (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1'),
  };
}

export type Reconcile = { type: 'reconcile' };
export type PositionStatusRequest = { type: 'position-status' };
type ReconcileTick = { type: 'reconcile-tick' };
type ReconcileConfirm = { type: 'reconcile-confirm' };
export type PositionMsg = OrderUpdate | Trade | VenuePositions | Reconcile | PositionStatusRequest | ReconcileTick | ReconcileConfirm;

export interface ReconciliationStatus {
  runs: number;
  matches: number;
  /** runs where the venue had sent a different number of fills than we had booked (not comparable) */
  inconclusive: number;
  breaks: number;
  /** a mismatch seen once, waiting for the confirmation run */
  suspect: string | undefined;
  lastBreak: string | undefined;
  lastRunAtMs: number | undefined;
}

export interface PositionStatus {
  type: 'position-status-reply';
  positions: Record<string, { qty: number; avgPrice: number; markPrice: number; realizedPnl: number; unrealizedPnl: number; fills: number; bought: number; sold: number }>;
  pnl: PnlSnapshot;
  drawdownAlert: boolean;
  fills: number;
  duplicateFills: number;
  unknownMessages: number;
  reconciliation: ReconciliationStatus;
}

export interface PositionState {
  book: PositionBook;
  seen: Set<string>;
  seenOrder: string[];
  fills: number;
  duplicateFills: number;
  lastMarkPublish: Map<string, number>;
  drawdownAlert: boolean;
  unknownMessages: number;
  rec: ReconciliationStatus;
  /** the run that found the suspect mismatch is being confirmed */
  confirming: boolean;
}
type State = PositionState;

/** What the position actor journals: a fill it booked, or a mark of a symbol it holds. */
export type PositionEvent =
  | {
      type: 'fill';
      clientOrderId: string;
      symbol: string;
      side: Side;
      qty: number;
      price: number;
      tradeId: number;
      timeMs: number;
      /** the symbol's mark when the fill came (marks of a flat symbol are not journaled, but the fill is marked at it) */
      mark?: number;
    }
  | { type: 'mark'; symbol: string; price: number; timeMs: number };

export const emptyPositionState = (opts: Pick<PositionOptions, 'capital'>): PositionState => ({
  book: new PositionBook(opts.capital),
  seen: new Set(),
  seenOrder: [],
  fills: 0,
  duplicateFills: 0,
  lastMarkPublish: new Map(),
  drawdownAlert: false,
  unknownMessages: 0,
  rec: { runs: 0, matches: 0, inconclusive: 0, breaks: 0, suspect: undefined, lastBreak: undefined, lastRunAtMs: undefined },
  confirming: false,
});

/** One event onto the state (what receive does for it, and all that recovery does). */
export const positionApply =
  (opts: Pick<PositionOptions, 'seenFillsMax'>) =>
  (s: PositionState, e: PositionEvent): PositionState => {
    if (e.type === 'mark') {
      s.book.mark(e.symbol, e.price, e.timeMs);
      return s;
    }
    const key = `${e.clientOrderId}:${e.tradeId}`;
    if (e.mark !== undefined && Number.isFinite(e.mark)) s.book.position(e.symbol).markPrice = e.mark;
    s.seen.add(key);
    s.seenOrder.push(key);
    if (s.seenOrder.length > opts.seenFillsMax) s.seen.delete(s.seenOrder.shift() as string);
    s.book.applyFill(e.symbol, e.side, e.qty, e.price, e.timeMs);
    s.fills++;
    return s;
  };

type SavedPosition = { book: PositionBookData; seenOrder: string[]; fills: number; duplicateFills: number; drawdownAlert: boolean };
const savePosition = (s: PositionState): SavedPosition => ({ book: s.book.toData(), seenOrder: s.seenOrder, fills: s.fills, duplicateFills: s.duplicateFills, drawdownAlert: s.drawdownAlert });
const loadPosition = (opts: Pick<PositionOptions, 'capital'>) => (d: unknown): PositionState => {
  const x = d as SavedPosition;
  return { ...emptyPositionState(opts), book: PositionBook.fromData(x.book), seen: new Set(x.seenOrder), seenOrder: [...x.seenOrder], fills: x.fills, duplicateFills: x.duplicateFills, drawdownAlert: x.drawdownAlert };
};

const POSITION_UPSERT = `INSERT INTO positions (symbol, qty, avg_price, realized_pnl, fills, epoch, updated_at) VALUES ($1, $2, $3, $4, $5, $6, now())
  ON CONFLICT (symbol) DO UPDATE SET qty = EXCLUDED.qty, avg_price = EXCLUDED.avg_price, realized_pnl = EXCLUDED.realized_pnl, fills = EXCLUDED.fills, epoch = EXCLUDED.epoch, updated_at = EXCLUDED.updated_at`;
const POSITION_SNAPSHOT_INSERT = `INSERT INTO position_snapshots (symbol, qty, avg_price, mark_price, realized_pnl, unrealized_pnl, seq_nr, epoch, at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())`;

function positionViews(e: PositionEvent, s: PositionState, meta: EventMeta): ViewWrite[] {
  if (e.type !== 'fill') return [];
  const p = s.book.position(e.symbol);
  const mark = Number.isFinite(p.markPrice) ? p.markPrice : null;
  return [
    { key: `positions:${e.symbol}`, sql: POSITION_UPSERT, params: [e.symbol, p.qty, p.avgPrice, p.realizedPnl, p.fills, meta.epoch] },
    { sql: POSITION_SNAPSHOT_INSERT, params: [e.symbol, p.qty, p.avgPrice, mark, p.realizedPnl, s.book.unrealized(e.symbol), meta.seqNr, meta.epoch] },
  ];
}

/** What differs between our positions and the venue's, or undefined when they agree. */
export function positionBreak(ours: Map<string, { qty: number }>, venue: Record<string, number>): string | undefined {
  const diffs: string[] = [];
  for (const sym of new Set([...ours.keys(), ...Object.keys(venue)])) {
    const a = ours.get(sym)?.qty ?? 0;
    const b = venue[sym] ?? 0;
    if (Math.abs(a - b) > QTY_EPSILON * Math.max(1, Math.abs(a), Math.abs(b))) diffs.push(`${sym} ${a} here, ${b} at the venue`);
  }
  return diffs.length ? diffs.join('; ') : undefined;
}

export const position = (opts: PositionOptions): Behavior<PositionMsg, State> => {
  let log: Logger | undefined;
  const apply = positionApply(opts);

  const publish = (s: State, ctx: PersistentContext<PositionMsg, PositionEvent>, symbol: string): void => {
    const p = s.book.position(symbol);
    const pnl = s.book.snapshot();
    const g = ctx.system.gauges;
    g.set(`position.${symbol}.qty`, p.qty);
    g.set(`position.${symbol}.notional`, p.qty * p.markPrice);
    g.set('pnl.realized', pnl.realizedPnl);
    g.set('pnl.unrealized', pnl.unrealizedPnl);
    g.set('pnl.total', pnl.totalPnl);
    g.set('pnl.daily', pnl.dailyPnl);
    g.set('pnl.max_drawdown_pct', pnl.maxDrawdownPct);
    g.set('pnl.drawdown_pct', pnl.drawdownPct);
    g.set('pnl.drawdown_limit_pct', opts.maxDrawdownPct);
    ctx.tell<PositionUpdate>(opts.risk, {
      type: 'position-update',
      symbol,
      qty: p.qty,
      avgPrice: p.avgPrice,
      markPrice: p.markPrice,
      realizedPnl: p.realizedPnl,
      unrealizedPnl: s.book.unrealized(symbol),
      dailyPnl: pnl.dailyPnl,
      day: pnl.day,
    });
    if (!s.drawdownAlert && pnl.drawdownPct >= opts.maxDrawdownPct) {
      s.drawdownAlert = true;
      log?.error({ drawdownPct: pnl.drawdownPct, limitPct: opts.maxDrawdownPct, peakPnl: pnl.peakPnl, totalPnl: pnl.totalPnl }, `ALARM: drawdown ${pnl.drawdownPct.toFixed(2)}% reached the ${opts.maxDrawdownPct}% alert level`);
    } else if (s.drawdownAlert && pnl.drawdownPct < opts.maxDrawdownPct / 2) s.drawdownAlert = false;
  };

  const requestVenuePositions = (ctx: ActorContext<PositionMsg>): void => {
    ctx.tell<VenuePositionsRequest>(opts.venueGateway, { type: 'venue-positions-request' });
  };

  return persistent<PositionMsg, State, PositionEvent>({
    empty(ctx) {
      log ??= createLogger({ node: ctx.system.node, actor: ctx.self.address });
      ctx.timers.startPeriodic('reconcile', { type: 'reconcile-tick' }, opts.reconcileEveryMs);
      return emptyPositionState(opts);
    },
    apply,
    snapshot: { every: opts.snapshotEvery, save: savePosition, load: loadPosition(opts) },
    views: positionViews,
    recovered(s, ctx) {
      if (ctx.seqNr === 0) return s;
      log?.info({ seqNr: ctx.seqNr, fills: s.fills, positions: Object.fromEntries([...s.book.symbols].map(([k, v]) => [k, v.qty])) }, 'position recovered from its journal');
      for (const sym of s.book.symbols.keys()) publish(s, ctx, sym);
      ctx.system.gauges.set('position.fills', s.fills);
      // Fills may have been made while this node was down: compare with the venue now, not in reconcile_every_ms.
      requestVenuePositions(ctx);
      return s;
    },

    receive(s, msg, ctx) {
      switch (msg.type) {
        case 'order-update': {
          const f = msg.fill;
          if (!f) return s;
          const key = `${msg.clientOrderId}:${f.tradeId}`;
          if (s.seen.has(key)) {
            s.duplicateFills++;
            return s;
          }
          if (!(f.qty > 0) || !(f.price > 0) || !Number.isFinite(f.qty) || !Number.isFinite(f.price) || !Number.isFinite(f.timeMs)) {
            log?.warn({ clientOrderId: msg.clientOrderId, fill: f }, 'fill with a non-positive or non-finite quantity, price or time: skipped');
            s.unknownMessages++;
            return s;
          }
          const mark = s.book.symbols.get(msg.symbol)?.markPrice;
          const e: PositionEvent = { type: 'fill', clientOrderId: msg.clientOrderId, symbol: msg.symbol, side: msg.side, qty: f.qty, price: f.price, tradeId: f.tradeId, timeMs: f.timeMs };
          if (mark !== undefined && Number.isFinite(mark)) e.mark = mark;
          apply(s, e);
          ctx.persist(e);
          ctx.system.gauges.set('position.fills', s.fills);
          publish(s, ctx, msg.symbol);
          return s;
        }
        case 'trade': {
          // A mark moves P&L only where there is a position: journal those, and one that starts a
          // new day (the daily P&L starts there), not the rest.
          const held = s.book.symbols.get(msg.symbol)?.qty;
          const dayBefore = s.book.currentDay;
          s.book.mark(msg.symbol, msg.price, msg.timeMs);
          if (msg.price > 0 && Number.isFinite(msg.price) && ((held !== undefined && held !== 0) || s.book.currentDay !== dayBefore)) {
            ctx.persist({ type: 'mark', symbol: msg.symbol, price: msg.price, timeMs: msg.timeMs });
          }
          const last = s.lastMarkPublish.get(msg.symbol) ?? -Infinity;
          if (s.book.position(msg.symbol).qty !== 0 && msg.timeMs - last >= opts.markPublishMs) {
            s.lastMarkPublish.set(msg.symbol, msg.timeMs);
            publish(s, ctx, msg.symbol);
          }
          return s;
        }
        case 'reconcile-tick':
        case 'reconcile':
          requestVenuePositions(ctx);
          return s;
        case 'reconcile-confirm':
          s.confirming = true;
          requestVenuePositions(ctx);
          return s;
        case 'venue-positions': {
          s.rec.runs++;
          s.rec.lastRunAtMs = Date.now();
          if (msg.fills !== s.fills) {
            // Not the same cut: fills are still on their way (to us, or from the venue). Comparing
            // now would call a break where there is none, or miss one; look again shortly.
            s.rec.inconclusive++;
            s.confirming = false;
            ctx.timers.startSingle('reconcile-retry', { type: 'reconcile' }, opts.reconcileConfirmMs);
            return s;
          }
          const diff = positionBreak(s.book.symbols, msg.positions);
          if (!diff) {
            s.rec.matches++;
            ctx.system.gauges.set('reconcile.matches', s.rec.matches);
            s.rec.suspect = undefined;
            s.confirming = false;
            return s;
          }
          if (!s.confirming) {
            // Fills may be on their way from the venue to us: look again shortly before calling it a break.
            s.rec.suspect = diff;
            ctx.timers.startSingle('reconcile-confirm', { type: 'reconcile-confirm' }, opts.reconcileConfirmMs);
            return s;
          }
          s.confirming = false;
          s.rec.breaks++;
          ctx.system.gauges.set('reconcile.breaks', s.rec.breaks);
          s.rec.lastBreak = diff;
          s.rec.suspect = undefined;
          log?.error({ diff }, `reconciliation break: ${diff}`);
          ctx.tell<BreakerTrip>(opts.risk, { type: 'breaker-trip', reason: `reconciliation break: ${diff}` });
          return s;
        }
        case 'position-status':
          ctx.reply<PositionStatus>(statusOf(s));
          return s;
        default:
          // Not ours (a reply we did not ask for, a stray message): count it, keep the state.
          s.unknownMessages++;
          return s;
      }
    },

    summary: (s) => statusOf(s),
  });
};

function statusOf(s: State): PositionStatus {
  const positions: PositionStatus['positions'] = {};
  for (const [sym, p] of s.book.symbols) {
    positions[sym] = { qty: p.qty, avgPrice: p.avgPrice, markPrice: p.markPrice, realizedPnl: p.realizedPnl, unrealizedPnl: s.book.unrealized(sym), fills: p.fills, bought: p.bought, sold: p.sold };
  }
  return { type: 'position-status-reply', positions, pnl: s.book.snapshot(), drawdownAlert: s.drawdownAlert, fills: s.fills, duplicateFills: s.duplicateFills, unknownMessages: s.unknownMessages, reconciliation: { ...s.rec } };
}
