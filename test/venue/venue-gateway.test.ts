// The venue server and the venue gateway over a real socket: the venue mounted at /ws-api/v3 on a
// real market data server (synthetic, recorded, or scripted by the test), the gateway in an actor
// system, and collector actors at order/<id> standing in for the order actors.
// - place -> ack -> fills routed to the right order address, matching the venue log line for line;
// - a resend of the same client order id is answered as a duplicate, and creates nothing;
// - IOC remainder expiry, cancel of a resting GTC, GTC fills from market trades;
// - the positions answer equals the sum of the fills;
// - a venue message that does not parse is logged with its bytes and changes nothing;
// - a dropped connection: in-flight places are answered "venue disconnected" (transient), the
//   gateway reconnects, and fills made while it was away reach their orders.
import { createServer } from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { feedServer, feedServerOptions, type FeedServerStatusReply } from '../../actors/feed/feed-server-actor.ts';
import type { MarketSource } from '../../actors/feed/market-source.ts';
import { sharedDataFile } from '../../actors/feed/recorded-file.ts';
import { ReplayServer, type ReplayServerOptions } from '../../actors/feed/replay-server.ts';
import { ReplaySource } from '../../actors/feed/replay-source.ts';
import { SyntheticFeed } from '../../actors/feed/synthetic-feed.ts';
import type { OrderSpec, VenueFill, VenuePlace, VenuePositions, VenueToOrder } from '../../actors/order/order-protocol.ts';
import { toUnits } from '../../actors/venue/matching-engine.ts';
import { VENUE_ERROR } from '../../actors/venue/venue-errors.ts';
import { venueGateway, venueGatewayOptions, type VenueGwStatus } from '../../actors/venue/venue-gateway.ts';
import { type FillRecord, readVenueLog } from '../../actors/venue/venue-log.ts';
import { VenueServer, type VenueServerOptions } from '../../actors/venue/venue-server.ts';
import { ActorSystem } from '../../runtime/actor-system.ts';
import type { Behavior } from '../../runtime/actor.ts';
import { ScriptedMarket } from './scripted-market.ts';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** Polls `cond` (an ask refused by a full mailbox counts as not yet) until it holds. */
async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function exchange(source: MarketSource, venue: Partial<VenueServerOptions> = {}, replay: ReplayServerOptions = {}) {
  const market = await ReplayServer.start(source, { port: 0, log: () => {}, ...replay });
  const logPath = join(mkdtempSync(join(tmpdir(), 'venue-')), 'venue.log');
  const v = VenueServer.start(market, { logPath, latencyMs: 1, log: () => {}, ...venue });
  cleanup.push(async () => {
    await source.close();
    await market.close();
  });
  return { market, venue: v };
}

const collector = (out: VenueToOrder[]): Behavior<VenueToOrder, null> => ({ init: () => null, receive: (s, m) => (out.push(m), s) });

async function gateway(url: string, options: Record<string, unknown> = {}, mailboxCapacity = 10_000) {
  const sys = new ActorSystem({ node: 't' });
  const got = new Map<string, VenueToOrder[]>();
  const orderActor = (id: string): VenueToOrder[] => {
    let out = got.get(id);
    if (!out) {
      out = [];
      got.set(id, out);
      sys.spawn(`order/${id}`, collector(out), { mailbox: { capacity: 1000, policy: 'reject' } });
    }
    return out;
  };
  const opts = venueGatewayOptions({ address: 'venue-gw', node: 't', options: { url, reconnect_min_ms: 20, reconnect_max_ms: 100, ...options } });
  sys.spawn('venue-gw', venueGateway(opts), { mailbox: { capacity: mailboxCapacity, policy: 'reject' } });
  cleanup.push(() => sys.shutdown());
  const status = () => sys.ask<VenueGwStatus>('venue-gw', { type: 'venue-gw-status' }, 1000);
  const place = (order: Partial<OrderSpec> & { clientOrderId: string }, attempt = 0): VenueToOrder[] => {
    const out = orderActor(order.clientOrderId);
    const spec: OrderSpec = { symbol: 'BTCUSDT', side: 'buy', qty: 1, price: 100, tif: 'IOC', reduceOnly: false, intentId: 'test', rxMs: Date.now() - 2, epoch: 0, ...order };
    sys.tell<VenuePlace>('venue-gw', { type: 'venue-place', order: spec, attempt });
    return out;
  };
  await until('gateway connected', async () => (await status()).connected);
  return { sys, got, status, place, orderActor };
}

