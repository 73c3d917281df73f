import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { position, positionBreak, positionOptions, type PositionStatus } from '../../actors/position/position-actor.ts';
import { PositionBook } from '../../actors/position/position-book.ts';
import type { OrderUpdate, PositionUpdate, VenuePositions } from '../../actors/order/order-protocol.ts';
import { ActorSystem } from '../../runtime/actor-system.ts';
import type { Behavior } from '../../runtime/actor.ts';
import type { Message } from '../../runtime/message.ts';

const fillArb = fc.record({
  symbol: fc.constantFrom('BTCUSDT', 'ETHUSDT'),
  side: fc.constantFrom<'buy' | 'sell'>('buy', 'sell'),
  qty: fc.integer({ min: 1, max: 1000 }).map((q) => q / 1000),
  price: fc.integer({ min: 900, max: 1100 }),
});

describe('position book (property)', () => {
  it('position == sum of signed fills, and total P&L == cash flow + marked position value', () => {
    fc.assert(
      fc.property(fc.array(fillArb, { maxLength: 80 }), fc.integer({ min: 900, max: 1100 }), (fills, mark) => {
        const book = new PositionBook(100_000);
        const net: Record<string, number> = {};
        const cash: Record<string, number> = {};
        for (const f of fills) {
          book.applyFill(f.symbol, f.side, f.qty, f.price, 1_723_161_600_000);
          const s = f.side === 'buy' ? 1 : -1;
          net[f.symbol] = (net[f.symbol] ?? 0) + s * f.qty;
          cash[f.symbol] = (cash[f.symbol] ?? 0) - s * f.qty * f.price;
        }
        for (const sym of Object.keys(net)) book.mark(sym, mark, 1_723_161_600_001);
        let expected = 0;
        for (const sym of Object.keys(net)) {
          expect(book.position(sym).qty).toBeCloseTo(net[sym], 9);
          expected += cash[sym] + net[sym] * mark;
        }
        expect(book.snapshot().totalPnl).toBeCloseTo(expected, 6);
      }),
      { numRuns: 300 },
    );
  });

  it('average cost, realized P&L on a reduce, and a flip opening at the fill price', () => {
    const b = new PositionBook(10_000);
    b.applyFill('X', 'buy', 1, 100, 0);
    b.applyFill('X', 'buy', 1, 110, 0);
    expect(b.position('X')).toMatchObject({ qty: 2, avgPrice: 105 });
    expect(b.applyFill('X', 'sell', 1, 120, 0)).toBe(15);
    expect(b.applyFill('X', 'sell', 3, 90, 0)).toBe(-15);
    expect(b.position('X')).toMatchObject({ qty: -2, avgPrice: 90, realizedPnl: 0 });
    b.mark('X', 80, 0);
    expect(b.unrealized('X')).toBe(20);
  });

  it('daily P&L restarts on a new UTC day; drawdown is measured from the peak', () => {
    const b = new PositionBook(1000);
    const day1 = Date.UTC(2024, 7, 8, 23, 59);
    const day2 = Date.UTC(2024, 7, 9, 0, 1);
    b.applyFill('X', 'buy', 1, 100, day1);
    b.mark('X', 150, day1);
    expect(b.snapshot()).toMatchObject({ day: '2024-08-08', dailyPnl: 50, peakPnl: 50, drawdown: 0 });
    b.mark('X', 140, day2);
    expect(b.snapshot()).toMatchObject({ day: '2024-08-09', dailyPnl: -10, totalPnl: 40, drawdown: 10 });
    expect(b.snapshot().drawdownPct).toBeCloseTo((10 / 1050) * 100, 9);
  });

  it('refuses a fill that is not a positive quantity at a positive price', () => {
    expect(() => new PositionBook(1).applyFill('X', 'buy', 0, 1, 0)).toThrow(/expected a positive quantity and price/);
    expect(() => new PositionBook(1).applyFill('X', 'buy', 1, Number.NaN, 0)).toThrow(/expected a positive quantity and price/);
    expect(() => new PositionBook(0)).toThrow(/capital 0: expected a positive amount/);
  });
});

const settle = async (ms = 0): Promise<void> => {
  await new Promise((r) => setTimeout(r, ms));
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};

const fill = (id: string, tradeId: number, side: 'buy' | 'sell', qty: number, price: number): OrderUpdate => ({
  type: 'order-update',
  clientOrderId: id,
  symbol: 'BTCUSDT',
  side,
  qty,
  price,
  state: 'filled',
  filledQty: qty,
  fill: { tradeId, qty, price, timeMs: 1_723_161_600_000 },
});

