// `match_at: decision`: the venue matches an order against the market as it stood at the book
// update the order was decided on (the `marketUpdateId` the signal read), not as it stands when
// the order arrives. A replay then gives the same fills in every run, however fast the pipeline
// or the replay: what an order meets depends on the data only. (With `match_at: arrival`, the
// default, the venue matches against the market as of now, as a live exchange does, and a replay
// at max speed moves the market in wall-clock time under the order.)
//
// The venue keeps its own copy of each symbol's book, behind the market server's: market events
// wait in a queue per symbol and are applied (to the copy, and to the matching engine: level
// updates, trades through resting orders) only when an order needs the market that far, or when
// more than lagMaxEvents wait (then the oldest go, and an order decided before them is late: it is
// matched where the copy stands, and counted). Symbols are independent, so orders of two symbols
// may arrive in any order.
import { ExchangeBook } from '../feed/exchange-book.ts';
import type { FeedEvent } from '../feed/market-source.ts';

export type MatchAt = 'arrival' | 'decision';

/** Market events waiting per symbol before the oldest are applied anyway. */
export const LAG_MAX_EVENTS = 2_000_000;

export interface DecisionTimeStats {
  /** events waiting, all symbols */
  waiting: number;
  /** orders decided on an update the venue's copy had already passed */
  late: number;
  /** events applied because more than lagMaxEvents waited */
  forced: number;
}

export class DecisionTimeMarket {
  /** The venue's copies of the books, for the matching engine. */
  readonly books = new Map<string, ExchangeBook>();
  private readonly queues = new Map<string, { events: FeedEvent[]; head: number }>();
  private late = 0;
  private forced = 0;

  /**
   * @param market the market server's books, copied as they stand now (before the replay starts)
   * @param apply applies one market event to the engine, after the copy of its book has it
   */
  constructor(
    market: ReadonlyMap<string, ExchangeBook>,
    private readonly apply: (ev: FeedEvent) => void,
    private readonly lagMaxEvents = LAG_MAX_EVENTS,
  ) {
    for (const [symbol, b] of market) {
      const levels = (side: { prices: number[]; qtys: number[] }): number[] => side.prices.flatMap((p, i) => [p, side.qtys[i]]);
      const snapshot = { type: 'snapshot' as const, symbol, lastUpdateId: b.lastUpdateId, bids: levels(b.book.bids), asks: levels(b.book.asks) };
      this.books.set(symbol, new ExchangeBook(symbol, b.precision, snapshot, b.eventMs));
      this.queues.set(symbol, { events: [], head: 0 });
    }
  }

  /** A market event: queued until an order needs the market that far. */
  push(ev: FeedEvent): void {
    const q = this.queues.get(ev.symbol);
    if (!q) return;
    q.events.push(ev);
    if (q.events.length - q.head > this.lagMaxEvents) {
      this.forced++;
      this.step(ev.symbol, q);
    }
  }

  /**
   * Brings `symbol`'s copy to update `updateId` (every event up to the diff that reaches it), or
   * to the newest event when undefined (an order decided on no particular update: an operator's).
   * Returns false when the copy was already past it (the order is late).
   */
  advanceTo(symbol: string, updateId: number | undefined): boolean {
    const q = this.queues.get(symbol);
    const book = this.books.get(symbol);
    if (!q || !book) return true;
    if (updateId !== undefined && book.lastUpdateId > updateId) {
      this.late++;
      return false;
    }
    while (q.head < q.events.length && (updateId === undefined || book.lastUpdateId < updateId)) this.step(symbol, q);
    return true;
  }

  private step(symbol: string, q: { events: FeedEvent[]; head: number }): void {
    const ev = q.events[q.head];
    q.events[q.head] = undefined as unknown as FeedEvent;
    q.head++;
    if (q.head > 4096 && q.head * 2 > q.events.length) {
      q.events = q.events.slice(q.head);
      q.head = 0;
    }
    const book = this.books.get(symbol) as ExchangeBook;
    if (ev.kind === 'depth') book.apply(ev.diff);
    else if (ev.kind === 'snapshot') book.load(ev.snapshot, ev.eventMs);
    this.apply(ev);
  }

  stats(): DecisionTimeStats {
    let waiting = 0;
    for (const q of this.queues.values()) waiting += q.events.length - q.head;
    return { waiting, late: this.late, forced: this.forced };
  }
}
