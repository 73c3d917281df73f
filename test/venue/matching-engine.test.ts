// The matching engine as a specification: what a LIMIT order takes from the exchange's book, what
// it leaves for the next order, when a resting GTC fills, what a resend of a known client order id
// gets, what it refuses and why, and that its log rebuilds it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OrderBook } from '../../actors/book/order-book.ts';
import { type EngineBook, type EngineEvent, MatchingEngine, type MatchingEngineOptions, type PlaceRequest } from '../../actors/venue/matching-engine.ts';
import { VENUE_ERROR } from '../../actors/venue/venue-errors.ts';
import { readVenueLog, VenueLog, VenueLogError, type VenueLogRecord } from '../../actors/venue/venue-log.ts';

const T = 1_700_000_000_000;

function market(): { books: Map<string, EngineBook>; btc: OrderBook } {
  const btc = new OrderBook();
  btc.load([99.5, 1, 99, 2, 98, 5], [100, 1, 100.5, 2, 101, 3]);
  const eth = new OrderBook();
  eth.load([9, 10], [10, 10]);
  return { books: new Map([['BTCUSDT', { book: btc }], ['ETHUSDT', { book: eth }]]), btc };
}

function engine(options: MatchingEngineOptions = {}) {
  const m = market();
  return { ...m, e: new MatchingEngine(m.books, options) };
}

const order = (over: Partial<PlaceRequest> = {}): PlaceRequest => ({ clientOrderId: 'c1', symbol: 'BTCUSDT', side: 'buy', qty: 1, price: 100, tif: 'IOC', ...over });
const fills = (events: EngineEvent[]) => events.flatMap((e) => (e.kind === 'fill' ? [[e.fill.price, e.fill.qty]] : []));
const kinds = (events: EngineEvent[]) => events.map((e) => e.kind);

describe('matching engine: taking the book', () => {
  it('a buy takes the ask levels at or below its limit, best first, up to the size at each price, and the IOC remainder expires', () => {
    const { e } = engine();
    const r = e.place(order({ qty: 4, price: 100.5 }), T);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(fills(r.events)).toEqual([
      [100, 1],
      [100.5, 2],
    ]);
    expect(kinds(r.events)).toEqual(['accepted', 'fill', 'fill', 'expired']);
    expect(r.order).toMatchObject({ status: 'EXPIRED', cumQty: 3, avgPrice: (100 + 201) / 3 });
    expect(e.positions()).toEqual({ positions: { BTCUSDT: 3 }, fills: 2 });
  });

  it('a sell takes the bid levels at or above its limit', () => {
    const { e } = engine();
    const r = e.place(order({ side: 'sell', qty: 2.5, price: 99, tif: 'GTC' }), T);
    expect(r.ok && fills(r.events)).toEqual([
      [99.5, 1],
      [99, 1.5],
    ]);
    expect(r.ok && r.order.status).toBe('FILLED');
    expect(e.positions().positions.BTCUSDT).toBe(-2.5);
  });

  it('two orders cannot take the same size twice until the market updates that level', () => {
    const { e, btc } = engine();
    e.place(order({ clientOrderId: 'a', qty: 0.6, price: 100 }), T);
    const second = e.place(order({ clientOrderId: 'b', qty: 1, price: 100 }), T);
    expect(second.ok && fills(second.events)).toEqual([[100, 0.4]]);
    const third = e.place(order({ clientOrderId: 'c', qty: 1, price: 100 }), T);
    expect(third.ok && third.order).toMatchObject({ status: 'EXPIRED', cumQty: 0 });
    // The market's next update of the 100 level shows its size afresh.
    btc.apply([], [100, 0.7]);
    e.onBookUpdate('BTCUSDT', [], [100, 0.7]);
    const fourth = e.place(order({ clientOrderId: 'd', qty: 1, price: 100 }), T);
    expect(fourth.ok && fills(fourth.events)).toEqual([[100, 0.7]]);
    // A snapshot reload forgets everything taken.
    e.onBookReload('BTCUSDT');
    const fifth = e.place(order({ clientOrderId: 'e', qty: 0.1, price: 100 }), T);
    expect(fifth.ok && fills(fifth.events)).toEqual([[100, 0.1]]);
  });

  it('quantities add up exactly (integers of 1e-8): 0.1 + 0.2 fills make a position of 0.3', () => {
    const { e } = engine();
    e.place(order({ clientOrderId: 'a', qty: 0.1 }), T);
    e.place(order({ clientOrderId: 'b', qty: 0.2 }), T);
    expect(e.positions().positions.BTCUSDT).toBe(0.3);
  });
});

