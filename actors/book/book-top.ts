// What a book actor publishes: its top of book and the book-side features the signal needs,
// conflated per symbol at the receiver (only the newest state per symbol waits in a mailbox).

/** Levels summed for the depth imbalance feature. */
export const IMBALANCE_LEVELS = 5;

export interface BookTop {
  type: 'book-top';
  symbol: string;
  /** the book's last applied update id */
  u: number;
  bid: number;
  bidQty: number;
  ask: number;
  askQty: number;
  /** summed quantity of the best IMBALANCE_LEVELS levels per side */
  bidDepth: number;
  askDepth: number;
  /** the feed itself crossed (flagged, never "fixed") */
  crossed: boolean;
  /** last trade price (NaN before the first trade) and aggressor volumes since the book synced */
  lastTrade: number;
  buyVolume: number;
  sellVolume: number;
  /** exchange event time of the last applied diff, ms */
  eventMs: number;
  /** when the gateway read the last applied diff off the socket, ms since epoch: tick-to-order starts here */
  rxMs: number;
}

/** The book cannot be trusted (gap, feed down, resyncing): the signal must not act on its last top. */
export interface BookStale {
  type: 'book-stale';
  symbol: string;
  reason: string;
}

export type BookPublication = BookTop | BookStale;