const fillsOf = (msgs: VenueToOrder[]): VenueFill[] => msgs.filter((m): m is VenueFill => m.type === 'venue-fill');
const sumUnits = (fills: { qty: number; side?: string }[]): number => fills.reduce((s, f) => s + toUnits(f.qty), 0);

describe('venue server + gateway over a real socket (synthetic market)', () => {
  it('place -> ack -> fills to order/<id>, as in the venue log; a resend is a duplicate; IOC expiry; cancel of a resting GTC; positions = sum of fills', async () => {
    const { market, venue } = await exchange(new SyntheticFeed({ symbols: ['BTCUSDT', 'ETHUSDT'], seed: 3 }));
    const g = await gateway(venue.url);
    // The replay has not started: the exchange book is the synthetic market's first snapshot.
    const btc = market.exchangeBooks().get('BTCUSDT')?.book;
    const eth = market.exchangeBooks().get('ETHUSDT')?.book;
    if (!btc || !eth) throw new Error('no books');
    const [p0, p1] = btc.asks.prices;
    const q0 = btc.asks.qtys[0];
    const qty = Number((q0 + 0.001).toFixed(3));

    const a = g.place({ clientOrderId: 'A-1', qty, price: p1 });
    await until('A-1 filled', () => fillsOf(a).length === 2);
    expect(a[0]).toEqual({ type: 'venue-ack', clientOrderId: 'A-1', venueOrderId: 1, duplicate: false });
    expect(fillsOf(a).map((f) => [f.price, f.qty, f.cumQty, f.side, f.symbol])).toEqual([
      [p0, q0, q0, 'buy', 'BTCUSDT'],
      [p1, 0.001, qty, 'buy', 'BTCUSDT'],
    ]);

    // The same client order id again (a resend): a duplicate ack, no second order, no fill twice.
    g.place({ clientOrderId: 'A-1', qty, price: p1 }, 1);
    await until('duplicate ack', () => a.length === 4);
    expect(a[3]).toEqual({ type: 'venue-ack', clientOrderId: 'A-1', venueOrderId: 1, duplicate: true });

    // IOC remainder expires: ETH buy at the best ask for more than it shows.
    const b = g.place({ clientOrderId: 'B-1', symbol: 'ETHUSDT', qty: Number((eth.asks.qtys[0] + 1).toFixed(3)), price: eth.asks.prices[0] });
    await until('B-1 expired', () => b.some((m) => m.type === 'venue-cancelled'));
    expect(b.map((m) => m.type)).toEqual(['venue-ack', 'venue-fill', 'venue-cancelled']);
    expect(b[2]).toEqual({ type: 'venue-cancelled', clientOrderId: 'B-1', expired: true });

    // A resting GTC far from the market, then cancelled.
    const c = g.place({ clientOrderId: 'C-1', tif: 'GTC', qty: 0.5, price: Math.round(btc.bids.prices[0] * 0.9) });
    await until('C-1 acked', () => c.length === 1);
    expect(venue.engine.order('C-1')?.status).toBe('NEW');
    g.sys.tell('venue-gw', { type: 'venue-cancel', clientOrderId: 'C-1', symbol: 'BTCUSDT' });
    await until('C-1 cancelled', () => c.length === 2);
    expect(c[1]).toEqual({ type: 'venue-cancelled', clientOrderId: 'C-1', expired: false });
    // A second cancel is refused by the venue, with its reason.
    g.sys.tell('venue-gw', { type: 'venue-cancel', clientOrderId: 'C-1', symbol: 'BTCUSDT' });
    await until('cancel rejected', () => c.length === 3);
    expect(c[2]).toMatchObject({ type: 'venue-cancel-reject', clientOrderId: 'C-1', reason: expect.stringContaining('order C-1 is no longer open: CANCELED') });

    // A bad order is refused by the venue with the field named; a permanent reject.
    const d = g.place({ clientOrderId: 'D-1', symbol: 'DOGEUSDT' });
    await until('D-1 rejected', () => d.length === 1);
    expect(d[0]).toMatchObject({ type: 'venue-reject', transient: false, reason: expect.stringContaining('symbol "DOGEUSDT": unknown') });

    // Positions answered to the asker == the sum of the fills routed.
    const pos = await g.sys.ask<VenuePositions>('venue-gw', { type: 'venue-positions-request' }, 1000);
    const allFills = [...g.got.values()].flatMap(fillsOf);
    expect(pos.fills).toBe(allFills.length);
    for (const sym of ['BTCUSDT', 'ETHUSDT']) {
      expect(toUnits(pos.positions[sym])).toBe(sumUnits(allFills.filter((f) => f.symbol === sym)));
    }

    // The venue log: one order line per order, and exactly the fills routed.
    const log = readVenueLog(venue.logPath);
    expect(log.filter((l) => l.kind === 'order').map((l) => l.clientOrderId)).toEqual(['A-1', 'B-1', 'C-1']);
    const logged = log.filter((l): l is FillRecord => l.kind === 'fill').map((l) => [l.clientOrderId, l.tradeId, l.qty, l.price, l.cumQty]);
    expect(logged).toEqual(allFills.map((f) => [f.clientOrderId, f.tradeId, f.qty, f.price, f.cumQty]));
    expect(log.filter((l) => l.kind === 'cancel' || l.kind === 'expire').map((l) => `${l.kind}:${l.clientOrderId}`)).toEqual(['expire:B-1', 'cancel:C-1']);

    const st = await g.status();
    expect(st).toMatchObject({ connected: true, connects: 1, bad: {}, uncorrelated: 0, routed: { fill: 3, cancelled: 2, cancelReject: 1, reject: 1, positions: 1 } });
    expect(st.sent).toMatchObject({ 'order.place': 5, 'order.cancel': 2, 'account.positions': 1 });
    // Tick-to-order: first sends only (the resend of A-1 is not one).
    expect(st.tickToOrder.count).toBe(4);
    expect(st.tickToOrder.p50Ms).toBeGreaterThan(0);
    expect(st.tickToOrder.p999Ms).toBeGreaterThanOrEqual(st.tickToOrder.p50Ms);
    expect(venue.status()).toMatchObject({ sessions: 1, badRequests: 0, engine: { orders: 3, duplicates: 1 } });
  });
});

