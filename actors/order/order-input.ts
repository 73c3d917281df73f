// What reaches an order actor from outside, checked field by field before the machine sees it:
// the order spec of a SubmitOrder, and the venue's messages. A bad one is described (field, value,
// what was expected) so the actor can count it and log it with what it was; it changes no order.
import { CLIENT_ORDER_ID_RE, type OrderSpec, type VenueToOrder } from './order-protocol.ts';

export type BadInputReason =
  /** not an object with a known message type */
  | 'malformed'
  /** a field missing or of the wrong type or range */
  | 'bad-field'
  /** a fill with a quantity that is not a finite number > 0 */
  | 'bad-fill-qty'
  /** a fill with a price that is not a finite number > 0 */
  | 'bad-fill-price'
  /** a fill for another symbol or side than the order's */
  | 'fill-mismatch'
  /** a message for another client order id */
  | 'wrong-order'
  /** a venue message, cancel or timer for an order this actor never received (e.g. after it stopped) */
  | 'no-order';

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: BadInputReason; detail: string };

const VENUE_TYPES = ['venue-ack', 'venue-reject', 'venue-fill', 'venue-cancelled', 'venue-cancel-reject'] as const;

export const isVenueMessage = (m: { type?: unknown }): boolean => (VENUE_TYPES as readonly unknown[]).includes(m.type);

const bad = <T>(reason: BadInputReason, detail: string): Checked<T> => ({ ok: false, reason, detail });
const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s;
};

type Field = 'string' | 'boolean' | 'number' | 'positive' | 'integer';
const fieldOk = (v: unknown, kind: Field): boolean => {
  switch (kind) {
    case 'string':
      return typeof v === 'string' && v !== '';
    case 'boolean':
      return typeof v === 'boolean';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'positive':
      return typeof v === 'number' && Number.isFinite(v) && v > 0;
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
  }
};
const expectedOf: Record<Field, string> = {
  string: 'a non-empty string',
  boolean: 'true or false',
  number: 'a finite number',
  positive: 'a finite number > 0',
  integer: 'an integer',
};

function fields(m: Record<string, unknown>, where: string, spec: Record<string, Field>): string | undefined {
  for (const [k, kind] of Object.entries(spec)) {
    if (!fieldOk(m[k], kind)) return `${where}.${k} = ${show(m[k])}: expected ${expectedOf[kind]}`;
  }
  return undefined;
}

/** Checks a venue message addressed to the order `clientOrderId` (fills also against its symbol and side, once known). */
export function checkVenueMessage(msg: unknown, clientOrderId: string, spec?: Pick<OrderSpec, 'symbol' | 'side'>): Checked<VenueToOrder> {
  if (typeof msg !== 'object' || msg === null || !isVenueMessage(msg as { type?: unknown })) {
    return bad('malformed', `expected one of ${VENUE_TYPES.join(', ')}, got ${show(msg).slice(0, 200)}`);
  }
  const m = msg as Record<string, unknown>;
  const t = m.type as (typeof VENUE_TYPES)[number];
  const problem = fields(m, t, { clientOrderId: 'string' });
  if (problem) return bad('bad-field', problem);
  if (m.clientOrderId !== clientOrderId) return bad('wrong-order', `${t}.clientOrderId = ${show(m.clientOrderId)}: this actor holds order ${show(clientOrderId)}`);
  switch (t) {
    case 'venue-ack': {
      const p = fields(m, t, { venueOrderId: 'number', duplicate: 'boolean' });
      return p ? bad('bad-field', p) : { ok: true, value: m as unknown as VenueToOrder };
    }
    case 'venue-reject': {
      const p = fields(m, t, { reason: 'string', transient: 'boolean' });
      return p ? bad('bad-field', p) : { ok: true, value: m as unknown as VenueToOrder };
    }
    case 'venue-cancelled': {
      const p = fields(m, t, { expired: 'boolean' });
      return p ? bad('bad-field', p) : { ok: true, value: m as unknown as VenueToOrder };
    }
    case 'venue-cancel-reject': {
      const p = fields(m, t, { reason: 'string' });
      if (p) return bad('bad-field', p);
      if (m.transient !== undefined && typeof m.transient !== 'boolean') return bad('bad-field', `venue-cancel-reject.transient = ${show(m.transient)}: expected true, false or absent`);
      return { ok: true, value: m as unknown as VenueToOrder };
    }
    case 'venue-fill': {
      const p = fields(m, t, { tradeId: 'integer', symbol: 'string', cumQty: 'number', timeMs: 'number' });
      if (p) return bad('bad-field', p);
      if (m.side !== 'buy' && m.side !== 'sell') return bad('bad-field', `venue-fill.side = ${show(m.side)}: expected "buy" or "sell"`);
      if (!fieldOk(m.qty, 'positive')) return bad('bad-fill-qty', `venue-fill.qty = ${show(m.qty)}: expected a finite number > 0 (trade ${show(m.tradeId)})`);
      if (!fieldOk(m.price, 'positive')) return bad('bad-fill-price', `venue-fill.price = ${show(m.price)}: expected a finite number > 0 (trade ${show(m.tradeId)})`);
      if (spec && (m.symbol !== spec.symbol || m.side !== spec.side)) {
        return bad('fill-mismatch', `venue-fill ${show(m.side)} ${show(m.symbol)} (trade ${show(m.tradeId)}): order ${clientOrderId} is ${spec.side} ${spec.symbol}`);
      }
      return { ok: true, value: m as unknown as VenueToOrder };
    }
  }
}

/** Checks the order a SubmitOrder carries. */
export function checkOrderSpec(spec: unknown): Checked<OrderSpec> {
  if (typeof spec !== 'object' || spec === null) return bad('malformed', `submit-order.order = ${show(spec)}: expected an order`);
  const o = spec as Record<string, unknown>;
  if (typeof o.clientOrderId !== 'string' || !CLIENT_ORDER_ID_RE.test(o.clientOrderId)) {
    return bad('bad-field', `order.clientOrderId = ${show(o.clientOrderId)}: expected 1..36 of [.A-Za-z0-9:/_-]`);
  }
  const p = fields(o, 'order', { symbol: 'string', qty: 'positive', price: 'positive', intentId: 'string', rxMs: 'number', epoch: 'integer' });
  if (p) return bad('bad-field', p);
  if (o.side !== 'buy' && o.side !== 'sell') return bad('bad-field', `order.side = ${show(o.side)}: expected "buy" or "sell"`);
  if (o.tif !== 'GTC' && o.tif !== 'IOC') return bad('bad-field', `order.tif = ${show(o.tif)}: expected "GTC" or "IOC"`);
  if (typeof o.reduceOnly !== 'boolean') return bad('bad-field', `order.reduceOnly = ${show(o.reduceOnly)}: expected true or false`);
  if (o.marketUpdateId !== undefined && !(typeof o.marketUpdateId === 'number' && Number.isSafeInteger(o.marketUpdateId) && o.marketUpdateId >= 0)) {
    return bad('bad-field', `order.marketUpdateId = ${show(o.marketUpdateId)}: expected an integer >= 0 (a book update id) or absent`);
  }
  return { ok: true, value: o as unknown as OrderSpec };
}
