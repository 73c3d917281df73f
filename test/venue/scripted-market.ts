// A market source the test drives: a fixed starting book, then the trades and depth updates the
// test pushes, when it pushes them (served by the real ReplayServer at speed max).
import type { Levels } from '../../actors/book/order-book.ts';
import type { FeedEvent, MarketSource, SourceSymbol } from '../../actors/feed/market-source.ts';

export class ScriptedMarket implements MarketSource {
  readonly kind = 'synthetic';
  readonly description = 'scripted by the test';
  readonly finite = true;
  readonly symbols: readonly SourceSymbol[];
  private queue: FeedEvent[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private nextTradeId = 1;
  private nextU: number;
  private ns = 1_000_000_000_000_000n;

  constructor(symbol: string, bids: Levels, asks: Levels, updateId = 100) {
    this.nextU = updateId + 1;
    this.symbols = [
      {
        symbol,
        market: 'usdm',
        streams: [`${symbol.toLowerCase()}@depth@0ms`, `${symbol.toLowerCase()}@trade`],
        precision: { priceDecimals: 2, qtyDecimals: 3 },
        snapshot: { type: 'snapshot', symbol, lastUpdateId: updateId, bids, asks },
        snapshotEventMs: 1,
      },
    ];
  }

  /** A market trade at `price` for `qty`. */
  trade(price: number, qty: number): void {
    const sym = this.symbols[0].symbol;
    const stream = `${sym.toLowerCase()}@trade`;
    const t = this.nextTradeId++;
    const data = { e: 'trade', E: 1, T: 1, s: sym, t, p: price.toFixed(2), q: qty.toFixed(3), m: true };
    this.push({ kind: 'trade', recvNs: this.tick(), symbol: sym, stream, json: JSON.stringify({ stream, data }) });
  }

  /** A depth diff setting levels (qty 0 removes a level). */
  depth(bids: Levels, asks: Levels): void {
    const sym = this.symbols[0].symbol;
    const stream = `${sym.toLowerCase()}@depth@0ms`;
    const u = this.nextU++;
    const diff = { type: 'depth' as const, symbol: sym, U: u, u, pu: u - 1, bids, asks, eventMs: 1, rxMs: 0 };
    this.push({ kind: 'depth', recvNs: this.tick(), symbol: sym, stream, json: JSON.stringify({ stream, data: { e: 'depthUpdate', U: u, u, pu: u - 1 } }), diff, withheld: false });
  }

  async *events(): AsyncGenerator<FeedEvent> {
    for (;;) {
      while (this.queue.length > 0) yield this.queue.shift() as FeedEvent;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async close(): Promise<void> {
    this.ended = true;
    this.wake?.();
  }

  private push(ev: FeedEvent): void {
    this.queue.push(ev);
    this.wake?.();
    this.wake = undefined;
  }

  private tick(): bigint {
    this.ns += 1_000_000n;
    return this.ns;
  }
}
