// What a market-data source (a recorded replay or the synthetic market) hands the replay server:
// the symbols it serves with their starting books, then one time-ordered stream of events. The
// server owns the clock, the clients and the exchange books; a source only says what happened when.
import type { DepthDiff, DepthSnapshot, Market } from './market-data.ts';

/** How the exchange prints prices and quantities of a symbol (digits after the decimal point). */
export interface BookPrecision {
  priceDecimals: number;
  qtyDecimals: number;
}

export interface SourceSymbol {
  /** upper case, as the REST API takes it: BTCUSDT */
  symbol: string;
  market: Market;
  /** the combined-stream names a client may subscribe to, e.g. btcusdt@depth@0ms */
  streams: readonly string[];
  precision: BookPrecision;
  /** the book a client gets from the snapshot endpoint before any diff was streamed */
  snapshot: DepthSnapshot;
  /** exchange time of that snapshot, ms since epoch */
  snapshotEventMs: number;
}

interface StreamEventBase {
  /** receive time (recorded) or event time (synthetic), ns since epoch: the replay clock */
  recvNs: bigint;
  symbol: string;
  /** combined-stream name, e.g. btcusdt@depth@0ms */
  stream: string;
  /** the whole combined-stream envelope, sent to clients as is */
  json: string;
}

export interface DepthEvent extends StreamEventBase {
  kind: 'depth';
  /** the parsed diff, applied to the server's exchange book */
  diff: DepthDiff;
  /** a deliberate gap: applied to the exchange book but not sent, so clients must resync */
  withheld: boolean;
}

export interface TradeEvent extends StreamEventBase {
  kind: 'trade';
}

export interface BookTickerEvent extends StreamEventBase {
  kind: 'bookTicker';
}

/** A REST snapshot recorded in the stream: reloads the exchange book if it is newer. Never sent. */
export interface SnapshotEvent {
  kind: 'snapshot';
  recvNs: bigint;
  symbol: string;
  json: string;
  snapshot: DepthSnapshot;
  eventMs: number;
}

export type FeedEvent = DepthEvent | TradeEvent | BookTickerEvent | SnapshotEvent;

/** The stream kinds of FeedEvent that clients can subscribe to. */
export type StreamEvent = Exclude<FeedEvent, SnapshotEvent>;

export interface MarketSource {
  readonly kind: 'replay' | 'synthetic';
  /** one line for logs and /status: the files, or the seed */
  readonly description: string;
  readonly symbols: readonly SourceSymbol[];
  /** false when the events never end (synthetic without a duration) */
  readonly finite: boolean;
  /** The events in replay-clock order. Single use: call it once. Throws RecordedFileError on a bad file. */
  events(): AsyncIterator<FeedEvent>;
  /** Releases files; safe to call more than once. */
  close(): Promise<void>;
}
