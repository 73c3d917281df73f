// End to end over real sockets: the replay server serves recorded files at max speed; the feed
// gateway takes them over WebSocket, fetches each symbol's snapshot over HTTP when its book asks,
// and every book syncs and stays in step with the exchange's own best bid/ask to the end.
import { afterEach, describe, expect, it } from 'vitest';
import { book, type BookStatus } from '../../actors/book/book-actor.ts';
import { feedGateway, feedGatewayOptions, type FeedStatus } from '../../actors/feed/feed-gateway.ts';
import { sharedDataFile } from '../../actors/feed/recorded-file.ts';
import { ReplayServer } from '../../actors/feed/replay-server.ts';
import { ReplaySource } from '../../actors/feed/replay-source.ts';
import { ActorSystem } from '../../runtime/actor-system.ts';
import { sink } from '../../runtime/kinds/sink.ts';

let stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.reverse()) await s();
  stops = [];
});

async function replay(files: string[], market: 'usdm' | 'spot', symbols: string[]) {
  const server = await ReplayServer.start(await ReplaySource.open(files), { speed: 'max', log: () => {} });
  stops.push(() => server.close());
  const sys = new ActorSystem({ node: 't' });
  stops.push(() => sys.shutdown());
  sys.spawn('signal', sink(), { mailbox: { capacity: 1024, policy: 'conflate', conflateKey: 'symbol' } });
  for (const s of symbols) {
    sys.spawn(`book/${s}`, book({ symbol: s, publishTo: ['signal'], gateway: 'feed', snapshotRetryMs: 1000, bufferMaxDiffs: 10_000, tickersPendingMax: 256 }), { mailbox: { capacity: 65_536, policy: 'backpressure' } });
  }
  const opts = feedGatewayOptions({ address: 'feed', node: 't', options: { ws_url: server.wsUrl, rest_url: server.httpUrl, market, symbols } });
  sys.spawn('feed', feedGateway(opts), { mailbox: { capacity: 65_536, policy: 'backpressure' } });
  let status: FeedStatus;
  const deadline = Date.now() + 60_000;
  do {
    await new Promise((r) => setTimeout(r, 50));
    status = await sys.ask<FeedStatus>('feed', { type: 'feed-status' }, 5000);
  } while (!status.ended && Date.now() < deadline);
  const books = await Promise.all(symbols.map((s) => sys.ask<BookStatus>(`book/${s}`, { type: 'book-status' }, 5000)));
  return { status, books };
}

const usdm = [sharedDataFile('usdm-btcusdt_20240808.gz'), sharedDataFile('usdm-ethusdt_20240808.gz')];
const spot = sharedDataFile('spot-btcusdt_20240808.gz');
if (!usdm[0] || !usdm[1] || !spot) console.warn('SKIPPED replay pipeline tests: ../shared/data/binance/*.gz are absent (a fresh clone has no recorded data; CI has it)');

describe('replay server -> feed gateway -> books, on recorded data', () => {
  it.skipIf(!usdm[0] || !usdm[1])('both USD-M futures files at max speed: every message read, both books synced, no gap, every comparable ticker matches', async () => {
    const { status, books } = await replay(usdm as string[], 'usdm', ['BTCUSDT', 'ETHUSDT']);
    expect(status.ended).toBe(true);
    // Every line of both files but their snapshot lines (served over HTTP).
    expect(status.messages).toBe(93_954 - 1 + (74_655 - 1));
    expect(status.bad).toEqual({});
    expect(status.reconnects).toBe(0);
    for (const b of books) {
      expect(b.counters.gaps).toBe(0);
      expect(b.counters.diffsApplied).toBeGreaterThan(6000);
      expect(b.counters.tickerChecks).toBeGreaterThan(500);
      expect(b.counters.tickerMismatches).toBe(0);
      expect(b.counters.crossedUpdates).toBe(0);
    }
  }, 90_000);

  it.skipIf(!spot)('the spot file (depth@100ms, no pu; snapshot from /api/v3/depth): synced, no gap, tickers match', async () => {
    const { status, books } = await replay([spot as string], 'spot', ['BTCUSDT']);
    expect(status.ended).toBe(true);
    expect(status.bad).toEqual({});
    expect(books[0].counters.gaps).toBe(0);
    expect(books[0].counters.diffsApplied).toBeGreaterThan(3000);
    expect(books[0].counters.tickerMismatches).toBe(0);
    expect(books[0].counters.tickerChecks).toBeGreaterThan(300);
  }, 90_000);
});
