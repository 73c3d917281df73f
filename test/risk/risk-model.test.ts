// The risk invariants (DESIGN.md, invariants 3 and 4) as a model-based property: any sequence of
// intents, fills, acks, expiries, venue errors and rejects, price moves, lagging position reports,
// losses, kill-switch toggles, breaker trips, flattens, undeliverable orders, day changes and clock
// advances, through the pure risk core (riskStep and its breaker machine). The model keeps the
// truth (positions as the sum of fills, the orders really open) and checks every approval
// against it, not against risk's own view.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLIENT_ORDER_ID_RE, type OrderSpec, type Side } from '../../actors/order/order-protocol.ts';
import { clientOrderIdFor } from '../../actors/risk/client-order-id.ts';
import { Z_99 } from '../../actors/risk/pre-trade-checks.ts';
import { type RiskConfig, limitsFor } from '../../actors/risk/risk-limits.ts';
import type { RiskInput, RiskState, RiskStepResult } from '../../actors/risk/risk-state.ts';
import type { OrderIntent } from '../../actors/signal/order-intent.ts';
import { DAY0_MS, RiskCore, SMALL, intent, position, trade, update } from './risk-fixtures.ts';

/** rejections by limit over the whole run, to show the property reaches every limit */
const BY_LIMIT = new Map<string, number>();
const TOL = 1e-9;
const within = (v: number, limit: number): boolean => v <= limit * (1 + TOL) + TOL;

interface TrueOrder {
  symbol: string;
  side: Side;
  qty: number;
  filled: number;
  price: number;
  reduceOnly: boolean;
}

interface Model {
  cfg: RiskConfig;
  marketMs: number;
  day: string;
  prices: Map<string, number>;
  /** the truth: net position per symbol = sum of fills */
  pos: Map<string, number>;
  /** snapshots of the truth after each fill, for lagging position reports */
  history: Map<string, number>[];
  open: Map<string, TrueOrder>;
  killSwitch: boolean;
  lossHaltDay: string | undefined;
  approvedIntents: string[];
  sentIntents: OrderIntent[];
  seq: number;
  approvals: number;
  rejections: number;
}

type Real = RiskCore;

const openQty = (m: Model, symbol: string): { ob: number; os: number } => {
  let ob = 0;
  let os = 0;
  for (const o of m.open.values()) {
    if (o.symbol !== symbol) continue;
    if (o.side === 'buy') ob += o.qty - o.filled;
    else os += o.qty - o.filled;
  }
  return { ob, os };
};

/** Checks one approved order against the truth as it was when risk approved it. */
function checkApproval(m: Model, pre: RiskState, order: OrderSpec): void {
  const L = m.cfg.limits;
  expect(order.clientOrderId).toMatch(CLIENT_ORDER_ID_RE);
  expect(order.clientOrderId).toBe(clientOrderIdFor(order.intentId));
  expect(order.tif).toBe('IOC');
  expect(m.approvedIntents).not.toContain(order.intentId);
  const { symbol, side, qty } = order;
  const P = m.pos.get(symbol) ?? 0;
  const { ob, os } = openQty(m, symbol);
  const afterSide = side === 'buy' ? P + ob + qty : P - os - qty;
  const reducing = side === 'buy' ? afterSide <= TOL : afterSide >= -TOL;
  if (order.reduceOnly) {
    // A reduce-only order never takes the position past flat, even if every open order fills.
    expect(reducing, `reduce-only ${side} ${qty} ${symbol}: position ${P}, open buys ${ob}, sells ${os}`).toBe(true);
    return;
  }
  expect(m.killSwitch, 'approved while the kill switch is on').toBe(false);
  const b = pre.breaker;
  expect(b.state === 'closed' || (b.state === 'half_open' && b.probeAvailable), `approved while the breaker is ${b.state} (probe available: ${b.probeAvailable})`).toBe(true);
  expect(m.lossHaltDay === undefined || m.day > m.lossHaltDay, `approved on ${m.day} after the daily loss limit was hit on ${m.lossHaltDay}`).toBe(true);
  if (reducing) return;

  const sl = limitsFor(L, symbol);
  const px = Math.max(m.prices.get(symbol) ?? 0, order.price);
  expect(within(Math.abs(afterSide), sl.maxPosition), `max_position: |${afterSide}| > ${sl.maxPosition}`).toBe(true);
  expect(within(Math.abs(afterSide) * px, sl.maxNotional), `max_notional: ${Math.abs(afterSide) * px} > ${sl.maxNotional}`).toBe(true);

  const active = new Set<string>([symbol]);
  for (const [s, p] of m.pos) if (Math.abs(p) > TOL) active.add(s);
  for (const o of m.open.values()) active.add(o.symbol);
  expect(active.size <= L.maxOpenPositions, `max_open_positions: ${[...active].join(',')}`).toBe(true);

  let var99 = 0;
  let total = 0;
  let mine = 0;
  for (const s of active) {
    const p = m.pos.get(s) ?? 0;
    const q = openQty(m, s);
    const hi = p + q.ob + (s === symbol && side === 'buy' ? qty : 0);
    const lo = p - q.os - (s === symbol && side === 'sell' ? qty : 0);
    const price = s === symbol ? px : (m.prices.get(s) ?? 0);
    const gross = Math.max(Math.abs(hi), Math.abs(lo)) * price;
    var99 += Z_99 * (pre.symbols.get(s)?.sigma1d ?? 1) * gross;
    total += gross;
    if (s === symbol) mine = gross;
  }
  expect(within(var99, L.var99_1dLimit), `var_99_1d: ${var99} > ${L.var99_1dLimit}`).toBe(true);
  if (total > L.concentrationMinNotional * (1 + TOL)) expect(within((100 * mine) / total, L.concentrationMaxPct), `concentration: ${symbol} ${(100 * mine) / total}%`).toBe(true);
}

