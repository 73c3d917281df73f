// A built-in, seeded market in the Binance USD-M futures protocol: depthUpdate diffs chained by
// `pu`, trades and bookTickers, for demos and tests without recorded data. The same seed gives the
// same stream, message for message. Times start at a fixed instant (startMs), not the wall clock,
// for the same reason; the replay server paces them like recorded data.
//
// Each symbol is a small model of a limit order book kept in integer ticks and lots (exact, no
// drift): the mid follows a geometric random walk with the symbol's volatility; between two diffs,
// aggressive orders take liquidity at the top (sometimes sweeping a few levels); at each diff the
// quotes move to the new mid (spread 1 or 2 ticks; levels that would cross are cancelled), resting
// orders churn away from the top, and the book is kept between 0.75x and 1.25x levelsPerSide per
// side. The book never crosses (asserted after every diff).
import { OrderBook, type BookSide, type Levels } from '../book/order-book.ts';
import type { DepthView } from './exchange-book.ts';
import type { DepthDiff, DepthSnapshot } from './market-data.ts';
import type { FeedEvent, MarketSource, SourceSymbol } from './market-source.ts';
import { hashString, SeededRandom } from './seeded-random.ts';

export interface SyntheticSymbolSpec {
  /** starting mid price */
  price: number;
  tickSize: number;
  /** digits the exchange prints prices with (BTCUSDT futures: tick 0.10 printed as "61800.20") */
  priceDecimals: number;
  lotSize: number;
  qtyDecimals: number;
  /** annualised volatility of the mid (geometric random walk), e.g. 0.5 = 50 % a year */
  annualVol: number;
  /** median resting quantity of a level near the top, in base units */
  levelQtyMedian: number;
  /** median quantity of an aggressive order, in base units */
  tradeQtyMedian: number;
}

/** The symbols the synthetic market knows, with prices and tick/lot sizes close to Binance USD-M in 2024. */
export const SYNTHETIC_SYMBOLS: Readonly<Record<string, SyntheticSymbolSpec>> = {
  BTCUSDT: { price: 61_800, tickSize: 0.1, priceDecimals: 2, lotSize: 0.001, qtyDecimals: 3, annualVol: 0.5, levelQtyMedian: 0.4, tradeQtyMedian: 0.01 },
  ETHUSDT: { price: 2_680, tickSize: 0.01, priceDecimals: 2, lotSize: 0.001, qtyDecimals: 3, annualVol: 0.65, levelQtyMedian: 6, tradeQtyMedian: 0.15 },
  SOLUSDT: { price: 152, tickSize: 0.01, priceDecimals: 2, lotSize: 1, qtyDecimals: 0, annualVol: 0.8, levelQtyMedian: 60, tradeQtyMedian: 3 },
  BNBUSDT: { price: 512, tickSize: 0.01, priceDecimals: 2, lotSize: 0.01, qtyDecimals: 2, annualVol: 0.55, levelQtyMedian: 12, tradeQtyMedian: 0.5 },
  XRPUSDT: { price: 0.5612, tickSize: 0.0001, priceDecimals: 4, lotSize: 0.1, qtyDecimals: 1, annualVol: 0.7, levelQtyMedian: 8_000, tradeQtyMedian: 300 },
};

export const SYNTHETIC_DEFAULT_SYMBOLS: readonly string[] = ['BTCUSDT', 'ETHUSDT'];
/** 2024-08-09T00:00:00Z, the day of the recorded data: a fixed origin keeps streams reproducible. */
export const SYNTHETIC_START_MS = 1_723_161_600_000;

export interface SyntheticFeedOptions {
  /** default SYNTHETIC_DEFAULT_SYMBOLS; each must be a key of SYNTHETIC_SYMBOLS */
  symbols?: readonly string[];
  /** default 1 */
  seed?: number;
  /** depth diffs per second per symbol (mean; arrivals are Poisson); default 50 */
  diffsPerSecond?: number;
  /** aggressive orders between two diffs (mean); default 1.5. Each prints one trade per level it takes. */
  tradesPerDiff?: number;
  /** target book depth per side, in levels; default 80 */
  levelsPerSide?: number;
  /** withhold one diff every N per symbol (0, the default: never): the pu chain breaks, clients must resync */
  gapEvery?: number;
  /** time of the first event, ms since epoch; default SYNTHETIC_START_MS */
  startMs?: number;
  /** stop after this much market time, ms; default: never */
  durationMs?: number;
}