describe('venue gateway with a small mailbox', () => {
  it('pauses the socket while its mailbox is full and loses no frame', async () => {
    const { market, venue } = await exchange(new SyntheticFeed({ symbols: ['BTCUSDT'], seed: 5 }));
    const g = await gateway(venue.url, {}, 4);
    const asks = market.exchangeBooks().get('BTCUSDT')?.book.asks;
    if (!asks) throw new Error('no book');
    const shown = asks.qtys.slice(0, 12).reduce((a, q) => a + q, 0);
    const o = g.place({ clientOrderId: 'burst-1', qty: Number(shown.toFixed(3)), price: asks.prices[11] });
    await until('12 fills', () => fillsOf(o).length === 12);
    await until('every frame read', async () => (await g.status()).frames === 1 + venue.status().executionReports);
    const st = await g.status();
    expect(st.pausedReads).toBeGreaterThan(0);
    expect(st.routed.fill).toBe(12);
    expect(sumUnits(fillsOf(o))).toBe(toUnits(Number(shown.toFixed(3))));
  });
});

describe('venue server + gateway over a real socket (scripted market)', () => {
  it('a resting GTC fills from market trades printing through its price, up to their size', async () => {
    const m = new ScriptedMarket('BTCUSDT', [99.5, 1, 99, 2], [100, 1, 100.5, 2]);
    const { venue } = await exchange(m, {}, { speed: 'max', startNow: true });
    const g = await gateway(venue.url);
    const o = g.place({ clientOrderId: 'G-1', tif: 'GTC', qty: 2, price: 99.8 });
    await until('acked', () => o.length === 1);
    m.trade(99.8, 5); // at the price: not through
    m.trade(99.7, 0.5);
    await until('first fill', () => fillsOf(o).length === 1);
    m.trade(99.6, 3);
    await until('filled', () => fillsOf(o).length === 2);
    expect(fillsOf(o).map((f) => [f.qty, f.price, f.cumQty])).toEqual([
      [0.5, 99.8, 0.5],
      [1.5, 99.8, 2],
    ]);
    expect(venue.engine.order('G-1')?.status).toBe('FILLED');
  });

  it('after the venue drops the connection: the in-flight place is answered "venue disconnected", the gateway reconnects, a resend gets the fills the venue made meanwhile, and fills of a resting order made while away are recovered', async () => {
    const m = new ScriptedMarket('BTCUSDT', [99.5, 1, 99, 2], [100, 1, 100.5, 2]);
    const { venue } = await exchange(m, { latencyMs: 50 }, { speed: 'max', startNow: true });
    // It reconnects after 300..600 ms: long after the venue has handled what it read.
    const g = await gateway(venue.url, { reconnect_min_ms: 600, reconnect_max_ms: 600 });
    // A resting order, acked before the drop.
    const r = g.place({ clientOrderId: 'R-1', tif: 'GTC', qty: 1, price: 99.8 });
    await until('R-1 acked', () => r.length === 1);
    // A place in flight when the connection drops (the venue holds it for its latency).
    const x = g.place({ clientOrderId: 'X-1', qty: 1.5, price: 100.5 });
    await until('X-1 read by the venue', () => venue.status().byMethod['order.place'] === 2);
    expect(venue.dropSessions()).toBe(1);
    await until('X-1 answered', () => x.length === 1);
    expect(x[0]).toEqual({ type: 'venue-reject', clientOrderId: 'X-1', reason: 'venue disconnected', transient: true });
    // While the gateway is away, the venue handles X-1 anyway and a trade fills R-1.
    await until('venue handled X-1', () => venue.engine.order('X-1')?.status === 'FILLED');
    m.trade(99.0, 0.4);
    await until('R-1 filled at the venue', () => venue.engine.order('R-1')?.cumQty === 0.4);
    // Reconnected: the gateway asks for R-1 and routes the fill it missed.
    await until('reconnected', async () => (await g.status()).connects === 2 && (await g.status()).connected);
    await until('R-1 fill recovered', () => fillsOf(r).length === 1);
    expect(fillsOf(r)[0]).toMatchObject({ qty: 0.4, price: 99.8, cumQty: 0.4 });
    // The order actor resends X-1 with the same id: a duplicate, carrying the fills it missed.
    g.place({ clientOrderId: 'X-1', qty: 1.5, price: 100.5 }, 1);
    await until('X-1 fills', () => fillsOf(x).length === 2);
    expect(x[1]).toMatchObject({ type: 'venue-ack', duplicate: true });
    expect(sumUnits(fillsOf(x))).toBe(toUnits(1.5));
    const st = await g.status();
    expect(st).toMatchObject({ reconnects: 1, disconnectRejects: 1, recoveryQueries: 1, inflight: 0 });
    // One order line per client order id at the venue; every venue fill reached its order.
    const log = readVenueLog(venue.logPath);
    expect(log.filter((l) => l.kind === 'order').map((l) => l.clientOrderId)).toEqual(['R-1', 'X-1']);
    expect(log.filter((l) => l.kind === 'fill').map((l) => (l as FillRecord).tradeId)).toEqual([...g.got.values()].flatMap(fillsOf).map((f) => f.tradeId).sort((p, q) => p - q));
  });
});

