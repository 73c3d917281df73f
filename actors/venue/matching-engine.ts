// The simulated venue's matching engine: pure (no I/O, no clock: the caller passes the time).
//
// It matches LIMIT orders (IOC and GTC) against the exchange's CURRENT book (the replayed or
// synthetic market as the market data server holds it) and its trades:
// - a buy at limit L takes the ask levels <= L, best first, up to the size shown at each price
//   (a sell: the bid levels >= L); what this venue's orders took from a level is remembered, so two
//   orders cannot take the same size twice, until the market's next update of that level;
// - the IOC remainder expires; a GTC remainder rests and fills (at its own price, as the maker)
//   when a later market trade prints THROUGH its price (below a resting buy, above a resting sell),
//   up to the trade's size, shared among resting orders in price-time priority.
// Our orders never trade with each other and never change the market's book.
//
// A client order id names one order for ever (within the last ordersMax orders): a resend of a
// known id answers the existing order, never a new one. Quantities are kept as integers of 1e-8
// (QTY_SCALE), so fills sum exactly and a position is the exact sum of its fills.
import type { OrderBook } from '../book/order-book.ts';
import type { Levels } from '../book/order-book.ts';
import { SeededRandom } from '../feed/seeded-random.ts';
import { CLIENT_ORDER_ID_RE, type Side, type TimeInForce } from '../order/order-protocol.ts';
import { badRequest, VENUE_ERROR, type VenueError } from './venue-errors.ts';
import type { VenueLogRecord } from './venue-log.ts';

/** quantity units per 1.0 of the base asset: a quantity has at most 8 decimals */
export const QTY_SCALE = 100_000_000;
export const QTY_DECIMALS_MAX = 8;
/** the largest order quantity: QTY_SCALE * QTY_MAX stays a safe integer */
export const QTY_MAX = 90_000_000;
/** fills kept per order for status answers (the filled quantity is always exact) */
export const FILLS_PER_ORDER_MAX = 1000;

export const ENGINE_DEFAULTS = {
  rejectRate: 0,
  errorRate: 0,
  seed: 1,
  fenceEpoch: true,
  ordersMax: 200_000,
  restingMax: 10_000,
};

export interface MatchingEngineOptions {
  /** share of new orders refused with "simulated reject" (0..1, seeded) */
  rejectRate?: number;
  /** share of new orders answered with a transient 503 "venue busy" (0..1, seeded); the id stays free */
  errorRate?: number;
  seed?: number;
  /** refuse an order whose epoch is below the highest the venue has seen */
  fenceEpoch?: boolean;
  /** orders remembered (dedup window); the oldest finished ones are forgotten first */
  ordersMax?: number;
  /** most GTC orders resting at once */
  restingMax?: number;
}

/** The part of the exchange's book the engine reads (an ExchangeBook has it). */
export interface EngineBook {
  readonly book: Pick<OrderBook, 'bids' | 'asks'>;
}

export type VenueOrderStatus = 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED' | 'EXPIRED' | 'REJECTED';

export const TERMINAL_VENUE_STATUSES: readonly VenueOrderStatus[] = ['FILLED', 'CANCELED', 'EXPIRED', 'REJECTED'];

export interface PlaceRequest {
  clientOrderId: string;
  symbol: string;
  side: Side;
  qty: number;
  price: number;
  tif: TimeInForce;
  /** lease epoch of the sender (0 until failover); default 0 */
  epoch?: number;
  /** only reduces the venue position; default false */
  reduceOnly?: boolean;
  /** the book update (`u`) the order was decided on, when the sender knows it (match_at: decision) */
  marketUpdateId?: number;
}

export interface VenueFillView {
  tradeId: number;
  qty: number;
  price: number;
  timeMs: number;
  /** filled resting (by a market trade) rather than taking the book */
  maker: boolean;
}

export interface OrderView {
  clientOrderId: string;
  orderId: number;
  symbol: string;
  side: Side;
  tif: TimeInForce;
  qty: number;
  price: number;
  epoch: number;
  reduceOnly: boolean;
  status: VenueOrderStatus;
  cumQty: number;
  /** volume-weighted price of the fills (0 without fills) */
  avgPrice: number;
  /** why it was rejected */
  reason?: string;
  createdMs: number;
  updatedMs: number;
}