const DIFFS_PER_SECOND_MAX = 100_000;
const TRADES_PER_DIFF_MAX = 100;
const LEVELS_PER_SIDE_MIN = 8;
const LEVELS_PER_SIDE_MAX = 2_000;
const SECONDS_PER_YEAR = 365 * 24 * 3600;
/** probability that the spread after a requote is 1 tick (else 2) */
const ONE_TICK_SPREAD_PROBABILITY = 0.7;
/** probability that an aggressive order sweeps past the first level */
const SWEEP_PROBABILITY = 0.08;
/** an aggressive order takes at most this many levels (and never a side's last level) */
const SWEEP_LEVELS_MAX = 3;
/** resting orders added, changed or cancelled per diff (mean) */
const CHURN_PER_DIFF = 4;
/** how far from the top churn happens, in ticks (mean of an exponential) */
const CHURN_DISTANCE_MEAN_TICKS = 10;
const CHURN_CANCEL_PROBABILITY = 0.35;
/** an occasional large resting order ("wall") is this many times the usual size */
const WALL_PROBABILITY = 0.02;
const WALL_SIZE_FACTOR = 10;
/** the first levels are always quoted; further out some ticks are empty */
const DENSE_TOP_LEVELS = 5;
const OCCUPANCY_BEYOND_TOP = 0.8;
/** update ids of the first snapshot */
const FIRST_UPDATE_ID = 1_000_000_000;

export class SyntheticFeed implements MarketSource {
  readonly kind = 'synthetic';
  readonly description: string;
  readonly symbols: readonly SourceSymbol[];
  readonly finite: boolean;
  private readonly markets: SymbolMarket[];
  private readonly endNs: number;
  private started = false;

