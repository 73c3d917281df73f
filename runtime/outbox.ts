import type { ActorSystem } from './actor-system.ts';
import type { Outgoing } from './codec.ts';
import type { Message } from './message.ts';

/** An envelope that left no outbox (its peer unreachable past hold_ms or hold_max): a dead letter, its sender told. */
export function unreachable(system: ActorSystem, o: Outgoing, node: string, detail: string, via?: string): void {
  system.deadLetter(o.to, o.from === '' ? undefined : system.ref(o.from), o.body, 'node-unreachable', `node ${node} unreachable${via ? ` over ${via}` : ''}: ${detail}`);
}

/** What an outbox needs from its transport. */
export interface OutboxOwner {
  readonly options: { readonly holdMs: number; readonly holdMax: number };
  /** a held envelope expired or overflowed: dead letter, sender told */
  undeliverable(o: Outgoing, node: string, detail: string): void;
  /** flush `box` at the end of the current dispatcher turn */
  scheduleFlush(box: Outbox): void;
}

/**
 * The envelopes of one link (this node -> a peer node) not yet handed to the wire, in order,
 * with their enqueue times: numbered with the link's sequence, bounded by hold_max, expired
 * after hold_ms. Both transports (IPC and NATS) keep one per peer.
 */
export abstract class Outbox {
  protected queue: Outgoing[] = [];
  protected times: number[] = [];
  protected head = 0;
  /** Sequence number of the last envelope queued on this link (from 1, per incarnation of this node). */
  private seq = 0;
  protected flushScheduled = false;
  sentFrames = 0;
  sentEnvelopes = 0;
  expired = 0;

  constructor(
    protected readonly owner: OutboxOwner,
    readonly node: string,
  ) {}

  get held(): number {
    return this.queue.length - this.head;
  }

  /** Sends what the outbox holds, as the transport can. */
  abstract readonly flush: () => void;

  /** Whether a flush is already under way (then the new envelope goes with it). */
  protected busy(): boolean {
    return false;
  }

  /** Queues a tell. Outside a turn the dispatcher's coarse clock may be stale: the envelope would look old and expire early. */
  tell(to: string, from: string, body: Message, traceparent: string, tracestate: string, dispatcher: { readonly inTurn: boolean; readonly now: number }): void {
    this.enqueue({ to, from, seq: 0, traceparent, tracestate, body }, dispatcher.inTurn ? dispatcher.now : performance.now());
  }

  enqueue(o: Outgoing, now: number): void {
    if (this.held >= this.owner.options.holdMax) {
      this.expired++;
      this.owner.undeliverable(o, this.node, `${this.held} envelopes already held (hold_max ${this.owner.options.holdMax})`);
      return;
    }
    o.seq = ++this.seq;
    this.queue.push(o);
    this.times.push(now);
    if (!this.flushScheduled && !this.busy()) {
      this.flushScheduled = true;
      this.owner.scheduleFlush(this);
    }
  }

  /** Dead-letters what has been held longer than hold_ms. */
  expire(now: number): void {
    const holdMs = this.owner.options.holdMs;
    while (this.head < this.queue.length && now - this.times[this.head] > holdMs) {
      const o = this.queue[this.head];
      this.queue[this.head] = undefined as unknown as Outgoing;
      this.head++;
      this.expired++;
      this.owner.undeliverable(o, this.node, `not reachable for ${holdMs} ms (hold_ms)`);
    }
    if (this.head === this.queue.length) this.clear();
  }

  /** Emptied in place: a new pair of arrays per frame would be garbage on every message. */
  protected clear(): void {
    this.queue.length = 0;
    this.times.length = 0;
    this.head = 0;
  }

  protected compact(): void {
    this.queue = this.queue.slice(this.head);
    this.times = this.times.slice(this.head);
    this.head = 0;
  }

  /** Hands every held envelope to `each` and empties the outbox. */
  dropHeld(each: (o: Outgoing) => void): void {
    for (let i = this.head; i < this.queue.length; i++) each(this.queue[i]);
    this.queue = [];
    this.times = [];
    this.head = 0;
  }
}

/**
 * Frames are cut at the end of the current dispatcher turn, so everything told in one turn shares
 * a frame and leaves before the node goes back to waiting; a tell from outside any turn is
 * flushed at the end of the current microtask queue instead.
 */
export class TurnFlush {
  private dirty: Outbox[] = [];

  constructor(private readonly dispatcher: { readonly inTurn: boolean; onTurnEnd(hook: () => void): void }) {
    dispatcher.onTurnEnd(() => this.flushDirty());
  }

  schedule(box: Outbox): void {
    if (this.dispatcher.inTurn) this.dirty.push(box);
    else queueMicrotask(box.flush);
  }

  private flushDirty(): void {
    if (this.dirty.length === 0) return;
    const boxes = this.dirty;
    this.dirty = [];
    for (const b of boxes) b.flush();
  }
}

/** A transport's outboxes, one per peer node, made on the first envelope for it. */
export class Links<L extends Outbox> {
  private readonly byNode = new Map<string, L>();

  constructor(private readonly make: (node: string) => L) {}

  /** The outbox to `node`. */
  to(node: string): L {
    let l = this.byNode.get(node);
    if (!l) {
      l = this.make(node);
      this.byNode.set(node, l);
    }
    return l;
  }

  get(node: string): L | undefined {
    return this.byNode.get(node);
  }

  values(): IterableIterator<L> {
    return this.byNode.values();
  }
}