/** Runs one input through risk, checks every approval and rejection, and records approvals as open. */
function step(m: Model, r: Real, input: RiskInput): RiskStepResult {
  const pre = r.state;
  const res = r.send(input);
  for (const e of res.effects) {
    if (e.kind === 'submit') {
      checkApproval(m, pre, e.order);
      m.open.set(e.order.clientOrderId, { symbol: e.order.symbol, side: e.order.side, qty: e.order.qty, filled: 0, price: e.order.price, reduceOnly: e.order.reduceOnly });
      m.approvedIntents.push(e.order.intentId);
      m.approvals++;
    } else if (e.kind === 'rejected') {
      // Every rejection says which limit, the value that broke it and the limit's value.
      expect(typeof e.record.limit).toBe('string');
      expect(e.record.limit.length).toBeGreaterThan(0);
      expect(typeof e.record.value).toBe('number');
      expect(typeof e.record.limitValue).toBe('number');
      expect(e.record.message.length).toBeGreaterThan(0);
      m.rejections++;
      BY_LIMIT.set(e.record.limit, (BY_LIMIT.get(e.record.limit) ?? 0) + 1);
    }
  }
  // The kill switch holds the breaker open.
  if (m.killSwitch) expect(r.state.breaker.state).toBe('open');
  expect(r.state.breaker.killSwitch.on).toBe(m.killSwitch);
  return res;
}

const pick = (m: Model, n: number): [string, TrueOrder] | undefined => {
  const all = [...m.open];
  return all.length === 0 ? undefined : all[n % all.length];
};

abstract class Cmd implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  abstract run(m: Model, r: Real): void;
  abstract toString(): string;
}

class Intent extends Cmd {
  constructor(readonly a: { sym: string; side: Side; qty: number; offBps: number; reuse: boolean }) {
    super();
  }
  run(m: Model, r: Real): void {
    const { sym, side, qty, offBps, reuse } = this.a;
    // A resend of the last approved intent, as it was.
    const reused = reuse ? m.sentIntents.findLast((i) => m.approvedIntents.includes(i.id)) : undefined;
    const msg = reused ?? intent(`i${m.seq++}`, sym, side, qty, (m.prices.get(sym) ?? 100) * (1 + offBps / 10_000));
    m.sentIntents.push(msg);
    const res = step(m, r, msg);
    const d = res.decision!;
    if (reused !== undefined) expect('rejected' in d && d.rejected.limit).toBe('duplicate_intent');
    else if (sym === 'CCC') expect('rejected' in d && d.rejected.limit).toBe('unknown_symbol');
    else if (sym === 'DDD') expect('rejected' in d).toBe(true);
  }
  toString(): string {
    return `intent(${JSON.stringify(this.a)})`;
  }
}

class BadIntent extends Cmd {
  constructor(readonly kind: 'qty0' | 'qtyNeg' | 'qtyNaN' | 'qtyInf' | 'priceNaN' | 'priceNeg') {
    super();
  }
  run(m: Model, r: Real): void {
    const qty = { qty0: 0, qtyNeg: -0.5, qtyNaN: NaN, qtyInf: Infinity }[this.kind as string] ?? 0.1;
    const price = { priceNaN: NaN, priceNeg: -100 }[this.kind as string] ?? 100;
    const res = step(m, r, intent(`bad${m.seq++}`, 'AAA', 'buy', qty, price));
    const d = res.decision!;
    expect('rejected' in d && d.rejected.limit).toBe(this.kind.startsWith('qty') ? 'bad_qty' : 'bad_price');
  }
  toString(): string {
    return `badIntent(${this.kind})`;
  }
}

