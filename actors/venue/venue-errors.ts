// What the venue answers when it says no: an HTTP-like status (400 the request is wrong or the
// order is refused, 429 too many requests, 503 the venue cannot serve it now) and a numeric code
// modelled on Binance's error codes, with a message that names the field, the value and what was
// expected. 429 and 503 are transient: the same request may succeed later.

export type VenueStatusCode = 200 | 400 | 429 | 503;

export interface VenueError {
  status: 400 | 429 | 503;
  code: number;
  msg: string;
}

export const VENUE_ERROR = {
  /** an internal error of the venue */
  UNKNOWN: -1000,
  /** too many requests (status 429) */
  TOO_MANY_REQUESTS: -1003,
  /** the venue is busy or shutting down (status 503): retry */
  VENUE_BUSY: -1008,
  /** a quantity or price out of range (<= 0, too many decimals, too large) */
  BAD_QTY_OR_PRICE: -1013,
  /** a method the venue does not serve */
  UNSUPPORTED_METHOD: -1020,
  /** a parameter of the wrong type or with illegal characters; a message that is not JSON */
  BAD_PARAM: -1100,
  /** a mandatory parameter is missing */
  MISSING_PARAM: -1102,
  /** a symbol the venue has no book for */
  BAD_SYMBOL: -1121,
  /** the order was refused (simulated reject, stale epoch, too many open orders) */
  ORDER_REJECTED: -2010,
  /** the cancel was refused (unknown order, or the order is no longer open) */
  CANCEL_REJECTED: -2011,
  /** the order does not exist */
  NO_SUCH_ORDER: -2013,
  /** a reduce-only order that would not reduce the position */
  REDUCE_ONLY_REJECTED: -2022,
} as const;

export const badRequest = (code: number, msg: string): VenueError => ({ status: 400, code, msg });

/** True for the errors a client may retry with the same request. */
export const isTransient = (status: number): boolean => status === 429 || status === 503;