describe('venue server: the wire', () => {
  it('answers a message that does not parse with a 400 naming what was wrong and keeps the session; 429 over the order rate; 503 when busy', async () => {
    const { venue } = await exchange(new SyntheticFeed({ symbols: ['BTCUSDT'] }), { latencyMs: 0, errorRate: 1, ordersPerSecondMax: 1 });
    const ws = new WebSocket(venue.url);
    cleanup.push(async () => void ws.terminate());
    const answers: unknown[] = [];
    ws.on('message', (d) => answers.push(JSON.parse(d.toString())));
    await new Promise((r) => ws.once('open', r));
    const send = (x: unknown) => ws.send(typeof x === 'string' ? x : JSON.stringify(x));
    const placeReq = (id: number) => ({ id, method: 'order.place', params: { symbol: 'BTCUSDT', side: 'BUY', timeInForce: 'IOC', quantity: 1, price: 1, newClientOrderId: `w-${id}` } });
    send('}{ not json');
    ws.send(Buffer.from([0xff, 0x00, 0x13]));
    send({ id: 1, method: 'session.ping' });
    send(placeReq(2));
    send(placeReq(3));
    await until('five answers', () => answers.length === 5);
    expect(answers[0]).toEqual({ id: null, status: 400, error: { code: VENUE_ERROR.BAD_PARAM, msg: 'not JSON: "}{ not json": expected {"id", "method", "params"}' } });
    expect(answers[1]).toMatchObject({ id: null, status: 400, error: { code: VENUE_ERROR.BAD_PARAM, msg: expect.stringMatching(/^not JSON/) } });
    expect(answers[2]).toMatchObject({ id: 1, status: 200, result: { serverTimeMs: expect.any(Number) } });
    expect(answers[3]).toEqual({ id: 2, status: 503, error: { code: VENUE_ERROR.VENUE_BUSY, msg: 'venue busy (simulated transient error): retry' } });
    expect(answers[4]).toEqual({ id: 3, status: 429, error: { code: VENUE_ERROR.TOO_MANY_REQUESTS, msg: 'too many orders: more than 1 per second on this session (orders_per_s_max)' } });
    expect(venue.status()).toMatchObject({ sessions: 1, badRequests: 2, byStatus: { 200: 1, 400: 2, 429: 1, 503: 1 } });
  });
});

