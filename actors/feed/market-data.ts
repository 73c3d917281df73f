// The market data messages actors exchange, venue-neutral: prices and quantities are numbers,
// levels are flat [price, qty, price, qty, ...] arrays (compact on the wire and fast to apply).
import type { Levels } from '../book/order-book.ts';

export type Market = 'usdm' | 'spot';

/** An incremental depth update (Binance `depthUpdate`). */
export interface DepthDiff {
  type: 'depth';
  symbol: string;
  /** first and last update id covered by this event */
  U: number;
  u: number;
  /** futures: the previous event's `u`; spot: -1 (spot chains on U = previous u + 1) */
  pu: number;
  bids: Levels;
  asks: Levels;
  /** exchange event time, ms since epoch */
  eventMs: number;
  /** when the gateway read it off the socket, ms since epoch (fractional): the start of tick-to-order */
  rxMs: number;
}

/** Best bid/ask as the exchange publishes it (Binance `bookTicker`), used to cross-check the book. */
export interface BookTicker {
  type: 'book-ticker';
  symbol: string;
  u: number;
  bid: number;
  bidQty: number;
  ask: number;
  askQty: number;
  rxMs: number;
}

export interface Trade {
  type: 'trade';
  symbol: string;
  id: number;
  price: number;
  qty: number;
  /** true when the buyer was the maker, i.e. the aggressor sold */
  buyerMaker: boolean;
  timeMs: number;
  rxMs: number;
}

/** A full depth snapshot (Binance REST depth). */
export interface DepthSnapshot {
  type: 'snapshot';
  symbol: string;
  lastUpdateId: number;
  bids: Levels;
  asks: Levels;
}

/** Book -> gateway: fetch a snapshot for this symbol and send it back. */
export interface SnapshotRequest {
  type: 'snapshot-request';
  symbol: string;
}

/** Book -> gateway: the snapshot could not be used (counted in the gateway's status). */
export interface SnapshotRejected {
  type: 'snapshot-rejected';
  symbol: string;
  reason: string;
}

/** Gateway -> book: the stream went silent or disconnected; the book is stale until it resyncs. */
export interface FeedDown {
  type: 'feed-down';
  symbol: string;
  reason: string;
}

export type MarketDataMsg = DepthDiff | BookTicker | Trade | DepthSnapshot | FeedDown;
