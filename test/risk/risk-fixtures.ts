// Small risk configurations and message builders shared by the risk tests.
import type { Trade } from '../../actors/feed/market-data.ts';
import type { OrderSpec, OrderState, OrderUpdate, PositionUpdate } from '../../actors/order/order-protocol.ts';
import { type RiskConfig, DEFAULT_RISK_CONFIG } from '../../actors/risk/risk-limits.ts';
import { type RiskInput, type RiskState, type RiskStepResult, initialRiskState, riskStep } from '../../actors/risk/risk-state.ts';
import type { OrderIntent, Side } from '../../actors/signal/order-intent.ts';

/** Limits small enough that short random sequences reach every one of them. Prices near 100. */
export const SMALL: RiskConfig = {
  ...DEFAULT_RISK_CONFIG,
  limits: {
    default: { maxPosition: 1, maxNotional: 150 },
    symbols: { AAA: { maxPosition: 2, maxNotional: 250 }, DDD: { maxPosition: 1, maxNotional: 150 } },
    maxOpenPositions: 2,
    maxOpenOrders: 6,
    dailyLossLimit: 50,
    orderRatePerS: 3,
    priceBandBps: 50,
    var99_1dLimit: 60,
    concentrationMaxPct: 70,
    concentrationMinNotional: 100,
    duplicateWindowMs: 300,
  },
  breaker: { errorsToOpen: 3, windowMs: 2000, cooldownMs: 1000, probeTimeoutMs: 1500 },
  volatility: { sampleMs: 1000, halflifeSamples: 10, minSamples: 3, defaultSigma1d: 0.1 },
  intentIdsMax: 64,
  recentRejectionsMax: 8,
};

/** 2024-08-08T00:00:00Z, the market's clock in the tests. */
export const DAY0_MS = Date.parse('2024-08-08T00:00:00Z');

let tradeId = 0;
export const trade = (symbol: string, price: number, timeMs = DAY0_MS): Trade => ({ type: 'trade', symbol, id: ++tradeId, price, qty: 1, buyerMaker: false, timeMs, rxMs: 0 });

export const intent = (id: string, symbol: string, side: Side, qty: number, limitPrice: number): OrderIntent => ({
  type: 'order-intent',
  id,
  symbol,
  side,
  qty,
  limitPrice,
  confidence: 0.7,
  pUp: side === 'buy' ? 0.7 : 0.1,
  pDown: side === 'buy' ? 0.1 : 0.7,
  bookU: 1,
  rxMs: 0,
});

export const update = (o: Pick<OrderSpec, 'clientOrderId' | 'symbol' | 'side' | 'qty' | 'price'>, state: OrderState, filledQty: number, extra: Partial<OrderUpdate> = {}): OrderUpdate => ({
  type: 'order-update',
  clientOrderId: o.clientOrderId,
  symbol: o.symbol,
  side: o.side,
  qty: o.qty,
  price: o.price,
  state,
  filledQty,
  ...extra,
});

export const position = (symbol: string, qty: number, dailyPnl: number, day = '2024-08-08'): PositionUpdate => ({
  type: 'position-update',
  symbol,
  qty,
  avgPrice: 0,
  markPrice: NaN,
  realizedPnl: 0,
  unrealizedPnl: 0,
  dailyPnl,
  day,
});

/** A risk core driven by hand: state, clock, and the timers its breaker asked for. */
export class RiskCore {
  state: RiskState;
  nowMs = 0;
  readonly timers = new Map<string, { seq: number; event: { type: string }; dueMs: number }>();
  last: RiskStepResult | undefined;

  constructor(readonly config: RiskConfig = SMALL) {
    const r = initialRiskState(config, 0);
    this.state = r.state;
    this.effects(r);
  }

  send(input: RiskInput): RiskStepResult {
    const r = riskStep(this.state, input, this.config, this.nowMs);
    this.state = r.state;
    this.effects(r);
    this.last = r;
    return r;
  }

  /** Moves the risk clock, firing due breaker timers in order. */
  advance(ms: number): void {
    const end = this.nowMs + ms;
    for (;;) {
      let next: [string, { seq: number; event: { type: string }; dueMs: number }] | undefined;
      for (const e of this.timers) if (e[1].dueMs <= end && (!next || e[1].dueMs < next[1].dueMs)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.nowMs = next[1].dueMs;
      this.send({ type: 'breaker-timer', key: next[0], seq: next[1].seq, event: next[1].event });
    }
    this.nowMs = end;
  }

  private effects(r: RiskStepResult): void {
    for (const e of r.effects) {
      if (e.kind === 'start-timer') this.timers.set(e.key, { seq: e.seq, event: e.event, dueMs: this.nowMs + e.delayMs });
      else if (e.kind === 'cancel-timer') this.timers.delete(e.key);
    }
  }
}
