import type { Behavior } from '../actor.ts';
import type { Message } from '../message.ts';

/** Replies to every message with the message itself: the far end of ping-pong benchmarks and `rt ping`. */
export const echo = (): Behavior<Message, number> => ({
  init: () => 0,
  receive: (handled, msg, ctx) => {
    ctx.reply(msg);
    return handled + 1;
  },
  summary: (handled) => ({ handled }),
});
