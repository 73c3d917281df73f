import type { Behavior } from '../actor.ts';
import type { Message } from '../message.ts';

/**
 * Accepts everything and keeps count. Numbered ticks (`origin`, `n`) are checked per origin:
 * a number seen before is a duplicate, a jump is a gap. Answers `sink-stats` with the counts.
 */
export type SinkStats = {
  type: 'sink-stats';
  received: number;
  duplicates: number;
  gaps: number;
  /** highest n seen per origin */
  origins: Record<string, number>;
};

type SinkMsg = Message & { origin?: unknown; n?: unknown };

export const sink = (): Behavior<SinkMsg, SinkStats> => ({
  init: () => ({ type: 'sink-stats', received: 0, duplicates: 0, gaps: 0, origins: {} }),
  receive: (s, msg, ctx) => {
    if (msg.type === 'sink-stats') {
      ctx.reply({ ...s, origins: { ...s.origins } });
      return s;
    }
    s.received++;
    if (typeof msg.origin === 'string' && typeof msg.n === 'number') {
      const last = s.origins[msg.origin] ?? 0;
      if (msg.n <= last) s.duplicates++;
      else {
        if (msg.n > last + 1) s.gaps += msg.n - last - 1;
        s.origins[msg.origin] = msg.n;
      }
    }
    return s;
  },
  summary: (s) => ({ received: s.received, duplicates: s.duplicates, gaps: s.gaps }),
});