class TradeCmd extends Cmd {
  constructor(readonly a: { sym: string; moveBps: number; dtMs: number }) {
    super();
  }
  run(m: Model, r: Real): void {
    m.marketMs += this.a.dtMs;
    const px = (m.prices.get(this.a.sym) ?? 100) * (1 + this.a.moveBps / 10_000);
    m.prices.set(this.a.sym, px);
    step(m, r, trade(this.a.sym, px, m.marketMs));
  }
  toString(): string {
    return `trade(${JSON.stringify(this.a)})`;
  }
}

class Fill extends Cmd {
  constructor(readonly a: { n: number; frac: number }) {
    super();
  }
  run(m: Model, r: Real): void {
    const p = pick(m, this.a.n);
    if (!p) return;
    const [id, o] = p;
    const qty = (o.qty - o.filled) * this.a.frac;
    o.filled += qty;
    const done = o.qty - o.filled <= TOL;
    if (done) m.open.delete(id);
    m.pos.set(o.symbol, (m.pos.get(o.symbol) ?? 0) + (o.side === 'buy' ? qty : -qty));
    m.history.push(new Map(m.pos));
    step(m, r, update({ clientOrderId: id, ...o }, done ? 'filled' : 'partially_filled', done ? o.qty : o.filled, { fill: { tradeId: m.seq++, qty, price: o.price, timeMs: m.marketMs } }));
    if (done) o.filled = o.qty;
  }
  toString(): string {
    return `fill(${JSON.stringify(this.a)})`;
  }
}

class Ack extends Cmd {
  constructor(readonly n: number) {
    super();
  }
  run(m: Model, r: Real): void {
    const p = pick(m, this.n);
    if (p) step(m, r, update({ clientOrderId: p[0], ...p[1] }, 'acked', p[1].filled));
  }
  toString(): string {
    return `ack(${this.n})`;
  }
}

class Expire extends Cmd {
  constructor(readonly n: number) {
    super();
  }
  run(m: Model, r: Real): void {
    const p = pick(m, this.n);
    if (!p) return;
    m.open.delete(p[0]);
    step(m, r, update({ clientOrderId: p[0], ...p[1] }, 'expired', p[1].filled));
  }
  toString(): string {
    return `expire(${this.n})`;
  }
}

class VenueError extends Cmd {
  constructor(readonly a: { n: number; terminal: boolean }) {
    super();
  }
  run(m: Model, r: Real): void {
    const p = pick(m, this.a.n);
    if (!p) {
      // An error for an order risk does not know (sent before a restart): still counts for the breaker.
      step(m, r, update({ clientOrderId: `phantom-${m.seq++}`, symbol: 'AAA', side: 'buy', qty: 1, price: 100 }, 'rejected', 0, { venueError: true, reason: 'venue busy' }));
      return;
    }
    if (this.a.terminal) m.open.delete(p[0]);
    step(m, r, update({ clientOrderId: p[0], ...p[1] }, this.a.terminal ? 'rejected' : 'submitted', p[1].filled, { venueError: true, reason: this.a.terminal ? 'insufficient margin' : 'timeout, retrying' }));
  }
  toString(): string {
    return `venueError(${JSON.stringify(this.a)})`;
  }
}

class Undeliverable extends Cmd {
  constructor(readonly n: number) {
    super();
  }
  run(m: Model, r: Real): void {
    const p = pick(m, this.n);
    if (!p || p[1].filled > 0) return;
    m.open.delete(p[0]);
    step(m, r, { type: 'submit-undeliverable', clientOrderId: p[0], reason: 'mailbox-full' });
  }
  toString(): string {
    return `undeliverable(${this.n})`;
  }
}

class Advance extends Cmd {
  constructor(readonly ms: number) {
    super();
  }
  run(m: Model, r: Real): void {
    // Breaker timers fire inside; check their steps too.
    const before = r.state.breaker.killSwitch.on;
    r.advance(this.ms);
    expect(r.state.breaker.killSwitch.on).toBe(before);
    if (m.killSwitch) expect(r.state.breaker.state).toBe('open');
  }
  toString(): string {
    return `advance(${this.ms})`;
  }
}

