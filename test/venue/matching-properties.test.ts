// Properties of the matching engine over random books and random sequences of orders, book
// updates, trades and cancels (fast-check):
// - it never fills more than the book offers at or better than the limit (per level, since the
//   market last updated that level, over all orders);
// - a client order id never creates two orders;
// - the fills summed per symbol equal the positions answer; each order's fills sum to its cumQty,
//   which never exceeds its qty;
// - an IOC order never rests (it is finished when the place returns, and never fills later).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrderBook } from '../../actors/book/order-book.ts';
import { type EngineBook, type EngineEvent, MatchingEngine, type PlaceRequest, TERMINAL_VENUE_STATUSES, toUnits } from '../../actors/venue/matching-engine.ts';
import type { VenueLogRecord } from '../../actors/venue/venue-log.ts';

const SYMBOLS = ['AAA', 'BBB'];
const TICKS = 20;
const price = (tick: number): number => 100 + tick / 10;

type Cmd =
  | { kind: 'place'; req: PlaceRequest }
  | { kind: 'update'; symbol: string; side: 'bids' | 'asks'; tick: number; qty: number }
  | { kind: 'trade'; symbol: string; tick: number; qty: number }
  | { kind: 'cancel'; id: string; symbol: string };

const qtyArb = fc.integer({ min: 1, max: 5000 }).map((n) => n / 1000);
const idArb = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
const symbolArb = fc.constantFrom(...SYMBOLS);

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ clientOrderId: idArb, symbol: symbolArb, side: fc.constantFrom('buy' as const, 'sell' as const), qty: qtyArb, tick: fc.integer({ min: 0, max: TICKS }), tif: fc.constantFrom('IOC' as const, 'GTC' as const) }).map(
      (r): Cmd => ({ kind: 'place', req: { clientOrderId: r.clientOrderId, symbol: r.symbol, side: r.side, qty: r.qty, price: price(r.tick), tif: r.tif } }),
    ),
  },
  { weight: 3, arbitrary: fc.record({ symbol: symbolArb, side: fc.constantFrom('bids' as const, 'asks' as const), tick: fc.integer({ min: 0, max: TICKS }), qty: fc.oneof(fc.constant(0), qtyArb) }).map((r): Cmd => ({ kind: 'update', ...r })) },
  { weight: 2, arbitrary: fc.record({ symbol: symbolArb, tick: fc.integer({ min: 0, max: TICKS }), qty: qtyArb }).map((r): Cmd => ({ kind: 'trade', ...r })) },
  { weight: 1, arbitrary: fc.record({ id: idArb, symbol: symbolArb }).map((r): Cmd => ({ kind: 'cancel', ...r })) },
);

/** A book: bids below tick 10, asks from tick 10 (so it starts uncrossed; updates may cross it, the engine must not care). */
const bookArb = fc.record({
  bids: fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), qtyArb), { maxLength: 8 }),
  asks: fc.array(fc.tuple(fc.integer({ min: 10, max: TICKS }), qtyArb), { maxLength: 8 }),
});

function run(books0: { bids: [number, number][]; asks: [number, number][] }[], cmds: Cmd[]) {
  const books = new Map<string, EngineBook & { book: OrderBook }>();
  SYMBOLS.forEach((s, i) => {
    const b = new OrderBook();
    b.load(books0[i].bids.flatMap(([t, q]) => [price(t), q]), books0[i].asks.flatMap(([t, q]) => [price(t), q]));
    books.set(s, { book: b });
  });
  const e = new MatchingEngine(books);
  // The model of what our orders took per level since the market last updated it (units).
  const taken = new Map<string, number>();
  const events: EngineEvent[] = [];
  const log: VenueLogRecord[] = [];
  let t = 0;
  for (const c of cmds) {
    t++;
    switch (c.kind) {
      case 'place': {
        const b = (books.get(c.req.symbol) as { book: OrderBook }).book;
        const side = c.req.side === 'buy' ? b.asks : b.bids;
        const before = new Map(side.prices.map((p, i) => [p, toUnits(side.qtys[i])]));
        const r = e.place(c.req, t);
        events.push(...r.events);
        log.push(...r.log);
        for (const ev of r.events) {
          if (ev.kind !== 'fill') continue;
          // Taker fills only, at or better than the limit, within what the level shows minus what was taken.
          expect(ev.fill.maker).toBe(false);
          const limit = ev.order.price;
          expect(c.req.side === 'buy' ? ev.fill.price <= limit : ev.fill.price >= limit).toBe(true);
          const key = `${c.req.symbol}:${c.req.side === 'buy' ? 'asks' : 'bids'}:${ev.fill.price}`;
          const sum = (taken.get(key) ?? 0) + toUnits(ev.fill.qty);
          taken.set(key, sum);
          expect(sum).toBeLessThanOrEqual(before.get(ev.fill.price) ?? 0);
        }
        // IOC never rests: finished when the place returns.
        if (c.req.tif === 'IOC' && r.ok && !r.duplicate) expect(TERMINAL_VENUE_STATUSES).toContain(r.order.status);
        break;
      }
      case 'update': {
        const b = (books.get(c.symbol) as { book: OrderBook }).book;
        const levels = [price(c.tick), c.qty];
        b.apply(c.side === 'bids' ? levels : [], c.side === 'asks' ? levels : []);
        e.onBookUpdate(c.symbol, c.side === 'bids' ? levels : [], c.side === 'asks' ? levels : []);
        taken.delete(`${c.symbol}:${c.side}:${price(c.tick)}`);
        break;
      }
      case 'trade': {
        const r = e.onTrade(c.symbol, price(c.tick), c.qty, t);
        const makerUnits = r.events.reduce((s, ev) => s + (ev.kind === 'fill' ? toUnits(ev.fill.qty) : 0), 0);
        expect(makerUnits).toBeLessThanOrEqual(toUnits(c.qty));
        for (const ev of r.events) {
          if (ev.kind !== 'fill') continue;
          expect(ev.order.tif).toBe('GTC');
          expect(ev.order.side === 'buy' ? ev.order.price > price(c.tick) : ev.order.price < price(c.tick)).toBe(true);
        }
        events.push(...r.events);
        log.push(...r.log);
        break;
      }
      case 'cancel': {
        const r = e.cancel(c.id, c.symbol, t);
        if (r.ok) {
          events.push(...r.events);
          log.push(...r.log);
        }
        break;
      }
    }
  }
  return { e, events, log };
}

