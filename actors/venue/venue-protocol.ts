// The venue's wire protocol: JSON over WebSocket at /ws-api/v3 on the exchange's port, a
// request/response protocol modelled on Binance's WebSocket API, plus pushed execution reports.
//
//   request   {"id": 7, "method": "order.place", "params": {...}}        id: an integer or 1..64 chars
//   response  {"id": 7, "status": 200, "result": {...}}
//             {"id": 7, "status": 400|429|503, "error": {"code": -2010, "msg": "..."}}
//   event     {"event": "executionReport", "execType": "TRADE", ...}      pushed to every session
//
// Methods and their params (prices and quantities: JSON numbers or decimal strings):
//   order.place        symbol, side BUY|SELL, type LIMIT (optional), timeInForce GTC|IOC, quantity,
//                      price, newClientOrderId, epoch (optional, integer >= 0), reduceOnly (optional),
//                      marketUpdateId (optional, integer >= 0: the book update the order was decided on)
//                      -> 200 the order as it is after matching, with its fills and `duplicate`
//                         (true: the client order id was known; nothing new was done)
//   order.cancel       symbol, origClientOrderId          -> 200 the order, status CANCELED
//   order.status       symbol, origClientOrderId          -> 200 the order with its fills
//   account.positions  (none)                             -> 200 {positions: {SYMBOL: net qty}, fills}
//   session.ping       (none)                             -> 200 {serverTimeMs}
//
// Status 400: the request is wrong or the order is refused (not retryable as is); 429: too many
// requests; 503: the venue is busy or shutting down (retry the same request: the venue deduplicates
// by client order id). A message that is not a request gets a 400 naming what was wrong (id null
// when it had no usable id); the connection stays open.
//
// executionReport execType: NEW (accepted), TRADE (a fill: tradeId, lastQty, lastPrice; cumQty
// after it), CANCELED (on request), EXPIRED (the IOC remainder). The response to a place comes
// before the reports of that place, on the same connection.
//
// Both directions are validated here: parseVenueRequest for what the venue reads, parseVenueMessage
// for what a client (the venue gateway) reads.
import { CLIENT_ORDER_ID_RE, type Side, type TimeInForce } from '../order/order-protocol.ts';
import { VENUE_ERROR, type VenueError } from './venue-errors.ts';
import type { OrderDetail, PlaceRequest, VenueOrderStatus } from './matching-engine.ts';

/** Binance's WebSocket API path */
export const VENUE_PATH = '/ws-api/v3';
/** the largest request the venue reads (a larger frame closes the connection with 1009) */
export const VENUE_REQUEST_MAX_BYTES = 64 * 1024;
export const REQUEST_ID_MAX_CHARS = 64;

export type VenueMethod = 'order.place' | 'order.cancel' | 'order.status' | 'account.positions' | 'session.ping';
export const VENUE_METHODS: readonly VenueMethod[] = ['order.place', 'order.cancel', 'order.status', 'account.positions', 'session.ping'];

export type RequestId = string | number;
export type WireSide = 'BUY' | 'SELL';

export interface OrderPlaceParams {
  symbol: string;
  side: WireSide;
  type?: 'LIMIT';
  timeInForce: TimeInForce;
  quantity: number | string;
  price: number | string;
  newClientOrderId: string;
  epoch?: number;
  reduceOnly?: boolean;
  /** the book update id (`u`) the order was decided on: a venue with match_at decision matches there */
  marketUpdateId?: number;
}

export interface OrderRefParams {
  symbol: string;
  origClientOrderId: string;
}

/** A request as the venue reads it (params validated and normalised). */
export type VenueRequest =
  | { id: RequestId; method: 'order.place'; params: PlaceRequest }
  | { id: RequestId; method: 'order.cancel' | 'order.status'; params: { symbol: string; clientOrderId: string } }
  | { id: RequestId; method: 'account.positions' | 'session.ping'; params: Record<string, never> };

/** A request as a client writes it. */
export type VenueWireRequest =
  | { id: RequestId; method: 'order.place'; params: OrderPlaceParams }
  | { id: RequestId; method: 'order.cancel' | 'order.status'; params: OrderRefParams }
  | { id: RequestId; method: 'account.positions' | 'session.ping'; params?: Record<string, never> };

export interface WireFill {
  tradeId: number;
  qty: number;
  price: number;
  timeMs: number;
  maker: boolean;
}