class Report extends Cmd {
  constructor(readonly a: { sym: string; lag: number; pnl: number }) {
    super();
  }
  run(m: Model, r: Real): void {
    const h = m.history[Math.max(0, m.history.length - 1 - this.a.lag)];
    if (this.a.pnl <= -m.cfg.limits.dailyLossLimit) m.lossHaltDay = m.day;
    step(m, r, position(this.a.sym, h.get(this.a.sym) ?? 0, this.a.pnl, m.day));
  }
  toString(): string {
    return `report(${JSON.stringify(this.a)})`;
  }
}

class Kill extends Cmd {
  constructor(readonly on: boolean) {
    super();
  }
  run(m: Model, r: Real): void {
    m.killSwitch = this.on;
    const res = step(m, r, { type: 'kill-switch', on: this.on, by: 'ops' });
    if (this.on) {
      // Every open order is told to cancel.
      const cancelled = res.effects.flatMap((e) => (e.kind === 'cancel' ? [e.clientOrderId] : []));
      expect(new Set(cancelled)).toEqual(new Set(m.open.keys()));
    }
  }
  toString(): string {
    return `kill(${this.on})`;
  }
}

class Trip extends Cmd {
  run(m: Model, r: Real): void {
    step(m, r, { type: 'breaker-trip', reason: 'reconciliation break' });
    expect(r.state.breaker.state).toBe('open');
  }
  toString(): string {
    return 'trip';
  }
}

class NextDay extends Cmd {
  run(m: Model, r: Real): void {
    const start = (Math.floor(m.marketMs / 86_400_000) + 1) * 86_400_000;
    m.marketMs = start + 1000;
    m.day = new Date(start).toISOString().slice(0, 10);
    step(m, r, trade('AAA', m.prices.get('AAA') ?? 100, m.marketMs));
    expect(r.state.marketDay).toBe(m.day);
  }
  toString(): string {
    return 'nextDay';
  }
}

class Flatten extends Cmd {
  constructor(readonly sym: string) {
    super();
  }
  run(m: Model, r: Real): void {
    step(m, r, { type: 'flatten', symbol: this.sym, by: 'ops', requestId: String(m.seq++) });
  }
  toString(): string {
    return `flatten(${this.sym})`;
  }
}

const traded = fc.constantFrom('AAA', 'BBB');
const anyIntent = fc.record({ sym: fc.constantFrom('AAA', 'AAA', 'BBB', 'BBB', 'CCC', 'DDD'), side: fc.constantFrom<Side>('buy', 'sell'), qty: fc.constantFrom(0.1, 0.25, 0.5, 1, 1.5), offBps: fc.integer({ min: -70, max: 70 }), reuse: fc.boolean() }).map((a) => new Intent(a));
const plainIntent = fc.record({ sym: traded, side: fc.constantFrom<Side>('buy', 'sell'), qty: fc.constantFrom(0.1, 0.25, 0.5), offBps: fc.integer({ min: -20, max: 20 }), reuse: fc.constant(false) }).map((a) => new Intent(a));
const fill = fc.record({ n: fc.nat(), frac: fc.constantFrom(0.5, 1) }).map((a) => new Fill(a));
const advance = fc.integer({ min: 1, max: 1500 }).map((ms) => new Advance(ms));
const tradeCmd = fc.record({ sym: traded, moveBps: fc.integer({ min: -60, max: 60 }), dtMs: fc.integer({ min: 100, max: 3000 }) }).map((a) => new TradeCmd(a));

/** Trading without halts: intents, fills, acks, expiries, price moves and reports reach the size limits. */
const calm = [
  anyIntent,
  plainIntent,
  plainIntent,
  plainIntent,
  fill,
  fill,
  advance,
  advance,
  tradeCmd,
  fc.nat().map((n) => new Ack(n)),
  fc.nat().map((n) => new Expire(n)),
  fc.record({ sym: traded, lag: fc.nat(3), pnl: fc.integer({ min: -20, max: 40 }) }).map((a) => new Report(a)),
  traded.map((s) => new Flatten(s)),
];

/** Everything, halts included. */
const stormy = [
  ...calm,
  fc.constantFrom('qty0', 'qtyNeg', 'qtyNaN', 'qtyInf', 'priceNaN', 'priceNeg' as const).map((k) => new BadIntent(k)),
  fc.record({ n: fc.nat(), terminal: fc.boolean() }).map((a) => new VenueError(a)),
  fc.nat().map((n) => new Undeliverable(n)),
  fc.record({ sym: traded, lag: fc.nat(3), pnl: fc.integer({ min: -120, max: 40 }) }).map((a) => new Report(a)),
  // Halts are sticky (until kill switch off, the cooldown, the next day): turned on less often than off.
  fc.constantFrom(true, false, false).map((on) => new Kill(on)),
  fc.constant(new Trip()),
  fc.constant(new NextDay()),
];