export interface OrderDetail extends OrderView {
  /** the first FILLS_PER_ORDER_MAX fills */
  fills: VenueFillView[];
}

export type EngineEvent =
  | { kind: 'accepted'; order: OrderView }
  | { kind: 'fill'; order: OrderView; fill: VenueFillView }
  | { kind: 'expired'; order: OrderView }
  | { kind: 'cancelled'; order: OrderView }
  | { kind: 'rejected'; order: OrderView };

/** What a place did. A refusal of a known (rejected) order carries it, with duplicate true. */
export type PlaceResult =
  | { ok: true; order: OrderDetail; duplicate: boolean; events: EngineEvent[]; log: VenueLogRecord[] }
  | { ok: false; error: VenueError; order?: OrderDetail; duplicate: boolean; events: EngineEvent[]; log: VenueLogRecord[] };

export type CancelResult = { ok: true; order: OrderDetail; events: EngineEvent[]; log: VenueLogRecord[] } | { ok: false; error: VenueError };

export interface VenuePositionsView {
  /** net quantity per symbol (buys positive), for every symbol with a fill */
  positions: Record<string, number>;
  /** fills the venue has made */
  fills: number;
}

export interface EngineStats {
  orders: number;
  resting: number;
  accepted: number;
  rejected: number;
  busy: number;
  fenced: number;
  duplicates: number;
  fills: number;
  expired: number;
  cancelled: number;
  forgotten: number;
  maxEpoch: number;
}

interface Order {
  clientOrderId: string;
  orderId: number;
  symbol: string;
  side: Side;
  tif: TimeInForce;
  price: number;
  epoch: number;
  reduceOnly: boolean;
  status: VenueOrderStatus;
  qtyUnits: number;
  cumUnits: number;
  /** sum of fill qty * price, for the average price */
  notional: number;
  reason?: string;
  createdMs: number;
  updatedMs: number;
  /** time priority among resting orders */
  seq: number;
  fills: VenueFillView[];
}

interface SymbolState {
  /** what our orders took per price level since the market last updated that level (units) */
  takenBids: Map<number, number>;
  takenAsks: Map<number, number>;
  /** resting GTC buys, best (highest) price first, then oldest first */
  buys: Order[];
  /** resting GTC sells, best (lowest) price first, then oldest first */
  sells: Order[];
  positionUnits: number;
  fills: number;
}

export const toUnits = (qty: number): number => Math.round(qty * QTY_SCALE);
export const fromUnits = (units: number): number => units / QTY_SCALE;

const isTerminal = (s: VenueOrderStatus): boolean => TERMINAL_VENUE_STATUSES.includes(s);

export class MatchingEngine {
  private readonly o: Required<MatchingEngineOptions>;
  private readonly rng: SeededRandom;
  private readonly orders = new Map<string, Order>();
  /** client order ids of finished orders, oldest first: forgotten first when over ordersMax */
  private finished: string[] = [];
  private finishedHead = 0;
  private readonly symbols = new Map<string, SymbolState>();
  private nextOrderId = 1;
  private nextTradeId = 1;
  private nextSeq = 1;
  private restingCount = 0;
  private readonly s: EngineStats = { orders: 0, resting: 0, accepted: 0, rejected: 0, busy: 0, fenced: 0, duplicates: 0, fills: 0, expired: 0, cancelled: 0, forgotten: 0, maxEpoch: 0 };

  constructor(
    private readonly books: ReadonlyMap<string, EngineBook>,
    options: MatchingEngineOptions = {},
  ) {
    const o = { ...ENGINE_DEFAULTS, ...options };
    const rate = (name: string, v: number): void => {
      if (!(typeof v === 'number' && v >= 0 && v <= 1)) throw new RangeError(`${name} = ${v}: expected a number in 0..1`);
    };
    rate('rejectRate', o.rejectRate);
    rate('errorRate', o.errorRate);
    if (!Number.isSafeInteger(o.seed)) throw new RangeError(`seed = ${o.seed}: expected an integer`);
    if (!Number.isInteger(o.ordersMax) || o.ordersMax < 1) throw new RangeError(`ordersMax = ${o.ordersMax}: expected an integer >= 1`);
    if (!Number.isInteger(o.restingMax) || o.restingMax < 0) throw new RangeError(`restingMax = ${o.restingMax}: expected an integer >= 0`);
    this.o = o;
    this.rng = new SeededRandom(o.seed);
    for (const symbol of books.keys()) this.symbols.set(symbol, { takenBids: new Map(), takenAsks: new Map(), buys: [], sells: [], positionUnits: 0, fills: 0 });
  }

