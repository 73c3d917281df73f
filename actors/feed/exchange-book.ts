// The server's own book of one symbol, as the exchange holds it: what the REST depth endpoint
// serves AS OF NOW in replay time. It starts from the source's snapshot and applies every diff the
// server streams whose `u` is newer than its lastUpdateId (diffs recorded before the snapshot are
// already in it). Prices and quantities are kept as numbers and printed back with the symbol's
// decimals: a decimal string with at most 15 significant digits parses to the one double that
// toFixed prints back as the same string, so clients parse the snapshot and the stream alike.
import { OrderBook } from '../book/order-book.ts';
import type { DepthDiff, DepthSnapshot } from './market-data.ts';
import type { BookPrecision } from './market-source.ts';

/** A REST depth response body, prices and quantities as the exchange prints them. */
export interface DepthView {
  lastUpdateId: number;
  /** exchange time of the newest change in the book, ms since epoch */
  eventMs: number;
  bids: [string, string][];
  asks: [string, string][];
}

/** Binance's REST depth limit bounds. */
export const DEPTH_LIMIT_MAX_LEVELS = 5000;

export class ExchangeBook {
  readonly book = new OrderBook();
  lastUpdateId: number;
  eventMs: number;
  diffsApplied = 0;

  constructor(
    readonly symbol: string,
    readonly precision: BookPrecision,
    snapshot: DepthSnapshot,
    snapshotEventMs: number,
  ) {
    this.book.load(snapshot.bids, snapshot.asks);
    this.lastUpdateId = snapshot.lastUpdateId;
    this.eventMs = snapshotEventMs;
  }

  /** Applies a diff the server is streaming (or withholding); false when the book already holds it. */
  apply(diff: DepthDiff): boolean {
    if (diff.u <= this.lastUpdateId) return false;
    this.book.apply(diff.bids, diff.asks);
    this.lastUpdateId = diff.u;
    if (diff.eventMs > 0) this.eventMs = diff.eventMs;
    this.diffsApplied++;
    return true;
  }

  /** A snapshot met later in the stream replaces the book only if it is newer. */
  load(snapshot: DepthSnapshot, eventMs: number): boolean {
    if (snapshot.lastUpdateId <= this.lastUpdateId) return false;
    this.book.load(snapshot.bids, snapshot.asks);
    this.lastUpdateId = snapshot.lastUpdateId;
    if (eventMs > 0) this.eventMs = eventMs;
    return true;
  }

  /** The best `limit` levels of each side (1..DEPTH_LIMIT_MAX_LEVELS), printed with the symbol's decimals. */
  depth(limit: number): DepthView {
    if (!Number.isInteger(limit) || limit < 1 || limit > DEPTH_LIMIT_MAX_LEVELS) {
      throw new RangeError(`limit = ${limit}: expected an integer in 1..${DEPTH_LIMIT_MAX_LEVELS}`);
    }
    const { priceDecimals, qtyDecimals } = this.precision;
    const side = (prices: number[], qtys: number[]): [string, string][] => {
      const n = Math.min(limit, prices.length);
      const out: [string, string][] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = [prices[i].toFixed(priceDecimals), qtys[i].toFixed(qtyDecimals)];
      return out;
    };
    return {
      lastUpdateId: this.lastUpdateId,
      eventMs: this.eventMs,
      bids: side(this.book.bids.prices, this.book.bids.qtys),
      asks: side(this.book.asks.prices, this.book.asks.qtys),
    };
  }
}

/** Digits after the decimal point of a decimal string ("61800.20" -> 2, "12" -> 0). */
export function decimalsOf(s: string): number {
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}
