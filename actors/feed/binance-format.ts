// Parsing and validating Binance combined-stream messages and REST depth responses. Every
// rejection names what was wrong and what was expected; the caller counts and skips it.
import type { Levels } from '../book/order-book.ts';
import type { BookTicker, DepthDiff, DepthSnapshot, Trade } from './market-data.ts';

export class FeedFormatError extends Error {
  constructor(
    /** short, bounded reason for counters: malformed-json, unknown-stream, bad-price, bad-qty, bad-field */
    readonly reason: FeedErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'FeedFormatError';
  }
}

export type FeedErrorReason = 'malformed-json' | 'unknown-stream' | 'bad-price' | 'bad-qty' | 'bad-field';

export type StreamKind = 'depth' | 'trade' | 'bookTicker';

/** `btcusdt@depth@0ms` -> { symbol: 'BTCUSDT', kind: 'depth' }; undefined for streams we do not take. */
export function parseStreamName(stream: string): { symbol: string; kind: StreamKind } | undefined {
  const at = stream.indexOf('@');
  if (at <= 0) return undefined;
  const symbol = stream.slice(0, at).toUpperCase();
  const rest = stream.slice(at + 1);
  if (rest === 'trade') return { symbol, kind: 'trade' };
  if (rest === 'bookTicker') return { symbol, kind: 'bookTicker' };
  if (rest === 'depth' || rest.startsWith('depth@')) return { symbol, kind: 'depth' };
  return undefined;
}

/** Stream names for a symbol list, as the combined-stream URL takes them. */
export function streamNames(symbols: readonly string[], market: 'usdm' | 'spot'): string[] {
  const depth = market === 'usdm' ? 'depth@0ms' : 'depth@100ms';
  return symbols.flatMap((s) => {
    const l = s.toLowerCase();
    return [`${l}@${depth}`, `${l}@trade`, `${l}@bookTicker`];
  });
}

export type StreamMessage = DepthDiff | Trade | BookTicker;

/** Parses one combined-stream text frame. Throws FeedFormatError. */
export function parseStreamMessage(text: string, rxMs: number): StreamMessage {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new FeedFormatError('malformed-json', `not JSON (${(e as Error).message}): ${preview(text)}`);
  }
  if (!isObject(m) || typeof m.stream !== 'string' || !isObject(m.data)) {
    throw new FeedFormatError('bad-field', `expected {"stream": string, "data": object}, got ${preview(text)}`);
  }
  const name = parseStreamName(m.stream);
  if (!name) throw new FeedFormatError('unknown-stream', `unknown stream "${m.stream}": expected <symbol>@depth[@100ms|@0ms], <symbol>@trade or <symbol>@bookTicker`);
  const d = m.data;
  switch (name.kind) {
    case 'depth':
      return {
        type: 'depth',
        symbol: name.symbol,
        U: updateId(d, 'U'),
        u: updateId(d, 'u'),
        pu: d.pu === undefined ? -1 : updateId(d, 'pu'),
        bids: levels(d.b, 'b', true),
        asks: levels(d.a, 'a', true),
        eventMs: typeof d.E === 'number' ? d.E : 0,
        rxMs,
      };
    case 'trade':
      return {
        type: 'trade',
        symbol: name.symbol,
        id: typeof d.t === 'number' ? d.t : 0,
        price: price(d.p, 'p'),
        qty: qty(d.q, 'q', false),
        buyerMaker: d.m === true,
        timeMs: typeof d.T === 'number' ? d.T : 0,
        rxMs,
      };
    case 'bookTicker':
      return {
        type: 'book-ticker',
        symbol: name.symbol,
        u: updateId(d, 'u'),
        bid: price(d.b, 'b'),
        bidQty: qty(d.B, 'B', true),
        ask: price(d.a, 'a'),
        askQty: qty(d.A, 'A', true),
        rxMs,
      };
  }
}

/** Parses a REST depth response (`{lastUpdateId, bids, asks}`). Throws FeedFormatError. */
export function parseDepthSnapshot(symbol: string, text: string): DepthSnapshot {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new FeedFormatError('malformed-json', `depth snapshot for ${symbol} is not JSON (${(e as Error).message}): ${preview(text)}`);
  }
  if (!isObject(m)) throw new FeedFormatError('bad-field', `depth snapshot for ${symbol}: expected an object, got ${preview(text)}`);
  return { type: 'snapshot', symbol, lastUpdateId: updateId(m, 'lastUpdateId'), bids: levels(m.bids, 'bids', true), asks: levels(m.asks, 'asks', true) };
}

function updateId(d: Record<string, unknown>, field: string): number {
  const v = d[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new FeedFormatError('bad-field', `field "${field}" = ${JSON.stringify(v)}: expected a non-negative integer update id`);
  }
  return v;
}

/** A decimal string (or number) > 0. */
function price(v: unknown, field: string): number {
  const n = typeof v === 'string' && v !== '' ? Number(v) : typeof v === 'number' ? v : NaN;
  if (!(n > 0) || !Number.isFinite(n)) throw new FeedFormatError('bad-price', `price "${field}" = ${JSON.stringify(v)}: expected a decimal string > 0`);
  return n;
}

/** A decimal string (or number) >= 0 (0 only where it means "delete the level"). */
function qty(v: unknown, field: string, zeroOk: boolean): number {
  const n = typeof v === 'string' && v !== '' ? Number(v) : typeof v === 'number' ? v : NaN;
  if (!Number.isFinite(n) || n < 0 || (!zeroOk && n === 0)) {
    throw new FeedFormatError('bad-qty', `quantity "${field}" = ${JSON.stringify(v)}: expected a decimal string ${zeroOk ? '>= 0' : '> 0'}`);
  }
  return n;
}

/** [[price, qty], ...] as strings -> flat numbers. The whole message is rejected if one level is bad. */
function levels(v: unknown, field: string, zeroOk: boolean): Levels {
  if (!Array.isArray(v)) throw new FeedFormatError('bad-field', `field "${field}" = ${preview(JSON.stringify(v) ?? 'undefined')}: expected an array of [price, qty]`);
  const out: Levels = new Array(v.length * 2);
  for (let i = 0; i < v.length; i++) {
    const l: unknown = v[i];
    if (!Array.isArray(l) || l.length < 2) throw new FeedFormatError('bad-field', `${field}[${i}] = ${preview(JSON.stringify(l) ?? 'undefined')}: expected [price, qty]`);
    out[2 * i] = price(l[0], `${field}[${i}][0]`);
    out[2 * i + 1] = qty(l[1], `${field}[${i}][1]`, zeroOk);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function preview(s: string): string {
  return s.length > 120 ? `${s.slice(0, 120)}...` : s;
}
