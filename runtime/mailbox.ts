import type { Message, TraceContext } from './message.ts';

/**
 * What a full mailbox does with one more message.
 * - conflate: keep only the newest message per key (market data); a new key on a full mailbox
 *   drops the oldest message to dead letters. A message without the key field is queued as is
 *   (never conflated), or refused when the mailbox is full.
 * - reject: refuse the message; the sender gets an error (orders).
 * - backpressure: refuse the message and report "full", so a transport can stop reading until
 *   the mailbox drains below half its capacity.
 */
export type OverflowPolicy = 'conflate' | 'reject' | 'backpressure';

export interface MailboxSpec {
  capacity: number;
  policy: OverflowPolicy;
  /** conflate only: the message field whose value is the conflation key (default "type"). */
  conflateKey?: string;
}

export const DEFAULT_MAILBOX: MailboxSpec = { capacity: 1024, policy: 'reject' };
export const MAILBOX_CAPACITY_MAX = 10_000_000;

/** Result of offering a message to a mailbox. */
export const enum Offer {
  Queued = 0,
  /** conflate: replaced the queued message with the same key. */
  Conflated = 1,
  /** conflate: queued, and the oldest message was dropped to make room (see `dropped`). */
  QueuedDroppedOldest = 2,
  /** reject or backpressure: not queued. */
  Full = 3,
}

/** A sender reference as the mailbox sees it: opaque. */
export type SenderSlot = unknown;

/**
 * A bounded FIFO ring of (message, sender, enqueue time, trace). Grows by doubling up to its
 * capacity, never past it. Single-threaded: a node's dispatcher is the only consumer.
 */
export class Mailbox<M extends Message = Message> {
  readonly capacity: number;
  readonly policy: OverflowPolicy;
  private readonly keyField: string;
  private msgs: (M | undefined)[];
  private senders: SenderSlot[];
  private traces: (TraceContext | undefined)[];
  private times: Float64Array;
  private mask: number;
  private head = 0;
  private count = 0;
  /** conflate: key -> absolute position (head counter) of the queued message with that key. */
  private readonly keys: Map<unknown, number> | null;
  private taken = 0;
  private writableWaiters: (() => void)[] = [];

  /** The message dropped by the last QueuedDroppedOldest offer. */
  dropped: M | undefined;
  droppedSender: SenderSlot;

  constructor(spec: MailboxSpec) {
    if (!Number.isInteger(spec.capacity) || spec.capacity < 1 || spec.capacity > MAILBOX_CAPACITY_MAX) {
      throw new RangeError(`mailbox capacity ${spec.capacity}: expected an integer in 1..${MAILBOX_CAPACITY_MAX}`);
    }
    this.capacity = spec.capacity;
    this.policy = spec.policy;
    this.keyField = spec.conflateKey ?? 'type';
    this.keys = spec.policy === 'conflate' ? new Map() : null;
    const initial = Math.min(ceilPow2(spec.capacity), 64);
    this.msgs = new Array(initial);
    this.senders = new Array(initial);
    this.traces = new Array(initial);
    this.times = new Float64Array(initial);
    this.mask = initial - 1;
  }

  get size(): number {
    return this.count;
  }

  offer(msg: M, sender: SenderSlot, now: number, trace: TraceContext | undefined): Offer {
    const keys = this.keys;
    if (keys !== null) {
      const key = (msg as unknown as Record<string, unknown>)[this.keyField];
      // A message without the key (a control message, a reply) is never conflated nor dropped for
      // another: it queues, or is refused when the mailbox is full.
      if (key === undefined) {
        if (this.count >= this.capacity) return Offer.Full;
        this.push(msg, sender, now, trace);
        return Offer.Queued;
      }
      const at = keys.get(key);
      if (at !== undefined) {
        const slot = (this.head + (at - this.taken)) & this.mask;
        this.msgs[slot] = msg;
        this.senders[slot] = sender;
        this.traces[slot] = trace;
        return Offer.Conflated;
      }
      let result = Offer.Queued;
      if (this.count >= this.capacity) {
        // Only market data makes room for market data: a control message at the head stays.
        if ((this.msgs[this.head] as unknown as Record<string, unknown>)[this.keyField] === undefined) return Offer.Full;
        this.dropped = this.msgs[this.head];
        this.droppedSender = this.senders[this.head];
        this.shift();
        result = Offer.QueuedDroppedOldest;
      }
      keys.set(key, this.taken + this.count);
      this.push(msg, sender, now, trace);
      return result;
    }
    if (this.count >= this.capacity) return Offer.Full;
    this.push(msg, sender, now, trace);
    return Offer.Queued;
  }

