/**
 * Risk limits wide enough that every intent of a benchmark is approved: the benches measure the
 * cost of the checks, not their refusals. Sides alternate or vary, so positions stay bounded.
 */
export const WIDE_RISK_LIMITS = {
  default: { max_position: 1e9, max_notional: 1e15 },
  max_open_positions: 16,
  max_open_orders: 100_000,
  daily_loss_limit: 1e12,
  order_rate_per_s: 1_000_000,
  price_band_bps: 50,
  var_99_1d_limit: 1e15,
  concentration_max_pct: 100,
  duplicate_window_ms: 0,
};
