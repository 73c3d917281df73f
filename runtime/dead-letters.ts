import type { Message } from './message.ts';
import type { DeadLetterReason } from './signal.ts';

export interface DeadLetter {
  to: string;
  from: string | undefined;
  message: Message;
  reason: DeadLetterReason;
  detail: string;
  at: number;
}

export const DEAD_LETTERS_KEPT_MAX = 256;

/**
 * Where undeliverable messages go: counted by reason, the newest few kept for inspection, and
 * handed to subscribers (logging, metrics). Bounded: it never holds more than DEAD_LETTERS_KEPT_MAX.
 */
export class DeadLetters {
  readonly byReason = new Map<DeadLetterReason, number>();
  private readonly recent: DeadLetter[] = [];
  private readonly listeners = new Set<(d: DeadLetter) => void>();
  total = 0;

  publish(d: DeadLetter): void {
    this.total++;
    this.byReason.set(d.reason, (this.byReason.get(d.reason) ?? 0) + 1);
    if (this.recent.length === DEAD_LETTERS_KEPT_MAX) this.recent.shift();
    this.recent.push(d);
    for (const l of this.listeners) l(d);
  }

  subscribe(listener: (d: DeadLetter) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  latest(n = DEAD_LETTERS_KEPT_MAX): DeadLetter[] {
    return this.recent.slice(-n);
  }

  count(reason: DeadLetterReason): number {
    return this.byReason.get(reason) ?? 0;
  }
}
