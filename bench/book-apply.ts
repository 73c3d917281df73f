// Depth levels applied per second by one book actor on recorded data: the diffs of a recorded
// file are parsed once, then replayed (snapshot + every diff) through a book actor that publishes
// every top to a conflating mailbox, as in production. Each pass starts a fresh actor, so every
// pass syncs from the snapshot. Run pinned (taskset) by the suite.
import { book, type BookStatus } from '../actors/book/book-actor.ts';
import { BookSync } from '../actors/book/book-sync.ts';
import { parseDepthSnapshot, parseStreamMessage } from '../actors/feed/binance-format.ts';
import type { DepthDiff, DepthSnapshot } from '../actors/feed/market-data.ts';
import { isSnapshotLine, readRecorded } from '../actors/feed/recorded-file.ts';
import { ActorSystem } from '../runtime/actor-system.ts';
import type { Message } from '../runtime/message.ts';
import { type ObsMode, observe } from './observed-system.ts';

export interface BookApplyResult {
  levels_per_s: number;
  levels: number;
  diffs: number;
  passes: number;
  pure_levels_per_s: number;
}

async function loadDiffs(file: string): Promise<{ snapshot: DepthSnapshot; diffs: DepthDiff[]; symbol: string }> {
  const diffs: DepthDiff[] = [];
  let snapshot: DepthSnapshot | undefined;
  let symbol = '';
  for await (const line of readRecorded(file)) {
    if (isSnapshotLine(line.json)) snapshot = parseDepthSnapshot(symbol, line.json);
    else {
      const m = parseStreamMessage(line.json, 0);
      symbol = m.symbol;
      if (m.type === 'depth') diffs.push(m);
    }
  }
  if (!snapshot) throw new Error(`${file}: no snapshot line`);
  return { snapshot, diffs, symbol };
}

/** `obs`: what observability the book's node has (bench/observed-system.ts); off by default. */
export async function measureBookApply(file: string, passes = 20, obs: ObsMode = 'off'): Promise<BookApplyResult> {
  const { snapshot, diffs, symbol } = await loadDiffs(file);
  // Pure sync + book, no actor: the ceiling.
  const pure = (): { levels: number; ms: number } => {
    const t0 = performance.now();
    const s = new BookSync();
    s.onSnapshot(snapshot);
    let levels = 0;
    for (const d of diffs) if (s.onDiff(d) === 'applied') levels += (d.bids.length + d.asks.length) / 2;
    return { levels, ms: performance.now() - t0 };
  };
  for (let i = 0; i < 3; i++) pure();
  let pl = 0;
  let pms = 0;
  for (let i = 0; i < passes; i++) {
    const r = pure();
    pl += r.levels;
    pms += r.ms;
  }

  let levels = 0;
  let ms = 0;
  for (let pass = -3; pass < passes; pass++) {
    const sys = new ActorSystem({ node: 'bench' });
    observe(sys, obs);
    sys.spawn<Message, number>('signal', { init: () => 0, receive: (n) => n + 1 }, { mailbox: { capacity: 64, policy: 'conflate', conflateKey: 'symbol' } });
    sys.spawn('feed', { init: () => null, receive: (s: null) => s });
    const ref = sys.spawn(`book/${symbol}`, book({ symbol, publishTo: ['signal'], gateway: 'feed', snapshotRetryMs: 60_000, bufferMaxDiffs: 10_000, tickersPendingMax: 256 }), {
      mailbox: { capacity: diffs.length + 16, policy: 'reject' },
    });
    const t0 = performance.now();
    ref.tell(snapshot);
    for (const d of diffs) ref.tell(d);
    await sys.ask(`book/${symbol}`, { type: 'book-status' }, 60_000);
    const elapsed = performance.now() - t0;
    const applied = (await sys.ask<BookStatus>(`book/${symbol}`, { type: 'book-status' }, 1000)).counters.diffsApplied;
    if (applied < diffs.length - 100) throw new Error(`book applied ${applied} of ${diffs.length} diffs: the replay did not sync`);
    await sys.shutdown();
    if (pass < 0) continue;
    levels += diffs.reduce((n, d) => n + (d.bids.length + d.asks.length) / 2, 0);
    ms += elapsed;
  }
  return { levels_per_s: (levels / ms) * 1000, levels, diffs: diffs.length, passes, pure_levels_per_s: (pl / pms) * 1000 };
}
