// Each pre-trade check on its own: the order it stops, the limit it names, the value that broke it
// and the limit's value. Bad input first.
import { describe, expect, it } from 'vitest';
import { CLIENT_ORDER_ID_RE } from '../../actors/order/order-protocol.ts';
import { clientOrderIdFor } from '../../actors/risk/client-order-id.ts';
import type { CheckResult, Rejection } from '../../actors/risk/pre-trade-checks.ts';
import type { RiskConfig, RiskLimits } from '../../actors/risk/risk-limits.ts';
import { DAY0_MS, RiskCore, SMALL, intent, position, trade, update } from './risk-fixtures.ts';

/** Limits nothing in these tests reaches, but the one a test sets. */
const LOOSE: RiskLimits = {
  default: { maxPosition: 10, maxNotional: 1e6 },
  symbols: { AAA: { maxPosition: 10, maxNotional: 1e6 }, DDD: { maxPosition: 10, maxNotional: 1e6 } },
  maxOpenPositions: 10,
  maxOpenOrders: 100,
  dailyLossLimit: 50,
  orderRatePerS: 100,
  priceBandBps: 50,
  var99_1dLimit: 1e9,
  concentrationMaxPct: 100,
  concentrationMinNotional: 1e9,
  duplicateWindowMs: 300,
};

const core = (limits: Partial<RiskLimits> = {}): RiskCore => {
  const config: RiskConfig = { ...SMALL, limits: { ...LOOSE, ...limits } };
  const c = new RiskCore(config);
  c.send(trade('AAA', 100, DAY0_MS + 1000));
  c.send(trade('BBB', 100, DAY0_MS + 1000));
  c.send(trade('CCC', 100, DAY0_MS + 1000));
  return c;
};

let n = 0;
const ask = (c: RiskCore, symbol: string, side: 'buy' | 'sell', qty: number, price = 100, id = `t${++n}`): CheckResult => c.send(intent(id, symbol, side, qty, price)).decision!;

const rejected = (r: CheckResult): Rejection => {
  if (!('rejected' in r)) throw new Error(`expected a rejection, got approved ${JSON.stringify(r.approved)}`);
  return r.rejected;
};
const approved = (r: CheckResult) => {
  if (!('approved' in r)) throw new Error(`expected an approval, got ${r.rejected.limit}: ${r.rejected.message}`);
  return r.approved;
};

describe('bad input is rejected with its reason', () => {
  it('a non-positive, NaN or infinite quantity: bad_qty with the quantity', () => {
    const c = core();
    for (const qty of [0, -1, NaN, Infinity]) {
      const r = rejected(ask(c, 'AAA', 'buy', qty));
      expect(r.limit).toBe('bad_qty');
      expect(r.value).toBe(qty);
      expect(r.limitValue).toBe(0);
      expect(r.message).toContain('expected a finite number > 0');
    }
  });

  it('a NaN, zero or negative price: bad_price', () => {
    const c = core();
    for (const price of [NaN, 0, -100]) {
      const r = rejected(ask(c, 'AAA', 'buy', 0.1, price));
      expect(r).toMatchObject({ limit: 'bad_price', limitValue: 0 });
      expect(Object.is(r.value, price)).toBe(true);
    }
  });

  it('an unknown symbol (not in the limits, no trade seen): unknown_symbol; a configured one with no trade yet: no_last_price; a malformed one: bad_symbol', () => {
    const c = core();
    expect(rejected(ask(c, 'ZZZUSDT', 'buy', 0.1))).toMatchObject({ limit: 'unknown_symbol', message: 'ZZZUSDT: unknown symbol (not in the limits and no trade seen for it)' });
    expect(rejected(ask(c, 'DDD', 'buy', 0.1)).limit).toBe('no_last_price');
    expect(rejected(ask(c, 'btcusdt', 'buy', 0.1)).limit).toBe('bad_symbol');
  });

  it('malformed messages from other actors are counted and skipped, never fatal', () => {
    const c = core();
    c.send({ ...update({ clientOrderId: 'x', symbol: 'AAA', side: 'buy', qty: 1, price: 100 }, 'acked', 0), filledQty: NaN });
    c.send({ ...position('AAA', 1, 0), day: 'yesterday' });
    c.send({ ...trade('AAA', 100), price: -1 });
    c.send({ type: 'kill-switch', on: 'yes' as unknown as boolean, by: 'x' });
    expect(c.state.counters.badMessages).toBe(4);
    expect(c.state.breaker.state).toBe('closed');
    expect(c.state.symbols.get('AAA')!.lastPrice).toBe(100);
  });
});

