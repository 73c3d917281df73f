// The book actor, one per symbol: keeps an L2 book synced with the exchange (book-sync.ts),
// cross-checks it against the exchange's own best bid/ask, and publishes its top of book and
// book-side features after every applied diff. It never publishes a top while unsynced: on a gap
// it publishes `book-stale` once and asks the gateway for a new snapshot.
import type { ActorContext, Behavior } from '../../runtime/actor.ts';
import type { KindContext } from '../../runtime/kind-registry.ts';
import type { BookTicker, DepthDiff, DepthSnapshot, FeedDown, SnapshotRejected, SnapshotRequest, Trade } from '../feed/market-data.ts';
import { BookSync, DEFAULT_BUFFER_MAX_DIFFS } from './book-sync.ts';
import { type BookPublication, type BookTop, IMBALANCE_LEVELS } from './book-top.ts';

export interface BookOptions {
  symbol: string;
  /** addresses that receive BookTop / BookStale (their mailboxes should conflate on `symbol`) */
  publishTo: string[];
  /** the feed gateway: where snapshot requests go */
  gateway: string;
  /** ask again when a requested snapshot has not arrived after this long */
  snapshotRetryMs: number;
  bufferMaxDiffs: number;
  /** most exchange tickers held while waiting for the diff that reaches their update id */
  tickersPendingMax: number;
}

export type BookStatusRequest = { type: 'book-status' };
type SnapshotRetry = { type: 'snapshot-retry' };
export type BookMsg = DepthDiff | DepthSnapshot | BookTicker | Trade | FeedDown | BookStatusRequest | SnapshotRetry;

export interface BookCounters {
  diffsApplied: number;
  diffsBuffered: number;
  staleDropped: number;
  gaps: number;
  resyncs: number;
  snapshotsRequested: number;
  snapshotsTooOld: number;
  crossedUpdates: number;
  /** exchange tickers compared with the book at the same update id, and how many differed */
  tickerChecks: number;
  tickerMismatches: number;
  wrongSymbol: number;
}

export interface BookState {
  sync: BookSync;
  counters: BookCounters;
  /** exchange tickers ahead of the book, by update id ascending */
  pendingTickers: BookTicker[];
  lastTrade: number;
  buyVolume: number;
  sellVolume: number;
  /** a stale notice has been published since the last top (publish it once per loss of sync) */
  staleSent: boolean;
  /** a snapshot request is out (re-sent every snapshotRetryMs while buffering) */
  snapshotPending: boolean;
  lastMismatch?: string;
}

export type BookStatus = { type: 'book-status-reply'; symbol: string; state: string; lastU: number; levels: { bids: number; asks: number }; top: { bid: number; ask: number }; counters: BookCounters; lastMismatch?: string };

export function bookOptions(ctx: KindContext): BookOptions {
  const o = ctx.options as Record<string, unknown>;
  const symbol = typeof o.symbol === 'string' ? o.symbol : ctx.address.slice(ctx.address.lastIndexOf('/') + 1);
  if (!/^[A-Z0-9]{2,20}$/.test(symbol)) throw new TypeError(`actor ${ctx.address}: symbol "${symbol}": expected upper-case letters and digits (from the address book/<SYMBOL> or options.symbol)`);
  const publishTo = o.publish_to ?? ['signal'];
  if (!Array.isArray(publishTo) || !publishTo.every((a) => typeof a === 'string' && a !== '')) {
    throw new TypeError(`actor ${ctx.address}: options.publish_to: expected a list of actor addresses, got ${JSON.stringify(publishTo)}`);
  }
  const gateway = o.gateway ?? 'feed';
  if (typeof gateway !== 'string' || gateway === '') throw new TypeError(`actor ${ctx.address}: options.gateway: expected an actor address, got ${JSON.stringify(gateway)}`);
  return {
    symbol,
    publishTo: publishTo as string[],
    gateway,
    snapshotRetryMs: positiveInt(ctx, o, 'snapshot_retry_ms', 2000),
    bufferMaxDiffs: positiveInt(ctx, o, 'buffer_max_diffs', DEFAULT_BUFFER_MAX_DIFFS),
    tickersPendingMax: positiveInt(ctx, o, 'tickers_pending_max', 256),
  };
}