  // --- requests -------------------------------------------------------------------------------

  /** A new order, or the existing one when its client order id is known. */
  place(req: PlaceRequest, nowMs: number): PlaceResult {
    const idProblem = checkClientOrderId((req as Partial<PlaceRequest> | null)?.clientOrderId);
    if (idProblem) return { ok: false, error: idProblem, duplicate: false, events: [], log: [] };
    const known = this.orders.get(req.clientOrderId);
    if (known) {
      this.s.duplicates++;
      const order = detail(known);
      if (known.status === 'REJECTED') return { ok: false, error: badRequest(rejectCode(known.reason), known.reason ?? 'rejected'), order, duplicate: true, events: [], log: [] };
      return { ok: true, order, duplicate: true, events: [], log: [] };
    }
    const problem = this.checkPlace(req);
    if (problem) return { ok: false, error: problem, duplicate: false, events: [], log: [] };
    const epoch = req.epoch ?? 0;
    if (this.o.fenceEpoch && epoch < this.s.maxEpoch) {
      this.s.fenced++;
      const msg = `stale epoch ${epoch}: the venue has seen epoch ${this.s.maxEpoch} (fencing: an order from a deposed primary is refused)`;
      return {
        ok: false,
        error: badRequest(VENUE_ERROR.ORDER_REJECTED, msg),
        duplicate: false,
        events: [],
        log: [{ kind: 'fenced', timeMs: nowMs, clientOrderId: req.clientOrderId, symbol: req.symbol, epoch, epochSeen: this.s.maxEpoch }],
      };
    }
    if (this.o.errorRate > 0 && this.rng.next() < this.o.errorRate) {
      this.s.busy++;
      return { ok: false, error: { status: 503, code: VENUE_ERROR.VENUE_BUSY, msg: 'venue busy (simulated transient error): retry' }, duplicate: false, events: [], log: [] };
    }
    if (req.tif === 'GTC' && this.restingCount >= this.o.restingMax) {
      return { ok: false, error: badRequest(VENUE_ERROR.ORDER_REJECTED, `too many open orders: ${this.restingCount} resting, at most ${this.o.restingMax} (resting_max)`), duplicate: false, events: [], log: [] };
    }
    const sym = this.symbols.get(req.symbol) as SymbolState;
    const qtyUnits = toUnits(req.qty);
    let reason: string | undefined;
    if (this.o.rejectRate > 0 && this.rng.next() < this.o.rejectRate) reason = 'simulated reject';
    else if (req.reduceOnly) reason = reduceOnlyProblem(req.side, qtyUnits, sym.positionUnits);
    const order = this.remember({
      clientOrderId: req.clientOrderId,
      orderId: this.nextOrderId++,
      symbol: req.symbol,
      side: req.side,
      tif: req.tif,
      price: req.price,
      epoch,
      reduceOnly: req.reduceOnly ?? false,
      status: reason ? 'REJECTED' : 'NEW',
      qtyUnits,
      cumUnits: 0,
      notional: 0,
      reason,
      createdMs: nowMs,
      updatedMs: nowMs,
      seq: this.nextSeq++,
      fills: [],
    });
    if (epoch > this.s.maxEpoch) this.s.maxEpoch = epoch;
    if (reason) {
      this.s.rejected++;
      this.finish(order);
      const log: VenueLogRecord[] = [{ kind: 'reject', timeMs: nowMs, clientOrderId: order.clientOrderId, orderId: order.orderId, symbol: order.symbol, side: order.side, qty: req.qty, price: order.price, tif: order.tif, epoch, reason }];
      return { ok: false, error: badRequest(rejectCode(reason), reason), order: detail(order), duplicate: false, events: [{ kind: 'rejected', order: view(order) }], log };
    }
    this.s.accepted++;
    const events: EngineEvent[] = [{ kind: 'accepted', order: view(order) }];
    const log: VenueLogRecord[] = [
      { kind: 'order', timeMs: nowMs, clientOrderId: order.clientOrderId, orderId: order.orderId, symbol: order.symbol, side: order.side, qty: req.qty, price: order.price, tif: order.tif, epoch, reduceOnly: order.reduceOnly },
    ];
    this.take(order, sym, nowMs, events, log);
    if (order.cumUnits < order.qtyUnits) {
      if (order.tif === 'IOC') this.end(order, 'EXPIRED', nowMs, events, log);
      else this.rest(order, sym);
    }
    return { ok: true, order: detail(order), duplicate: false, events, log };
  }

