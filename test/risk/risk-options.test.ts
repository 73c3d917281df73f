// The risk actor's options from topology.yaml: defaults, per-symbol limits, and every impossible
// limit refused with the field path, the value and what was expected.
import { describe, expect, it } from 'vitest';
import { KindRegistry } from '../../runtime/kind-registry.ts';
import { risk, riskOptions } from '../../actors/risk/risk-actor.ts';
import { DEFAULT_RISK_CONFIG, limitsFor } from '../../actors/risk/risk-limits.ts';
import { INITIAL_VOL, MS_PER_DAY, sigma1d, volOnTrade } from '../../actors/risk/volatility.ts';

const opts = (options: Record<string, unknown>) => riskOptions({ address: 'risk', node: 'execution', options });

describe('risk options', () => {
  it('an empty options map gives the documented defaults', () => {
    const o = opts({});
    expect(o.ordersTo).toBe('order/');
    expect(o.config).toEqual(DEFAULT_RISK_CONFIG);
    expect(o.config.limits).toMatchObject({ default: { maxPosition: 1, maxNotional: 100_000 }, maxOpenPositions: 4, dailyLossLimit: 2000, orderRatePerS: 5, priceBandBps: 50, var99_1dLimit: 3000, concentrationMaxPct: 80 });
    expect(o.config.breaker).toEqual({ errorsToOpen: 5, windowMs: 10_000, cooldownMs: 5000, probeTimeoutMs: 10_000 });
  });

  it('reads every option; a symbol inherits the fields it leaves out from default', () => {
    const o = opts({
      limits: {
        default: { max_position: 1, max_notional: 100000 },
        symbols: { BTCUSDT: { max_position: 0.5, max_notional: 40000 }, ETHUSDT: { max_position: 10 } },
        max_open_positions: 4,
        daily_loss_limit: 2000,
        order_rate_per_s: 5,
        price_band_bps: 50,
        var_99_1d_limit: 3000,
        concentration_max_pct: 80,
      },
      breaker: { errors_to_open: 5, window_ms: 10000, cooldown_ms: 5000 },
      volatility: { sample_ms: 500, default_sigma_1d: 0.04 },
      orders_to: 'orders/',
    });
    expect(limitsFor(o.config.limits, 'BTCUSDT')).toEqual({ maxPosition: 0.5, maxNotional: 40000 });
    expect(limitsFor(o.config.limits, 'ETHUSDT')).toEqual({ maxPosition: 10, maxNotional: 100000 });
    expect(limitsFor(o.config.limits, 'SOLUSDT')).toEqual({ maxPosition: 1, maxNotional: 100000 });
    expect(o.config.volatility).toMatchObject({ sampleMs: 500, defaultSigma1d: 0.04, minSamples: 30 });
    expect(o.ordersTo).toBe('orders/');
  });

  it('refuses impossible limits, naming the field, the value and what was expected', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ limits: { symbols: { BTCUSDT: { max_notional: -5 } } } }, 'actor risk: options.limits.symbols.BTCUSDT.max_notional: expected a number > 0, got -5'],
      [{ limits: { default: { max_position: NaN } } }, 'actor risk: options.limits.default.max_position: expected a number > 0, got NaN'],
      [{ limits: { default: { max_position: 0 } } }, 'actor risk: options.limits.default.max_position: expected a number > 0, got 0'],
      [{ limits: { order_rate_per_s: '5' } }, 'actor risk: options.limits.order_rate_per_s: expected an integer >= 1, got "5"'],
      [{ limits: { order_rate_per_s: 2.5 } }, 'actor risk: options.limits.order_rate_per_s: expected an integer >= 1, got 2.5'],
      [{ limits: { daily_loss_limit: -2000 } }, 'actor risk: options.limits.daily_loss_limit: expected a number > 0, got -2000'],
      [{ limits: { var_99_1d_limit: Infinity } }, 'actor risk: options.limits.var_99_1d_limit: expected a number > 0, got Infinity'],
      [{ limits: { concentration_max_pct: 120 } }, 'actor risk: options.limits.concentration_max_pct: expected a percentage in (0, 100], got 120'],
      [{ limits: { price_band_bps: 0 } }, 'actor risk: options.limits.price_band_bps: expected a number of basis points in (0, 10000), got 0'],
      [{ limits: { max_open_positions: 0 } }, 'actor risk: options.limits.max_open_positions: expected an integer >= 1, got 0'],
      [{ limits: { max_postion: 1 } }, 'actor risk: options.limits.max_postion: unknown key: expected one of default, symbols, max_open_positions, max_open_orders, daily_loss_limit, order_rate_per_s, price_band_bps, var_99_1d_limit, concentration_max_pct, concentration_min_notional, duplicate_window_ms'],
      [{ limits: { symbols: { btcusdt: { max_position: 1 } } } }, 'actor risk: options.limits.symbols.btcusdt: expected a symbol of upper-case letters and digits (2-20), got "btcusdt"'],
      [{ limits: { symbols: { BTCUSDT: { max_pos: 1 } } } }, 'actor risk: options.limits.symbols.BTCUSDT.max_pos: unknown key: expected one of max_position, max_notional'],
      [{ limits: [] }, 'actor risk: options.limits: expected a map, got []'],
      [{ breaker: { cooldown_ms: 0 } }, 'actor risk: options.breaker.cooldown_ms: expected an integer >= 1, got 0'],
      [{ breaker: { errors_to_open: -1 } }, 'actor risk: options.breaker.errors_to_open: expected an integer >= 1, got -1'],
      [{ volatility: { default_sigma_1d: 0 } }, 'actor risk: options.volatility.default_sigma_1d: expected a daily volatility in (0, 10] (0.05 is 5%), got 0'],
      [{ orders_to: '' }, 'actor risk: options.orders_to: expected a non-empty string, got ""'],
      [{ venue: 'venue-gw' }, 'actor risk: options.venue: unknown key: expected one of limits, breaker, volatility, orders_to, intent_ids_max, recent_rejections_max'],
    ];
    for (const [o, message] of cases) {
      expect(() => opts(o), message).toThrow(TypeError);
      expect(() => opts(o)).toThrow(message);
    }
  });

  it('the kind factory refuses them too, so the node does not start', () => {
    const kinds = new KindRegistry().register('risk', (ctx) => risk(riskOptions(ctx)));
    expect(() => kinds.create('risk', { address: 'risk', node: 'execution', options: { breaker: { cooldown_ms: 0 } } })).toThrow('actor risk: options.breaker.cooldown_ms: expected an integer >= 1, got 0');
    expect(kinds.create('risk', { address: 'risk', node: 'execution', options: {} })).toBeDefined();
  });
});