function positiveInt(ctx: KindContext, o: Record<string, unknown>, key: string, dflt: number): number {
  const v = o[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new TypeError(`actor ${ctx.address}: options.${key}: expected an integer >= 1, got ${JSON.stringify(v)}`);
  return v;
}

export function topOf(symbol: string, s: BookSync, d: DepthDiff, trades: { lastTrade: number; buyVolume: number; sellVolume: number }): BookTop {
  const b = s.book;
  return {
    type: 'book-top',
    symbol,
    u: s.lastU,
    bid: b.bestBid,
    bidQty: b.bestBidQty,
    ask: b.bestAsk,
    askQty: b.bestAskQty,
    bidDepth: b.bids.depth(IMBALANCE_LEVELS),
    askDepth: b.asks.depth(IMBALANCE_LEVELS),
    crossed: b.crossed,
    lastTrade: trades.lastTrade,
    buyVolume: trades.buyVolume,
    sellVolume: trades.sellVolume,
    eventMs: d.eventMs,
    rxMs: d.rxMs,
  };
}

export const book = (opts: BookOptions): Behavior<BookMsg, BookState> => {
  const publish = (ctx: ActorContext<BookMsg>, msg: BookPublication): void => {
    for (const to of opts.publishTo) ctx.tell(to, msg);
  };

  const requestSnapshot = (s: BookState, ctx: ActorContext<BookMsg>): void => {
    s.counters.snapshotsRequested++;
    s.snapshotPending = true;
    ctx.tell<SnapshotRequest>(opts.gateway, { type: 'snapshot-request', symbol: opts.symbol });
    ctx.timers.startSingle('snapshot-retry', { type: 'snapshot-retry' }, opts.snapshotRetryMs);
  };

  const goStale = (s: BookState, ctx: ActorContext<BookMsg>, reason: string): void => {
    s.counters.resyncs++;
    s.pendingTickers = [];
    if (!s.staleSent) {
      publish(ctx, { type: 'book-stale', symbol: opts.symbol, reason });
      s.staleSent = true;
    }
  };

  /** Compares the exchange's ticker with the book at the same update id. A mismatch means the book is wrong. */
  const check = (s: BookState, ctx: ActorContext<BookMsg>, t: BookTicker): void => {
    const b = s.sync.book;
    s.counters.tickerChecks++;
    if (t.bid === b.bestBid && t.bidQty === b.bestBidQty && t.ask === b.bestAsk && t.askQty === b.bestAskQty) return;
    s.counters.tickerMismatches++;
    s.lastMismatch = `u=${t.u}: exchange ${t.bidQty}@${t.bid} / ${t.askQty}@${t.ask}, book ${b.bestBidQty}@${b.bestBid} / ${b.bestAskQty}@${b.bestAsk}`;
    s.sync.reset();
    goStale(s, ctx, `book differs from the exchange's best bid/ask (${s.lastMismatch})`);
    requestSnapshot(s, ctx);
  };

  const onDiff = (s: BookState, ctx: ActorContext<BookMsg>, d: DepthDiff): void => {
    const before = s.sync.state;
    const outcome = s.sync.onDiff(d);
    switch (outcome) {
      case 'buffered':
        s.counters.diffsBuffered++;
        if (!s.snapshotPending) requestSnapshot(s, ctx);
        return;
      case 'stale-dropped':
        s.counters.staleDropped++;
        return;
      case 'gap':
        s.counters.gaps++;
        goStale(s, ctx, before === 'synced' ? `gap after update ${s.sync.lastU === -1 ? 'unknown' : s.sync.lastU}: diff U=${d.U} pu=${d.pu} u=${d.u} does not chain` : `diff U=${d.U} u=${d.u} does not bridge the snapshot`);
        requestSnapshot(s, ctx);
        return;
      case 'applied':
        applied(s, ctx, d);
    }
  };

  const applied = (s: BookState, ctx: ActorContext<BookMsg>, d: DepthDiff): void => {
    const u = s.sync.lastU;
    // Tickers the book has now reached: the one at exactly u is comparable; older ones described
    // states inside this diff that the book never held.
    const p = s.pendingTickers;
    let i = 0;
    while (i < p.length && p[i].u <= u) i++;
    const exact = i > 0 && p[i - 1].u === u ? p[i - 1] : undefined;
    if (i > 0) s.pendingTickers = p.slice(i);
    if (exact) {
      check(s, ctx, exact);
      if (s.sync.state !== 'synced') return;
    }
    publishTop(s, ctx, d);
  };

  const publishTop = (s: BookState, ctx: ActorContext<BookMsg>, d: DepthDiff): void => {
    const top = topOf(opts.symbol, s.sync, d, s);
    if (top.crossed) s.counters.crossedUpdates++;
    s.staleSent = false;
    publish(ctx, top);
  };

  const onTicker = (s: BookState, ctx: ActorContext<BookMsg>, t: BookTicker): void => {
    if (s.sync.state !== 'synced') return;
    if (t.u === s.sync.lastU) return check(s, ctx, t);
    if (t.u < s.sync.lastU) return; // the book has moved past it
    const p = s.pendingTickers;
    if (p.length >= opts.tickersPendingMax) p.shift();
    let at = p.length;
    while (at > 0 && p[at - 1].u > t.u) at--;
    p.splice(at, 0, t);
  };

  return {
    init(ctx) {
      const s: BookState = {
        sync: new BookSync(opts.bufferMaxDiffs),
        counters: { diffsApplied: 0, diffsBuffered: 0, staleDropped: 0, gaps: 0, resyncs: 0, snapshotsRequested: 0, snapshotsTooOld: 0, crossedUpdates: 0, tickerChecks: 0, tickerMismatches: 0, wrongSymbol: 0 },
        pendingTickers: [],
        lastTrade: NaN,
        buyVolume: 0,
        sellVolume: 0,
        staleSent: false,
        snapshotPending: false,
      };
      // A (re)started book knows nothing: say so before anyone acts on an older top.
      publish(ctx, { type: 'book-stale', symbol: opts.symbol, reason: 'book starting' });
      s.staleSent = true;
      return s;
    },

    receive(s, msg, ctx) {
      if ('symbol' in msg && msg.symbol !== opts.symbol) {
        s.counters.wrongSymbol++;
        return s;
      }
      switch (msg.type) {
        case 'depth':
          onDiff(s, ctx, msg);
          return s;
        case 'snapshot': {
          const outcome = s.sync.onSnapshot(msg);
          if (outcome === 'ignored') return s;
          if (outcome === 'too-old' || outcome === 'gap') {
            s.counters.snapshotsTooOld++;
            ctx.tell<SnapshotRejected>(opts.gateway, { type: 'snapshot-rejected', symbol: opts.symbol, reason: outcome === 'too-old' ? `snapshot lastUpdateId ${msg.lastUpdateId} is older than the buffered diffs` : 'buffered diffs do not chain' });
            requestSnapshot(s, ctx);
            return s;
          }
          s.snapshotPending = false;
          ctx.timers.cancel('snapshot-retry');
          // Buffered diffs were replayed onto the snapshot: publish where that left the book.
          if (outcome === 'synced' && s.sync.lastApplied) {
            publishTop(s, ctx, s.sync.lastApplied);
          }
          return s;
        }
        case 'snapshot-retry':
          if (s.sync.state === 'buffering') requestSnapshot(s, ctx);
          else s.snapshotPending = false;
          return s;
        case 'book-ticker':
          onTicker(s, ctx, msg);
          return s;
        case 'trade':
          s.lastTrade = msg.price;
          if (msg.buyerMaker) s.sellVolume += msg.qty;
          else s.buyVolume += msg.qty;
          return s;
        case 'feed-down':
          // Diffs may have been lost with the connection: start over from a fresh snapshot.
          s.sync.reset();
          s.snapshotPending = false;
          ctx.timers.cancel('snapshot-retry');
          goStale(s, ctx, msg.reason);
          return s;
        case 'book-status':
          ctx.reply<BookStatus>(status(s, opts.symbol));
          return s;
      }
    },

    summary: (s) => status(s, opts.symbol),
  };
};

function status(s: BookState, symbol: string): BookStatus {
  const b = s.sync.book;
  return {
    type: 'book-status-reply',
    symbol,
    state: s.sync.state,
    lastU: s.sync.lastU,
    levels: { bids: b.bids.length, asks: b.asks.length },
    top: { bid: b.bestBid, ask: b.bestAsk },
    counters: { ...s.counters, diffsApplied: s.sync.diffsApplied },
    lastMismatch: s.lastMismatch,
  };
}
