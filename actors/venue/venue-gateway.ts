// The venue gateway (kind `venue-gateway`, address `venue-gw`): one WebSocket connection to the
// venue's order entry (venue-protocol.ts). It turns VenuePlace / VenueCancel / VenueQueryOrder /
// VenuePositionsRequest into requests, correlates the responses by request id, and routes the
// answers and the venue's execution reports to `order/<clientOrderId>` as VenueAck / VenueReject /
// VenueFill / VenueCancelled / VenueCancelReject (VenuePositions goes back to the asker).
//
// - Each fill (tradeId) and each end of an order (cancel, expiry) is routed once per order,
//   whichever venue message brings it first: a place answer carries the order's fills so far, the
//   execution reports that follow carry them again. A resend the venue answers as a duplicate thus
//   also delivers whatever the order missed.
// - Disconnect: place and cancel requests in flight are answered with a transient VenueReject /
//   VenueCancelReject "venue disconnected" (the order actor resends the same client order id; the
//   venue deduplicates); order-status and positions requests are idempotent and are sent again
//   after the reconnect. After every (re)connect the gateway asks the venue for each order it
//   knows to be open, so fills made while it was away reach their orders.
// - Reconnects with exponential backoff and jitter; a session.ping every heartbeat_ms, and a
//   request (ping included) unanswered within request_timeout_ms is answered as a transient
//   timeout (an unanswered ping drops the connection).
// - A venue message that does not parse is logged with its bytes and counted by reason; it
//   changes no order.
// - Tick-to-order: for each first send of an order, (time the place request was written to the
//   socket) - OrderSpec.rxMs, in a bounded HDR histogram; p50/p99/p99.9 in its status and gauges.
import { observeTickToOrder } from '../trading-metrics.ts';
import WebSocket from 'ws';
import type { ActorContext, Behavior } from '../../runtime/actor.ts';
import type { ActorRef } from '../../runtime/actor-ref.ts';
import type { KindContext } from '../../runtime/kind-registry.ts';
import { createLogger, type Logger } from '../../runtime/log.ts';
import {
  CLIENT_ORDER_ID_RE,
  type VenueCancel,
  type VenueCancelReject,
  type VenuePlace,
  type VenuePositions,
  type VenuePositionsRequest,
  type VenueQueryOrder,
  type VenueReject,
  type VenueToOrder,
} from '../order/order-protocol.ts';
import { LatencyHistogram, type LatencySummary } from './latency-histogram.ts';
import { fromUnits, toUnits } from './matching-engine.ts';
import { isTransient } from './venue-errors.ts';
import { jitteredBackoffMs } from '../../supervisors/backoff.ts';
import { SocketInbox } from '../socket-inbox.ts';
import {
  type ExecutionReport,
  fromWireSide,
  parseVenueMessage,
  type VenueMethod,
  type VenueResponse,
  type VenueWireRequest,
  type WireOrder,
  wireOrderProblem,
  type WirePositions,
  wirePositionsProblem,
} from './venue-protocol.ts';

export interface VenueGatewayOptions {
  /** the venue's order entry, e.g. ws://127.0.0.1:9400/ws-api/v3 */
  url: string;
  /** where an order's actor lives: `${orderPrefix}${clientOrderId}` */
  orderPrefix: string;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** a request unanswered this long is answered as a transient timeout */
  requestTimeoutMs: number;
  /** a session.ping this often while connected */
  heartbeatMs: number;
  /** requests in flight at most; more are answered "venue gateway busy" (transient) */
  inflightMax: number;
  /** orders whose routed fills the gateway remembers (to route each once) */
  ordersTrackedMax: number;
}

export const VENUE_GATEWAY_DEFAULTS = {
  url: 'ws://127.0.0.1:9400/ws-api/v3',
  order_prefix: 'order/',
  reconnect_min_ms: 100,
  reconnect_max_ms: 5000,
  request_timeout_ms: 5000,
  heartbeat_ms: 5000,
  inflight_max: 10_000,
  orders_tracked_max: 100_000,
};