describe('volatility (EWMA of sampled returns, scaled to one day)', () => {
  const cfg = { sampleMs: 1000, halflifeSamples: 10, minSamples: 3, defaultSigma1d: 0.05 };

  it('is the default until min_samples samples, then sqrt(EWMA(r^2/dt) * ms per day)', () => {
    let v = INITIAL_VOL;
    const prices = [100, 101, 100, 101, 100, 101];
    prices.forEach((p, i) => {
      v = volOnTrade(v, p, i * 1000, cfg);
      if (i < 3) expect(sigma1d(v, cfg)).toBe(0.05);
    });
    // Every sample is |ln(1.01)| over 1 s: the EWMA of equal values is that value.
    const r = Math.log(1.01);
    expect(sigma1d(v, cfg)).toBeCloseTo(Math.sqrt(((r * r) / 1000) * MS_PER_DAY), 12);
  });

  it('samples at most once per sample_ms (trades in between do not count) and weighs a longer gap as a longer return', () => {
    let v = INITIAL_VOL;
    v = volOnTrade(v, 100, 0, cfg);
    v = volOnTrade(v, 150, 500, cfg); // inside the sample interval: ignored
    expect(v.samples).toBe(0);
    v = volOnTrade(v, 100, 4000, cfg);
    expect(v.samples).toBe(1);
    expect(v.variancePerMs).toBe(0);
    v = volOnTrade(v, 102, 8000, cfg);
    expect(v.variancePerMs).toBeCloseTo((1 - 2 ** -0.1) * (Math.log(1.02) ** 2 / 4000), 15);
    // An older trade, or a bad price, changes nothing.
    expect(volOnTrade(v, 90, 7000, cfg)).toBe(v);
    expect(volOnTrade(v, NaN, 9000, cfg)).toBe(v);
  });
});