describe('venue gateway against a misbehaving venue', () => {
  async function scriptedVenue(onConnect: (ws: WebSocket, n: number) => void) {
    const server = createServer();
    const wss = new WebSocketServer({ server, path: '/ws-api/v3' });
    let n = 0;
    const sockets: WebSocket[] = [];
    wss.on('connection', (ws) => {
      sockets.push(ws);
      onConnect(ws, ++n);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(async () => {
      for (const s of sockets) s.terminate();
      wss.close();
      await new Promise((r) => server.close(r));
    });
    return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws-api/v3`;
  }

  it('logs a venue message that does not parse with its bytes, counts it by reason, and changes no order', async () => {
    const fill = { event: 'executionReport', execType: 'TRADE', status: 'FILLED', clientOrderId: 'o-1', orderId: 1, symbol: 'BTCUSDT', side: 'BUY', timeInForce: 'IOC', qty: 1, price: 100, cumQty: 1, timeMs: 1, tradeId: 7, lastQty: 1, lastPrice: 100 };
    const url = await scriptedVenue((ws) => {
      ws.on('message', () => {
        ws.send('{"id": 1, "status": 200, "res');
        ws.send(JSON.stringify({ ...fill, lastQty: -1 }));
        ws.send(JSON.stringify({ ...fill, side: 'LONG' }));
        ws.send(JSON.stringify({ id: 1, status: 200, result: { clientOrderId: 'o-1', orderId: 1, status: 'FILLED', qty: 1, cumQty: 5, side: 'BUY', fills: [] } }));
        ws.send(JSON.stringify({ hello: 'world' }));
        ws.send(JSON.stringify({ id: 999, status: 400, error: { code: -1, msg: 'late' } }));
      });
    });
    const g = await gateway(url, { request_timeout_ms: 300 });
    const o = g.place({ clientOrderId: 'o-1' });
    await until('six messages handled', async () => {
      const st = await g.status();
      return Object.values(st.bad).reduce((s, n) => s + n, 0) + st.uncorrelated === 6;
    });
    const st = await g.status();
    expect(st.bad).toEqual({ 'malformed-json': 1, 'bad-event': 2, 'bad-result': 1, 'unknown-message': 1 });
    expect(st.uncorrelated).toBe(1);
    expect(st.lastBad).toEqual({ reason: 'unknown-message', detail: 'expected a response {id, status, result|error} or an event {event, ...}', bytes: '{"hello":"world"}' });
    expect(st.routed).toMatchObject({ ack: 0, fill: 0, cancelled: 0 });
    // The place was never answered: after request_timeout_ms it is a transient timeout, nothing else.
    await until('timeout', () => o.length === 1, 2000);
    expect(o).toEqual([{ type: 'venue-reject', clientOrderId: 'o-1', reason: 'venue timeout: no answer within 300 ms (request_timeout_ms)', transient: true }]);
  });

  it('a place while disconnected is answered at once "venue disconnected" (transient); a venue that never answers pings is dropped and reconnected', async () => {
    const url = await scriptedVenue((ws, n) => {
      if (n === 1) setTimeout(() => ws.terminate(), 30);
      // The second connection reads and never answers: the heartbeat ping times out.
    });
    const g = await gateway(url, { heartbeat_ms: 50, request_timeout_ms: 100, reconnect_min_ms: 300, reconnect_max_ms: 300 });
    await until('disconnected', async () => !(await g.status()).connected);
    const o = g.place({ clientOrderId: 'w-1' });
    await until('answered', () => o.length === 1);
    expect(o[0]).toEqual({ type: 'venue-reject', clientOrderId: 'w-1', reason: 'venue disconnected', transient: true });
    await until('second connection dropped for an unanswered ping', async () => (await g.status()).connects >= 3, 4000);
    expect((await g.status()).timeouts).toBeGreaterThanOrEqual(1);
  });
});

describe('venue on a recorded market', () => {
  const file = sharedDataFile('usdm-btcusdt_20240808.gz');
  if (!file) console.warn('venue on a recorded market: skipped: ../shared/data/binance/usdm-btcusdt_20240808.gz is absent (see ../shared/data/README.md)');
  it.skipIf(!file)('an IOC sell takes the recorded book top levels at or above its limit', async () => {
    const source = await ReplaySource.open([file as string]);
    const { market, venue } = await exchange(source);
    const g = await gateway(venue.url);
    const bids = market.exchangeBooks().get('BTCUSDT')?.book.bids;
    if (!bids) throw new Error('no BTCUSDT book');
    const limit = bids.prices[2];
    const shown = bids.qtys[0] + bids.qtys[1] + bids.qtys[2];
    const o = g.place({ clientOrderId: 'rec-1', side: 'sell', qty: Number((shown + 1).toFixed(3)), price: limit });
    await until('expired', () => o.some((m) => m.type === 'venue-cancelled'));
    expect(fillsOf(o).map((f) => [f.price, f.qty])).toEqual([0, 1, 2].map((i) => [bids.prices[i], bids.qtys[i]]));
    const pos = await g.sys.ask<VenuePositions>('venue-gw', { type: 'venue-positions-request' }, 1000);
    expect(toUnits(pos.positions.BTCUSDT)).toBe(-sumUnits(fillsOf(o)));
  });
});

describe('the feed-server kind hosting the venue', () => {
  it('starts the venue on the market data port when options.venue says so; the gateway trades with it', async () => {
    const logPath = join(mkdtempSync(join(tmpdir(), 'venue-')), 'v.log');
    const sys = new ActorSystem({ node: 'exchange' });
    cleanup.push(() => sys.shutdown());
    const opts = feedServerOptions({ address: 'market', node: 'exchange', options: { port: 0, symbols: ['BTCUSDT'], venue: { latency_ms: 0, log: logPath } } });
    expect(opts.venue).toMatchObject({ logPath, latencyMs: 0, rejectRate: 0, errorRate: 0, seed: 1, recover: false, fenceEpoch: true });
    sys.spawn('market', feedServer(opts));
    let reply: FeedServerStatusReply | undefined;
    await until('venue up', async () => (reply = await sys.ask<FeedServerStatusReply>('market', { type: 'feed-server-status' }, 1000)).venue !== undefined);
    const url = reply?.venue?.url as string;
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws-api\/v3$/);
    const g = await gateway(url);
    const o = g.place({ clientOrderId: 'k-1', qty: 0.001, price: 1_000_000 });
    await until('filled', () => fillsOf(o).length === 1);
    await sleep(300);
    expect(sys.gauges.get('exchange.fills')).toBe(1);
    expect(sys.gauges.get('exchange.position.BTCUSDT')).toBe(0.001);
    expect(readVenueLog(logPath).map((l) => l.kind)).toEqual(['order', 'fill']);
  });

  it('refuses bad venue options naming the field and what was expected', () => {
    const opts = (venue: unknown) => () => feedServerOptions({ address: 'market', node: 'x', options: { venue } });
    expect(opts({ reject_rate: 2 })).toThrow('actor market: options.venue.reject_rate: expected a number in 0..1 (a share of orders), got 2');
    expect(opts({ latency: 5 })).toThrow(/^actor market: options\.venue\.latency: unknown venue option, expected one of enabled, latency_ms/);
    expect(opts({ latency_ms: -1 })).toThrow('actor market: options.venue.latency_ms: expected an integer in 0..60000, got -1');
    expect(opts('yes')).toThrow(/^actor market: options\.venue: expected a map of venue options/);
    expect(feedServerOptions({ address: 'market', node: 'x', options: { venue: { enabled: false } } }).venue).toBeUndefined();
    expect(feedServerOptions({ address: 'market', node: 'x', options: { port: 9500, venue: {} } }).venue?.logPath).toBe('.data/venue/venue-9500.log');
  });

  it('the gateway refuses bad options naming the field', () => {
    const opts = (options: Record<string, unknown>) => () => venueGatewayOptions({ address: 'venue-gw', node: 't', options });
    expect(opts({ url: 'http://x' })).toThrow('actor venue-gw: options.url: expected a ws:// or wss:// URL such as ws://127.0.0.1:9400/ws-api/v3, got "http://x"');
    expect(opts({ request_timeout_ms: 0 })).toThrow('actor venue-gw: options.request_timeout_ms: expected an integer >= 1, got 0');
    expect(opts({ reconnect_min_ms: 500, reconnect_max_ms: 100 })).toThrow('actor venue-gw: options.reconnect_max_ms (100): expected >= reconnect_min_ms (500)');
    expect(opts({ urll: 'ws://x' })).toThrow(/^actor venue-gw: options\.urll: unknown option, expected one of url, order_prefix/);
  });
});