/** the last bad venue message is kept with at most this many characters of its bytes */
const BAD_BYTES_MAX_CHARS = 4096;
/** how often timeouts, the heartbeat and the gauges are looked at, at most */
const TICK_MAX_MS = 250;

export type VenueGwStatusRequest = { type: 'venue-gw-status' };

export interface VenueGwStatus {
  type: 'venue-gw-status-reply';
  url: string;
  connected: boolean;
  connects: number;
  reconnects: number;
  /** requests written, by method */
  sent: Partial<Record<VenueMethod, number>>;
  /** frames read from the venue (responses, execution reports, bad ones) */
  frames: number;
  /** frames that waited because the gateway's own mailbox was full (none is dropped) */
  pausedReads: number;
  inflight: number;
  /** order-status and positions requests waiting for the connection */
  deferred: number;
  routed: { ack: number; reject: number; fill: number; cancelled: number; cancelReject: number; positions: number };
  /** places and cancels answered "venue disconnected" (in flight at a disconnect, or sent while down) */
  disconnectRejects: number;
  timeouts: number;
  /** order-status requests sent after a (re)connect for orders open at the venue */
  recoveryQueries: number;
  /** venue messages skipped, by reason: malformed-json, bad-response, bad-event, unknown-message, bad-result */
  bad: Record<string, number>;
  lastBad?: { reason: string; detail: string; bytes: string };
  /** responses to no request in flight (answered already, e.g. after a timeout) */
  uncorrelated: number;
  /** messages from actors the gateway refused (bad client order id) */
  refused: number;
  ordersTracked: number;
  /** (time the place request was written to the socket) - OrderSpec.rxMs, first sends only */
  tickToOrder: LatencySummary;
  /** place request written -> its response read */
  placeRoundTrip: LatencySummary;
}

type Frame = { type: 'venue-gw-frame'; text: string; conn: number };
type Opened = { type: 'venue-gw-opened'; conn: number };
type Closed = { type: 'venue-gw-closed'; conn: number; code: number; reason: string };
type Reconnect = { type: 'venue-gw-reconnect' };
type Tick = { type: 'venue-gw-tick' };
export type VenueGatewayMsg = VenuePlace | VenueCancel | VenueQueryOrder | VenuePositionsRequest | VenueGwStatusRequest | Frame | Opened | Closed | Reconnect | Tick;

type Ctx = ActorContext<VenueGatewayMsg>;

interface Pending {
  kind: 'place' | 'cancel' | 'status' | 'positions' | 'ping';
  clientOrderId: string;
  symbol: string;
  replyTo: ActorRef | undefined;
  /** performance.now() when written */
  sentAt: number;
}

/** what was routed to an order, so each fill and its end are routed once */
interface Tracked {
  symbol: string;
  acked: boolean;
  done: boolean;
  tradeIds: Set<number>;
}

type Deferred = { kind: 'status'; clientOrderId: string; symbol: string } | { kind: 'positions'; replyTo: ActorRef };

interface State {
  ws: WebSocket | undefined;
  conn: number;
  connected: boolean;
  stopping: boolean;
  failuresInARow: number;
  nextId: number;
  /** by request id, in the order written (so the oldest times out first) */
  pending: Map<number, Pending>;
  deferred: Deferred[];
  orders: Map<string, Tracked>;
  lastWriteAt: number;
  /** the connection's frames on their way into the mailbox (back-pressure) */
  inbox: SocketInbox<VenueGatewayMsg> | undefined;
  tickToOrder: LatencyHistogram;
  placeRoundTrip: LatencyHistogram;
  status: Omit<VenueGwStatus, 'connected' | 'inflight' | 'deferred' | 'ordersTracked' | 'tickToOrder' | 'placeRoundTrip'>;
}

