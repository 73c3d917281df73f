// match_at decision: the venue's copy of the market advances to the update each order was decided
// on, whatever the market server has streamed since; symbols advance independently.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExchangeBook } from '../../actors/feed/exchange-book.ts';
import type { FeedEvent } from '../../actors/feed/market-source.ts';
import { DecisionTimeMarket } from '../../actors/venue/decision-time-market.ts';

const PRECISION = { priceDecimals: 1, qtyDecimals: 3 };

function market(symbols: string[]): Map<string, ExchangeBook> {
  return new Map(symbols.map((s) => [s, new ExchangeBook(s, PRECISION, { type: 'snapshot', symbol: s, lastUpdateId: 100, bids: [99, 1], asks: [101, 1] }, 1)]));
}

const depth = (symbol: string, u: number, ask: number): FeedEvent => ({
  kind: 'depth',
  symbol,
  recvNs: BigInt(u),
  stream: `${symbol.toLowerCase()}@depth@0ms`,
  json: '',
  withheld: false,
  diff: { type: 'depth', symbol, U: u, u, pu: u - 1, bids: [], asks: [ask, 2], eventMs: u, rxMs: 0 },
});
const trade = (symbol: string, n: number): FeedEvent => ({ kind: 'trade', symbol, recvNs: BigInt(n), stream: `${symbol.toLowerCase()}@trade`, json: String(n) });

describe('the decision-time market', () => {
  it('applies nothing until an order needs it, then exactly the events up to the diff of its update', () => {
    const applied: string[] = [];
    const m = new DecisionTimeMarket(market(['BTCUSDT']), (ev) => applied.push(ev.kind === 'depth' ? `d${ev.diff.u}` : `t${ev.json}`));
    for (let u = 101; u <= 105; u++) {
      m.push(trade('BTCUSDT', u));
      m.push(depth('BTCUSDT', u, 100 + u));
    }
    expect(applied).toEqual([]);
    expect(m.books.get('BTCUSDT')?.lastUpdateId).toBe(100);
    expect(m.advanceTo('BTCUSDT', 103)).toBe(true);
    expect(applied).toEqual(['t101', 'd101', 't102', 'd102', 't103', 'd103']);
    const book = m.books.get('BTCUSDT') as ExchangeBook;
    expect(book.lastUpdateId).toBe(103);
    expect(book.book.asks.prices).toEqual([101, 201, 202, 203]);
    // An order decided on an update the copy has passed: matched where it stands, counted late.
    expect(m.advanceTo('BTCUSDT', 102)).toBe(false);
    expect(m.stats()).toEqual({ waiting: 4, late: 1, forced: 0 });
    // No update given (an operator's order): the market as it stands now.
    m.advanceTo('BTCUSDT', undefined);
    expect(book.lastUpdateId).toBe(105);
    expect(m.stats().waiting).toBe(0);
  });

  it("keeps symbols apart: one symbol's orders never move another's copy", () => {
    const m = new DecisionTimeMarket(market(['BTCUSDT', 'ETHUSDT']), () => undefined);
    m.push(depth('BTCUSDT', 101, 150));
    m.push(depth('ETHUSDT', 101, 150));
    m.push(depth('ETHUSDT', 102, 151));
    m.advanceTo('ETHUSDT', 102);
    expect(m.books.get('ETHUSDT')?.lastUpdateId).toBe(102);
    expect(m.books.get('BTCUSDT')?.lastUpdateId).toBe(100);
    expect(m.advanceTo('BTCUSDT', 101)).toBe(true);
  });

  it('never lets more than lag_max events wait: the oldest are applied, counted as forced', () => {
    const m = new DecisionTimeMarket(market(['BTCUSDT']), () => undefined, 3);
    for (let u = 101; u <= 106; u++) m.push(depth('BTCUSDT', u, 200));
    expect(m.stats()).toEqual({ waiting: 3, late: 0, forced: 3 });
    expect(m.books.get('BTCUSDT')?.lastUpdateId).toBe(103);
  });

  it('property: orders in decision order see the book each was decided on, whenever they arrive', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 10 }), fc.integer({ min: 0, max: 40 }), (decisions, streamedAhead) => {
        const sorted = [...decisions].sort((a, b) => a - b).map((d) => 101 + d);
        const last = Math.max(...sorted) + streamedAhead;
        // What the venue sees at each decision, with the market streamed far ahead...
        const ahead = new DecisionTimeMarket(market(['BTCUSDT']), () => undefined);
        for (let u = 101; u <= last; u++) ahead.push(depth('BTCUSDT', u, 100 + u));
        const seen = sorted.map((u) => (ahead.advanceTo('BTCUSDT', u), [...(ahead.books.get('BTCUSDT')?.book.asks.prices ?? [])]));
        // ...equals the book the market itself had at that update.
        const want = sorted.map((u) => [101, ...Array.from({ length: u - 100 }, (_, i) => 201 + i)]);
        expect(seen).toEqual(want);
        expect(ahead.stats().late).toBe(0);
      }),
    );
  });
});
