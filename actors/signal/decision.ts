// The signal's decision rule, pure: from the model's two probabilities to buy, sell or nothing.
// The model is two-sided (p_up, p_down, and implicitly p_flat = what is left), so a side needs
// its own probability high enough AND above the other side's: a low p_up on its own means "not
// up", most often "flat", never "down". The signal actor and the training report (intents a
// threshold would give on held-back rows) both call this, so they cannot disagree.
import type { Side } from './order-intent.ts';

/** At most one intent per symbol per this many ms of exchange time, unless configured. */
export const DEFAULT_MIN_INTERVAL_MS = 1000;

export interface DecisionRule {
  /** buy when p_up >= buyAbove and p_up > p_down */
  buyAbove: number;
  /** sell when p_down >= sellAbove and p_down > p_up */
  sellAbove: number;
  /** exchange time, ms, after a symbol's intent before it may have another */
  minIntervalMs: number;
}

export interface DecisionInput {
  /** the model's P(mid at t + horizon > mid at t) */
  pUp: number;
  /** the model's P(mid at t + horizon < mid at t) */
  pDown: number;
  /** the symbol's book went stale after the features were taken (while the model ran) */
  stale: boolean;
  /** exchange time of the top the features were taken on, ms */
  eventMs: number;
  /** exchange time of the symbol's last intent, ms (-Infinity: none yet) */
  lastIntentMs: number;
}

export type SkipReason = 'stale-at-decision' | 'no-signal' | 'cooldown';

export type Decision =
  /** confidence: the winning side's probability (pUp for a buy, pDown for a sell) */
  | { type: 'intent'; side: Side; confidence: number }
  | { type: 'skip'; reason: SkipReason };

/** The side the probabilities alone ask for, or undefined (nothing when either is NaN: comparisons with NaN are false). */
function sideOf(pUp: number, pDown: number, rule: Pick<DecisionRule, 'buyAbove' | 'sellAbove'>): Side | undefined {
  if (pUp >= rule.buyAbove && pUp > pDown) return 'buy';
  if (pDown >= rule.sellAbove && pDown > pUp) return 'sell';
  return undefined;
}

/** Whether to send an intent for one inference. Stale wins over everything, then signal, then cooldown. */
export function decideIntent(input: DecisionInput, rule: DecisionRule): Decision {
  // A book that went stale while the model ran: the features describe a book no longer trusted.
  if (input.stale) return { type: 'skip', reason: 'stale-at-decision' };
  const side = sideOf(input.pUp, input.pDown, rule);
  if (!side) return { type: 'skip', reason: 'no-signal' };
  if (input.eventMs - input.lastIntentMs < rule.minIntervalMs) return { type: 'skip', reason: 'cooldown' };
  return { type: 'intent', side, confidence: side === 'buy' ? input.pUp : input.pDown };
}