  cancel(clientOrderId: string, symbol: string, nowMs: number): CancelResult {
    const idProblem = checkClientOrderId(clientOrderId);
    if (idProblem) return { ok: false, error: idProblem };
    const o = this.orders.get(clientOrderId);
    if (!o) return { ok: false, error: badRequest(VENUE_ERROR.CANCEL_REJECTED, `unknown order: no order with client order id ${clientOrderId}`) };
    if (o.symbol !== symbol) return { ok: false, error: badRequest(VENUE_ERROR.CANCEL_REJECTED, `order ${clientOrderId} is for ${o.symbol}, not ${JSON.stringify(symbol)}`) };
    if (isTerminal(o.status)) return { ok: false, error: badRequest(VENUE_ERROR.CANCEL_REJECTED, `order ${clientOrderId} is no longer open: ${o.status}`) };
    const events: EngineEvent[] = [];
    const log: VenueLogRecord[] = [];
    this.unrest(o);
    this.end(o, 'CANCELED', nowMs, events, log);
    return { ok: true, order: detail(o), events, log };
  }

  /** An order by client order id (with its fills), or why there is none. */
  status(clientOrderId: string, symbol: string): { ok: true; order: OrderDetail } | { ok: false; error: VenueError } {
    const idProblem = checkClientOrderId(clientOrderId);
    if (idProblem) return { ok: false, error: idProblem };
    const o = this.orders.get(clientOrderId);
    if (!o || o.symbol !== symbol) return { ok: false, error: badRequest(VENUE_ERROR.NO_SUCH_ORDER, `order does not exist: no ${JSON.stringify(symbol)} order with client order id ${clientOrderId}`) };
    return { ok: true, order: detail(o) };
  }

  order(clientOrderId: string): OrderDetail | undefined {
    const o = this.orders.get(clientOrderId);
    return o && detail(o);
  }

  positions(): VenuePositionsView {
    const positions: Record<string, number> = {};
    for (const [symbol, st] of this.symbols) if (st.fills > 0) positions[symbol] = fromUnits(st.positionUnits);
    return { positions, fills: this.s.fills };
  }

  stats(): EngineStats {
    return { ...this.s, orders: this.orders.size, resting: this.restingCount };
  }

  // --- the market -----------------------------------------------------------------------------

  /** The market updated these levels (a depth diff): what our orders took from them is forgotten. */
  onBookUpdate(symbol: string, bids: Levels, asks: Levels): void {
    const st = this.symbols.get(symbol);
    if (!st) return;
    if (st.takenBids.size > 0) for (let i = 0; i < bids.length; i += 2) st.takenBids.delete(bids[i]);
    if (st.takenAsks.size > 0) for (let i = 0; i < asks.length; i += 2) st.takenAsks.delete(asks[i]);
  }

  /** The market's book was replaced (a newer snapshot). */
  onBookReload(symbol: string): void {
    const st = this.symbols.get(symbol);
    st?.takenBids.clear();
    st?.takenAsks.clear();
  }

  /** True when GTC orders rest on the symbol (a trade may fill them). */
  hasResting(symbol: string): boolean {
    const st = this.symbols.get(symbol);
    return st !== undefined && st.buys.length + st.sells.length > 0;
  }