/** An order as the venue reports it (place, cancel and status results). */
export interface WireOrder {
  clientOrderId: string;
  orderId: number;
  symbol: string;
  side: WireSide;
  timeInForce: TimeInForce;
  qty: number;
  price: number;
  status: VenueOrderStatus;
  cumQty: number;
  avgPrice: number;
  epoch: number;
  reduceOnly: boolean;
  reason?: string;
  createdMs: number;
  updatedMs: number;
  fills: WireFill[];
  /** order.place only: the client order id was known (a resend); nothing new was done */
  duplicate?: boolean;
}

export interface WirePositions {
  positions: Record<string, number>;
  fills: number;
}

export type VenueResponse =
  | { id: RequestId | null; status: 200; result: unknown }
  | { id: RequestId | null; status: 400 | 429 | 503; error: { code: number; msg: string } };

export type ExecType = 'NEW' | 'TRADE' | 'CANCELED' | 'EXPIRED';

export interface ExecutionReport {
  event: 'executionReport';
  execType: ExecType;
  status: VenueOrderStatus;
  clientOrderId: string;
  orderId: number;
  symbol: string;
  side: WireSide;
  timeInForce: TimeInForce;
  qty: number;
  price: number;
  /** filled quantity of the order after this report */
  cumQty: number;
  timeMs: number;
  /** TRADE only */
  tradeId?: number;
  lastQty?: number;
  lastPrice?: number;
  maker?: boolean;
}

export const toWireSide = (s: Side): WireSide => (s === 'buy' ? 'BUY' : 'SELL');
export const fromWireSide = (s: WireSide): Side => (s === 'BUY' ? 'buy' : 'sell');

export function wireOrder(o: OrderDetail, duplicate?: boolean): WireOrder {
  const w: WireOrder = {
    clientOrderId: o.clientOrderId,
    orderId: o.orderId,
    symbol: o.symbol,
    side: toWireSide(o.side),
    timeInForce: o.tif,
    qty: o.qty,
    price: o.price,
    status: o.status,
    cumQty: o.cumQty,
    avgPrice: o.avgPrice,
    epoch: o.epoch,
    reduceOnly: o.reduceOnly,
    createdMs: o.createdMs,
    updatedMs: o.updatedMs,
    fills: o.fills.map((f) => ({ tradeId: f.tradeId, qty: f.qty, price: f.price, timeMs: f.timeMs, maker: f.maker })),
  };
  if (o.reason !== undefined) w.reason = o.reason;
  if (duplicate !== undefined) w.duplicate = duplicate;
  return w;
}

export const okResponse = (id: RequestId | null, result: unknown): VenueResponse => ({ id, status: 200, result });
export const errorResponse = (id: RequestId | null, e: VenueError): VenueResponse => ({ id, status: e.status, error: { code: e.code, msg: e.msg } });

// --- the venue reads requests ---------------------------------------------------------------------

export type ParsedRequest = { ok: true; request: VenueRequest } | { ok: false; id: RequestId | null; error: VenueError };

class Bad extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Validates one incoming frame. Never throws: anything wrong is a 400 naming the field. */
export function parseVenueRequest(text: string): ParsedRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, id: null, error: { status: 400, code: VENUE_ERROR.BAD_PARAM, msg: `not JSON: ${JSON.stringify(text.slice(0, 80))}: expected {"id", "method", "params"}` } };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, id: null, error: { status: 400, code: VENUE_ERROR.BAD_PARAM, msg: `expected a JSON object {"id", "method", "params"}, got ${JSON.stringify(text.slice(0, 80))}` } };
  }
  const o = raw as Record<string, unknown>;
  const id = isRequestId(o.id) ? o.id : null;
  try {
    if (id === null) throw new Bad(o.id === undefined ? VENUE_ERROR.MISSING_PARAM : VENUE_ERROR.BAD_PARAM, `id ${JSON.stringify(o.id)}: expected an integer or a string of 1..${REQUEST_ID_MAX_CHARS} characters`);
    if (typeof o.method !== 'string' || !(VENUE_METHODS as readonly string[]).includes(o.method)) {
      throw new Bad(o.method === undefined ? VENUE_ERROR.MISSING_PARAM : VENUE_ERROR.UNSUPPORTED_METHOD, `method ${JSON.stringify(o.method)}: expected one of ${VENUE_METHODS.join(', ')}`);
    }
    const method = o.method as VenueMethod;
    const p = o.params ?? {};
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new Bad(VENUE_ERROR.BAD_PARAM, `params: expected an object, got ${JSON.stringify(p)}`);
    const params = p as Record<string, unknown>;
    switch (method) {
      case 'order.place':
        return { ok: true, request: { id, method, params: placeParams(params) } };
      case 'order.cancel':
      case 'order.status':
        return { ok: true, request: { id, method, params: { symbol: symbolParam(params), clientOrderId: clientOrderIdParam(params, 'origClientOrderId') } } };
      case 'account.positions':
      case 'session.ping':
        return { ok: true, request: { id, method, params: {} } };
    }
  } catch (e) {
    if (e instanceof Bad) return { ok: false, id, error: { status: 400, code: e.code, msg: e.message } };
    throw e;
  }
}