describe('position actor', () => {
  it('applies each fill once, tells risk, and opens the breaker only on a reconciliation break that persists', async () => {
    const sys = new ActorSystem({ node: 't' });
    const toRisk: Message[] = [];
    let venue: Record<string, number> = {};
    let venueFills = 2;
    sys.spawn('risk', { init: () => null, receive: (s: null, m: Message) => (toRisk.push(m), s) } as Behavior<Message, null>);
    sys.spawn('venue-gw', {
      init: () => null,
      receive: (s: null, _m: Message, ctx) => {
        ctx.reply<VenuePositions>({ type: 'venue-positions', positions: { ...venue }, fills: venueFills });
        return s;
      },
    } as Behavior<Message, null>);
    const opts = positionOptions({ address: 'position', node: 't', options: { reconcile_every_ms: 60_000, reconcile_confirm_ms: 30 } });
    const ref = sys.spawn('position', position(opts));
    ref.tell(fill('a', 1, 'buy', 0.5, 100));
    ref.tell(fill('a', 1, 'buy', 0.5, 100)); // the same fill again
    ref.tell(fill('b', 7, 'sell', 0.2, 110));
    await settle();
    const st = await sys.ask<PositionStatus>('position', { type: 'position-status' }, 1000);
    expect(st.positions.BTCUSDT.qty).toBeCloseTo(0.3, 12);
    expect(st.duplicateFills).toBe(1);
    expect(toRisk.filter((m) => m.type === 'position-update')).toHaveLength(2);
    expect((toRisk[1] as PositionUpdate).realizedPnl).toBeCloseTo(2, 9);

    // A mismatch that resolves before the confirmation (a fill in flight) is not a break.
    venue = { BTCUSDT: 0.5 };
    ref.tell({ type: 'reconcile' });
    await settle(5);
    venue = { BTCUSDT: 0.3 };
    await settle(60);
    let s2 = await sys.ask<PositionStatus>('position', { type: 'position-status' }, 1000);
    expect(s2.reconciliation).toMatchObject({ runs: 2, matches: 1, breaks: 0 });
    expect(toRisk.some((m) => m.type === 'breaker-trip')).toBe(false);

    // While the venue has sent a fill we have not booked, the positions are not compared at all.
    venueFills = 3;
    venue = { BTCUSDT: 0.5 };
    ref.tell({ type: 'reconcile' });
    await settle(5);
    s2 = await sys.ask<PositionStatus>('position', { type: 'position-status' }, 1000);
    expect(s2.reconciliation).toMatchObject({ inconclusive: 1, breaks: 0 });
    venueFills = 2;
    venue = { BTCUSDT: 0.3 };
    await settle(60);
    s2 = await sys.ask<PositionStatus>('position', { type: 'position-status' }, 1000);
    expect(s2.reconciliation).toMatchObject({ inconclusive: 1, matches: 2, breaks: 0 });

    // One that persists is: the breaker opens with the reason.
    venue = { BTCUSDT: 0.4, ETHUSDT: 1 };
    ref.tell({ type: 'reconcile' });
    await settle(60);
    s2 = await sys.ask<PositionStatus>('position', { type: 'position-status' }, 1000);
    expect(s2.reconciliation.breaks).toBe(1);
    const trip = toRisk.find((m) => m.type === 'breaker-trip') as unknown as { reason: string };
    expect(trip.reason).toBe('reconciliation break: BTCUSDT 0.3 here, 0.4 at the venue; ETHUSDT 0 here, 1 at the venue');
    await sys.shutdown();
  });

  it('positionBreak tolerates float noise and names every symbol that differs', () => {
    const ours = new Map([['BTCUSDT', { qty: 0.1 + 0.2 }]]);
    expect(positionBreak(ours, { BTCUSDT: 0.3 })).toBeUndefined();
    expect(positionBreak(ours, {})).toBe('BTCUSDT 0.30000000000000004 here, 0 at the venue');
  });

  it('refuses bad options naming the field', () => {
    expect(() => positionOptions({ address: 'position', node: 't', options: { capital: -1 } })).toThrow(/options.capital: expected a positive amount of quote currency, got -1/);
    expect(() => positionOptions({ address: 'position', node: 't', options: { max_drawdown_pct: 0 } })).toThrow(/options.max_drawdown_pct: expected a percentage in \(0, 100\], got 0/);
  });
});
