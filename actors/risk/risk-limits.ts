// The risk actor's configuration as data: pre-trade limits, the circuit breaker's thresholds and
// the volatility estimator behind VaR, parsed from the actor's topology options. Every field is
// checked: a limit that cannot be right (negative, zero where zero means nothing can trade, NaN,
// a string, an unknown key that is probably a typo of a real one) throws a TypeError naming the
// field path, so the node refuses to start instead of trading under a limit nobody meant.
import type { BreakerConfig } from './circuit-breaker.ts';
import type { VolatilityConfig } from './volatility.ts';

export interface SymbolLimits {
  /** most net quantity (base units) a symbol may reach, counting open orders of the same side */
  maxPosition: number;
  /** most notional (quote currency) a symbol may reach, counting open orders of the same side */
  maxNotional: number;
}

export interface RiskLimits {
  /** limits of a symbol not listed in `symbols` */
  default: SymbolLimits;
  /** per-symbol limits; a field a symbol leaves out comes from `default` */
  symbols: Readonly<Record<string, SymbolLimits>>;
  /** most symbols with a non-zero position or an open order at once */
  maxOpenPositions: number;
  /** most orders open at once (the open-order table's bound) */
  maxOpenOrders: number;
  /** loss of the UTC trading day (quote currency, > 0) at which only reduce-only orders pass until the next day */
  dailyLossLimit: number;
  /** most orders sent in any 1 s window */
  orderRatePerS: number;
  /** most distance of an order's price from the last trade, in basis points */
  priceBandBps: number;
  /** most 99% one-day VaR of the portfolio (quote currency) after the order */
  var99_1dLimit: number;
  /** most share of one symbol in the portfolio's gross notional after the order, in percent */
  concentrationMaxPct: number;
  /** the concentration check applies only above this gross notional (so the first position is allowed) */
  concentrationMinNotional: number;
  /** an order with the same symbol, side, quantity and price as one sent this recently is a duplicate */
  duplicateWindowMs: number;
}

export interface RiskConfig {
  limits: RiskLimits;
  breaker: BreakerConfig;
  volatility: VolatilityConfig;
  /** approved intent ids remembered for duplicate detection */
  intentIdsMax: number;
  /** latest rejections kept for the status */
  recentRejectionsMax: number;
}

export const DEFAULT_LIMITS: RiskLimits = {
  default: { maxPosition: 1, maxNotional: 100_000 },
  symbols: {},
  maxOpenPositions: 4,
  maxOpenOrders: 64,
  dailyLossLimit: 2000,
  orderRatePerS: 5,
  priceBandBps: 50,
  var99_1dLimit: 3000,
  concentrationMaxPct: 80,
  concentrationMinNotional: 10_000,
  duplicateWindowMs: 500,
};

export const DEFAULT_BREAKER: BreakerConfig = { errorsToOpen: 5, windowMs: 10_000, cooldownMs: 5000, probeTimeoutMs: 10_000 };

export const DEFAULT_VOLATILITY: VolatilityConfig = { sampleMs: 1000, halflifeSamples: 120, minSamples: 30, defaultSigma1d: 0.05 };

export const DEFAULT_RISK_CONFIG: RiskConfig = {
  limits: DEFAULT_LIMITS,
  breaker: DEFAULT_BREAKER,
  volatility: DEFAULT_VOLATILITY,
  intentIdsMax: 4096,
  recentRejectionsMax: 32,
};

/** The limits that apply to a symbol. */
export function limitsFor(limits: RiskLimits, symbol: string): SymbolLimits {
  return limits.symbols[symbol] ?? limits.default;
}

/** A symbol the limits name explicitly (an intent for any other needs a known last price). */
export function isConfigured(limits: RiskLimits, symbol: string): boolean {
  return Object.hasOwn(limits.symbols, symbol);
}

export const SYMBOL_RE = /^[A-Z0-9]{2,20}$/;

const show = (v: unknown): string => (typeof v === 'number' ? String(v) : v === undefined ? 'nothing' : JSON.stringify(v));

/** Reads one options object: every key it holds must be one of `keys`. */
class Fields {
  constructor(
    readonly path: string,
    readonly o: Record<string, unknown>,
  ) {}