describe('matching engine: resting GTC orders', () => {
  it('a GTC remainder rests and fills at its own price when a trade prints through it, up to the trade size, in price-time priority', () => {
    const { e } = engine();
    const a = e.place(order({ clientOrderId: 'a', qty: 1, price: 99.8, tif: 'GTC' }), T);
    const b = e.place(order({ clientOrderId: 'b', qty: 1, price: 99.8, tif: 'GTC' }), T);
    const c = e.place(order({ clientOrderId: 'c', qty: 1, price: 99.9, tif: 'GTC' }), T);
    for (const r of [a, b, c]) expect(r.ok && r.order.status).toBe('NEW');
    expect(e.stats().resting).toBe(3);
    // At the limit is not through: nothing fills.
    expect(e.onTrade('BTCUSDT', 99.9, 5, T).events).toEqual([]);
    const t = e.onTrade('BTCUSDT', 99.7, 1.5, T + 1);
    expect(t.events.map((x) => (x.kind === 'fill' ? `${x.order.clientOrderId}:${x.fill.qty}@${x.fill.price}:${x.fill.maker}` : x.kind))).toEqual(['c:1@99.9:true', 'a:0.5@99.8:true']);
    expect(e.order('a')).toMatchObject({ status: 'PARTIALLY_FILLED', cumQty: 0.5 });
    expect(e.order('c')?.status).toBe('FILLED');
    expect(e.stats().resting).toBe(2);
    expect(t.log.map((l) => l.kind)).toEqual(['fill', 'fill']);
  });

  it('a resting sell fills on a trade above its price', () => {
    const { e } = engine();
    e.place(order({ side: 'sell', qty: 2, price: 100.2, tif: 'GTC' }), T);
    const t = e.onTrade('BTCUSDT', 100.3, 5, T);
    expect(fills(t.events)).toEqual([[100.2, 2]]);
    expect(e.hasResting('BTCUSDT')).toBe(false);
  });

  it('cancel ends a resting order; a second cancel, an unknown order and the wrong symbol are refused with reasons', () => {
    const { e } = engine();
    e.place(order({ clientOrderId: 'g', price: 90, tif: 'GTC' }), T);
    const r = e.cancel('g', 'BTCUSDT', T + 5);
    expect(r.ok && r.order).toMatchObject({ status: 'CANCELED', cumQty: 0 });
    expect(r.ok && r.log).toEqual([{ kind: 'cancel', timeMs: T + 5, clientOrderId: 'g', orderId: 1, symbol: 'BTCUSDT', cumQty: 0 }]);
    const again = e.cancel('g', 'BTCUSDT', T);
    expect(!again.ok && again.error).toMatchObject({ status: 400, code: VENUE_ERROR.CANCEL_REJECTED, msg: 'order g is no longer open: CANCELED' });
    const unknown = e.cancel('nope', 'BTCUSDT', T);
    expect(!unknown.ok && unknown.error.msg).toBe('unknown order: no order with client order id nope');
    e.place(order({ clientOrderId: 'h', price: 90, tif: 'GTC' }), T);
    const wrong = e.cancel('h', 'ETHUSDT', T);
    expect(!wrong.ok && wrong.error.msg).toBe('order h is for BTCUSDT, not "ETHUSDT"');
    expect(e.onTrade('BTCUSDT', 80, 10, T).events.length).toBe(1);
  });
});