  private push(msg: M, sender: SenderSlot, now: number, trace: TraceContext | undefined): void {
    if (this.count > this.mask) this.grow();
    const slot = (this.head + this.count) & this.mask;
    this.msgs[slot] = msg;
    this.senders[slot] = sender;
    this.traces[slot] = trace;
    this.times[slot] = now;
    this.count++;
  }

  // The consumer reads the head's sender/trace before shift() clears them.
  peekSender(): SenderSlot {
    return this.senders[this.head];
  }

  peekTrace(): TraceContext | undefined {
    return this.traces[this.head];
  }

  /** Enqueue time of the oldest queued message, or undefined when empty. */
  oldestTime(): number | undefined {
    return this.count === 0 ? undefined : this.times[this.head];
  }

  /** Removes and returns the oldest message (undefined when empty). */
  shift(): M | undefined {
    if (this.count === 0) return undefined;
    const h = this.head;
    const msg = this.msgs[h];
    this.msgs[h] = undefined;
    this.senders[h] = undefined;
    this.traces[h] = undefined;
    this.head = (h + 1) & this.mask;
    this.count--;
    if (this.keys !== null) {
      const key = (msg as unknown as Record<string, unknown>)[this.keyField];
      if (key !== undefined && this.keys.get(key) === this.taken) this.keys.delete(key);
      this.taken++;
    }
    if (this.writableWaiters.length !== 0 && this.count <= this.capacity >> 1) this.notifyWritable();
    return msg;
  }

  /** The next n queued messages, oldest first, without removing them (for inspection). */
  peek(n: number): { msg: M; enqueuedAt: number }[] {
    const out: { msg: M; enqueuedAt: number }[] = [];
    for (let i = 0; i < Math.min(n, this.count); i++) {
      const slot = (this.head + i) & this.mask;
      out.push({ msg: this.msgs[slot] as M, enqueuedAt: this.times[slot] });
    }
    return out;
  }

  /** Resolves when the mailbox has drained to half its capacity or less (at once if it already has). */
  whenWritable(): Promise<void> {
    if (this.count <= this.capacity >> 1) return Promise.resolve();
    return new Promise((resolve) => this.writableWaiters.push(resolve));
  }

  /** Empties the mailbox, handing each message to `each` (used to dead-letter what a stopped actor left). */
  drain(each: (msg: M, sender: SenderSlot) => void): void {
    while (this.count !== 0) {
      const sender = this.senders[this.head];
      const msg = this.shift() as M;
      each(msg, sender);
    }
    this.notifyWritable();
  }

  private notifyWritable(): void {
    const waiters = this.writableWaiters;
    this.writableWaiters = [];
    for (const w of waiters) w();
  }

  private grow(): void {
    const oldLen = this.mask + 1;
    const len = oldLen * 2;
    const msgs = new Array<M | undefined>(len);
    const senders = new Array<SenderSlot>(len);
    const traces = new Array<TraceContext | undefined>(len);
    const times = new Float64Array(len);
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) & this.mask;
      msgs[i] = this.msgs[from];
      senders[i] = this.senders[from];
      traces[i] = this.traces[from];
      times[i] = this.times[from];
    }
    this.msgs = msgs;
    this.senders = senders;
    this.traces = traces;
    this.times = times;
    this.head = 0;
    this.mask = len - 1;
  }
}

function ceilPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