  /** A market trade: fills the resting orders it printed through, up to its size. */
  onTrade(symbol: string, price: number, qty: number, nowMs: number): { events: EngineEvent[]; log: VenueLogRecord[] } {
    const events: EngineEvent[] = [];
    const log: VenueLogRecord[] = [];
    const st = this.symbols.get(symbol);
    if (!st || !(price > 0) || !(qty > 0)) return { events, log };
    let budget = toUnits(qty);
    for (const book of [st.buys, st.sells]) {
      const through = book === st.buys ? (o: Order) => o.price > price : (o: Order) => o.price < price;
      while (budget > 0 && book.length > 0 && through(book[0])) {
        const o = book[0];
        const units = Math.min(budget, o.qtyUnits - o.cumUnits);
        budget -= units;
        this.fill(o, st, units, o.price, true, nowMs, events, log);
        if (o.cumUnits === o.qtyUnits) this.unrest(o);
      }
    }
    return { events, log };
  }

  // --- recovery -------------------------------------------------------------------------------

  /**
   * Rebuilds orders, resting orders, fills and positions from the venue's log (at start). IOC
   * orders the log leaves open (the venue stopped mid-request) expire now: the returned events
   * and log records say so.
   */
  restore(records: readonly VenueLogRecord[], nowMs: number): { events: EngineEvent[]; log: VenueLogRecord[] } {
    for (const r of records) {
      if (r.kind === 'fenced') continue;
      this.nextOrderId = Math.max(this.nextOrderId, r.orderId + 1);
      if (r.kind === 'order' || r.kind === 'reject') {
        if (this.orders.has(r.clientOrderId) || !this.symbols.has(r.symbol)) continue;
        const o = this.remember({
          clientOrderId: r.clientOrderId,
          orderId: r.orderId,
          symbol: r.symbol,
          side: r.side,
          tif: r.tif,
          price: r.price,
          epoch: r.epoch,
          reduceOnly: r.kind === 'order' ? r.reduceOnly : false,
          status: r.kind === 'order' ? 'NEW' : 'REJECTED',
          qtyUnits: toUnits(r.qty),
          cumUnits: 0,
          notional: 0,
          reason: r.kind === 'reject' ? r.reason : undefined,
          createdMs: r.timeMs,
          updatedMs: r.timeMs,
          seq: this.nextSeq++,
          fills: [],
        });
        if (r.epoch > this.s.maxEpoch) this.s.maxEpoch = r.epoch;
        if (r.kind === 'reject') {
          this.s.rejected++;
          this.finish(o);
        } else this.s.accepted++;
        if (r.kind === 'order' && o.tif === 'GTC') this.rest(o, this.symbols.get(o.symbol) as SymbolState);
        continue;
      }
      const o = this.orders.get(r.clientOrderId);
      if (!o) continue;
      if (r.kind === 'fill') {
        this.nextTradeId = Math.max(this.nextTradeId, r.tradeId + 1);
        this.fill(o, this.symbols.get(o.symbol) as SymbolState, toUnits(r.qty), r.price, r.maker, r.timeMs, [], [], r.tradeId);
        if (o.cumUnits >= o.qtyUnits) this.unrest(o);
      } else if (!isTerminal(o.status)) {
        this.unrest(o);
        this.end(o, r.kind === 'cancel' ? 'CANCELED' : 'EXPIRED', r.timeMs, [], []);
      }
    }
    const events: EngineEvent[] = [];
    const log: VenueLogRecord[] = [];
    for (const o of this.orders.values()) if (o.tif === 'IOC' && !isTerminal(o.status)) this.end(o, 'EXPIRED', nowMs, events, log);
    return { events, log };
  }

  // --- internals ------------------------------------------------------------------------------