describe('matching engine: client order ids', () => {
  it('a resend of a known id answers the existing order (duplicate) and does nothing new', () => {
    const { e } = engine();
    const first = e.place(order({ qty: 0.5 }), T);
    const again = e.place(order({ qty: 0.5 }), T + 10);
    expect(again).toMatchObject({ ok: true, duplicate: true, events: [], log: [] });
    expect(again.ok && first.ok && again.order).toEqual(first.order);
    // Even with other parameters: the id names the order.
    const other = e.place(order({ qty: 3, price: 101 }), T + 20);
    expect(other.ok && other.order.qty).toBe(0.5);
    expect(e.stats()).toMatchObject({ orders: 1, accepted: 1, duplicates: 2, fills: 1 });
  });

  it('a simulated reject is remembered: a resend gets the same reject', () => {
    const { e } = engine({ rejectRate: 1 });
    const r = e.place(order(), T);
    expect(r).toMatchObject({ ok: false, duplicate: false, error: { status: 400, code: VENUE_ERROR.ORDER_REJECTED, msg: 'simulated reject' } });
    expect(r.log[0]).toMatchObject({ kind: 'reject', clientOrderId: 'c1', reason: 'simulated reject' });
    expect(e.place(order(), T)).toMatchObject({ ok: false, duplicate: true, error: { msg: 'simulated reject' }, log: [] });
  });

  it('a transient "venue busy" error leaves the id free', () => {
    const { e } = engine({ errorRate: 1 });
    const r = e.place(order(), T);
    expect(r).toMatchObject({ ok: false, error: { status: 503, code: VENUE_ERROR.VENUE_BUSY } });
    expect(e.order('c1')).toBeUndefined();
  });

  it('rejects and errors are seeded: the same seed gives the same answers', () => {
    const run = (seed: number) => {
      const { e } = engine({ rejectRate: 0.3, errorRate: 0.2, seed });
      return Array.from({ length: 40 }, (_, i) => {
        const r = e.place(order({ clientOrderId: `o${i}`, qty: 0.01 }), T);
        return r.ok ? 'ok' : r.error.status;
      }).join(',');
    };
    expect(run(7)).toBe(run(7));
    expect(run(7)).not.toBe(run(8));
    expect(run(7)).toMatch(/400/);
    expect(run(7)).toMatch(/503/);
  });

  it('forgets the oldest finished orders past ordersMax, never an open one', () => {
    const { e } = engine({ ordersMax: 3 });
    e.place(order({ clientOrderId: 'rest', price: 90, tif: 'GTC' }), T);
    for (const id of ['a', 'b', 'c', 'd']) e.place(order({ clientOrderId: id, qty: 0.01 }), T);
    expect(e.stats().orders).toBe(3);
    expect(e.order('rest')?.status).toBe('NEW');
    expect(e.order('a')).toBeUndefined();
    expect(e.order('d')?.status).toBe('FILLED');
  });
});

