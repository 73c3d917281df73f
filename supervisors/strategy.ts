/**
 * Which children a failure takes down with it (OTP). A strategy is a pure function of the
 * children in start order and the one that failed; the answer is in start order.
 */
export type StrategyName = 'one_for_one' | 'one_for_all' | 'rest_for_one';

export type Strategy = (childrenInStartOrder: readonly string[], failed: string) => string[];