/** Any limits in ranges where random trading reaches each of them. */
const configArb: fc.Arbitrary<RiskConfig> = fc
  .record({
    maxPosition: fc.constantFrom(0.5, 1, 2, 3),
    maxNotional: fc.integer({ min: 50, max: 400 }),
    maxPositionA: fc.constantFrom(1, 2, 4),
    maxNotionalA: fc.integer({ min: 100, max: 600 }),
    maxOpenPositions: fc.integer({ min: 1, max: 3 }),
    maxOpenOrders: fc.integer({ min: 2, max: 8 }),
    dailyLossLimit: fc.integer({ min: 30, max: 100 }),
    orderRatePerS: fc.integer({ min: 1, max: 6 }),
    priceBandBps: fc.integer({ min: 20, max: 80 }),
    var99_1dLimit: fc.integer({ min: 20, max: 200 }),
    concentrationMaxPct: fc.integer({ min: 40, max: 100 }),
    concentrationMinNotional: fc.integer({ min: 0, max: 300 }),
    duplicateWindowMs: fc.integer({ min: 0, max: 500 }),
  })
  .map((l) => ({
    ...SMALL,
    limits: {
      ...l,
      default: { maxPosition: l.maxPosition, maxNotional: l.maxNotional },
      symbols: { AAA: { maxPosition: l.maxPositionA, maxNotional: l.maxNotionalA }, DDD: { maxPosition: 1, maxNotional: 100 } },
    },
  }));


function setup(cfg: RiskConfig): { model: Model; real: Real } {
  const real = new RiskCore(cfg);
  const t0 = DAY0_MS + 3_600_000;
  real.send(trade('AAA', 100, t0));
  const model: Model = {
    cfg,
    marketMs: t0,
    day: '2024-08-08',
    prices: new Map([['AAA', 100]]),
    pos: new Map(),
    history: [new Map()],
    open: new Map(),
    killSwitch: false,
    lossHaltDay: undefined,
    approvedIntents: [],
    sentIntents: [],
    seq: 0,
    approvals: 0,
    rejections: 0,
  };
  return { model, real };
}

describe('risk invariants (model-based property)', () => {
  const run = (commands: fc.Arbitrary<fc.Command<Model, Real>>[], numRuns: number): { approvals: number; rejections: number; byLimit: Map<string, number> } => {
    const out = { approvals: 0, rejections: 0, byLimit: new Map<string, number>() };
    BY_LIMIT.clear();
    fc.assert(
      fc.property(configArb, fc.commands(commands, { maxCommands: 100, size: 'max' }), (cfg, cmds) => {
        const s = setup(cfg);
        fc.modelRun(() => s, cmds);
        out.approvals += s.model.approvals;
        out.rejections += s.model.rejections;
      }),
      { numRuns },
    );
    for (const [k, v] of BY_LIMIT) out.byLimit.set(k, v);
    console.log(`risk model: ${out.approvals} approvals, ${out.rejections} rejections:`, Object.fromEntries([...out.byLimit].sort((a, b) => b[1] - a[1])));
    return out;
  };

  it('for any limits, over any sequence of intents, fills, acks, expiries, price moves, lagging position reports and flattens: no approved order takes |position + open orders|, notional, open positions, VaR or concentration past its limit', () => {
    const r = run(calm, 150);
    // Worth something only if approvals are common and the size limits are what stops them.
    expect(r.approvals).toBeGreaterThan(300);
    for (const limit of ['max_position', 'max_notional', 'max_open_positions', 'var_99_1d', 'concentration', 'order_rate', 'price_band', 'max_open_orders']) {
      expect(r.byLimit.get(limit) ?? 0, limit).toBeGreaterThan(0);
    }
  });

  it('adding venue errors, rejects, kill-switch toggles, trips, losses and day changes: nothing but reduce-only is approved while the breaker is open, the kill switch is on or the day has hit the loss limit; every rejection names its limit, value and limit value', () => {
    const r = run(stormy, 150);
    expect(r.approvals).toBeGreaterThan(50);
    for (const limit of ['kill_switch', 'breaker_open', 'daily_loss_limit', 'bad_qty', 'bad_price', 'unknown_symbol', 'duplicate_intent']) {
      expect(r.byLimit.get(limit) ?? 0, limit).toBeGreaterThan(0);
    }
  });
});
