import { randomBytes } from 'node:crypto';
import type { Behavior } from '../actor.ts';
import type { KindContext } from '../kind-registry.ts';

/**
 * Sends numbered ticks to a target at a fixed pace: the load generator of diagnostics and tests.
 * `origin` names this incarnation (address@random), so a receiver can tell a restarted ticker's
 * new numbering from a duplicate.
 */
export type Tick = { type: 'tick'; origin: string; n: number };
type Pace = { type: 'pace' };

export interface TickerOptions {
  target: string;
  intervalMs: number;
  burst: number;
}

export function tickerOptions(ctx: KindContext): TickerOptions {
  const { target, interval_ms = 10, burst = 1 } = ctx.options as { target?: unknown; interval_ms?: unknown; burst?: unknown };
  if (typeof target !== 'string' || target === '') throw new TypeError(`actor ${ctx.address}: options.target: expected an actor address, got ${JSON.stringify(target)}`);
  if (typeof interval_ms !== 'number' || !(interval_ms > 0)) throw new TypeError(`actor ${ctx.address}: options.interval_ms: expected a number > 0, got ${JSON.stringify(interval_ms)}`);
  if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 1) throw new TypeError(`actor ${ctx.address}: options.burst: expected an integer >= 1, got ${JSON.stringify(burst)}`);
  return { target, intervalMs: interval_ms, burst };
}

export const ticker = (opts: TickerOptions): Behavior<Pace, { origin: string; n: number }> => ({
  init: (ctx) => {
    ctx.timers.startPeriodic('pace', { type: 'pace' }, opts.intervalMs);
    return { origin: `${ctx.self.address}@${randomBytes(4).toString('hex')}`, n: 0 };
  },
  receive: (s, _msg, ctx) => {
    let n = s.n;
    for (let i = 0; i < opts.burst; i++) ctx.tell<Tick>(opts.target, { type: 'tick', origin: s.origin, n: ++n });
    return { origin: s.origin, n };
  },
  summary: (s) => s,
});