describe('matching engine: bad input and fencing', () => {
  const cases: [string, Record<string, unknown>, number, string][] = [
    ['unknown symbol', { symbol: 'DOGEUSDT' }, VENUE_ERROR.BAD_SYMBOL, 'symbol "DOGEUSDT": unknown, the venue trades BTCUSDT, ETHUSDT'],
    ['missing symbol', { symbol: undefined }, VENUE_ERROR.MISSING_PARAM, 'symbol: missing, expected a symbol such as BTCUSDT, ETHUSDT'],
    ['qty 0', { qty: 0 }, VENUE_ERROR.BAD_QTY_OR_PRICE, 'qty 0: expected a number > 0'],
    ['qty negative', { qty: -1 }, VENUE_ERROR.BAD_QTY_OR_PRICE, 'qty -1: expected a number > 0'],
    ['qty not a number', { qty: 'abc' }, VENUE_ERROR.BAD_PARAM, 'qty "abc": expected a number > 0'],
    ['qty NaN', { qty: NaN }, VENUE_ERROR.BAD_QTY_OR_PRICE, 'qty NaN: expected a number > 0'],
    ['qty with 9 decimals', { qty: 0.123456789 }, VENUE_ERROR.BAD_QTY_OR_PRICE, 'qty 0.123456789: expected at most 8 decimals'],
    ['missing qty', { qty: undefined }, VENUE_ERROR.MISSING_PARAM, 'qty undefined: expected a number > 0'],
    ['price 0', { price: 0 }, VENUE_ERROR.BAD_QTY_OR_PRICE, 'price 0: expected a number > 0'],
    ['price Infinity', { price: Infinity }, VENUE_ERROR.BAD_QTY_OR_PRICE, 'price Infinity: expected a number > 0'],
    ['bad side', { side: 'long' }, VENUE_ERROR.BAD_PARAM, 'side "long": expected buy or sell'],
    ['bad tif', { tif: 'FOK' }, VENUE_ERROR.BAD_PARAM, 'tif "FOK": expected GTC or IOC'],
    ['bad client order id', { clientOrderId: 'has space' }, VENUE_ERROR.BAD_PARAM, 'clientOrderId "has space": expected 1..36 of [.A-Za-z0-9:/_-]'],
    ['client order id too long', { clientOrderId: 'x'.repeat(37) }, VENUE_ERROR.BAD_PARAM, `clientOrderId "${'x'.repeat(37)}": expected 1..36 of [.A-Za-z0-9:/_-]`],
    ['missing client order id', { clientOrderId: undefined }, VENUE_ERROR.MISSING_PARAM, 'clientOrderId: missing, expected 1..36 of [.A-Za-z0-9:/_-]'],
    ['bad epoch', { epoch: -1 }, VENUE_ERROR.BAD_PARAM, 'epoch -1: expected an integer >= 0'],
  ];
  for (const [name, over, code, msg] of cases) {
    it(`refuses ${name} with a 400 naming the field and the value`, () => {
      const { e } = engine();
      const r = e.place({ ...order(), ...over } as unknown as PlaceRequest, T);
      expect(r).toMatchObject({ ok: false, duplicate: false, error: { status: 400, code, msg }, events: [], log: [] });
      expect(e.stats().orders).toBe(0);
    });
  }

  it('refuses an order whose epoch is below the highest it has seen, and keeps the id free for the current epoch', () => {
    const { e } = engine();
    expect(e.place(order({ clientOrderId: 'new', epoch: 2, qty: 0.01 }), T).ok).toBe(true);
    const stale = e.place(order({ clientOrderId: 'old', epoch: 1, qty: 0.01 }), T);
    expect(stale).toMatchObject({ ok: false, error: { code: VENUE_ERROR.ORDER_REJECTED } });
    expect(!stale.ok && stale.error.msg).toMatch(/^stale epoch 1: the venue has seen epoch 2/);
    expect(stale.log).toEqual([{ kind: 'fenced', timeMs: T, clientOrderId: 'old', symbol: 'BTCUSDT', epoch: 1, epochSeen: 2 }]);
    expect(e.place(order({ clientOrderId: 'old', epoch: 2, qty: 0.01 }), T).ok).toBe(true);
  });

  it('a reduce-only order must not grow the position', () => {
    const { e } = engine();
    expect(e.place(order({ clientOrderId: 'r1', reduceOnly: true }), T)).toMatchObject({ ok: false, error: { code: VENUE_ERROR.REDUCE_ONLY_REJECTED } });
    e.place(order({ clientOrderId: 'long', qty: 1 }), T);
    expect(e.place(order({ clientOrderId: 'r2', side: 'sell', qty: 1, price: 99, reduceOnly: true }), T).ok).toBe(true);
  });
});

