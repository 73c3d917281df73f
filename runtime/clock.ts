/**
 * Time, injected. The runtime never reads the wall clock or arms a timer except through a Clock,
 * so supervision intensity, backoff, ask timeouts and actor timers can be driven by a
 * deterministic ManualClock in tests.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds, monotonic within the process. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

class RealTimer implements TimerHandle {
  constructor(private readonly t: NodeJS.Timeout) {}
  cancel(): void {
    clearTimeout(this.t);
  }
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    // An actor timer alone must not keep a node process alive after shutdown.
    t.unref();
    return new RealTimer(t);
  },
};

/**
 * A time that outlives the process (for times written to a journal): the clock's milliseconds on
 * the wall-clock time base when it is the real clock (performance.now() restarts at 0 in every
 * process); a ManualClock's as they are.
 */
export function durableNow(clock: Clock): number {
  return (clock === systemClock ? performance.timeOrigin : 0) + clock.now();
}

interface ManualTimer {
  at: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that moves only when told to: timers fire in due order inside advance(). */
export class ManualClock implements Clock {
  private t = 0;
  private order = 0;
  private timers: ManualTimer[] = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: ManualTimer = { at: this.t + Math.max(0, ms), order: this.order++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Moves time forward by ms, firing every timer that falls due, in order (including ones armed meanwhile). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers
        .filter((x) => !x.cancelled && x.at <= end)
        .sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (!due) break;
      this.timers.splice(this.timers.indexOf(due), 1);
      this.t = due.at;
      due.fn();
    }
    this.t = end;
    this.timers = this.timers.filter((x) => !x.cancelled);
  }

  pendingTimers(): number {
    return this.timers.filter((x) => !x.cancelled).length;
  }
}