  private checkPlace(req: PlaceRequest): VenueError | undefined {
    const r = req as unknown as Record<string, unknown>;
    if (typeof r.symbol !== 'string' || r.symbol === '') return badRequest(VENUE_ERROR.MISSING_PARAM, `symbol: missing, expected a symbol such as ${this.symbolList()}`);
    if (!this.books.has(r.symbol)) return badRequest(VENUE_ERROR.BAD_SYMBOL, `symbol ${JSON.stringify(r.symbol)}: unknown, the venue trades ${this.symbolList()}`);
    if (r.side !== 'buy' && r.side !== 'sell') return badRequest(r.side === undefined ? VENUE_ERROR.MISSING_PARAM : VENUE_ERROR.BAD_PARAM, `side ${JSON.stringify(r.side)}: expected buy or sell`);
    if (r.tif !== 'GTC' && r.tif !== 'IOC') return badRequest(r.tif === undefined ? VENUE_ERROR.MISSING_PARAM : VENUE_ERROR.BAD_PARAM, `tif ${JSON.stringify(r.tif)}: expected GTC or IOC`);
    const qtyProblem = checkQty(r.qty);
    if (qtyProblem) return qtyProblem;
    if (typeof r.price !== 'number') return badRequest(r.price === undefined ? VENUE_ERROR.MISSING_PARAM : VENUE_ERROR.BAD_PARAM, `price ${JSON.stringify(r.price)}: expected a number > 0`);
    if (!(Number.isFinite(r.price) && r.price > 0)) return badRequest(VENUE_ERROR.BAD_QTY_OR_PRICE, `price ${r.price}: expected a number > 0`);
    if (r.epoch !== undefined && !(Number.isSafeInteger(r.epoch) && (r.epoch as number) >= 0)) return badRequest(VENUE_ERROR.BAD_PARAM, `epoch ${JSON.stringify(r.epoch)}: expected an integer >= 0`);
    if (r.reduceOnly !== undefined && typeof r.reduceOnly !== 'boolean') return badRequest(VENUE_ERROR.BAD_PARAM, `reduceOnly ${JSON.stringify(r.reduceOnly)}: expected true or false`);
    return undefined;
  }

  private symbolList(): string {
    return [...this.books.keys()].join(', ');
  }

  /** Takes the book's liquidity at or better than the order's limit. */
  private take(o: Order, st: SymbolState, nowMs: number, events: EngineEvent[], log: VenueLogRecord[]): void {
    const eb = this.books.get(o.symbol) as EngineBook;
    const buy = o.side === 'buy';
    const side = buy ? eb.book.asks : eb.book.bids;
    const taken = buy ? st.takenAsks : st.takenBids;
    for (let i = 0; i < side.length && o.cumUnits < o.qtyUnits; i++) {
      const price = side.prices[i];
      if (buy ? price > o.price : price < o.price) break;
      const already = taken.get(price) ?? 0;
      const available = toUnits(side.qtys[i]) - already;
      if (available <= 0) continue;
      const units = Math.min(available, o.qtyUnits - o.cumUnits);
      taken.set(price, already + units);
      this.fill(o, st, units, price, false, nowMs, events, log);
    }
  }

  private fill(o: Order, st: SymbolState, units: number, price: number, maker: boolean, nowMs: number, events: EngineEvent[], log: VenueLogRecord[], tradeId = this.nextTradeId++): void {
    const qty = fromUnits(units);
    o.cumUnits += units;
    o.notional += qty * price;
    o.status = o.cumUnits === o.qtyUnits ? 'FILLED' : 'PARTIALLY_FILLED';
    o.updatedMs = nowMs;
    st.positionUnits += o.side === 'buy' ? units : -units;
    st.fills++;
    this.s.fills++;
    const f: VenueFillView = { tradeId, qty, price, timeMs: nowMs, maker };
    if (o.fills.length < FILLS_PER_ORDER_MAX) o.fills.push(f);
    if (o.status === 'FILLED') this.finish(o);
    events.push({ kind: 'fill', order: view(o), fill: f });
    log.push({ kind: 'fill', timeMs: nowMs, clientOrderId: o.clientOrderId, orderId: o.orderId, symbol: o.symbol, side: o.side, qty, price, tradeId: f.tradeId, cumQty: fromUnits(o.cumUnits), maker });
  }

  private end(o: Order, status: 'CANCELED' | 'EXPIRED', nowMs: number, events: EngineEvent[], log: VenueLogRecord[]): void {
    o.status = status;
    o.updatedMs = nowMs;
    this.finish(o);
    if (status === 'CANCELED') this.s.cancelled++;
    else this.s.expired++;
    events.push({ kind: status === 'CANCELED' ? 'cancelled' : 'expired', order: view(o) });
    log.push({ kind: status === 'CANCELED' ? 'cancel' : 'expire', timeMs: nowMs, clientOrderId: o.clientOrderId, orderId: o.orderId, symbol: o.symbol, cumQty: fromUnits(o.cumUnits) });
  }

