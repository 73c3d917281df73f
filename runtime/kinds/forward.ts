import type { Behavior } from '../actor.ts';
import type { KindContext } from '../kind-registry.ts';
import type { Message } from '../message.ts';

/** Passes every message on to `options.target`, unchanged: a hop in diagnostic pipelines. */
export function forwardTarget(ctx: KindContext): string {
  const target = ctx.options.target;
  if (typeof target !== 'string' || target === '') throw new TypeError(`actor ${ctx.address}: options.target: expected an actor address, got ${JSON.stringify(target)}`);
  return target;
}

export const forward = (target: string): Behavior<Message, number> => ({
  init: () => 0,
  receive: (n, msg, ctx) => {
    ctx.tell(target, msg);
    return n + 1;
  },
  summary: (n) => ({ forwarded: n, target }),
});