  constructor(options: SyntheticFeedOptions = {}) {
    const symbols = options.symbols ?? SYNTHETIC_DEFAULT_SYMBOLS;
    const seed = options.seed ?? 1;
    const diffsPerSecond = options.diffsPerSecond ?? 50;
    const tradesPerDiff = options.tradesPerDiff ?? 1.5;
    const levelsPerSide = options.levelsPerSide ?? 80;
    const gapEvery = options.gapEvery ?? 0;
    const startMs = options.startMs ?? SYNTHETIC_START_MS;
    const durationMs = options.durationMs ?? Infinity;
    if (symbols.length === 0) throw new RangeError('symbols: expected at least one symbol');
    for (const s of symbols) {
      if (!SYNTHETIC_SYMBOLS[s]) throw new RangeError(`symbol "${s}": expected one of ${Object.keys(SYNTHETIC_SYMBOLS).join(', ')}`);
    }
    if (new Set(symbols).size !== symbols.length) throw new RangeError(`symbols ${symbols.join(',')}: expected each symbol once`);
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed = ${seed}: expected an integer`);
    if (!(diffsPerSecond > 0 && diffsPerSecond <= DIFFS_PER_SECOND_MAX)) throw new RangeError(`diffsPerSecond = ${diffsPerSecond}: expected a number in (0, ${DIFFS_PER_SECOND_MAX}]`);
    if (!(tradesPerDiff >= 0 && tradesPerDiff <= TRADES_PER_DIFF_MAX)) throw new RangeError(`tradesPerDiff = ${tradesPerDiff}: expected a number in [0, ${TRADES_PER_DIFF_MAX}]`);
    if (!Number.isInteger(levelsPerSide) || levelsPerSide < LEVELS_PER_SIDE_MIN || levelsPerSide > LEVELS_PER_SIDE_MAX) {
      throw new RangeError(`levelsPerSide = ${levelsPerSide}: expected an integer in ${LEVELS_PER_SIDE_MIN}..${LEVELS_PER_SIDE_MAX}`);
    }
    if (!Number.isSafeInteger(gapEvery) || gapEvery < 0) throw new RangeError(`gapEvery = ${gapEvery}: expected an integer >= 0 (0: no gaps)`);
    if (!Number.isSafeInteger(startMs) || startMs < 0) throw new RangeError(`startMs = ${startMs}: expected ms since epoch`);
    if (!(durationMs > 0)) throw new RangeError(`durationMs = ${durationMs}: expected a number > 0`);

    this.markets = symbols.map(
      (symbol) => new SymbolMarket(symbol, SYNTHETIC_SYMBOLS[symbol], new SeededRandom(hashString(`${seed}:${symbol}`)), { diffsPerSecond, tradesPerDiff, levelsPerSide, gapEvery, startMs }),
    );
    this.symbols = this.markets.map((m) => m.info);
    this.finite = Number.isFinite(durationMs);
    this.endNs = durationMs * 1e6;
    this.description = `synthetic ${symbols.join(',')} seed ${seed}, ${diffsPerSecond} diffs/s${gapEvery ? `, a gap every ${gapEvery} diffs` : ''}${this.finite ? `, ${durationMs} ms` : ''}`;
  }

  /** Events of all symbols merged by time (ties: symbol order). Single use. */
  async *events(): AsyncGenerator<FeedEvent> {
    if (this.started) throw new Error('SyntheticFeed.events() is single use: make a new SyntheticFeed with the same seed to replay it');
    this.started = true;
    for (;;) {
      let best = this.markets[0];
      for (let i = 1; i < this.markets.length; i++) if (this.markets[i].peekNs() < best.peekNs()) best = this.markets[i];
      if (best.peekNs() > this.endNs) return;
      yield best.take();
    }
  }

  /**
   * The model's own book (withheld diffs included). The model runs ahead of what events() has
   * handed out by at most the rest of one diff interval; right after a depth event is taken (one
   * symbol), it is exactly the book that diff leaves.
   */
  depth(symbol: string, limit = Infinity): DepthView {
    const m = this.markets.find((x) => x.info.symbol === symbol);
    if (!m) throw new RangeError(`symbol "${symbol}": expected one of ${this.symbols.map((s) => s.symbol).join(', ')}`);
    return m.depth(limit);
  }

  async close(): Promise<void> {}
}

interface MarketParams {
  diffsPerSecond: number;
  tradesPerDiff: number;
  levelsPerSide: number;
  gapEvery: number;
  startMs: number;
}

/** One symbol's order book model, in integer ticks (prices) and lots (quantities). */
class SymbolMarket {
  readonly info: SourceSymbol;
  private readonly book = new OrderBook();
  private readonly streamDepth: string;
  private readonly streamTrade: string;
  private readonly streamTicker: string;
  private readonly sigmaPerSqrtS: number;
  private readonly levelLotsMedian: number;
  private readonly tradeLotsMedian: number;
  private readonly levelsMin: number;
  private readonly levelsMax: number;
  private readonly startNs: bigint;
  private logMid: number;
  /** market time of the last step, ns after startMs (a double: exact to the ns for ~100 days) */
  private nowNs = 0;
  private updateId = FIRST_UPDATE_ID;
  /** the `u` of the last diff (streamed or withheld); the `pu` of the next one */
  private lastDiffU = 0;
  /** the first update id of the changes the next diff carries (0: none yet) */
  private firstChangeId = 0;
  /** the update id the model's book is at: what a snapshot of it says */
  private bookUpdateId = 0;
  private tradeId = 1;
  private diffs = 0;
  private bidChanges = new Map<number, number>();
  private askChanges = new Map<number, number>();
  private lastTicker = '';
  private queue: FeedEvent[] = [];
  private queueAt = 0;

  constructor(
    readonly symbol: string,
    private readonly spec: SyntheticSymbolSpec,
    private readonly rng: SeededRandom,
    private readonly p: MarketParams,
  ) {
    const lower = symbol.toLowerCase();
    this.streamDepth = `${lower}@depth@0ms`;
    this.streamTrade = `${lower}@trade`;
    this.streamTicker = `${lower}@bookTicker`;
    this.sigmaPerSqrtS = spec.annualVol / Math.sqrt(SECONDS_PER_YEAR);
    this.levelLotsMedian = spec.levelQtyMedian / spec.lotSize;
    this.tradeLotsMedian = spec.tradeQtyMedian / spec.lotSize;
    this.levelsMin = Math.round(p.levelsPerSide * 0.75);
    this.levelsMax = Math.round(p.levelsPerSide * 1.25);
    this.startNs = BigInt(p.startMs) * 1_000_000n;
    this.logMid = Math.log(spec.price);

    // The starting book: spread of one tick, levelsPerSide levels a side.
    const bb = Math.floor(spec.price / spec.tickSize);
    this.fillSide(this.book.bids, bb, bb - 4 * p.levelsPerSide, p.levelsPerSide);
    this.fillSide(this.book.asks, bb + 1, bb + 1 + 4 * p.levelsPerSide, p.levelsPerSide);
    this.bidChanges.clear();
    this.askChanges.clear();
    const snapshotId = this.updateId;
    // Binance's futures sync rule wants the first diff a client applies to straddle the snapshot
    // (U <= lastUpdateId <= u): the first diff's range opens at the snapshot's id, as if the
    // snapshot had been taken inside that event, exactly as in the recorded data.
    this.firstChangeId = snapshotId;
    this.lastDiffU = snapshotId - 1;
    this.bookUpdateId = snapshotId;
    const levels = this.depth(Infinity);
    const flat = (side: [string, string][]): Levels => side.flatMap(([px, q]) => [Number(px), Number(q)]);
    const snapshot: DepthSnapshot = { type: 'snapshot', symbol, lastUpdateId: snapshotId, bids: flat(levels.bids), asks: flat(levels.asks) };
    this.info = {
      symbol,
      market: 'usdm',
      streams: [this.streamDepth, this.streamTrade, this.streamTicker],
      precision: { priceDecimals: spec.priceDecimals, qtyDecimals: spec.qtyDecimals },
      snapshot,
      snapshotEventMs: p.startMs,
    };
  }

  /** Market time of the next event, ns after startMs. */
  peekNs(): number {
    while (this.queueAt === this.queue.length) this.step();
    return Number(this.queue[this.queueAt].recvNs - this.startNs);
  }

  take(): FeedEvent {
    this.peekNs();
    const ev = this.queue[this.queueAt++];
    if (this.queueAt === this.queue.length) {
      this.queue = [];
      this.queueAt = 0;
    }
    return ev;
  }

  depth(limit: number): DepthView {
    const side = (s: BookSide): [string, string][] => {
      const n = Math.min(limit, s.length);
      const out: [string, string][] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = [this.price(s.prices[i]), this.qty(s.qtys[i])];
      return out;
    };
    return { lastUpdateId: this.bookUpdateId, eventMs: this.timeMs(this.nowNs), bids: side(this.book.bids), asks: side(this.book.asks) };
  }

  /** One diff interval: aggressive orders, then requote, churn and depth upkeep, then the diff. */
  private step(): void {
    const dtS = this.rng.exponential(1 / this.p.diffsPerSecond);
    const t0 = this.nowNs;
    const t1 = t0 + dtS * 1e9;
    const move = this.sigmaPerSqrtS * Math.sqrt(dtS) * this.rng.normal();
    this.logMid += move;
    const orders = this.rng.poisson(this.p.tradesPerDiff);
    for (let i = 0; i < orders; i++) {
      // Order flow leans the way the price moves.
      const buy = this.rng.next() < 0.5 + 0.3 * Math.sign(move);
      this.takeLiquidity(buy, t0 + ((t1 - t0) * (i + 1)) / (orders + 1));
    }
    this.requote();
    this.churn();
    this.keepDepth(this.book.bids);
    this.keepDepth(this.book.asks);
    if (this.book.crossed || this.book.bids.length === 0 || this.book.asks.length === 0) {
      throw new Error(`synthetic ${this.symbol}: book crossed or one-sided after update ${this.updateId} (bid ${this.book.bestBid}, ask ${this.book.bestAsk} ticks): a bug in the model`);
    }
    this.emitDiff(t1);
    this.nowNs = t1;
  }

  /** An aggressive order: one trade per level taken, top first. */
  private takeLiquidity(buy: boolean, tNs: number): void {
    const side = buy ? this.book.asks : this.book.bids;
    let want = Math.max(1, Math.round(this.tradeLotsMedian * this.rng.logNormal(1)));
    if (this.rng.next() < SWEEP_PROBABILITY) want = side.qtys[0] + this.rng.int(side.qtys[1] ?? 1);
    for (let taken = 0; want > 0 && taken < SWEEP_LEVELS_MAX && side.length > 1; taken++) {
      const tick = side.prices[0];
      const q = Math.min(want, side.qtys[0]);
      this.setLevel(side, tick, side.qtys[0] - q);
      want -= q;
      this.emitTrade(tick, q, !buy, tNs);
    }
    this.emitTickerIfChanged(tNs);
  }

  /** Moves the quotes to the mid: cancels what would cross it, quotes the ticks the move opened. */
  private requote(): void {
    const midTicks = Math.exp(this.logMid) / this.spec.tickSize;
    const spread = this.rng.next() < ONE_TICK_SPREAD_PROBABILITY ? 1 : 2;
    const bb = Math.max(1, spread === 1 ? Math.floor(midTicks) : Math.round(midTicks) - 1);
    const ba = bb + spread;
    const { bids, asks } = this.book;
    while (bids.length > 0 && bids.prices[0] > bb) this.setLevel(bids, bids.prices[0], 0);
    while (asks.length > 0 && asks.prices[0] < ba) this.setLevel(asks, asks.prices[0], 0);
    const bidFrom = bids.length > 0 ? bids.prices[0] : 0;
    for (let tick = bb, d = 0; tick > bidFrom && d < this.p.levelsPerSide && tick > 0; tick--, d++) {
      if (d === 0 || this.rng.next() < occupancy(d)) this.setLevel(bids, tick, this.levelLots(d));
    }
    const askFrom = asks.length > 0 ? asks.prices[0] : Infinity;
    for (let tick = ba, d = 0; tick < askFrom && d < this.p.levelsPerSide; tick++, d++) {
      if (d === 0 || this.rng.next() < occupancy(d)) this.setLevel(asks, tick, this.levelLots(d));
    }
  }

  /** Resting orders come and go away from the top; the top's size changes (never its price). */
  private churn(): void {
    const n = this.rng.poisson(CHURN_PER_DIFF);
    for (let k = 0; k < n; k++) {
      const side = this.rng.next() < 0.5 ? this.book.bids : this.book.asks;
      if (side.length < 2) continue;
      const d = this.rng.next() < 0.3 ? 0 : 1 + Math.floor(this.rng.exponential(CHURN_DISTANCE_MEAN_TICKS));
      const tick = side.descending ? side.prices[0] - d : side.prices[0] + d;
      if (tick <= 0) continue;
      const exists = side.indexOf(tick) >= 0;
      if (d === 0) this.setLevel(side, tick, this.levelLots(0));
      else if (exists) this.setLevel(side, tick, this.rng.next() < CHURN_CANCEL_PROBABILITY ? 0 : this.levelLots(d));
      else if (this.rng.next() < occupancy(d)) this.setLevel(side, tick, this.levelLots(d));
    }
  }

  /** Keeps a side between levelsMin and levelsMax levels: quotes further out, or drops the farthest. */
  private keepDepth(side: BookSide): void {
    while (side.length < this.levelsMin) {
      const last = side.prices[side.length - 1];
      const step = this.rng.next() < OCCUPANCY_BEYOND_TOP ? 1 : 2;
      const tick = side.descending ? last - step : last + step;
      if (tick <= 0) break;
      this.setLevel(side, tick, this.levelLots(Math.abs(tick - side.prices[0])));
    }
    while (side.length > this.levelsMax) this.setLevel(side, side.prices[side.length - 1], 0);
  }

  /** The starting book of one side: from `from` toward `to`, up to `count` levels. */
  private fillSide(side: BookSide, from: number, to: number, count: number): void {
    const dir = from < to ? 1 : -1;
    for (let tick = from, d = 0; side.length < count && tick !== to && tick > 0; tick += dir, d++) {
      if (d < DENSE_TOP_LEVELS || this.rng.next() < occupancy(d)) this.setLevel(side, tick, this.levelLots(d));
    }
  }

  private levelLots(distanceTicks: number): number {
    const wall = this.rng.next() < WALL_PROBABILITY ? WALL_SIZE_FACTOR : 1;
    return Math.max(1, Math.round(this.levelLotsMedian * this.rng.logNormal(0.9) * (1 + distanceTicks / 25) * wall));
  }

  /** Every book change gets update ids (several: ids are shared with other books on a real venue). */
  private setLevel(side: BookSide, tick: number, lots: number): void {
    side.set(tick, lots);
    this.updateId += 1 + this.rng.int(3);
    if (this.firstChangeId === 0) this.firstChangeId = this.updateId;
    (side.descending ? this.bidChanges : this.askChanges).set(tick, lots);
  }

  private emitDiff(tNs: number): void {
    if (this.bidChanges.size === 0 && this.askChanges.size === 0) return;
    const E = this.timeMs(tNs);
    const T = E - this.rng.int(3);
    const b = this.levelsOf(this.bidChanges);
    const a = this.levelsOf(this.askChanges);
    const U = this.firstChangeId;
    const u = this.updateId;
    const pu = this.lastDiffU;
    const data = { e: 'depthUpdate', E, T, s: this.symbol, U, u, pu, b, a };
    const flat = (levels: [string, string][]): Levels => levels.flatMap(([px, q]) => [Number(px), Number(q)]);
    const diff: DepthDiff = { type: 'depth', symbol: this.symbol, U, u, pu, bids: flat(b), asks: flat(a), eventMs: E, rxMs: E };
    this.diffs++;
    const withheld = this.p.gapEvery > 0 && this.diffs % this.p.gapEvery === 0;
    this.queue.push({ kind: 'depth', recvNs: this.recvNs(tNs), symbol: this.symbol, stream: this.streamDepth, json: JSON.stringify({ stream: this.streamDepth, data }), diff, withheld });
    this.lastDiffU = u;
    this.bookUpdateId = u;
    this.firstChangeId = 0;
    this.bidChanges.clear();
    this.askChanges.clear();
    this.emitTickerIfChanged(tNs);
  }

  private emitTrade(tick: number, lots: number, buyerMaker: boolean, tNs: number): void {
    const E = this.timeMs(tNs);
    const data = { e: 'trade', E, T: E, s: this.symbol, t: this.tradeId++, p: this.price(tick), q: this.qty(lots), X: 'MARKET', m: buyerMaker };
    this.queue.push({ kind: 'trade', recvNs: this.recvNs(tNs), symbol: this.symbol, stream: this.streamTrade, json: JSON.stringify({ stream: this.streamTrade, data }) });
  }

  /** bookTicker is pushed whenever the best bid or ask (price or size) changes. */
  private emitTickerIfChanged(tNs: number): void {
    const { bids, asks } = this.book;
    const key = `${bids.prices[0]}|${bids.qtys[0]}|${asks.prices[0]}|${asks.qtys[0]}`;
    if (key === this.lastTicker) return;
    this.lastTicker = key;
    const E = this.timeMs(tNs);
    const data = { e: 'bookTicker', u: this.updateId, s: this.symbol, b: this.price(bids.prices[0]), B: this.qty(bids.qtys[0]), a: this.price(asks.prices[0]), A: this.qty(asks.qtys[0]), T: E, E };
    this.queue.push({ kind: 'bookTicker', recvNs: this.recvNs(tNs), symbol: this.symbol, stream: this.streamTicker, json: JSON.stringify({ stream: this.streamTicker, data }) });
  }

  /** Changed levels as Binance prints them, ascending price. */
  private levelsOf(changes: Map<number, number>): [string, string][] {
    return [...changes.entries()].sort((x, y) => x[0] - y[0]).map(([tick, lots]) => [this.price(tick), this.qty(lots)]);
  }

  private price(tick: number): string {
    return (tick * this.spec.tickSize).toFixed(this.spec.priceDecimals);
  }

  private qty(lots: number): string {
    return (lots * this.spec.lotSize).toFixed(this.spec.qtyDecimals);
  }

  private timeMs(tNs: number): number {
    return this.p.startMs + Math.floor(tNs / 1e6);
  }

  private recvNs(tNs: number): bigint {
    return this.startNs + BigInt(Math.round(tNs));
  }
}

function occupancy(distanceTicks: number): number {
  return distanceTicks < DENSE_TOP_LEVELS ? 1 : OCCUPANCY_BEYOND_TOP;
}
