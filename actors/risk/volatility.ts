// Volatility per symbol from the trades risk sees, for VaR. The last trade price is sampled at
// most once per `sampleMs` of exchange time; each sample gives a log return r over the dt it
// spans, and r^2 / dt is an estimate of the variance per millisecond. Those are averaged with an
// exponential weight (EWMA, RiskMetrics style; the weight halves every `halflifeSamples` samples)
// and scaled to one day: sigma_1d = sqrt(variance_per_ms * 86,400,000). Dividing by dt makes
// uneven gaps (quiet markets, feed outages) count for what they are instead of as one step.
// Until `minSamples` samples exist the estimate is `defaultSigma1d`, a deliberately cautious prior,
// so VaR is never zero just because risk has only just started. Sampling (rather than using every
// trade) keeps bid-ask bounce between consecutive trades from inflating the estimate. Pure: time
// comes from the trades, so a replay gives the same figures.

export interface VolatilityConfig {
  /** least exchange time between two samples */
  sampleMs: number;
  /** samples after which a sample's weight has halved */
  halflifeSamples: number;
  /** samples before the estimate replaces defaultSigma1d */
  minSamples: number;
  /** daily volatility (0.05 = 5%) used until there are minSamples samples */
  defaultSigma1d: number;
}

export interface VolState {
  /** price and exchange time of the last sample (NaN before the first trade) */
  readonly samplePrice: number;
  readonly sampleMs: number;
  /** EWMA of r^2 / dt, variance per ms */
  readonly variancePerMs: number;
  readonly samples: number;
}

export const MS_PER_DAY = 86_400_000;

export const INITIAL_VOL: VolState = { samplePrice: NaN, sampleMs: NaN, variancePerMs: 0, samples: 0 };

/** The estimator after one trade (a trade older than the last sample is ignored). */
export function volOnTrade(v: VolState, price: number, timeMs: number, cfg: VolatilityConfig): VolState {
  if (!(price > 0) || !Number.isFinite(price) || !Number.isFinite(timeMs)) return v;
  if (Number.isNaN(v.samplePrice)) return { ...v, samplePrice: price, sampleMs: timeMs };
  const dt = timeMs - v.sampleMs;
  if (dt < cfg.sampleMs) return v;
  const r = Math.log(price / v.samplePrice);
  const x = (r * r) / dt;
  const lambda = 2 ** (-1 / cfg.halflifeSamples);
  const variancePerMs = v.samples === 0 ? x : lambda * v.variancePerMs + (1 - lambda) * x;
  return { samplePrice: price, sampleMs: timeMs, variancePerMs, samples: v.samples + 1 };
}

/** One-day volatility (a fraction of the price): the estimate, or the default until warmed up. */
export function sigma1d(v: VolState, cfg: VolatilityConfig): number {
  return v.samples >= cfg.minSamples ? Math.sqrt(v.variancePerMs * MS_PER_DAY) : cfg.defaultSigma1d;
}