describe('approved orders', () => {
  it('carry a deterministic client order id from the intent id (rt- + 32 hex, <= 36 chars), IOC, the epoch', () => {
    const c = core();
    const o = approved(ask(c, 'AAA', 'buy', 0.1, 100, 'intent-42'));
    expect(o.clientOrderId).toBe(clientOrderIdFor('intent-42'));
    expect(o.clientOrderId).toMatch(/^rt-[0-9a-f]{32}$/);
    expect(o.clientOrderId).toMatch(CLIENT_ORDER_ID_RE);
    expect(clientOrderIdFor('intent-42')).toBe(o.clientOrderId);
    expect(o).toMatchObject({ symbol: 'AAA', side: 'buy', qty: 0.1, price: 100, tif: 'IOC', reduceOnly: false, intentId: 'intent-42', epoch: 0 });
    expect(c.last!.effects).toContainEqual({ kind: 'submit', order: o });
  });

  it('the same intent twice: duplicate_intent; the same order under another id within the window: duplicate_order', () => {
    const c = core();
    approved(ask(c, 'AAA', 'buy', 0.1, 100, 'same'));
    expect(rejected(ask(c, 'AAA', 'buy', 0.1, 100, 'same'))).toMatchObject({ limit: 'duplicate_intent' });
    c.advance(100);
    expect(rejected(ask(c, 'AAA', 'buy', 0.1, 100))).toMatchObject({ limit: 'duplicate_order', value: 100, limitValue: 300 });
    c.advance(200);
    approved(ask(c, 'AAA', 'buy', 0.1, 100));
  });
});

