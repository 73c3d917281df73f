// The trading behaviours topology.yaml may name, next to the runtime's diagnostic kinds.
import type { KindRegistry } from '../runtime/kind-registry.ts';
import { book, bookOptions } from './book/book-actor.ts';
import { feedGateway, feedGatewayOptions } from './feed/feed-gateway.ts';
import { feedServer, feedServerOptions } from './feed/feed-server-actor.ts';
import { order, orderOptions } from './order/order-actor.ts';
import { position, positionOptions } from './position/position-actor.ts';
import { risk, riskOptions } from './risk/risk-actor.ts';
import { signal, signalOptions } from './signal/signal-actor.ts';
import { venueGateway, venueGatewayOptions } from './venue/venue-gateway.ts';

export function tradingKinds(registry: KindRegistry): KindRegistry {
  return registry
    .register('feed-server', (ctx) => feedServer(feedServerOptions(ctx)))
    .register('feed-gateway', (ctx) => feedGateway(feedGatewayOptions(ctx)))
    .register('book', (ctx) => book(bookOptions(ctx)))
    .register('signal', (ctx) => signal(signalOptions(ctx)))
    .register('risk', (ctx) => risk(riskOptions(ctx)))
    .register('order', (ctx) => order(orderOptions(ctx)))
    .register('position', (ctx) => position(positionOptions(ctx)))
    .register('venue-gateway', (ctx) => venueGateway(venueGatewayOptions(ctx)));
}
