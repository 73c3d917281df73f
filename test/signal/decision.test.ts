import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideIntent, type DecisionInput, type DecisionRule } from '../../actors/signal/decision.ts';

const rule: DecisionRule = { buyAbove: 0.4, sellAbove: 0.35, minIntervalMs: 1000 };
/** A fresh symbol (no intent yet), book not stale. */
const at = (pUp: number, pDown: number, more: Partial<DecisionInput> = {}): DecisionInput => ({ pUp, pDown, stale: false, eventMs: 10_000, lastIntentMs: -Infinity, ...more });

describe('decideIntent', () => {
  it('buys when p_up reaches buy_above and is above p_down; confidence is p_up', () => {
    expect(decideIntent(at(0.45, 0.2), rule)).toEqual({ type: 'intent', side: 'buy', confidence: 0.45 });
    expect(decideIntent(at(0.4, 0.1), rule)).toEqual({ type: 'intent', side: 'buy', confidence: 0.4 });
  });

  it('sells when p_down reaches sell_above and is above p_up; confidence is p_down', () => {
    expect(decideIntent(at(0.2, 0.35), rule)).toEqual({ type: 'intent', side: 'sell', confidence: 0.35 });
    // p_up above buy_above, but p_down is higher still: the model expects a fall
    expect(decideIntent(at(0.45, 0.5), rule)).toEqual({ type: 'intent', side: 'sell', confidence: 0.5 });
  });

  it('a low p_up alone is not a sell: the model means flat', () => {
    expect(decideIntent(at(0.05, 0.1), rule)).toEqual({ type: 'skip', reason: 'no-signal' });
    expect(decideIntent(at(0.05, 0.34), rule)).toEqual({ type: 'skip', reason: 'no-signal' });
  });

  it('does nothing below the thresholds, on a tie, or when either probability is NaN', () => {
    expect(decideIntent(at(0.39, 0.1), rule)).toEqual({ type: 'skip', reason: 'no-signal' });
    expect(decideIntent(at(0.45, 0.45), rule)).toEqual({ type: 'skip', reason: 'no-signal' });
    expect(decideIntent(at(Number.NaN, 0.9), rule)).toEqual({ type: 'skip', reason: 'no-signal' });
    expect(decideIntent(at(0.9, Number.NaN), rule)).toEqual({ type: 'skip', reason: 'no-signal' });
    expect(decideIntent(at(Number.NaN, Number.NaN), rule)).toEqual({ type: 'skip', reason: 'no-signal' });
  });

  it('cooldown: no second intent for the symbol within min_interval_ms of exchange time; at exactly min_interval_ms one is allowed', () => {
    expect(decideIntent(at(0.6, 0.1, { eventMs: 10_999, lastIntentMs: 10_000 }), rule)).toEqual({ type: 'skip', reason: 'cooldown' });
    expect(decideIntent(at(0.1, 0.6, { eventMs: 10_500, lastIntentMs: 10_000 }), rule)).toEqual({ type: 'skip', reason: 'cooldown' });
    expect(decideIntent(at(0.6, 0.1, { eventMs: 11_000, lastIntentMs: 10_000 }), rule)).toMatchObject({ type: 'intent', side: 'buy' });
    expect(decideIntent(at(0.6, 0.1, { eventMs: 10_000, lastIntentMs: 10_000 }), { ...rule, minIntervalMs: 0 })).toMatchObject({ type: 'intent' });
  });

  it('stale at decision: a book that went stale while the model ran is not acted on, whatever the probabilities', () => {
    expect(decideIntent(at(0.9, 0.05, { stale: true }), rule)).toEqual({ type: 'skip', reason: 'stale-at-decision' });
    expect(decideIntent(at(0.05, 0.9, { stale: true, eventMs: 10_100, lastIntentMs: 10_000 }), rule)).toEqual({ type: 'skip', reason: 'stale-at-decision' });
    expect(decideIntent(at(0.1, 0.1, { stale: true }), rule)).toEqual({ type: 'skip', reason: 'stale-at-decision' });
  });

  it('property: an intent is on the side with the strictly larger probability, at or above its threshold, and its confidence is that probability', () => {
    const p = fc.double({ min: 0, max: 1, noNaN: true });
    fc.assert(
      fc.property(p, p, p, p, (pUp, pDown, buyAbove, sellAbove) => {
        const d = decideIntent(at(pUp, pDown), { buyAbove, sellAbove, minIntervalMs: 1000 });
        if (d.type === 'skip') return (pUp < buyAbove || pUp <= pDown) && (pDown < sellAbove || pDown <= pUp);
        const [mine, other, threshold] = d.side === 'buy' ? [pUp, pDown, buyAbove] : [pDown, pUp, sellAbove];
        return mine > other && mine >= threshold && d.confidence === mine;
      }),
    );
  });
});
