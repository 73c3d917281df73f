import type { Clock, TimerHandle } from './clock.ts';
import type { Message } from './message.ts';

/**
 * Timers that deliver a message of the actor's own type to itself, by key (Akka's TimerScheduler):
 * starting a timer with a key that is active replaces it, and all of an actor's timers are
 * cancelled when it stops or fails, so a restarted actor never receives a stale tick.
 */
export interface Timers<M extends Message> {
  startSingle(key: string, msg: M, delayMs: number): void;
  startPeriodic(key: string, msg: M, intervalMs: number): void;
  cancel(key: string): void;
  isActive(key: string): boolean;
}

export class ActorTimers<M extends Message> implements Timers<M> {
  private readonly active = new Map<string, TimerHandle>();

  constructor(
    private readonly clock: Clock,
    private readonly deliver: (msg: M) => void,
  ) {}

  startSingle(key: string, msg: M, delayMs: number): void {
    this.cancel(key);
    this.active.set(
      key,
      this.clock.setTimeout(() => {
        this.active.delete(key);
        this.deliver(msg);
      }, delayMs),
    );
  }

  startPeriodic(key: string, msg: M, intervalMs: number): void {
    if (!(intervalMs > 0)) throw new RangeError(`timer "${key}": interval ${intervalMs} ms, expected > 0`);
    this.cancel(key);
    const arm = (): void => {
      this.active.set(
        key,
        this.clock.setTimeout(() => {
          arm();
          this.deliver(msg);
        }, intervalMs),
      );
    };
    arm();
  }

  cancel(key: string): void {
    const t = this.active.get(key);
    if (t) {
      t.cancel();
      this.active.delete(key);
    }
  }

  isActive(key: string): boolean {
    return this.active.has(key);
  }

  cancelAll(): void {
    for (const t of this.active.values()) t.cancel();
    this.active.clear();
  }
}
