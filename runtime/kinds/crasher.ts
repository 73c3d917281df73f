import type { Behavior } from '../actor.ts';
import type { KindContext } from '../kind-registry.ts';

/** Fails on purpose `after_ms` after each start: a fault injector to see supervision work in a real deployment. */
type Crash = { type: 'crash' };

export function crasherDelayMs(ctx: KindContext): number {
  const after = ctx.options.after_ms ?? 1000;
  if (typeof after !== 'number' || !(after >= 0)) throw new TypeError(`actor ${ctx.address}: options.after_ms: expected a number >= 0, got ${JSON.stringify(after)}`);
  return after;
}

export const crasher = (afterMs: number): Behavior<Crash, null> => ({
  init: (ctx) => (ctx.timers.startSingle('crash', { type: 'crash' }, afterMs), null),
  receive: () => {
    throw new Error(`injected failure (crasher, after_ms ${afterMs})`);
  },
});