describe('venue log', () => {
  it('rebuilds orders, resting orders, fills and positions from the log; ids continue after the last', () => {
    const dir = mkdtempSync(join(tmpdir(), 'venue-log-'));
    const path = join(dir, 'v.log');
    const log = VenueLog.open(path);
    const { e } = engine({ rejectRate: 0 });
    const write = (r: { log: VenueLogRecord[] }) => log.append(r.log);
    write(e.place(order({ clientOrderId: 'a', qty: 1.5, price: 100.5 }), T));
    write(e.place(order({ clientOrderId: 'g', qty: 2, price: 99.8, tif: 'GTC' }), T));
    write(e.onTrade('BTCUSDT', 99.7, 0.5, T + 1));
    write(e.place(order({ clientOrderId: 's', side: 'sell', qty: 0.25, price: 9, symbol: 'ETHUSDT' }), T));
    write(e.place(order({ clientOrderId: 'x', price: 80, tif: 'GTC' }), T));
    const cancelled = e.cancel('x', 'BTCUSDT', T + 2);
    if (cancelled.ok) write(cancelled);
    log.close();
    const records = readVenueLog(path);
    expect(records.map((r) => r.kind)).toEqual(['order', 'fill', 'fill', 'order', 'fill', 'order', 'fill', 'order', 'cancel']);

    const { e: back } = engine();
    expect(back.restore(records, T + 3)).toEqual({ events: [], log: [] });
    expect(back.positions()).toEqual(e.positions());
    for (const id of ['a', 'g', 's', 'x']) expect(back.order(id)).toEqual(e.order(id));
    expect(back.stats()).toMatchObject({ resting: 1, fills: 4 });
    // The resting order still fills, with the next trade id; a known id is still a duplicate.
    const t = back.onTrade('BTCUSDT', 99, 10, T + 4);
    expect(t.events.map((x) => x.kind === 'fill' && [x.fill.tradeId, x.fill.qty])).toEqual([[5, 1.5]]);
    expect(back.place(order({ clientOrderId: 'a' }), T)).toMatchObject({ duplicate: true });
    expect(back.place(order({ clientOrderId: 'n', qty: 0.01, price: 101 }), T)).toMatchObject({ ok: true, order: { orderId: 5 } });
  });

  it('expires an IOC order the log left open (the venue stopped mid-request)', () => {
    const { e } = engine();
    const records: VenueLogRecord[] = [{ kind: 'order', timeMs: T, clientOrderId: 'i', orderId: 1, symbol: 'BTCUSDT', side: 'buy', qty: 1, price: 1, tif: 'IOC', epoch: 0, reduceOnly: false }];
    const r = e.restore(records, T + 1);
    expect(r.log).toEqual([{ kind: 'expire', timeMs: T + 1, clientOrderId: 'i', orderId: 1, symbol: 'BTCUSDT', cumQty: 0 }]);
    expect(e.order('i')?.status).toBe('EXPIRED');
  });

  it('the reader skips a last line cut short and names file:line of any other bad line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'venue-log-'));
    const ok = JSON.stringify({ kind: 'cancel', timeMs: 1, clientOrderId: 'a', orderId: 1, symbol: 'BTCUSDT', cumQty: 0 });
    writeFileSync(join(dir, 'cut.log'), `${ok}\n{"kind":"fi`);
    expect(readVenueLog(join(dir, 'cut.log'))).toHaveLength(1);
    writeFileSync(join(dir, 'bad.log'), `${ok}\nnot json\n${ok}\n`);
    expect(() => readVenueLog(join(dir, 'bad.log'))).toThrow(VenueLogError);
    expect(() => readVenueLog(join(dir, 'bad.log'))).toThrow(/bad\.log:2: expected a JSON record/);
    writeFileSync(join(dir, 'kind.log'), `{"kind":"teleport","timeMs":1}\n`);
    expect(() => readVenueLog(join(dir, 'kind.log'))).toThrow(/kind\.log:1: kind "teleport": expected one of order, fill/);
    expect(readVenueLog(join(dir, 'absent.log'))).toEqual([]);
  });
});
