import type { Strategy } from './strategy.ts';

/** Only the failed child is restarted. */
export const oneForOne: Strategy = (_children, failed) => [failed];
