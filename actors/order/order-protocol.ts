// The messages of the execution half: risk -> order actors -> venue gateway -> venue, and fills
// back to orders, positions and risk. Every order carries the deterministic client order id that
// makes a resend recognisable, and the lease epoch (0 until failover lands) that fencing will check.
import type { Side } from '../signal/order-intent.ts';

export type { Side };

/** Binance's rule for client order ids: 1..36 of [.A-Za-z0-9:/_-]. */
export const CLIENT_ORDER_ID_RE = /^[.A-Za-z0-9:/_-]{1,36}$/;

export type TimeInForce = 'GTC' | 'IOC';

/** An order as risk approved it: what the order actor submits. */
export interface OrderSpec {
  clientOrderId: string;
  symbol: string;
  side: Side;
  qty: number;
  price: number;
  tif: TimeInForce;
  /** only reduces an existing position (the operator's flatten path while trading is halted) */
  reduceOnly: boolean;
  /** the intent it came from (or `operator:<...>` for an operator order) */
  intentId: string;
  /** when the tick behind it was read off the feed socket, ms since epoch (tick-to-order) */
  rxMs: number;
  epoch: number;
  /** risk's clock when it approved the order: an approval that reaches its order actor too late is not placed */
  approvedMs?: number;
  /** the book update (`u`) the signal decided on: a venue with match_at decision matches there */
  marketUpdateId?: number;
}

// ---- risk -> order/<clientOrderId> (the order actor is started by this first message)

export interface SubmitOrder {
  type: 'submit-order';
  order: OrderSpec;
  /** risk sends its open orders again after it restarted: an order actor that holds it says where it stands */
  resend?: true;
}

/** risk (kill switch) or operator -> order: cancel if still open. */
export interface CancelOrder {
  type: 'cancel-order';
  clientOrderId: string;
  reason: string;
}

// ---- order actor -> venue gateway (address `venue-gw` by default)

export interface VenuePlace {
  type: 'venue-place';
  order: OrderSpec;
  /** 0 for the first send, then 1, 2, 3 for resends of the same client order id */
  attempt: number;
}

export interface VenueCancel {
  type: 'venue-cancel';
  clientOrderId: string;
  symbol: string;
}

/** Ask the venue where an order is (after a timeout, or at recovery). */
export interface VenueQueryOrder {
  type: 'venue-query-order';
  clientOrderId: string;
  symbol: string;
}

// ---- venue gateway -> order/<clientOrderId>

export interface VenueAck {
  type: 'venue-ack';
  clientOrderId: string;
  venueOrderId: number;
  /** true when the venue had already seen this client order id (a resend): not a new order */
  duplicate: boolean;
}

export interface VenueReject {
  type: 'venue-reject';
  clientOrderId: string;
  reason: string;
  /** a transient error (timeout, rate limit, venue busy): the order may retry */
  transient: boolean;
}

export interface VenueFill {
  type: 'venue-fill';
  clientOrderId: string;
  symbol: string;
  side: Side;
  /** venue trade id: unique per fill, so a fill seen twice is applied once */
  tradeId: number;
  qty: number;
  price: number;
  /** cumulative filled quantity of the order after this fill */
  cumQty: number;
  /** the venue's time of the fill, ms since epoch */
  timeMs: number;
}

export interface VenueCancelled {
  type: 'venue-cancelled';
  clientOrderId: string;
  /** IOC remainder expired (true) or cancel on request (false) */
  expired: boolean;
}

export interface VenueCancelReject {
  type: 'venue-cancel-reject';
  clientOrderId: string;
  reason: string;
  /** the cancel did not reach the venue (disconnected, busy, timeout): the order resends it. Absent:
   *  false, unless the reason starts with "transient:" (the gateway's convention before this field) */
  transient?: boolean;
}

export type VenueToOrder = VenueAck | VenueReject | VenueFill | VenueCancelled | VenueCancelReject;

// ---- order actor -> risk and position

export type OrderState = 'created' | 'submitted' | 'acked' | 'partially_filled' | 'filled' | 'cancel_pending' | 'cancelled' | 'rejected' | 'expired';

export const TERMINAL_ORDER_STATES: readonly OrderState[] = ['filled', 'cancelled', 'rejected', 'expired'];

/** Every state change of an order, to risk (open orders, breaker) and position (fills). */
export interface OrderUpdate {
  type: 'order-update';
  clientOrderId: string;
  symbol: string;
  side: Side;
  qty: number;
  price: number;
  state: OrderState;
  filledQty: number;
  reason?: string;
  /** set when this update reports a new fill */
  fill?: { tradeId: number; qty: number; price: number; timeMs: number };
  /** the venue said no or failed for this order (counts toward the breaker) */
  venueError?: boolean;
}

// ---- position <-> venue (reconciliation), via the venue gateway

export interface VenuePositionsRequest {
  type: 'venue-positions-request';
}

export interface VenuePositions {
  type: 'venue-positions';
  /** net quantity per symbol at the venue (buys positive) */
  positions: Record<string, number>;
  /** the venue's count of fills it has sent, for a completeness check */
  fills: number;
}

// ---- position -> risk

/** After every fill and mark: what risk needs for its position, notional and loss limits. */
export interface PositionUpdate {
  type: 'position-update';
  symbol: string;
  /** net quantity, buys positive */
  qty: number;
  avgPrice: number;
  /** last mark (last trade price) */
  markPrice: number;
  realizedPnl: number;
  unrealizedPnl: number;
  /** realized + unrealized since the start of the trading day (UTC), all symbols */
  dailyPnl: number;
  /** trading day this daily P&L belongs to, YYYY-MM-DD (UTC) */
  day: string;
}

/** Anyone -> risk: open the breaker now, with the reason (reconciliation break, journal down...). */
export interface BreakerTrip {
  type: 'breaker-trip';
  reason: string;
}

/** Operator -> risk. Only this message turns the kill switch off. */
export interface KillSwitch {
  type: 'kill-switch';
  on: boolean;
  by: string;
}

/** Operator -> risk: flatten a symbol with a reduce-only order (allowed while trading is halted). */
export interface FlattenRequest {
  type: 'flatten';
  symbol: string;
  by: string;
}
