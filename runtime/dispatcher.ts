/** What the dispatcher runs: a cell with messages waiting. */
export interface Runnable {
  /** Set by the dispatcher while the cell sits in the run queue. */
  queued: boolean;
  /** Handles up to `budget` messages; returns how many it handled. */
  process(budget: number): number;
  hasWork(): boolean;
}

export interface DispatcherOptions {
  /** Messages one actor handles before the next actor gets a turn (fairness). */
  throughput?: number;
  /** Longest a dispatcher turn runs before yielding to the event loop (I/O, timers). */
  turnBudgetMs?: number;
}

export const DEFAULT_THROUGHPUT_MSGS = 64;
export const DEFAULT_TURN_BUDGET_MS = 5;
/** The coarse clock is refreshed (and the turn budget checked) every this many messages. */
const CLOCK_EVERY_MSGS = 512;

/**
 * One per node: a FIFO run queue of actors with work, drained on the event loop thread. A turn
 * runs until the queue is empty or the time budget is spent, then yields with setImmediate so
 * sockets and timers are served; a turn is scheduled only when there is work.
 */
export class Dispatcher {
  private queue: (Runnable | undefined)[] = new Array(1024);
  private head = 0;
  private count = 0;
  private scheduled = false;
  private running = false;
  /** While a transport delivers a frame, it runs the turn itself at the end (runNow): no setImmediate per message. */
  private holding = false;
  readonly throughput: number;
  private readonly turnBudgetMs: number;
  /** Coarse time, refreshed each turn and every few hundred messages: reading the clock per message would cost more than the message. */
  now = performance.now();
  handled = 0;
  private readonly turnEndHooks: (() => void)[] = [];

  constructor(options: DispatcherOptions = {}) {
    this.throughput = options.throughput ?? DEFAULT_THROUGHPUT_MSGS;
    this.turnBudgetMs = options.turnBudgetMs ?? DEFAULT_TURN_BUDGET_MS;
  }

  schedule(r: Runnable): void {
    r.queued = true;
    if (this.count === this.queue.length) this.grow();
    this.queue[(this.head + this.count) & (this.queue.length - 1)] = r;
    this.count++;
    if (!this.scheduled && !this.running && !this.holding) {
      this.scheduled = true;
      setImmediate(this.turn);
    }
  }

  /**
   * Delivers a batch (a transport's frame) and then runs a turn at once, instead of letting each
   * delivered message schedule one: a message from the network is handled in the same event-loop
   * callback that read it.
   */
  deliverAndRun(deliver: () => void): void {
    if (this.running || this.holding) {
      deliver();
      return;
    }
    this.holding = true;
    try {
      deliver();
    } finally {
      this.holding = false;
    }
    this.runNow();
  }

  /** True while a turn runs (a transport then defers its flush to the turn's end). */
  get inTurn(): boolean {
    return this.running;
  }

  /** Called at the end of every turn: transports cut their frames there, so a turn's output leaves at once and together. */
  onTurnEnd(hook: () => void): void {
    this.turnEndHooks.push(hook);
  }

  /** Runs a turn now unless one is already running. */
  runNow(): void {
    if (this.running) return;
    this.turn();
  }

  private readonly turn = (): void => {
    this.scheduled = false;
    this.running = true;
    const start = performance.now();
    this.now = start;
    const deadline = start + this.turnBudgetMs;
    let sinceClock = 0;
    try {
      while (this.count !== 0) {
        const r = this.queue[this.head] as Runnable;
        this.queue[this.head] = undefined;
        this.head = (this.head + 1) & (this.queue.length - 1);
        this.count--;
        r.queued = false;
        const n = r.process(this.throughput);
        this.handled += n;
        if (!r.queued && r.hasWork()) this.schedule(r);
        sinceClock += n + 1;
        if (sinceClock >= CLOCK_EVERY_MSGS) {
          sinceClock = 0;
          this.now = performance.now();
          if (this.now > deadline) break;
        }
      }
    } finally {
      this.running = false;
      for (const hook of this.turnEndHooks) hook();
      if (this.count !== 0 && !this.scheduled) {
        this.scheduled = true;
        setImmediate(this.turn);
      }
    }
  };

  private grow(): void {
    const old = this.queue;
    const next = new Array<Runnable | undefined>(old.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.queue = next;
    this.head = 0;
  }
}