describe('matching engine properties', () => {
  it('never fills more than the book offers at or better than the limit; IOC never rests; fills sum to positions; one id, one order', () => {
    fc.assert(
      fc.property(fc.tuple(bookArb, bookArb), fc.array(cmdArb, { maxLength: 60 }), (books, cmds) => {
        const { e, events, log } = run(books, cmds);
        // One id, one order: one accepted-or-rejected event and at most one order line per id, one order id per client order id.
        const created = new Map<string, number>();
        const orderIdOf = new Map<string, number>();
        for (const ev of events) {
          if (ev.kind === 'accepted' || ev.kind === 'rejected') created.set(ev.order.clientOrderId, (created.get(ev.order.clientOrderId) ?? 0) + 1);
          const known = orderIdOf.get(ev.order.clientOrderId);
          if (known !== undefined) expect(ev.order.orderId).toBe(known);
          orderIdOf.set(ev.order.clientOrderId, ev.order.orderId);
        }
        for (const n of created.values()) expect(n).toBe(1);
        const orderLines = log.filter((l) => l.kind === 'order').map((l) => l.clientOrderId);
        expect(new Set(orderLines).size).toBe(orderLines.length);
        // Fills per symbol == positions answer (exactly, in units); fills count == venue's count.
        const bySymbol = new Map<string, number>();
        const byOrder = new Map<string, number>();
        let fills = 0;
        for (const l of log) {
          if (l.kind !== 'fill') continue;
          fills++;
          const u = toUnits(l.qty);
          bySymbol.set(l.symbol, (bySymbol.get(l.symbol) ?? 0) + (l.side === 'buy' ? u : -u));
          byOrder.set(l.clientOrderId, (byOrder.get(l.clientOrderId) ?? 0) + u);
        }
        const p = e.positions();
        expect(p.fills).toBe(fills);
        for (const s of SYMBOLS) expect(toUnits(p.positions[s] ?? 0)).toBe(bySymbol.get(s) ?? 0);
        // Each order: fills sum to cumQty <= qty; an IOC order has no maker fill and is finished.
        for (const id of orderIdOf.keys()) {
          const o = e.order(id);
          if (!o) continue;
          expect(toUnits(o.cumQty)).toBe(byOrder.get(id) ?? 0);
          expect(o.cumQty).toBeLessThanOrEqual(o.qty);
          if (o.tif === 'IOC') {
            expect(TERMINAL_VENUE_STATUSES).toContain(o.status);
            expect(o.fills.every((f) => !f.maker)).toBe(true);
          }
        }
        expect(e.stats().resting).toBe([...orderIdOf.keys()].filter((id) => ['NEW', 'PARTIALLY_FILLED'].includes(e.order(id)?.status ?? '')).length);
      }),
      { numRuns: 300 },
    );
  });

  it('restoring from its own log gives the same orders and positions', () => {
    fc.assert(
      fc.property(fc.tuple(bookArb, bookArb), fc.array(cmdArb, { maxLength: 40 }), (books, cmds) => {
        const { e, log } = run(books, cmds);
        const fresh = run(books, []).e;
        fresh.restore(log, 0);
        expect(fresh.positions()).toEqual(e.positions());
        for (const l of log) if (l.kind !== 'fenced') expect(fresh.order(l.clientOrderId)).toEqual(e.order(l.clientOrderId));
        expect(fresh.stats().resting).toBe(e.stats().resting);
      }),
      { numRuns: 150 },
    );
  });
});