function placeParams(p: Record<string, unknown>): PlaceRequest {
  const symbol = symbolParam(p);
  const side = p.side;
  if (side !== 'BUY' && side !== 'SELL') throw new Bad(side === undefined ? VENUE_ERROR.MISSING_PARAM : VENUE_ERROR.BAD_PARAM, `params.side ${JSON.stringify(side)}: expected BUY or SELL`);
  if (p.type !== undefined && p.type !== 'LIMIT') throw new Bad(VENUE_ERROR.BAD_PARAM, `params.type ${JSON.stringify(p.type)}: expected LIMIT (the only order type)`);
  const tif = p.timeInForce;
  if (tif !== 'GTC' && tif !== 'IOC') throw new Bad(tif === undefined ? VENUE_ERROR.MISSING_PARAM : VENUE_ERROR.BAD_PARAM, `params.timeInForce ${JSON.stringify(tif)}: expected GTC or IOC`);
  const qty = decimalParam(p, 'quantity');
  const price = decimalParam(p, 'price');
  const clientOrderId = clientOrderIdParam(p, 'newClientOrderId');
  const epoch = p.epoch ?? 0;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0) throw new Bad(VENUE_ERROR.BAD_PARAM, `params.epoch ${JSON.stringify(epoch)}: expected an integer >= 0`);
  const reduceOnly = p.reduceOnly ?? false;
  if (typeof reduceOnly !== 'boolean') throw new Bad(VENUE_ERROR.BAD_PARAM, `params.reduceOnly ${JSON.stringify(reduceOnly)}: expected true or false`);
  const marketUpdateId = p.marketUpdateId;
  if (marketUpdateId !== undefined && (typeof marketUpdateId !== 'number' || !Number.isSafeInteger(marketUpdateId) || marketUpdateId < 0)) {
    throw new Bad(VENUE_ERROR.BAD_PARAM, `params.marketUpdateId ${JSON.stringify(marketUpdateId)}: expected an integer >= 0 (a book update id)`);
  }
  return { clientOrderId, symbol, side: fromWireSide(side), qty, price, tif, epoch, reduceOnly, ...(marketUpdateId !== undefined ? { marketUpdateId } : {}) };
}

function symbolParam(p: Record<string, unknown>): string {
  const s = p.symbol;
  if (s === undefined || s === '') throw new Bad(VENUE_ERROR.MISSING_PARAM, 'params.symbol: missing, expected a symbol such as BTCUSDT');
  if (typeof s !== 'string' || !/^[A-Z0-9]{2,20}$/.test(s)) throw new Bad(VENUE_ERROR.BAD_PARAM, `params.symbol ${JSON.stringify(s)}: expected an upper-case symbol such as BTCUSDT`);
  return s;
}

function clientOrderIdParam(p: Record<string, unknown>, key: string): string {
  const v = p[key];
  if (v === undefined || v === '') throw new Bad(VENUE_ERROR.MISSING_PARAM, `params.${key}: missing, expected 1..36 of [.A-Za-z0-9:/_-]`);
  if (typeof v !== 'string' || !CLIENT_ORDER_ID_RE.test(v)) throw new Bad(VENUE_ERROR.BAD_PARAM, `params.${key} ${JSON.stringify(v)}: expected 1..36 of [.A-Za-z0-9:/_-]`);
  return v;
}