  private rest(o: Order, st: SymbolState): void {
    const book = o.side === 'buy' ? st.buys : st.sells;
    const better = o.side === 'buy' ? (a: Order) => a.price > o.price || (a.price === o.price && a.seq < o.seq) : (a: Order) => a.price < o.price || (a.price === o.price && a.seq < o.seq);
    let i = 0;
    while (i < book.length && better(book[i])) i++;
    book.splice(i, 0, o);
    this.restingCount++;
  }

  private unrest(o: Order): void {
    const st = this.symbols.get(o.symbol);
    if (!st) return;
    const book = o.side === 'buy' ? st.buys : st.sells;
    const i = book.indexOf(o);
    if (i < 0) return;
    book.splice(i, 1);
    this.restingCount--;
  }

  private remember(o: Order): Order {
    this.orders.set(o.clientOrderId, o);
    return o;
  }

  /** A finished order stays known for dedup until ordersMax newer orders push it out. */
  private finish(o: Order): void {
    this.finished.push(o.clientOrderId);
    while (this.orders.size > this.o.ordersMax && this.finishedHead < this.finished.length) {
      const id = this.finished[this.finishedHead++];
      const old = this.orders.get(id);
      if (old && isTerminal(old.status)) {
        this.orders.delete(id);
        this.s.forgotten++;
      }
    }
    if (this.finishedHead > 1024 && this.finishedHead * 2 > this.finished.length) {
      this.finished = this.finished.slice(this.finishedHead);
      this.finishedHead = 0;
    }
  }
}

function checkClientOrderId(id: unknown): VenueError | undefined {
  if (id === undefined || id === null || id === '') return badRequest(VENUE_ERROR.MISSING_PARAM, 'clientOrderId: missing, expected 1..36 of [.A-Za-z0-9:/_-]');
  if (typeof id !== 'string' || !CLIENT_ORDER_ID_RE.test(id)) return badRequest(VENUE_ERROR.BAD_PARAM, `clientOrderId ${JSON.stringify(id)}: expected 1..36 of [.A-Za-z0-9:/_-]`);
  return undefined;
}

function checkQty(qty: unknown): VenueError | undefined {
  if (typeof qty !== 'number') return badRequest(qty === undefined ? VENUE_ERROR.MISSING_PARAM : VENUE_ERROR.BAD_PARAM, `qty ${JSON.stringify(qty)}: expected a number > 0`);
  if (!(Number.isFinite(qty) && qty > 0)) return badRequest(VENUE_ERROR.BAD_QTY_OR_PRICE, `qty ${qty}: expected a number > 0`);
  if (qty > QTY_MAX) return badRequest(VENUE_ERROR.BAD_QTY_OR_PRICE, `qty ${qty}: expected at most ${QTY_MAX}`);
  if (fromUnits(toUnits(qty)) !== qty) return badRequest(VENUE_ERROR.BAD_QTY_OR_PRICE, `qty ${qty}: expected at most ${QTY_DECIMALS_MAX} decimals`);
  return undefined;
}

function reduceOnlyProblem(side: Side, units: number, positionUnits: number): string | undefined {
  const reducible = side === 'buy' ? -positionUnits : positionUnits;
  if (reducible >= units) return undefined;
  return `reduce-only ${side} of ${fromUnits(units)} would not only reduce the position ${fromUnits(positionUnits)}`;
}

const rejectCode = (reason: string | undefined): number => (reason?.startsWith('reduce-only') ? VENUE_ERROR.REDUCE_ONLY_REJECTED : VENUE_ERROR.ORDER_REJECTED);

function view(o: Order): OrderView {
  const cumQty = fromUnits(o.cumUnits);
  const v: OrderView = {
    clientOrderId: o.clientOrderId,
    orderId: o.orderId,
    symbol: o.symbol,
    side: o.side,
    tif: o.tif,
    qty: fromUnits(o.qtyUnits),
    price: o.price,
    epoch: o.epoch,
    reduceOnly: o.reduceOnly,
    status: o.status,
    cumQty,
    avgPrice: cumQty > 0 ? o.notional / cumQty : 0,
    createdMs: o.createdMs,
    updatedMs: o.updatedMs,
  };
  if (o.reason !== undefined) v.reason = o.reason;
  return v;
}

const detail = (o: Order): OrderDetail => ({ ...view(o), fills: o.fills.slice() });
