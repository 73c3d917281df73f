// What the signal asks risk for. Risk (the next stage) decides; the signal never sends orders.

export type Side = 'buy' | 'sell';

export interface OrderIntent {
  type: 'order-intent';
  /** deterministic: the same model decision on the same book state gives the same id */
  id: string;
  symbol: string;
  side: Side;
  qty: number;
  /** the price the signal would pay at most (buy) or take at least (sell): the touch it saw */
  limitPrice: number;
  /** the winning side's probability: pUp for a buy, pDown for a sell */
  confidence: number;
  /** the model's P(mid at t + horizon > mid at t) */
  pUp: number;
  /** the model's P(mid at t + horizon < mid at t) */
  pDown: number;
  /** book update id the decision was made on */
  bookU: number;
  /** when the tick that led here was read off the feed socket, ms since epoch (tick-to-order) */
  rxMs: number;
}