/** A quantity or price: a JSON number, or a decimal string as Binance sends them; > 0. */
function decimalParam(p: Record<string, unknown>, key: string): number {
  const v = p[key];
  if (v === undefined || v === '') throw new Bad(VENUE_ERROR.MISSING_PARAM, `params.${key}: missing, expected a number > 0`);
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,20}(\.\d{1,20})?$/.test(v) ? Number(v) : NaN;
  if (typeof v !== 'number' && Number.isNaN(n)) throw new Bad(VENUE_ERROR.BAD_PARAM, `params.${key} ${JSON.stringify(v)}: expected a number > 0`);
  if (!(Number.isFinite(n) && n > 0)) throw new Bad(VENUE_ERROR.BAD_QTY_OR_PRICE, `params.${key} ${JSON.stringify(v)}: expected a number > 0`);
  return n;
}

function isRequestId(v: unknown): v is RequestId {
  return (typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'string' && v.length >= 1 && v.length <= REQUEST_ID_MAX_CHARS);
}

// --- a client reads responses and events -----------------------------------------------------------

export type VenueMessage = { kind: 'response'; response: VenueResponse } | { kind: 'event'; event: ExecutionReport };

export type VenueMessageProblem = 'malformed-json' | 'bad-response' | 'bad-event' | 'unknown-message';

export type ParsedVenueMessage = { ok: true; message: VenueMessage } | { ok: false; reason: VenueMessageProblem; detail: string };

const STATUSES: readonly VenueOrderStatus[] = ['NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'EXPIRED', 'REJECTED'];
const EXEC_TYPES: readonly ExecType[] = ['NEW', 'TRADE', 'CANCELED', 'EXPIRED'];

/** Validates one frame from the venue. Never throws. */
export function parseVenueMessage(text: string): ParsedVenueMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'malformed-json', detail: 'not JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'unknown-message', detail: 'expected a JSON object' };
  const o = raw as Record<string, unknown>;
  if ('event' in o) {
    const problem = eventProblem(o);
    return problem ? { ok: false, reason: 'bad-event', detail: problem } : { ok: true, message: { kind: 'event', event: o as unknown as ExecutionReport } };
  }
  if ('status' in o) {
    const problem = responseProblem(o);
    return problem ? { ok: false, reason: 'bad-response', detail: problem } : { ok: true, message: { kind: 'response', response: o as unknown as VenueResponse } };
  }
  return { ok: false, reason: 'unknown-message', detail: 'expected a response {id, status, result|error} or an event {event, ...}' };
}

function responseProblem(o: Record<string, unknown>): string | undefined {
  if (o.id !== null && !isRequestId(o.id)) return `id ${JSON.stringify(o.id)}: expected a request id or null`;
  if (o.status === 200) return 'result' in o ? undefined : 'status 200 without result';
  if (o.status !== 400 && o.status !== 429 && o.status !== 503) return `status ${JSON.stringify(o.status)}: expected 200, 400, 429 or 503`;
  const e = o.error as Record<string, unknown> | undefined;
  if (typeof e !== 'object' || e === null || typeof e.code !== 'number' || typeof e.msg !== 'string') return `error ${JSON.stringify(o.error)}: expected {code: number, msg: string}`;
  return undefined;
}

function eventProblem(o: Record<string, unknown>): string | undefined {
  if (o.event !== 'executionReport') return `event ${JSON.stringify(o.event)}: expected executionReport`;
  if (!EXEC_TYPES.includes(o.execType as ExecType)) return `execType ${JSON.stringify(o.execType)}: expected one of ${EXEC_TYPES.join(', ')}`;
  if (!STATUSES.includes(o.status as VenueOrderStatus)) return `status ${JSON.stringify(o.status)}: expected one of ${STATUSES.join(', ')}`;
  if (typeof o.clientOrderId !== 'string' || !CLIENT_ORDER_ID_RE.test(o.clientOrderId)) return `clientOrderId ${JSON.stringify(o.clientOrderId)}: expected 1..36 of [.A-Za-z0-9:/_-]`;
  if (typeof o.symbol !== 'string' || o.symbol === '') return `symbol ${JSON.stringify(o.symbol)}: expected a symbol`;
  if (o.side !== 'BUY' && o.side !== 'SELL') return `side ${JSON.stringify(o.side)}: expected BUY or SELL`;
  if (o.timeInForce !== 'GTC' && o.timeInForce !== 'IOC') return `timeInForce ${JSON.stringify(o.timeInForce)}: expected GTC or IOC`;
  for (const k of ['orderId', 'timeMs']) if (!isNonNegative(o[k])) return `${k} ${JSON.stringify(o[k])}: expected a number >= 0`;
  for (const k of ['qty', 'price']) if (!isPositive(o[k])) return `${k} ${JSON.stringify(o[k])}: expected a number > 0`;
  if (!isNonNegative(o.cumQty) || (o.cumQty as number) > (o.qty as number)) return `cumQty ${JSON.stringify(o.cumQty)}: expected a number in 0..qty (${String(o.qty)})`;
  if (o.execType === 'TRADE') {
    if (!(typeof o.tradeId === 'number' && Number.isSafeInteger(o.tradeId) && o.tradeId > 0)) return `tradeId ${JSON.stringify(o.tradeId)}: expected an integer > 0`;
    for (const k of ['lastQty', 'lastPrice']) if (!isPositive(o[k])) return `${k} ${JSON.stringify(o[k])}: expected a number > 0`;
  }
  return undefined;
}