  static of(v: unknown, path: string): Fields {
    if (v === undefined || v === null) return new Fields(path, {});
    if (typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${path}: expected a map, got ${show(v)}`);
    return new Fields(path, v as Record<string, unknown>);
  }

  onlyKeys(keys: readonly string[]): this {
    for (const k of Object.keys(this.o)) {
      if (!keys.includes(k)) throw new TypeError(`${this.path}.${k}: unknown key: expected one of ${keys.join(', ')}`);
    }
    return this;
  }

  num(key: string, dflt: number, ok: (v: number) => boolean, what: string): number {
    const v = this.o[key] ?? dflt;
    if (typeof v !== 'number' || Number.isNaN(v) || !ok(v)) throw new TypeError(`${this.path}.${key}: expected ${what}, got ${show(v)}`);
    return v;
  }

  positive(key: string, dflt: number): number {
    return this.num(key, dflt, (v) => v > 0 && Number.isFinite(v), 'a number > 0');
  }

  int(key: string, dflt: number, min: number): number {
    return this.num(key, dflt, (v) => Number.isSafeInteger(v) && v >= min, `an integer >= ${min}`);
  }

  str(key: string, dflt: string): string {
    const v = this.o[key] ?? dflt;
    if (typeof v !== 'string' || v === '') throw new TypeError(`${this.path}.${key}: expected a non-empty string, got ${show(v)}`);
    return v;
  }

  sub(key: string): Fields {
    return Fields.of(this.o[key], `${this.path}.${key}`);
  }
}

const SYMBOL_LIMIT_KEYS = ['max_position', 'max_notional'] as const;

function symbolLimits(f: Fields, dflt: SymbolLimits): SymbolLimits {
  f.onlyKeys(SYMBOL_LIMIT_KEYS);
  return { maxPosition: f.positive('max_position', dflt.maxPosition), maxNotional: f.positive('max_notional', dflt.maxNotional) };
}

/** `options.limits` (path: where the error messages say it is, e.g. `actor risk: options.limits`). */
export function parseRiskLimits(v: unknown, path: string): RiskLimits {
  const d = DEFAULT_LIMITS;
  const f = Fields.of(v, path).onlyKeys([
    'default',
    'symbols',
    'max_open_positions',
    'max_open_orders',
    'daily_loss_limit',
    'order_rate_per_s',
    'price_band_bps',
    'var_99_1d_limit',
    'concentration_max_pct',
    'concentration_min_notional',
    'duplicate_window_ms',
  ]);
  const dflt = symbolLimits(f.sub('default'), d.default);
  const syms = f.sub('symbols');
  const symbols: Record<string, SymbolLimits> = {};
  for (const sym of Object.keys(syms.o)) {
    if (!SYMBOL_RE.test(sym)) throw new TypeError(`${syms.path}.${sym}: expected a symbol of upper-case letters and digits (2-20), got ${JSON.stringify(sym)}`);
    symbols[sym] = symbolLimits(syms.sub(sym), dflt);
  }
  return {
    default: dflt,
    symbols,
    maxOpenPositions: f.int('max_open_positions', d.maxOpenPositions, 1),
    maxOpenOrders: f.int('max_open_orders', d.maxOpenOrders, 1),
    dailyLossLimit: f.positive('daily_loss_limit', d.dailyLossLimit),
    orderRatePerS: f.int('order_rate_per_s', d.orderRatePerS, 1),
    priceBandBps: f.num('price_band_bps', d.priceBandBps, (x) => x > 0 && x < 10_000, 'a number of basis points in (0, 10000)'),
    var99_1dLimit: f.positive('var_99_1d_limit', d.var99_1dLimit),
    concentrationMaxPct: f.num('concentration_max_pct', d.concentrationMaxPct, (x) => x > 0 && x <= 100, 'a percentage in (0, 100]'),
    concentrationMinNotional: f.num('concentration_min_notional', d.concentrationMinNotional, (x) => x >= 0 && Number.isFinite(x), 'a number >= 0'),
    duplicateWindowMs: f.int('duplicate_window_ms', d.duplicateWindowMs, 0),
  };
}

/** `options.breaker`. */
export function parseBreakerConfig(v: unknown, path: string): BreakerConfig {
  const d = DEFAULT_BREAKER;
  const f = Fields.of(v, path).onlyKeys(['errors_to_open', 'window_ms', 'cooldown_ms', 'probe_timeout_ms']);
  return {
    errorsToOpen: f.int('errors_to_open', d.errorsToOpen, 1),
    windowMs: f.int('window_ms', d.windowMs, 1),
    cooldownMs: f.int('cooldown_ms', d.cooldownMs, 1),
    probeTimeoutMs: f.int('probe_timeout_ms', d.probeTimeoutMs, 1),
  };
}

/** `options.volatility`. */
export function parseVolatilityConfig(v: unknown, path: string): VolatilityConfig {
  const d = DEFAULT_VOLATILITY;
  const f = Fields.of(v, path).onlyKeys(['sample_ms', 'halflife_samples', 'min_samples', 'default_sigma_1d']);
  return {
    sampleMs: f.int('sample_ms', d.sampleMs, 1),
    halflifeSamples: f.positive('halflife_samples', d.halflifeSamples),
    minSamples: f.int('min_samples', d.minSamples, 1),
    defaultSigma1d: f.num('default_sigma_1d', d.defaultSigma1d, (x) => x > 0 && x <= 10, 'a daily volatility in (0, 10] (0.05 is 5%)'),
  };
}

export const RISK_OPTION_KEYS = ['limits', 'breaker', 'volatility', 'orders_to', 'intent_ids_max', 'recent_rejections_max'] as const;

/** The whole `options` map of a `risk` actor; `where` is e.g. `actor risk: options`. */
export function parseRiskOptions(v: unknown, where: string): { config: RiskConfig; ordersTo: string } {
  const f = Fields.of(v, where).onlyKeys(RISK_OPTION_KEYS);
  return {
    config: {
      limits: parseRiskLimits(f.o.limits, `${where}.limits`),
      breaker: parseBreakerConfig(f.o.breaker, `${where}.breaker`),
      volatility: parseVolatilityConfig(f.o.volatility, `${where}.volatility`),
      intentIdsMax: f.int('intent_ids_max', DEFAULT_RISK_CONFIG.intentIdsMax, 1),
      recentRejectionsMax: f.int('recent_rejections_max', DEFAULT_RISK_CONFIG.recentRejectionsMax, 1),
    },
    ordersTo: f.str('orders_to', 'order/'),
  };
}
