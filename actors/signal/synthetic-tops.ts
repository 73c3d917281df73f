// Book tops of the built-in synthetic market, for training without recorded data: one symbol's
// depth diffs and trades from SyntheticFeed, through the same sync and top-of-book code the book
// actor runs (as replayBookTops does for a recorded file).
import { topOf } from '../book/book-actor.ts';
import { BookSync } from '../book/book-sync.ts';
import type { BookTop } from '../book/book-top.ts';
import { parseStreamMessage } from '../feed/binance-format.ts';
import { SyntheticFeed } from '../feed/synthetic-feed.ts';

export interface SyntheticTopsOptions {
  symbol: string;
  seed: number;
  /** market time to generate, ms */
  durationMs: number;
  /** stop after this many feed events (like --slice for a file) */
  maxEvents?: number;
}

/** Every top after each applied diff of one synthetic symbol. */
export async function* syntheticBookTops(opts: SyntheticTopsOptions): AsyncGenerator<BookTop> {
  // One symbol per feed: each symbol has its own seeded stream, so this is the same market the
  // symbol has in a multi-symbol feed with this seed.
  const feed = new SyntheticFeed({ symbols: [opts.symbol], seed: opts.seed, durationMs: opts.durationMs });
  const info = feed.symbols[0];
  const sync = new BookSync();
  const outcome = sync.onSnapshot(info.snapshot);
  if (outcome !== 'bridging' && outcome !== 'synced') throw new Error(`synthetic ${opts.symbol}: its snapshot did not load (${outcome})`);
  const trades = { lastTrade: Number.NaN, buyVolume: 0, sellVolume: 0 };
  const max = opts.maxEvents ?? Infinity;
  let n = 0;
  try {
    for await (const ev of feed.events()) {
      if (++n > max) break;
      if (ev.kind === 'trade') {
        const t = parseStreamMessage(ev.json, Number(ev.recvNs / 1000n) / 1000);
        if (t.type !== 'trade') continue;
        trades.lastTrade = t.price;
        if (t.buyerMaker) trades.sellVolume += t.qty;
        else trades.buyVolume += t.qty;
      } else if (ev.kind === 'depth' && !ev.withheld) {
        const r = sync.onDiff(ev.diff);
        if (r === 'gap') throw new Error(`synthetic ${opts.symbol}: gap in the depth stream at u=${ev.diff.u}`);
        if (r === 'applied') yield topOf(opts.symbol, sync, ev.diff, trades);
      }
    }
  } finally {
    await feed.close();
  }
}
