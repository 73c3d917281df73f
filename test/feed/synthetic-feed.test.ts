// The synthetic market: reproducible from its seed, in Binance's futures protocol (the project's
// own parser accepts every message), chained by pu except where a gap is asked for, never crossed,
// and served by the replay server with a snapshot consistent with the stream.
import { afterEach, describe, expect, it } from 'vitest';
import { OrderBook } from '../../actors/book/order-book.ts';
import { parseDepthSnapshot, parseStreamMessage } from '../../actors/feed/binance-format.ts';
import { ExchangeBook } from '../../actors/feed/exchange-book.ts';
import type { DepthDiff } from '../../actors/feed/market-data.ts';
import type { FeedEvent } from '../../actors/feed/market-source.ts';
import { CLOSE_REPLAY_COMPLETE, ReplayServer } from '../../actors/feed/replay-server.ts';
import { SYNTHETIC_SYMBOLS, SyntheticFeed, type SyntheticFeedOptions } from '../../actors/feed/synthetic-feed.ts';
import { collect, getJson, numeric, syncBook } from './feed-client.ts';

async function take(feed: SyntheticFeed, n: number): Promise<FeedEvent[]> {
  const out: FeedEvent[] = [];
  const it = feed.events();
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

const ofSymbol = (events: FeedEvent[], symbol: string) => events.filter((e) => e.symbol === symbol);
const diffsOf = (events: FeedEvent[]): { diff: DepthDiff; withheld: boolean }[] => events.flatMap((e) => (e.kind === 'depth' ? [{ diff: e.diff, withheld: e.withheld }] : []));

describe('SyntheticFeed', () => {
  it('gives the same messages for the same seed, and others for another seed', async () => {
    const a = await take(new SyntheticFeed({ seed: 42 }), 3000);
    const b = await take(new SyntheticFeed({ seed: 42 }), 3000);
    const c = await take(new SyntheticFeed({ seed: 43 }), 3000);
    expect(a.map((e) => e.json)).toEqual(b.map((e) => e.json));
    expect(a.map((e) => String(e.recvNs))).toEqual(b.map((e) => String(e.recvNs)));
    expect(c.map((e) => e.json)).not.toEqual(a.map((e) => e.json));
    expect(new SyntheticFeed({ seed: 42 }).symbols[0].snapshot).toEqual(new SyntheticFeed({ seed: 42 }).symbols[0].snapshot);
  });

  it('speaks the futures protocol: every message parses, and events come in time order', async () => {
    const feed = new SyntheticFeed({ symbols: ['BTCUSDT', 'ETHUSDT', 'XRPUSDT'] });
    const events = await take(feed, 8_000);
    let prev = 0n;
    const kinds = new Map<string, number>();
    for (const e of events) {
      expect(e.recvNs >= prev).toBe(true);
      prev = e.recvNs;
      kinds.set(`${e.symbol} ${e.kind}`, (kinds.get(`${e.symbol} ${e.kind}`) ?? 0) + 1);
      const m = parseStreamMessage(e.json, 0); // throws on anything malformed
      expect(m.symbol).toBe(e.symbol);
      const envelope = JSON.parse(e.json) as { stream: string; data: Record<string, unknown> };
      expect(e.kind !== 'snapshot' && envelope.stream === e.stream).toBe(true);
      if (m.type === 'trade') {
        expect(m.price).toBeGreaterThan(0);
        expect(m.qty).toBeGreaterThan(0);
        expect(envelope.data).toHaveProperty('t');
      } else if (m.type === 'book-ticker') {
        expect(m.bid).toBeLessThan(m.ask);
        expect(m.bidQty).toBeGreaterThan(0);
        expect(m.askQty).toBeGreaterThan(0);
      } else {
        expect(envelope.data).toMatchObject({ e: 'depthUpdate', s: e.symbol });
        expect(m.pu).toBeGreaterThanOrEqual(0);
        expect(m.U).toBeLessThanOrEqual(m.u);
      }
    }
    for (const s of ['BTCUSDT', 'ETHUSDT', 'XRPUSDT']) for (const k of ['depth', 'trade', 'bookTicker']) expect(kinds.get(`${s} ${k}`)).toBeGreaterThan(20);
    // Prices are printed with the symbol's decimals, on its tick.
    const eth = events.find((e) => e.kind === 'trade' && e.symbol === 'ETHUSDT');
    expect((JSON.parse(eth?.json ?? '{}') as { data: { p: string } }).data.p).toMatch(/^\d+\.\d{2}$/);
  });

  it('runs at about diffsPerSecond diffs per second per symbol, with trades and bookTickers between', async () => {
    const events = await take(new SyntheticFeed({ symbols: ['BTCUSDT'], durationMs: 20_000 }), Infinity);
    const count = (k: string) => events.filter((e) => e.kind === k).length;
    expect(count('depth')).toBeGreaterThan(800); // 50/s for 20 s, a little less: a step with no change sends no diff
    expect(count('depth')).toBeLessThan(1100);
    expect(count('trade')).toBeGreaterThan(1000);
    expect(count('bookTicker')).toBeGreaterThan(1000);
  });

  it('chains every diff by pu (and U <= snapshot <= u for the first), except right after a deliberate gap', async () => {
    const gapEvery = 7;
    const feed = new SyntheticFeed({ gapEvery, seed: 5 });
    const events = await take(feed, 20_000);
    for (const info of feed.symbols) {
      const diffs = diffsOf(ofSymbol(events, info.symbol));
      const first = diffs[0].diff;
      expect(first.U).toBeLessThanOrEqual(info.snapshot.lastUpdateId);
      expect(first.u).toBeGreaterThanOrEqual(info.snapshot.lastUpdateId);
      let prevSentU: number | undefined;
      let breaks = 0;
      diffs.forEach(({ diff, withheld }, i) => {
        expect(withheld).toBe((i + 1) % gapEvery === 0);
        if (i > 0) expect(diff.pu).toBe(diffs[i - 1].diff.u); // the source's own chain is whole
        if (withheld) return;
        if (prevSentU !== undefined && diff.pu !== prevSentU) breaks++;
        prevSentU = diff.u;
      });
      expect(breaks).toBe(Math.floor((diffs.length - 1) / gapEvery));
      expect(breaks).toBeGreaterThan(10);
    }
  });

  it.each<[string, SyntheticFeedOptions]>([
    ['BTCUSDT', { symbols: ['BTCUSDT'], seed: 1 }],
    ['ETHUSDT', { symbols: ['ETHUSDT'], seed: 2 }],
    ['XRPUSDT', { symbols: ['XRPUSDT'], seed: 3, levelsPerSide: 50 }],
  ])('%s: never crosses, sizes > 0, spread 1-2 ticks after each diff, 50-100 levels a side, and the model is the book the diffs build', async (symbol, options) => {
    const feed = new SyntheticFeed(options);
    const info = feed.symbols[0];
    const tick = SYNTHETIC_SYMBOLS[symbol].tickSize;
    const exchange = new ExchangeBook(symbol, info.precision, info.snapshot, 0);
    const book = new OrderBook();
    book.load(info.snapshot.bids, info.snapshot.asks);
    const it = feed.events();
    let diffs = 0;
    while (diffs < 3000) {
      const r = await it.next();
      if (r.done) throw new Error('synthetic feed ended');
      const e = r.value;
      if (e.kind !== 'depth') continue;
      diffs++;
      book.apply(e.diff.bids, e.diff.asks);
      exchange.apply(e.diff);
      expect(book.crossed).toBe(false);
      const spreadTicks = Math.round((book.bestAsk - book.bestBid) / tick);
      expect(spreadTicks === 1 || spreadTicks === 2).toBe(true);
      if (diffs % 100 === 0) {
        for (const side of [book.bids, book.asks]) {
          expect(side.length).toBeGreaterThanOrEqual(Math.round((options.levelsPerSide ?? 80) * 0.75) - 1);
          expect(side.length).toBeLessThanOrEqual(100);
          expect(side.qtys.every((q) => q > 0)).toBe(true);
        }
        // Right after a depth event the model holds exactly what the diffs built.
        expect(exchange.depth(5000)).toEqual(feed.depth(symbol));
      }
    }
  });

  it('refuses bad options, naming the option and what it expects', () => {
    expect(() => new SyntheticFeed({ symbols: ['DOGEUSDT'] })).toThrow(/symbol "DOGEUSDT": expected one of BTCUSDT, ETHUSDT/);
    expect(() => new SyntheticFeed({ diffsPerSecond: 0 })).toThrow(/diffsPerSecond = 0: expected a number in \(0, /);
    expect(() => new SyntheticFeed({ gapEvery: -1 })).toThrow(/gapEvery = -1: expected an integer >= 0/);
    expect(() => new SyntheticFeed({ levelsPerSide: 3 })).toThrow(/levelsPerSide = 3: expected an integer in 8\.\.2000/);
  });
});

describe('the replay server on the synthetic market', () => {
  let server: ReplayServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('streams until durationMs, then 4000; a client synced from the served snapshot ends with the server book', async () => {
    const feed = new SyntheticFeed({ symbols: ['BTCUSDT', 'ETHUSDT'], durationMs: 30_000, seed: 9 });
    server = await ReplayServer.start(feed, { speed: 'max', log: () => {} });
    const snapshots = await Promise.all(['BTCUSDT', 'ETHUSDT'].map((s) => getJson<unknown>(`${server?.httpUrl}/fapi/v1/depth?symbol=${s}&limit=1000`)));
    const got = await collect(server.streamUrl());
    expect(got.code).toBe(CLOSE_REPLAY_COMPLETE);
    expect(got.messages.length).toBeGreaterThan(10_000);
    for (const [i, symbol] of ['BTCUSDT', 'ETHUSDT'].entries()) {
      const diffs = got.messages.map((m) => parseStreamMessage(m, 0)).filter((m): m is DepthDiff => m.type === 'depth' && m.symbol === symbol);
      const { book, applied } = syncBook(parseDepthSnapshot(symbol, JSON.stringify(snapshots[i].body)), diffs, 'usdm');
      expect(applied).toBe(diffs.length);
      const final = await getJson<{ bids: [string, string][]; asks: [string, string][] }>(`${server.httpUrl}/fapi/v1/depth?symbol=${symbol}&limit=5000`);
      expect(book.levels()).toEqual({ bids: numeric(final.body.bids), asks: numeric(final.body.asks) });
    }
  });

  it('with gapEvery, a client sees the pu chain break and the status counts the withheld diffs', async () => {
    server = await ReplayServer.start(new SyntheticFeed({ symbols: ['BTCUSDT'], gapEvery: 5, durationMs: 5_000 }), { speed: 'max', log: () => {} });
    const got = await collect(server.streamUrl(['btcusdt@depth@0ms']));
    const diffs = got.messages.map((m) => parseStreamMessage(m, 0) as DepthDiff);
    const breaks = diffs.filter((d, i) => i > 0 && d.pu !== diffs[i - 1].u).length;
    expect(breaks).toBeGreaterThan(10);
    // Every withheld diff breaks the chain, except one withheld last (nothing follows it).
    expect(server.status().diffsWithheld - breaks).toBeGreaterThanOrEqual(0);
    expect(server.status().diffsWithheld - breaks).toBeLessThanOrEqual(1);
  });
});