const isPositive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;
const isNonNegative = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** Validates the result of an order.place / order.cancel / order.status response. */
export function wireOrderProblem(r: unknown): string | undefined {
  if (typeof r !== 'object' || r === null) return 'result: expected an order object';
  const o = r as Record<string, unknown>;
  if (typeof o.clientOrderId !== 'string' || !CLIENT_ORDER_ID_RE.test(o.clientOrderId)) return `result.clientOrderId ${JSON.stringify(o.clientOrderId)}: expected a client order id`;
  if (!isNonNegative(o.orderId)) return `result.orderId ${JSON.stringify(o.orderId)}: expected a number`;
  if (!STATUSES.includes(o.status as VenueOrderStatus)) return `result.status ${JSON.stringify(o.status)}: expected one of ${STATUSES.join(', ')}`;
  if (!isPositive(o.qty) || !isNonNegative(o.cumQty) || (o.cumQty as number) > (o.qty as number)) return `result.qty/cumQty ${JSON.stringify(o.qty)}/${JSON.stringify(o.cumQty)}: expected 0 <= cumQty <= qty`;
  if (o.side !== 'BUY' && o.side !== 'SELL') return `result.side ${JSON.stringify(o.side)}: expected BUY or SELL`;
  if (!Array.isArray(o.fills)) return 'result.fills: expected a list';
  for (const f of o.fills as unknown[]) {
    const x = f as Record<string, unknown>;
    if (typeof f !== 'object' || f === null || !(typeof x.tradeId === 'number' && x.tradeId > 0) || !isPositive(x.qty) || !isPositive(x.price) || !isNonNegative(x.timeMs)) {
      return `result.fills: expected {tradeId > 0, qty > 0, price > 0, timeMs}, got ${JSON.stringify(f)}`;
    }
  }
  return undefined;
}

/** Validates the result of an account.positions response. */
export function wirePositionsProblem(r: unknown): string | undefined {
  if (typeof r !== 'object' || r === null) return 'result: expected {positions, fills}';
  const o = r as Record<string, unknown>;
  if (typeof o.positions !== 'object' || o.positions === null || Array.isArray(o.positions)) return `result.positions ${JSON.stringify(o.positions)}: expected {SYMBOL: qty}`;
  for (const [k, v] of Object.entries(o.positions)) if (typeof v !== 'number' || !Number.isFinite(v)) return `result.positions.${k} ${JSON.stringify(v)}: expected a number`;
  if (!isNonNegative(o.fills)) return `result.fills ${JSON.stringify(o.fills)}: expected a count`;
  return undefined;
}

/** The executionReport of an engine event (for NEW, TRADE, CANCELED, EXPIRED). */
export function executionReport(execType: ExecType, o: { clientOrderId: string; orderId: number; symbol: string; side: Side; tif: TimeInForce; qty: number; price: number; status: VenueOrderStatus; cumQty: number }, timeMs: number, fill?: { tradeId: number; qty: number; price: number; maker: boolean }): ExecutionReport {
  const r: ExecutionReport = {
    event: 'executionReport',
    execType,
    status: o.status,
    clientOrderId: o.clientOrderId,
    orderId: o.orderId,
    symbol: o.symbol,
    side: toWireSide(o.side),
    timeInForce: o.tif,
    qty: o.qty,
    price: o.price,
    cumQty: o.cumQty,
    timeMs,
  };
  if (fill) {
    r.tradeId = fill.tradeId;
    r.lastQty = fill.qty;
    r.lastPrice = fill.price;
    r.maker = fill.maker;
  }
  return r;
}
