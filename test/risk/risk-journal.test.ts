// Risk's journal, as a property of the pure core: over any sequence of intents, fills, ends of
// orders, position reports, losses, kill-switch toggles, trips, journal outages, breaker timers,
// day changes, trades and clock advances, the state rebuilt from what risk journals (every input
// but trades, with the decisions it took, through the journal's JSON codec) equals the live state
// in everything but the prices trades move, from the start and from a snapshot taken anywhere.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type RiskEvent, loadRiskState, riskApply, saveRiskState } from '../../actors/risk/risk-actor.ts';
import { type RiskInput, type RiskState, initialRiskState, riskStep, utcDay } from '../../actors/risk/risk-state.ts';
import { decodeJson, encodeJson } from '../../runtime/json-codec.ts';
import { DAY0_MS, SMALL, intent, position, trade, update } from './risk-fixtures.ts';

type Op =
  | { op: 'intent'; symbol: string; side: 'buy' | 'sell'; qty: number; dp: number }
  | { op: 'fill'; pick: number; frac: number; end: 'filled' | 'partially_filled' | 'expired' | 'cancelled' | 'rejected' }
  | { op: 'venue-error'; pick: number }
  | { op: 'position'; symbol: string; qty: number; pnl: number }
  | { op: 'trade'; symbol: string; dp: number }
  | { op: 'kill'; on: boolean }
  | { op: 'trip' }
  | { op: 'journal'; available: boolean }
  | { op: 'timers' }
  | { op: 'advance'; ms: number }
  | { op: 'day' };

const SYMBOLS = ['AAA', 'BBB', 'CCC'];
const ops: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('intent' as const), symbol: fc.constantFrom(...SYMBOLS), side: fc.constantFrom('buy' as const, 'sell' as const), qty: fc.constantFrom(0.1, 0.5, 1, 3), dp: fc.integer({ min: -2, max: 2 }) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('fill' as const), pick: fc.nat(), frac: fc.constantFrom(0.25, 0.5, 1), end: fc.constantFrom('filled' as const, 'partially_filled' as const, 'expired' as const, 'cancelled' as const, 'rejected' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('venue-error' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('position' as const), symbol: fc.constantFrom(...SYMBOLS), qty: fc.constantFrom(-1, 0, 0.5, 1), pnl: fc.integer({ min: -80, max: 20 }) }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('trade' as const), symbol: fc.constantFrom(...SYMBOLS), dp: fc.integer({ min: -3, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('kill' as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ op: 'trip' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('journal' as const), available: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ op: 'timers' as const }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 2000 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'day' as const }) },
);

/**
 * Everything of risk's state that is durable: all of it but last prices and volatility (and the
 * symbols known from trades alone, which hold nothing else).
 */
function durable(s: RiskState): unknown {
  const symbols: Record<string, unknown> = {};
  for (const [sym, v] of s.symbols) {
    if (v.positionFromFills === 0 && v.reportedPosition === undefined && !v.fillsSeen && Number.isNaN(v.markPrice)) continue;
    symbols[sym] = { positionFromFills: v.positionFromFills, reportedPosition: v.reportedPosition, markPrice: v.markPrice, fillsSeen: v.fillsSeen };
  }
  return decodeJson(encodeJson({ ...s, symbols, breakerSnapshot: { value: s.breakerSnapshot.value, context: s.breakerSnapshot.context } }));
}

describe('risk journal', () => {
  it('property: the state rebuilt from the journal (from the start, and from a snapshot anywhere) equals the live state but for prices', () => {
    fc.assert(
      fc.property(fc.array(ops, { minLength: 1, maxLength: 150 }), fc.nat(), (seq, snapAt) => {
        const apply = riskApply(SMALL);
        let now = 1_000_000;
        let marketMs = DAY0_MS + 3_600_000;
        const prices = new Map(SYMBOLS.map((s) => [s, 100]));
        let live = initialRiskState(SMALL, now).state;
        const journal: string[] = [];
        let snapshot: { at: number; data: string } | undefined;
        const snapIndex = snapAt % (seq.length + 1);
        let intents = 0;
        const feed = (input: RiskInput): void => {
          const dayBefore = live.marketDay;
          const r = riskStep(live, input, SMALL, now);
          live = r.state;
          if (input.type !== 'trade' || live.marketDay !== dayBefore) {
            const e: RiskEvent = r.decision ? { type: 'risk-input', input, nowMs: now, decision: r.decision } : { type: 'risk-input', input, nowMs: now };
            journal.push(encodeJson(e));
          }
        };
        // Every symbol has a price before the first intent.
        for (const s of SYMBOLS) feed(trade(s, 100, marketMs));
        seq.forEach((o, i) => {
          if (i === snapIndex) snapshot = { at: journal.length, data: encodeJson(saveRiskState(live)) };
          const open = [...live.openOrders.values()];
          switch (o.op) {
            case 'intent': {
              const px = (prices.get(o.symbol) ?? 100) + o.dp * 0.1;
              feed(intent(`i${++intents}`, o.symbol, o.side, o.qty, px));
              break;
            }
            case 'fill': {
              if (open.length === 0) return;
              const ord = open[o.pick % open.length];
              const filled = Math.min(ord.qty, ord.filledQty + ord.qty * o.frac);
              feed(update(ord, o.end === 'partially_filled' && filled >= ord.qty ? 'filled' : o.end, o.end === 'rejected' ? ord.filledQty : filled, filled > ord.filledQty && o.end !== 'rejected' ? { fill: { tradeId: intents * 1000 + i, qty: filled - ord.filledQty, price: ord.price, timeMs: marketMs } } : {}));
              break;
            }
            case 'venue-error': {
              if (open.length === 0) return;
              const ord = open[o.pick % open.length];
              feed(update(ord, 'rejected', ord.filledQty, { venueError: true, reason: 'venue busy' }));
              break;
            }
            case 'position':
              feed(position(o.symbol, o.qty, o.pnl, utcDay(marketMs)));
              break;
            case 'trade': {
              const px = Math.max(1, (prices.get(o.symbol) ?? 100) + o.dp * 0.1);
              prices.set(o.symbol, px);
              marketMs += 100;
              feed(trade(o.symbol, px, marketMs));
              break;
            }
            case 'kill':
              feed({ type: 'kill-switch', on: o.on, by: 'test' });
              break;
            case 'trip':
              feed({ type: 'breaker-trip', reason: 'test trip' });
              break;
            case 'journal':
              feed({ type: 'journal-health', available: o.available, reason: o.available ? '' : 'PostgreSQL unreachable' });
              break;
            case 'timers':
              for (const [key, t] of live.breakerTimers) if (t.dueMs <= now) feed({ type: 'breaker-timer', key, seq: t.seq, event: t.event });
              break;
            case 'advance':
              now += o.ms;
              break;
            case 'day':
              marketMs += 86_400_000;
              feed(trade('AAA', prices.get('AAA') ?? 100, marketMs));
              break;
          }
        });
        if (!snapshot) snapshot = { at: journal.length, data: encodeJson(saveRiskState(live)) };
        const events = journal.map((j) => decodeJson(j) as RiskEvent);
        const fromStart = events.reduce(apply, initialRiskState(SMALL, 1_000_000).state);
        const fromSnap = events.slice(snapshot.at).reduce(apply, loadRiskState(decodeJson(snapshot.data)));
        const want = durable(live);
        expect(durable(fromStart)).toEqual(want);
        expect(durable(fromSnap)).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });
});
