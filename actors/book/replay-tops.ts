// Replaying a recorded file through the same sync and top-of-book code the book actor runs,
// without actors: for training the signal model and for offline checks.
import { FeedFormatError, parseDepthSnapshot, parseStreamMessage } from '../feed/binance-format.ts';
import { isSnapshotLine, readRecorded } from '../feed/recorded-file.ts';
import { topOf } from './book-actor.ts';
import { BookSync } from './book-sync.ts';
import type { BookTop } from './book-top.ts';

export interface ReplayTopsOptions {
  /** read at most this many lines of the file */
  maxLines?: number;
}

/**
 * Every top of book after each applied diff, from sync on, for the file's one symbol. The file's
 * snapshot is applied when its line is reached, as a live client would receive it. A recorded file
 * has no later snapshot to resync from, so a gap ends the replay with an error naming the line
 * (none of the three recorded files has one).
 */
export async function* replayBookTops(file: string, opts: ReplayTopsOptions = {}): AsyncGenerator<BookTop> {
  const sync = new BookSync();
  const trades = { lastTrade: NaN, buyVolume: 0, sellVolume: 0 };
  let symbol: string | undefined;
  const max = opts.maxLines ?? Infinity;
  for await (const line of readRecorded(file)) {
    if (line.line > max) break;
    const rxMs = Number(line.recvNs / 1000n) / 1000;
    if (isSnapshotLine(line.json)) {
      if (symbol === undefined) continue; // no stream seen yet: the symbol is unknown
      const outcome = sync.onSnapshot(parseDepthSnapshot(symbol, line.json));
      if (outcome === 'too-old' || outcome === 'gap') throw new Error(`${file}:${line.line}: the file's snapshot cannot sync the book (${outcome})`);
      continue;
    }
    let m;
    try {
      m = parseStreamMessage(line.json, rxMs);
    } catch (e) {
      if (e instanceof FeedFormatError) continue;
      throw e;
    }
    symbol ??= m.symbol;
    if (m.symbol !== symbol) throw new Error(`${file}:${line.line}: a second symbol ${m.symbol} (expected one symbol per file, ${symbol})`);
    if (m.type === 'trade') {
      trades.lastTrade = m.price;
      if (m.buyerMaker) trades.sellVolume += m.qty;
      else trades.buyVolume += m.qty;
    } else if (m.type === 'depth') {
      const outcome = sync.onDiff(m);
      if (outcome === 'gap') throw new Error(`${file}:${line.line}: gap in the depth stream at U=${m.U} u=${m.u}`);
      if (outcome === 'applied') yield topOf(symbol, sync, m, trades);
    }
  }
}