export function venueGatewayOptions(ctx: KindContext): VenueGatewayOptions {
  const o = { ...VENUE_GATEWAY_DEFAULTS, ...(ctx.options as Record<string, unknown>) };
  const where = `actor ${ctx.address}: options`;
  const known = Object.keys(VENUE_GATEWAY_DEFAULTS);
  const unknown = Object.keys(ctx.options).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new TypeError(`${where}.${unknown[0]}: unknown option, expected one of ${known.join(', ')}`);
  const str = (k: keyof typeof VENUE_GATEWAY_DEFAULTS): string => {
    const v = o[k];
    if (typeof v !== 'string' || v === '') throw new TypeError(`${where}.${k}: expected a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  };
  const int = (k: keyof typeof VENUE_GATEWAY_DEFAULTS, min: number): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new TypeError(`${where}.${k}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v;
  };
  const url = str('url');
  if (!/^wss?:\/\/[^/]+/.test(url)) throw new TypeError(`${where}.url: expected a ws:// or wss:// URL such as ${VENUE_GATEWAY_DEFAULTS.url}, got ${JSON.stringify(url)}`);
  const opts: VenueGatewayOptions = {
    url,
    orderPrefix: str('order_prefix'),
    reconnectMinMs: int('reconnect_min_ms', 1),
    reconnectMaxMs: int('reconnect_max_ms', 1),
    requestTimeoutMs: int('request_timeout_ms', 1),
    heartbeatMs: int('heartbeat_ms', 1),
    inflightMax: int('inflight_max', 1),
    ordersTrackedMax: int('orders_tracked_max', 1),
  };
  if (opts.reconnectMaxMs < opts.reconnectMinMs) throw new TypeError(`${where}.reconnect_max_ms (${opts.reconnectMaxMs}): expected >= reconnect_min_ms (${opts.reconnectMinMs})`);
  return opts;
}

const wallMs = (): number => performance.timeOrigin + performance.now();

export const venueGateway = (opts: VenueGatewayOptions): Behavior<VenueGatewayMsg, State> => {
  let log: Logger | undefined;
  const orderOf = (id: string): string => `${opts.orderPrefix}${id}`;

  // --- the connection --------------------------------------------------------------------------

  const connect = (s: State, ctx: Ctx): void => {
    const conn = ++s.conn;
    const self = ctx.self;
    const ws = new WebSocket(opts.url, { perMessageDeflate: false, handshakeTimeout: opts.requestTimeoutMs });
    s.ws = ws;
    s.status.connects++;
    const inbox = new SocketInbox<VenueGatewayMsg>(ctx, ws);
    s.inbox = inbox;
    ws.on('open', () => self.tell({ type: 'venue-gw-opened', conn }));
    ws.on('message', (data, isBinary) => inbox.offer({ type: 'venue-gw-frame', text: isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString(), conn }));
    // Through the inbox, so the close is handled after every frame read before it.
    ws.on('close', (code, reason) => inbox.offer({ type: 'venue-gw-closed', conn, code, reason: reason.toString() }));
    // A close event follows every error; the reconnect is decided there.
    ws.on('error', (e) => log?.warn({ url: opts.url, err: e.message }, 'venue connection error'));
  };

  /**
   * Room in our own mailbox for a frame: frames take at most half of it, so the venue's traffic
   * never crowds out the order actors' requests. Asked before telling: with the `reject` policy
   * (right for this actor: an order actor whose VenuePlace is refused hears of it) a full mailbox
   * would turn the frame into a dead letter instead of reporting "full".
   */
  const scheduleReconnect = (s: State, ctx: Ctx): void => {
    const delay = jitteredBackoffMs({ minMs: opts.reconnectMinMs, maxMs: opts.reconnectMaxMs }, ++s.failuresInARow);
    ctx.timers.startSingle('reconnect', { type: 'venue-gw-reconnect' }, delay);
  };

  /** Writes a request; false when there is no open connection. */
  const write = (s: State, p: Pending, req: (id: number) => VenueWireRequest): number | undefined => {
    if (!s.connected || !s.ws || s.ws.readyState !== WebSocket.OPEN) return undefined;
    const id = s.nextId++;
    const r = req(id);
    s.ws.send(JSON.stringify(r));
    p.sentAt = performance.now();
    s.lastWriteAt = p.sentAt;
    s.pending.set(id, p);
    s.status.sent[r.method] = (s.status.sent[r.method] ?? 0) + 1;
    return id;
  };

  const track = (s: State, clientOrderId: string, symbol: string): Tracked => {
    let t = s.orders.get(clientOrderId);
    if (!t) {
      t = { symbol, acked: false, done: false, tradeIds: new Set() };
      s.orders.set(clientOrderId, t);
      // Forget the oldest beyond the bound: at worst a fill is routed twice, and orders ignore a tradeId they have.
      while (s.orders.size > opts.ordersTrackedMax) s.orders.delete(s.orders.keys().next().value as string);
    }
    return t;
  };

  // --- routing ---------------------------------------------------------------------------------

  const route = (s: State, ctx: Ctx, clientOrderId: string, msg: VenueToOrder): void => {
    switch (msg.type) {
      case 'venue-ack':
        s.status.routed.ack++;
        break;
      case 'venue-reject':
        s.status.routed.reject++;
        break;
      case 'venue-fill':
        s.status.routed.fill++;
        ctx.system.gauges.add('venue.fills');
        break;
      case 'venue-cancelled':
        s.status.routed.cancelled++;
        break;
      case 'venue-cancel-reject':
        s.status.routed.cancelReject++;
        break;
    }
    ctx.tell<VenueToOrder>(orderOf(clientOrderId), msg);
  };

  const reject = (s: State, ctx: Ctx, clientOrderId: string, reason: string, transient: boolean): void => route(s, ctx, clientOrderId, { type: 'venue-reject', clientOrderId, reason, transient });

  const cancelReject = (s: State, ctx: Ctx, clientOrderId: string, reason: string): void => route(s, ctx, clientOrderId, { type: 'venue-cancel-reject', clientOrderId, reason });

  /** What an order result says that the order has not been told yet: ack, fills, its end. */
  const routeOrder = (s: State, ctx: Ctx, o: WireOrder, ack: 'always' | 'once'): void => {
    const t = track(s, o.clientOrderId, o.symbol);
    if (o.status === 'REJECTED') {
      if (!t.done) reject(s, ctx, o.clientOrderId, `venue rejected: ${o.reason ?? 'rejected'}`, false);
      t.done = true;
      return;
    }
    if (ack === 'always' || !t.acked) route(s, ctx, o.clientOrderId, { type: 'venue-ack', clientOrderId: o.clientOrderId, venueOrderId: o.orderId, duplicate: o.duplicate ?? ack === 'once' });
    t.acked = true;
    let cum = 0;
    for (const f of o.fills) {
      cum += toUnits(f.qty);
      if (t.tradeIds.has(f.tradeId)) continue;
      t.tradeIds.add(f.tradeId);
      route(s, ctx, o.clientOrderId, { type: 'venue-fill', clientOrderId: o.clientOrderId, symbol: o.symbol, side: fromWireSide(o.side), tradeId: f.tradeId, qty: f.qty, price: f.price, cumQty: fromUnits(cum), timeMs: f.timeMs });
    }
    if ((o.status === 'CANCELED' || o.status === 'EXPIRED') && !t.done) route(s, ctx, o.clientOrderId, { type: 'venue-cancelled', clientOrderId: o.clientOrderId, expired: o.status === 'EXPIRED' });
    if (o.status === 'CANCELED' || o.status === 'EXPIRED' || o.status === 'FILLED') t.done = true;
  };

  const onEvent = (s: State, ctx: Ctx, e: ExecutionReport): void => {
    const t = track(s, e.clientOrderId, e.symbol);
    switch (e.execType) {
      case 'NEW':
        if (!t.acked) route(s, ctx, e.clientOrderId, { type: 'venue-ack', clientOrderId: e.clientOrderId, venueOrderId: e.orderId, duplicate: false });
        t.acked = true;
        return;
      case 'TRADE': {
        const tradeId = e.tradeId as number;
        if (!t.tradeIds.has(tradeId)) {
          t.tradeIds.add(tradeId);
          route(s, ctx, e.clientOrderId, {
            type: 'venue-fill',
            clientOrderId: e.clientOrderId,
            symbol: e.symbol,
            side: fromWireSide(e.side),
            tradeId,
            qty: e.lastQty as number,
            price: e.lastPrice as number,
            cumQty: e.cumQty,
            timeMs: e.timeMs,
          });
        }
        if (e.status === 'FILLED') t.done = true;
        return;
      }
      case 'CANCELED':
      case 'EXPIRED':
        if (!t.done) route(s, ctx, e.clientOrderId, { type: 'venue-cancelled', clientOrderId: e.clientOrderId, expired: e.execType === 'EXPIRED' });
        t.done = true;
        return;
    }
  };

  const bad = (s: State, reason: string, detail: string, text: string): void => {
    s.status.bad[reason] = (s.status.bad[reason] ?? 0) + 1;
    const bytes = text.length > BAD_BYTES_MAX_CHARS ? `${text.slice(0, BAD_BYTES_MAX_CHARS)}...(${text.length} chars)` : text;
    s.status.lastBad = { reason, detail, bytes };
    log?.warn({ reason, detail, bytes }, 'venue message skipped: it changes no order');
  };

  const onResponse = (s: State, ctx: Ctx, r: VenueResponse, text: string): void => {
    const p = r.id === null || typeof r.id === 'string' ? undefined : s.pending.get(r.id);
    if (!p) {
      s.status.uncorrelated++;
      if (r.status !== 200) log?.warn({ id: r.id, status: r.status, error: r.error }, 'venue answered a request not in flight');
      return;
    }
    if (r.status === 200) {
      const problem = p.kind === 'positions' ? wirePositionsProblem(r.result) : p.kind === 'ping' ? undefined : wireOrderProblem(r.result);
      // As if it never came: the request stays in flight, and times out as a transient error if no good answer follows.
      if (problem) return bad(s, 'bad-result', `${p.kind} ${p.clientOrderId}: ${problem}`, text);
    }
    s.pending.delete(r.id as number);
    switch (p.kind) {
      case 'place':
        s.placeRoundTrip.record(performance.now() - p.sentAt);
        if (r.status === 200) return routeOrder(s, ctx, r.result as WireOrder, 'always');
        if (!isTransient(r.status)) track(s, p.clientOrderId, p.symbol).done = true;
        return reject(s, ctx, p.clientOrderId, `${r.error.msg} (venue ${r.status}, code ${r.error.code})`, isTransient(r.status));
      case 'cancel':
        if (r.status === 200) return routeOrder(s, ctx, r.result as WireOrder, 'once');
        return cancelReject(s, ctx, p.clientOrderId, `${isTransient(r.status) ? 'transient: ' : ''}${r.error.msg} (venue ${r.status}, code ${r.error.code})`);
      case 'status':
        if (r.status === 200) return routeOrder(s, ctx, r.result as WireOrder, 'once');
        // The venue never got it: a transient reject makes the order resend it (same id, deduplicated).
        if (r.status === 400) return reject(s, ctx, p.clientOrderId, `the venue does not know order ${p.clientOrderId}: ${r.error.msg}`, true);
        log?.warn({ clientOrderId: p.clientOrderId, status: r.status, error: r.error }, 'order status query failed');
        return;
      case 'positions':
        if (r.status !== 200) return void log?.warn({ status: r.status, error: r.error }, 'positions query failed');
        if (p.replyTo) {
          const result = r.result as WirePositions;
          s.status.routed.positions++;
          ctx.tell<VenuePositions>(p.replyTo, { type: 'venue-positions', positions: { ...result.positions }, fills: result.fills });
        }
        return;
      case 'ping':
        return;
    }
  };

  const onFrame = (s: State, ctx: Ctx, f: Frame): void => {
    if (f.conn !== s.conn) return;
    s.status.frames++;
    const m = parseVenueMessage(f.text);
    if (!m.ok) return bad(s, m.reason, m.detail, f.text);
    if (m.message.kind === 'event') return onEvent(s, ctx, m.message.event);
    onResponse(s, ctx, m.message.response, f.text);
  };

  // --- requests from actors --------------------------------------------------------------------

  const place = (s: State, ctx: Ctx, m: VenuePlace): void => {
    const o = m.order;
    if (!o || typeof o.clientOrderId !== 'string' || !CLIENT_ORDER_ID_RE.test(o.clientOrderId)) {
      s.status.refused++;
      log?.warn({ from: ctx.sender?.address, order: o }, 'venue-place refused: bad client order id');
      ctx.reply<VenueReject>({ type: 'venue-reject', clientOrderId: String(o?.clientOrderId), reason: `clientOrderId ${JSON.stringify(o?.clientOrderId)}: expected 1..36 of [.A-Za-z0-9:/_-]`, transient: false });
      return;
    }
    if (!s.connected) {
      s.status.disconnectRejects++;
      return reject(s, ctx, o.clientOrderId, 'venue disconnected', true);
    }
    if (s.pending.size >= opts.inflightMax) return reject(s, ctx, o.clientOrderId, `venue gateway busy: ${s.pending.size} requests in flight, at most ${opts.inflightMax} (inflight_max)`, true);
    track(s, o.clientOrderId, o.symbol);
    const p: Pending = { kind: 'place', clientOrderId: o.clientOrderId, symbol: o.symbol, replyTo: undefined, sentAt: 0 };
    const params = { symbol: o.symbol, side: o.side === 'buy' ? 'BUY' : 'SELL', type: 'LIMIT', timeInForce: o.tif, quantity: o.qty, price: o.price, newClientOrderId: o.clientOrderId, epoch: o.epoch, reduceOnly: o.reduceOnly, ...(o.marketUpdateId !== undefined ? { marketUpdateId: o.marketUpdateId } : {}) } as const;
    write(s, p, (id) => ({ id, method: 'order.place', params }));
    if (m.attempt === 0 && o.rxMs > 0) {
      const t2o = wallMs() - o.rxMs;
      s.tickToOrder.record(t2o);
      observeTickToOrder(ctx.system, t2o);
    }
  };

  const cancel = (s: State, ctx: Ctx, m: VenueCancel): void => {
    if (!CLIENT_ORDER_ID_RE.test(m.clientOrderId)) {
      s.status.refused++;
      return void ctx.reply<VenueCancelReject>({ type: 'venue-cancel-reject', clientOrderId: String(m.clientOrderId), reason: `clientOrderId ${JSON.stringify(m.clientOrderId)}: expected 1..36 of [.A-Za-z0-9:/_-]` });
    }
    if (!s.connected) {
      s.status.disconnectRejects++;
      return cancelReject(s, ctx, m.clientOrderId, 'transient: venue disconnected');
    }
    if (s.pending.size >= opts.inflightMax) return cancelReject(s, ctx, m.clientOrderId, `transient: venue gateway busy: ${s.pending.size} requests in flight`);
    write(s, { kind: 'cancel', clientOrderId: m.clientOrderId, symbol: m.symbol, replyTo: undefined, sentAt: 0 }, (id) => ({ id, method: 'order.cancel', params: { symbol: m.symbol, origClientOrderId: m.clientOrderId } }));
  };

  const query = (s: State, clientOrderId: string, symbol: string): void => {
    if (s.connected && s.pending.size < opts.inflightMax) {
      write(s, { kind: 'status', clientOrderId, symbol, replyTo: undefined, sentAt: 0 }, (id) => ({ id, method: 'order.status', params: { symbol, origClientOrderId: clientOrderId } }));
    } else defer(s, { kind: 'status', clientOrderId, symbol });
  };

  const positions = (s: State, replyTo: ActorRef): void => {
    if (s.connected && s.pending.size < opts.inflightMax) write(s, { kind: 'positions', clientOrderId: '', symbol: '', replyTo, sentAt: 0 }, (id) => ({ id, method: 'account.positions' }));
    else defer(s, { kind: 'positions', replyTo });
  };

  const defer = (s: State, d: Deferred): void => {
    // Bounded like the requests in flight; the oldest is dropped (its asker times out and asks again).
    if (s.deferred.length >= opts.inflightMax) s.deferred.shift();
    s.deferred.push(d);
  };

  // --- connection events -----------------------------------------------------------------------

  const onOpened = (s: State): void => {
    s.connected = true;
    s.failuresInARow = 0;
    s.lastWriteAt = performance.now();
    log?.info({ url: opts.url }, 'venue connected');
    const deferred = s.deferred;
    s.deferred = [];
    for (const d of deferred) {
      if (d.kind === 'status') query(s, d.clientOrderId, d.symbol);
      else positions(s, d.replyTo);
    }
    // Fills made while we were away: ask for every order the venue may still be working.
    for (const [id, t] of s.orders) {
      if (!t.acked || t.done) continue;
      s.status.recoveryQueries++;
      query(s, id, t.symbol);
    }
  };

  /** Every request in flight is answered or kept for the next connection. */
  const failInflight = (s: State, ctx: Ctx, reason: string): void => {
    const pending = [...s.pending.values()];
    s.pending.clear();
    for (const p of pending) {
      switch (p.kind) {
        case 'place':
          s.status.disconnectRejects++;
          reject(s, ctx, p.clientOrderId, reason, true);
          break;
        case 'cancel':
          s.status.disconnectRejects++;
          cancelReject(s, ctx, p.clientOrderId, `transient: ${reason}`);
          break;
        case 'status':
          defer(s, { kind: 'status', clientOrderId: p.clientOrderId, symbol: p.symbol });
          break;
        case 'positions':
          if (p.replyTo) defer(s, { kind: 'positions', replyTo: p.replyTo });
          break;
        case 'ping':
          break;
      }
    }
  };

  const onTick = (s: State, ctx: Ctx): void => {
    const now = performance.now();
    for (const [id, p] of s.pending) {
      if (now - p.sentAt < opts.requestTimeoutMs) break;
      s.pending.delete(id);
      s.status.timeouts++;
      const reason = `venue timeout: no answer within ${opts.requestTimeoutMs} ms (request_timeout_ms)`;
      switch (p.kind) {
        case 'place':
          reject(s, ctx, p.clientOrderId, reason, true);
          break;
        case 'cancel':
          cancelReject(s, ctx, p.clientOrderId, `transient: ${reason}`);
          break;
        case 'status':
        case 'positions':
          log?.warn({ kind: p.kind, clientOrderId: p.clientOrderId }, reason);
          break;
        case 'ping':
          // The connection is dead (half-open TCP, a venue that stopped reading): drop and reconnect.
          log?.warn({ url: opts.url }, `${reason} to session.ping; reconnecting`);
          s.ws?.terminate();
          break;
      }
    }
    if (s.connected && now - s.lastWriteAt >= opts.heartbeatMs) {
      write(s, { kind: 'ping', clientOrderId: '', symbol: '', replyTo: undefined, sentAt: 0 }, (id) => ({ id, method: 'session.ping' }));
    }
    const t2o = s.tickToOrder.summary();
    const g = ctx.system.gauges;
    g.set('venue.connected', s.connected ? 1 : 0);
    g.set('t2o.n', t2o.count);
    g.set('t2o.p50_us', t2o.p50Ms * 1000);
    g.set('t2o.p99_us', t2o.p99Ms * 1000);
    g.set('t2o.p999_us', t2o.p999Ms * 1000);
  };

  return {
    init(ctx) {
      log ??= createLogger({ node: ctx.system.node, actor: ctx.self.address });
      const s: State = {
        ws: undefined,
        conn: 0,
        connected: false,
        stopping: false,
        failuresInARow: 0,
        nextId: 1,
        pending: new Map(),
        deferred: [],
        orders: new Map(),
        lastWriteAt: 0,
        inbox: undefined,
        tickToOrder: new LatencyHistogram(),
        placeRoundTrip: new LatencyHistogram(),
        status: {
          type: 'venue-gw-status-reply',
          url: opts.url,
          connects: 0,
          reconnects: 0,
          sent: {},
          frames: 0,
          pausedReads: 0,
          routed: { ack: 0, reject: 0, fill: 0, cancelled: 0, cancelReject: 0, positions: 0 },
          disconnectRejects: 0,
          timeouts: 0,
          recoveryQueries: 0,
          bad: {},
          uncorrelated: 0,
          refused: 0,
        },
      };
      connect(s, ctx);
      ctx.timers.startPeriodic('tick', { type: 'venue-gw-tick' }, Math.max(1, Math.min(TICK_MAX_MS, Math.floor(Math.min(opts.requestTimeoutMs, opts.heartbeatMs) / 4))));
      return s;
    },

    receive(s, msg, ctx) {
      switch (msg.type) {
        case 'venue-place':
          place(s, ctx, msg);
          return s;
        case 'venue-cancel':
          cancel(s, ctx, msg);
          return s;
        case 'venue-query-order':
          if (CLIENT_ORDER_ID_RE.test(msg.clientOrderId)) query(s, msg.clientOrderId, msg.symbol);
          else s.status.refused++;
          return s;
        case 'venue-positions-request':
          if (ctx.sender) positions(s, ctx.sender);
          else log?.warn('venue-positions-request without a sender: nobody to answer');
          return s;
        case 'venue-gw-status':
          ctx.reply<VenueGwStatus>(statusOf(s));
          return s;
        case 'venue-gw-frame':
          onFrame(s, ctx, msg);
          return s;
        case 'venue-gw-opened':
          if (msg.conn === s.conn) onOpened(s);
          return s;
        case 'venue-gw-closed': {
          if (msg.conn !== s.conn || s.stopping) return s;
          const was = s.connected;
          s.connected = false;
          s.ws = undefined;
          if (s.inbox) {
            s.inbox.clear();
            s.status.pausedReads += s.inbox.pausedReads;
            s.inbox = undefined;
          }
          s.status.reconnects++;
          log?.warn({ url: opts.url, code: msg.code, reason: msg.reason, wasConnected: was, inflight: s.pending.size }, 'venue disconnected; reconnecting');
          failInflight(s, ctx, 'venue disconnected');
          scheduleReconnect(s, ctx);
          return s;
        }
        case 'venue-gw-reconnect':
          if (!s.ws && !s.stopping) connect(s, ctx);
          return s;
        case 'venue-gw-tick':
          onTick(s, ctx);
          return s;
      }
    },

    stop(s, ctx) {
      s.stopping = true;
      s.ws?.terminate();
      s.ws = undefined;
      s.connected = false;
      // Answer what was in flight, so no order waits for its ack timeout on a gateway that is gone.
      failInflight(s, ctx, 'venue gateway stopped');
    },

    summary: (s) => statusOf(s),
  };
};

function statusOf(s: State): VenueGwStatus {
  const st = s.status;
  return {
    ...st,
    pausedReads: st.pausedReads + (s.inbox?.pausedReads ?? 0),
    connected: s.connected,
    inflight: s.pending.size,
    deferred: s.deferred.length,
    sent: { ...st.sent },
    routed: { ...st.routed },
    bad: { ...st.bad },
    ordersTracked: s.orders.size,
    tickToOrder: s.tickToOrder.summary(),
    placeRoundTrip: s.placeRoundTrip.summary(),
  };
}
