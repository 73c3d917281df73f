// Orders per second through risk and the order actors: intents go to the risk actor, each
// approval starts an order actor (order/<clientOrderId>, started on its first message), which
// places it with a venue gateway that acks and fills it at once (in-process, so the figure is the
// cost of risk + order actors, not of a socket). Sides alternate and quantities vary (risk refuses a repeat of the same order as a
// duplicate) so positions stay near flat;
// limits are set wide so every intent is approved. One process, pinned by the caller.
import { order, orderOptions } from '../actors/order/order-actor.ts';
import type { VenueAck, VenueCancelled, VenueFill, VenuePlace } from '../actors/order/order-protocol.ts';
import { risk, riskOptions } from '../actors/risk/risk-actor.ts';
import type { OrderIntent } from '../actors/signal/order-intent.ts';
import { ActorSystem } from '../runtime/actor-system.ts';
import { WIDE_RISK_LIMITS } from './wide-risk-limits.ts';
import type { Behavior } from '../runtime/actor.ts';
import type { Message } from '../runtime/message.ts';

export interface OrdersThroughput {
  orders_per_s: number;
  orders: number;
  seconds: number;
}

/** A venue that acks and fills every order in full, at once. */
const instantVenue = (): Behavior<Message, { trade: number }> => ({
  init: () => ({ trade: 0 }),
  receive: (s, m, ctx) => {
    if (m.type !== 'venue-place') return s;
    const o = (m as VenuePlace).order;
    const to = `order/${o.clientOrderId}`;
    ctx.tell<VenueAck>(to, { type: 'venue-ack', clientOrderId: o.clientOrderId, venueOrderId: ++s.trade, duplicate: false });
    ctx.tell<VenueFill>(to, { type: 'venue-fill', clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, tradeId: s.trade, qty: o.qty, price: o.price, cumQty: o.qty, timeMs: Date.now() });
    ctx.tell<VenueCancelled>(to, { type: 'venue-cancelled', clientOrderId: o.clientOrderId, expired: true });
    return s;
  },
});

export async function measureOrdersThroughput(orders = 50_000): Promise<OrdersThroughput> {
  const sys = new ActorSystem({ node: 'bench' });
  sys.activate = (address) => {
    if (!address.startsWith('order/')) return false;
    sys.spawn(address, order(orderOptions({ address, node: 'bench', options: { rate_orders_max: 1_000_000, rate_window_ms: 1000 } })), { mailbox: { capacity: 64, policy: 'reject' } });
    return true;
  };
  sys.spawn('position', { init: () => null, receive: (s: null) => s } as Behavior<Message, null>, { mailbox: { capacity: 1_000_000, policy: 'reject' } });
  sys.spawn('venue-gw', instantVenue(), { mailbox: { capacity: 1_000_000, policy: 'reject' } });
  sys.spawn('risk', risk(riskOptions({ address: 'risk', node: 'bench', options: { limits: WIDE_RISK_LIMITS } })), { mailbox: { capacity: 1_000_000, policy: 'reject' } });
  const now = Date.now();
  sys.tell('risk', { type: 'trade', symbol: 'BTCUSDT', id: 1, price: 60_000, qty: 1, buyerMaker: false, timeMs: now, rxMs: now });
  const t0 = performance.now();
  const BATCH = 50;
  for (let i = 0; i < orders; i += BATCH) {
    for (let k = i; k < Math.min(orders, i + BATCH); k++) {
      const side = k % 2 === 0 ? 'buy' : 'sell';
      sys.tell<OrderIntent>('risk', { type: 'order-intent', id: `bench-${k}`, symbol: 'BTCUSDT', side, qty: 0.001 * (1 + (k % 500)), limitPrice: 60_000, confidence: 1, pUp: 0.9, pDown: 0.1, bookU: k, rxMs: now });
    }
    // Let the pipeline drain a batch before the next: the figure is throughput, not queue depth.
    while (Number(sys.gauges.get('orders.filled') ?? 0) + Number(sys.gauges.get('risk.rejected') ?? 0) < i) await new Promise((r) => setImmediate(r));
  }
  while (Number(sys.gauges.get('orders.filled') ?? 0) + Number(sys.gauges.get('risk.rejected') ?? 0) < orders) await new Promise((r) => setImmediate(r));
  const seconds = (performance.now() - t0) / 1000;
  const filled = Number(sys.gauges.get('orders.filled') ?? 0);
  const rejected = Number(sys.gauges.get('risk.rejected') ?? 0);
  await sys.shutdown();
  if (rejected > 0) throw new Error(`orders-throughput: risk rejected ${rejected} of ${orders} intents: the bench's limits are meant to approve all`);
  return { orders_per_s: filled / seconds, orders: filled, seconds };
}