describe('limits', () => {
  it('max_position counts open orders of the same side (no fills needed to reach it) and takes the worse of fills and the position report', () => {
    const c = core({ symbols: { AAA: { maxPosition: 2, maxNotional: 1e6 } } });
    const o = approved(ask(c, 'AAA', 'buy', 1.5));
    expect(rejected(ask(c, 'AAA', 'buy', 0.6))).toMatchObject({ limit: 'max_position', value: 2.1, limitValue: 2 });
    c.send(update(o, 'filled', 1.5, { fill: { tradeId: 1, qty: 1.5, price: 100, timeMs: 0 } }));
    // A stale report of flat does not hide the fill.
    c.send(position('AAA', 0, 0));
    expect(rejected(ask(c, 'AAA', 'buy', 0.6))).toMatchObject({ limit: 'max_position', value: 2.1 });
    approved(ask(c, 'AAA', 'buy', 0.5));
    // A sell is checked on the short side, against the lower estimate: 0 (the stale report) - 3.4.
    expect(rejected(ask(c, 'AAA', 'sell', 3.4, 99.9))).toMatchObject({ limit: 'max_position', value: 3.4 });
    // Once the report catches up: 1.5 - 3.4 = -1.9.
    c.send(position('AAA', 1.5, 0));
    approved(ask(c, 'AAA', 'sell', 3.4, 99.9));
  });

  it('a position over its limit can still be reduced, not increased', () => {
    const c = core({ symbols: { AAA: { maxPosition: 2, maxNotional: 1e6 } } });
    c.send(position('AAA', 3, 0)); // a fresh risk learns it from the report
    expect(rejected(ask(c, 'AAA', 'buy', 0.1))).toMatchObject({ limit: 'max_position', value: 3.1, limitValue: 2 });
    approved(ask(c, 'AAA', 'sell', 0.5));
  });

  it('max_notional: |position + open orders + this| at the higher of last trade and order price', () => {
    const c = core({ symbols: { AAA: { maxPosition: 10, maxNotional: 250 } } });
    approved(ask(c, 'AAA', 'buy', 2, 100.4));
    expect(rejected(ask(c, 'AAA', 'buy', 0.5, 100.3))).toMatchObject({ limit: 'max_notional', value: 2.5 * 100.3, limitValue: 250 });
  });

  it('max_open_positions: symbols with a position or an open order', () => {
    const c = core({ maxOpenPositions: 2 });
    approved(ask(c, 'AAA', 'buy', 0.1));
    approved(ask(c, 'BBB', 'buy', 0.1));
    approved(ask(c, 'AAA', 'buy', 0.2));
    expect(rejected(ask(c, 'CCC', 'buy', 0.1))).toMatchObject({ limit: 'max_open_positions', value: 3, limitValue: 2 });
  });

  it('order_rate: at most N orders in any 1 s window', () => {
    const c = core({ orderRatePerS: 3 });
    approved(ask(c, 'AAA', 'buy', 0.1));
    c.advance(100);
    approved(ask(c, 'AAA', 'buy', 0.2));
    c.advance(100);
    approved(ask(c, 'AAA', 'buy', 0.3));
    c.advance(799);
    expect(rejected(ask(c, 'AAA', 'buy', 0.4))).toMatchObject({ limit: 'order_rate', value: 4, limitValue: 3 });
    c.advance(2); // the first left the window
    approved(ask(c, 'AAA', 'buy', 0.4));
  });

  it('price_band: distance from the last trade in bps', () => {
    const c = core({ priceBandBps: 50 });
    const r = rejected(ask(c, 'AAA', 'buy', 0.1, 100.6));
    expect(r.limit).toBe('price_band');
    expect(r.value).toBeCloseTo(60, 6);
    expect(r.limitValue).toBe(50);
    approved(ask(c, 'AAA', 'buy', 0.1, 100.5));
    approved(ask(c, 'AAA', 'sell', 0.1, 99.5));
  });

  it('var_99_1d: 2.33 * sigma_1d * worst notional, summed over symbols', () => {
    // sigma_1d is the default 0.1 until the estimator has 3 samples.
    const c = core({ var99_1dLimit: 60 });
    approved(ask(c, 'AAA', 'buy', 1.5)); // 34.95
    approved(ask(c, 'BBB', 'sell', 0.5)); // + 11.65
    const r = rejected(ask(c, 'BBB', 'sell', 0.6)); // BBB worst 1.1: 34.95 + 25.63
    expect(r.limit).toBe('var_99_1d');
    expect(r.value).toBeCloseTo(2.33 * 0.1 * 100 * 2.6, 6);
    expect(r.limitValue).toBe(60);
  });

  it('concentration: one symbol at most N% of the gross notional, only above the floor', () => {
    const c = core({ concentrationMaxPct: 70, concentrationMinNotional: 100 });
    approved(ask(c, 'AAA', 'buy', 0.5)); // 50 of 50: under the floor
    expect(rejected(ask(c, 'AAA', 'buy', 1))).toMatchObject({ limit: 'concentration', value: 100, limitValue: 70 });
    approved(ask(c, 'BBB', 'buy', 0.5)); // total 100: not above the floor
    approved(ask(c, 'AAA', 'buy', 0.5, 99.9)); // 100 of 150 = 66.7%
    const r = rejected(ask(c, 'AAA', 'buy', 0.25, 99.9)); // 125 of 175 = 71.4%
    expect(r.limit).toBe('concentration');
    expect(r.value).toBeCloseTo((100 * 125) / 175, 9);
  });

  it('max_open_orders bounds the open-order table', () => {
    const c = core({ maxOpenOrders: 2 });
    approved(ask(c, 'AAA', 'buy', 0.1));
    approved(ask(c, 'AAA', 'buy', 0.2));
    expect(rejected(ask(c, 'AAA', 'buy', 0.3))).toMatchObject({ limit: 'max_open_orders', value: 3, limitValue: 2 });
  });
});

