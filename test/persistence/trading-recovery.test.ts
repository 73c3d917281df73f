// The order and position actors against a real PostgreSQL (property): over random venue
// conversations (acks, partial fills, repeated and bad fills, cancels, rejects, timers) and random
// fills, repeats and marks, a new actor at the same address (its node restarted) recovers exactly
// the state the first one had, with snapshots or without; and the operator's tables agree with it.
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { order, orderOptions, type OrderMsg, type OrderStatus } from '../../actors/order/order-actor.ts';
import type { OrderSpec, OrderUpdate, VenueToOrder } from '../../actors/order/order-protocol.ts';
import { VenueRateLimits } from '../../actors/order/venue-rate-limit.ts';
import { position, positionOptions, type PositionMsg, type PositionStatus } from '../../actors/position/position-actor.ts';
import type { Behavior } from '../../runtime/actor.ts';
import { ActorSystem } from '../../runtime/actor-system.ts';
import { ManualClock } from '../../runtime/clock.ts';
import { Journal } from '../../runtime/journal.ts';
import type { Message } from '../../runtime/message.ts';
import { startTestDatabase, type TestDatabase } from '../support/test-database.ts';

const sink: Behavior<Message, null> = { init: () => null, receive: (s) => s };

type VenueCmd =
  | { k: 'ack'; duplicate: boolean }
  | { k: 'fill'; trade: number; frac: number }
  | { k: 'bad-fill' }
  | { k: 'reject'; transient: boolean }
  | { k: 'cancel' }
  | { k: 'cancelled'; expired: boolean }
  | { k: 'ack-timeout' };

const venueCmd: fc.Arbitrary<VenueCmd> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('ack' as const), duplicate: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('fill' as const), trade: fc.integer({ min: 1, max: 6 }), frac: fc.constantFrom(0.1, 0.25, 0.5, 1) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'bad-fill' as const }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('reject' as const), transient: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ k: 'cancel' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('cancelled' as const), expired: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ k: 'ack-timeout' as const }) },
);

type PosCmd = { k: 'fill'; order: number; trade: number; symbol: string; side: 'buy' | 'sell'; qty: number; price: number } | { k: 'repeat' } | { k: 'mark'; symbol: string; price: number };
const posCmd: fc.Arbitrary<PosCmd> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('fill' as const),
      order: fc.integer({ min: 1, max: 5 }),
      trade: fc.integer({ min: 1, max: 1_000_000 }),
      symbol: fc.constantFrom('BTCUSDT', 'ETHUSDT'),
      side: fc.constantFrom('buy' as const, 'sell' as const),
      qty: fc.integer({ min: 1, max: 500 }).map((q) => q / 1000),
      price: fc.integer({ min: 900, max: 1100 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ k: 'repeat' as const }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('mark' as const), symbol: fc.constantFrom('BTCUSDT', 'ETHUSDT'), price: fc.integer({ min: 900, max: 1100 }) }) },
);

