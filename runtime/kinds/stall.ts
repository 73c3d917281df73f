import type { Behavior } from '../actor.ts';
import type { Message } from '../message.ts';

/**
 * Never finishes its first message: everything after it waits in the mailbox, which fills to its
 * capacity and then refuses or pushes back by its policy. For tests and alert drills (a full
 * mailbox, a stuck actor).
 */
export const stall = (): Behavior<Message, null> => ({
  init: () => null,
  receive: (s, _msg, ctx) => {
    ctx.suspendUntil(new Promise<never>(() => undefined), (st) => st);
    return s;
  },
});