describe('halts', () => {
  it('daily loss limit: reduce-only only until the next UTC trading day (it also trips the breaker)', () => {
    const c = core({ dailyLossLimit: 50 });
    c.send(position('AAA', 1, -10));
    approved(ask(c, 'AAA', 'buy', 0.1));
    c.send(position('AAA', 1, -55));
    expect(c.state.breaker).toMatchObject({ state: 'open', reason: 'daily loss limit: loss 55 >= 50 on 2024-08-08' });
    expect(rejected(ask(c, 'AAA', 'buy', 0.1, 100.1))).toMatchObject({ limit: 'daily_loss_limit', value: 55, limitValue: 50 });
    // Still halted after the breaker cooled down, and after the loss recovered the same day.
    c.advance(SMALL.breaker.cooldownMs);
    c.send(position('AAA', 1, -5));
    expect(rejected(ask(c, 'AAA', 'buy', 0.1, 100.2)).limit).toBe('daily_loss_limit');
    // Reduce-only passes.
    const flat = c.send({ type: 'flatten', symbol: 'AAA', by: 'ops', requestId: '1' }).decision!;
    expect(approved(flat)).toMatchObject({ side: 'sell', qty: 1, price: 99.5, reduceOnly: true, tif: 'IOC' });
    // The next day (from the market's own clock): the half-open breaker admits its probe.
    c.send(trade('AAA', 100, DAY0_MS + 86_400_000 + 5));
    expect(c.state.marketDay).toBe('2024-08-09');
    approved(ask(c, 'AAA', 'buy', 0.1, 100.3));
  });

  it('kill switch: the breaker is held open, every open order is cancelled, only reduce-only (flatten) passes; off: cooldown, then one probe', () => {
    const c = core();
    const a = approved(ask(c, 'AAA', 'buy', 0.5));
    const b = approved(ask(c, 'BBB', 'sell', 0.2));
    c.send(update(a, 'filled', 0.5, { fill: { tradeId: 1, qty: 0.5, price: 100, timeMs: 0 } }));
    const k = c.send({ type: 'kill-switch', on: true, by: 'alice' });
    expect(k.effects.filter((e) => e.kind === 'cancel')).toEqual([{ kind: 'cancel', clientOrderId: b.clientOrderId, reason: 'kill switch on (by alice)' }]);
    expect(c.state.breaker).toMatchObject({ state: 'open', killSwitch: { on: true, by: 'alice' } });
    expect(rejected(ask(c, 'AAA', 'buy', 0.1))).toMatchObject({ limit: 'kill_switch', value: 1, limitValue: 0 });
    c.advance(10 * SMALL.breaker.cooldownMs);
    expect(rejected(ask(c, 'AAA', 'buy', 0.2)).limit).toBe('kill_switch');
    // Flatten the filled 0.5 long: sell at the last trade minus the band. BBB's open sell is not a position to flatten.
    expect(approved(c.send({ type: 'flatten', symbol: 'AAA', by: 'alice', requestId: '1' }).decision!)).toMatchObject({ side: 'sell', qty: 0.5, price: 99.5, reduceOnly: true });
    expect(rejected(c.send({ type: 'flatten', symbol: 'AAA', by: 'alice', requestId: '2' }).decision!)).toMatchObject({ limit: 'reduce_only', value: 0 });
    expect(rejected(c.send({ type: 'flatten', symbol: 'BBB', by: 'alice', requestId: '3' }).decision!).limit).toBe('reduce_only');

    c.send({ type: 'kill-switch', on: false, by: 'alice' });
    expect(c.state.breaker.state).toBe('open');
    expect(rejected(ask(c, 'AAA', 'buy', 0.1, 100.1)).limit).toBe('breaker_open');
    c.advance(SMALL.breaker.cooldownMs);
    expect(c.state.breaker.state).toBe('half_open');
    const probe = approved(ask(c, 'AAA', 'buy', 0.1, 100.2));
    expect(rejected(ask(c, 'AAA', 'buy', 0.1, 100.3))).toMatchObject({ limit: 'breaker_half_open', value: 1, limitValue: 1 });
    c.send(update(probe, 'acked', 0));
    expect(c.state.breaker.state).toBe('closed');
  });

  it('venue errors open the breaker: errors_to_open within window_ms', () => {
    const c = core();
    for (let i = 0; i < 3; i++) {
      const o = approved(ask(c, 'AAA', 'buy', 0.1 * (i + 1)));
      c.send(update(o, 'rejected', 0, { venueError: true, reason: 'venue busy' }));
      c.advance(100);
    }
    expect(c.state.breaker).toMatchObject({ state: 'open' });
    expect(c.state.breaker.reason).toMatch(/^3 venue errors within 2000 ms/);
    expect(rejected(ask(c, 'AAA', 'buy', 0.5)).limit).toBe('breaker_open');
  });

  it('a submit-order that could not be delivered is no longer open and counts as an error', () => {
    const c = core();
    const o = approved(ask(c, 'AAA', 'buy', 0.1));
    c.send({ type: 'submit-undeliverable', clientOrderId: o.clientOrderId, reason: 'no-route' });
    expect(c.state.openOrders.size).toBe(0);
    expect(c.state.counters.undeliverable).toBe(1);
  });
});