describe('order and position actors recover from their journal', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let run = 0;
  beforeAll(async () => {
    db = await startTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
    pool.on('error', () => undefined);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.stop();
  });

  const system = (journal: Journal): ActorSystem => {
    const sys = new ActorSystem({ node: 'exec', clock: new ManualClock() });
    sys.journal = journal;
    for (const a of ['venue-gw', 'risk', 'position']) sys.spawn(a, sink);
    return sys;
  };

  it('property: an order actor rebuilt from its journal has the state the first one had; orders and fills tables agree', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(venueCmd, { maxLength: 25 }), fc.integer({ min: 1, max: 8 }), fc.constantFrom('GTC' as const, 'IOC' as const), async (cmds, every, tif) => {
        const journal = new Journal(pool, { node: 'exec', snapshotEvery: every });
        const id = `p${process.pid}x${++run}`;
        const address = `order/${id}`;
        const qty = 1;
        const spec: OrderSpec = { clientOrderId: id, symbol: 'BTCUSDT', side: 'buy', qty, price: 100, tif, reduceOnly: false, intentId: `intent-${id}`, rxMs: 0, epoch: 0 };
        const opts = (sys: ActorSystem) => orderOptions({ address, node: sys.node, options: { linger_ms: 600_000 } }, { rateLimits: new VenueRateLimits(), random: () => 0 });
        const sys = system(journal);
        sys.activate = (a) => a === address && (sys.spawn(address, order(opts(sys))), true);
        sys.tell(address, { type: 'submit-order', order: spec });
        let cum = 0;
        for (const c of cmds) {
          let m: VenueToOrder | { type: 'cancel-order'; clientOrderId: string; reason: string } | { type: 'order-ack-timeout'; attempt: number };
          switch (c.k) {
            case 'ack':
              m = { type: 'venue-ack', clientOrderId: id, venueOrderId: 7, duplicate: c.duplicate };
              break;
            case 'fill': {
              const q = Math.min(qty - cum, Math.round(qty * c.frac * 1000) / 1000);
              if (q <= 0) continue;
              cum = Math.round((cum + q) * 1000) / 1000;
              m = { type: 'venue-fill', clientOrderId: id, symbol: 'BTCUSDT', side: 'buy', tradeId: c.trade, qty: q, price: 100, cumQty: cum, timeMs: 1_723_161_600_000 + c.trade };
              break;
            }
            case 'bad-fill':
              m = { type: 'venue-fill', clientOrderId: id, symbol: 'BTCUSDT', side: 'buy', tradeId: 99, qty: -1, price: 100, cumQty: 0, timeMs: 1 };
              break;
            case 'reject':
              m = { type: 'venue-reject', clientOrderId: id, reason: c.transient ? 'venue busy' : 'simulated reject', transient: c.transient };
              break;
            case 'cancel':
              m = { type: 'cancel-order', clientOrderId: id, reason: 'test' };
              break;
            case 'cancelled':
              m = { type: 'venue-cancelled', clientOrderId: id, expired: c.expired };
              break;
            case 'ack-timeout':
              m = { type: 'order-ack-timeout', attempt: 0 };
              break;
          }
          sys.tell(address, m as OrderMsg);
        }
        const live = await sys.ask<OrderStatus>(address, { type: 'order-status' }, 5000);
        await sys.shutdown();

        const sys2 = system(journal);
        sys2.activate = (a) => a === address && (sys2.spawn(address, order(opts(sys2))), true);
        const back = await sys2.ask<OrderStatus>(address, { type: 'order-status' }, 5000);
        await sys2.shutdown();
        await journal.close();
        expect(back.detail).toBe(live.detail);
        expect(back.context).toEqual(live.context);

        const row = await pool.query<{ state: string; filled_qty: string }>('SELECT state, filled_qty FROM orders WHERE client_order_id = $1', [id]);
        expect(row.rows[0]?.state).toBe(live.state);
        expect(Number(row.rows[0]?.filled_qty)).toBeCloseTo(live.context?.filledQty ?? 0, 9);
        const fills = await pool.query<{ n: string; q: string | null }>('SELECT count(*) AS n, sum(qty) AS q FROM fills WHERE client_order_id = $1', [id]);
        expect(Number(fills.rows[0].n)).toBe(live.context?.fills.length ?? 0);
        expect(Number(fills.rows[0].q ?? 0)).toBeCloseTo(live.context?.filledQty ?? 0, 9);
        const audit = await pool.query<{ n: string }>('SELECT count(*) AS n FROM order_audit_trail WHERE client_order_id = $1 AND correlation_id = $2', [id, spec.intentId]);
        expect(Number(audit.rows[0].n)).toBe(await journal.highestSeqNr(address));
      }),
      { numRuns: 30 },
    );
  });

  it('property: a position actor rebuilt from its journal has the positions, P&L and drawdown the first one had; the positions table agrees', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(posCmd, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 20 }), async (cmds, every) => {
        await pool.query('DELETE FROM positions');
        const journal = new Journal(pool, { node: 'exec', snapshotEvery: every });
        const address = `position-${process.pid}-${++run}`;
        const opts = positionOptions({ address, node: 'exec', options: { reconcile_every_ms: 3_600_000 } });
        const sys = system(journal);
        sys.spawn(address, position(opts), { mailbox: { capacity: 10_000, policy: 'reject' } });
        let last: OrderUpdate | undefined;
        let t = 1_723_161_600_000;
        for (const c of cmds) {
          t += 1000;
          if (c.k === 'fill') {
            last = { type: 'order-update', clientOrderId: `o${c.order}`, symbol: c.symbol, side: c.side, qty: 10, price: c.price, state: 'partially_filled', filledQty: c.qty, fill: { tradeId: c.trade, qty: c.qty, price: c.price, timeMs: t } };
            sys.tell(address, last);
          } else if (c.k === 'repeat') {
            if (last) sys.tell(address, last);
          } else sys.tell(address, { type: 'trade', symbol: c.symbol, id: t, price: c.price, qty: 1, buyerMaker: false, timeMs: t, rxMs: 0 });
        }
        const live = await sys.ask<PositionStatus>(address, { type: 'position-status' } as PositionMsg, 5000);
        await sys.shutdown();
        const sys2 = system(journal);
        sys2.spawn(address, position(opts), { mailbox: { capacity: 10_000, policy: 'reject' } });
        const back = await sys2.ask<PositionStatus>(address, { type: 'position-status' } as PositionMsg, 5000);
        await sys2.shutdown();
        await journal.close();
        // A flat symbol's mark is not journaled (it moves no P&L; the next fill records it): compare
        // marks where there is a position, and symbols that have had a fill.
        const held = (st: PositionStatus) =>
          Object.fromEntries(
            Object.entries(st.positions)
              .filter(([, v]) => v.fills > 0)
              .map(([k, v]) => [k, { ...v, markPrice: v.qty === 0 ? null : v.markPrice, unrealizedPnl: v.qty === 0 ? 0 : v.unrealizedPnl }]),
          );
        expect(held(back)).toEqual(held(live));
        expect(back.pnl).toEqual(live.pnl);
        expect(back.fills).toBe(live.fills);
        const rows = await pool.query<{ symbol: string; qty: string }>('SELECT symbol, qty FROM positions');
        for (const r of rows.rows) expect(Number(r.qty)).toBeCloseTo(live.positions[r.symbol].qty, 9);
      }),
      { numRuns: 30 },
    );
  });
});
