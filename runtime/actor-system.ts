import { Gauges } from './gauges.ts';
import type { Journal } from './journal.ts';
import type { NodeMetrics } from './metrics.ts';
import type { Tracing } from './tracing.ts';
import { EventEmitter } from 'node:events';
import type { Behavior, SpawnOptions } from './actor.ts';
import { ActorCell } from './actor-cell.ts';
import { ActorRef, type Deliverable } from './actor-ref.ts';
import { AskTimeoutError, AskReceiver, UndeliverableError } from './ask.ts';
import { type Clock, systemClock } from './clock.ts';
import { DeadLetters } from './dead-letters.ts';
import { Dispatcher, type DispatcherOptions } from './dispatcher.ts';
import type { Envelope, RemoteTransport } from './envelope.ts';
import type { Message, TraceContext } from './message.ts';
import type { DeadLetterReason } from './signal.ts';
import type { TellResult } from './tell-result.ts';

export interface ActorSystemOptions extends DispatcherOptions {
  /** Name of the node this system runs on (used in ask reply addresses). */
  node?: string;
  clock?: Clock;
  /** Where an address lives, when it is not local: the node's name, or undefined if nowhere. */
  nodeOf?: (address: string) => string | undefined;
}

export class DuplicateAddressError extends Error {
  constructor(readonly address: string) {
    super(`an actor is already running at address "${address}": expected a free address (stop that actor first, or spawn at another)`);
  }
}

export const ASK_PREFIX = '$ask/';

/** Death notices do not cross nodes yet: a watch of another node's actor is refused, not faked. */
export class RemoteWatchError extends Error {
  constructor(
    readonly watcher: string,
    readonly address: string,
    readonly node: string,
  ) {
    super(`${watcher} cannot watch ${address}: it lives on node ${node}, and death notices do not cross nodes (watch an actor of this node)`);
    this.name = 'RemoteWatchError';
  }
}

/**
 * One per node process: the registry of local actors, the dispatcher that runs them, routing of
 * messages to other nodes through a transport, asks, watches and dead letters.
 */
export class ActorSystem {
  readonly node: string;
  readonly clock: Clock;
  readonly dispatcher: Dispatcher;
  readonly deadLetters = new DeadLetters();
  /** 'failure' | 'restart' | 'stopped' | 'stop-timeout' | 'stop-error' | 'unsupervised-failure' */
  readonly events = new EventEmitter();
  private readonly local = new Map<string, Deliverable>();
  private readonly refs = new Map<string, ActorRef>();
  private readonly nodeOf: (address: string) => string | undefined;
  private transport: RemoteTransport | null = null;
  private askSeq = 0;
  /** Called when an actor with no parent fails; default: stop it and report. */
  onUnsupervisedFailure: (cell: ActorCell, error: Error) => void = (cell, error) => {
    this.events.emit('unsupervised-failure', { address: cell.address, error });
    void cell.terminate({ kind: 'failed', error });
  };

  constructor(options: ActorSystemOptions = {}) {
    this.node = options.node ?? 'local';
    this.clock = options.clock ?? systemClock;
    this.dispatcher = new Dispatcher(options);
    this.nodeOf = options.nodeOf ?? (() => undefined);
    // EventEmitter throws on an 'error' event with no listener; we use no 'error' event, but a
    // burst of failures must not print a leak warning.
    this.events.setMaxListeners(0);
  }

  attachTransport(t: RemoteTransport): void {
    this.transport = t;
  }

  spawn<M extends Message, S>(address: string, behavior: Behavior<M, S>, options: SpawnOptions = {}): ActorRef<M> {
    return this.spawnCell(address, behavior, options, null).self;
  }

  /** @internal */
  spawnCell<M extends Message, S>(address: string, behavior: Behavior<M, S>, options: SpawnOptions, parent: ActorCell | null): ActorCell<M, S> {
    const existing = this.local.get(address);
    if (existing && !existing.dead) throw new DuplicateAddressError(address);
    const cell = new ActorCell<M, S>(this, address, behavior, parent, options);
    this.local.set(address, cell);
    const ref = this.refs.get(address);
    if (ref) ref.cell = cell;
    else this.refs.set(address, cell.self as ActorRef);
    if (parent) parent.children.push(cell as unknown as ActorCell);
    cell.start();
    return cell;
  }

  /** The ref for an address, local or not (refs are cached: one per address). */
  ref<M extends Message = Message>(address: string): ActorRef<M> {
    let ref = this.refs.get(address);
    if (!ref) {
      ref = new ActorRef(address, this, this.local.get(address) ?? null);
      this.refs.set(address, ref);
    }
    return ref as ActorRef<M>;
  }

  /** What this node's actors want an operator to see (counters, levels, states). */
  readonly gauges = new Gauges();

  /**
   * Where this node's persistent actors write their events (set by the node before its actors
   * start). Unset, persistent actors keep their state in memory only.
   */
  journal: Journal | undefined;

  /** Lease epoch this node writes with (0 until failover sets it): on every event and snapshot. */
  epoch = 0;

  /** The node's Prometheus metrics (runtime/metrics.ts), set before its actors start; unset: none. */
  metrics: NodeMetrics | undefined;

  /** Spans for traced messages (runtime/tracing.ts); unset: none, at the cost of one test per message. */
  tracing: Tracing | undefined;

  /**
   * Starts the actor for an address that has none yet, when this node owns it (an entity of a
   * pattern such as `book/*`, started on its first message, as Akka's sharding does). Returns
   * whether an actor now lives there. Set by the node; unset, nothing is activated.
   */
  activate: ((address: string) => boolean) | undefined;

  private activated(address: string): ActorCell | undefined {
    if (!this.activate?.(address)) return undefined;
    return this.cellOf(address);
  }

  /** The local cell at an address, if any (for supervisors and inspection). */
  cellOf(address: string): ActorCell | undefined {
    const d = this.local.get(address);
    return d instanceof ActorCell ? d : undefined;
  }

  localAddresses(): string[] {
    return [...this.local.keys()].filter((a) => !a.startsWith(ASK_PREFIX));
  }

  tell<M extends Message>(to: ActorRef<M> | string, msg: M, sender?: ActorRef, trace?: TraceContext): TellResult {
    return this.tellRef(typeof to === 'string' ? this.ref<M>(to) : to, msg, sender, trace);
  }

  tellRef(ref: ActorRef, msg: Message, sender: ActorRef | undefined, trace: TraceContext | undefined): TellResult {
    let cell = ref.cell;
    if (cell === null || cell.dead) {
      cell = this.local.get(ref.address) ?? null;
      ref.cell = cell;
      if (cell === null) return this.sendRemote(ref.address, msg, sender, trace);
    }
    return cell.enqueue(msg, sender, trace);
  }

  private sendRemote(address: string, msg: Message, sender: ActorRef | undefined, trace: TraceContext | undefined): TellResult {
    const node = address.startsWith(ASK_PREFIX) ? address.slice(ASK_PREFIX.length, address.indexOf('/', ASK_PREFIX.length)) : this.nodeOf(address);
    if (node === undefined || node === this.node) {
      // Ours (or no placement at all, as in a single-node system): start it if an activator owns it.
      const cell = this.activated(address);
      if (cell) return cell.enqueue(msg, sender, trace);
      if (node === undefined) return this.deadLetter(address, sender, msg, 'no-route', `no node holds address "${address}"`);
      return this.deadLetter(address, sender, msg, 'no-such-actor', `no actor at "${address}" on this node (${this.node})`);
    }
    if (!this.transport) return this.deadLetter(address, sender, msg, 'no-route', `"${address}" lives on node ${node} but this node has no transport`);
    this.transport.send(node, address, sender ? sender.address : '', msg, trace?.traceparent ?? '', trace?.tracestate ?? '');
    return 'sent';
  }

  /** Inbound from a transport: deliver an envelope to its local receiver. */
  deliverEnvelope(env: Envelope): TellResult {
    const sender = env.from === '' ? undefined : this.ref(env.from);
    const trace = env.traceparent === '' ? undefined : { traceparent: env.traceparent, tracestate: env.tracestate || undefined };
    const cell = this.local.get(env.to) ?? (env.to.startsWith(ASK_PREFIX) ? undefined : this.activated(env.to));
    if (!cell || cell.dead) {
      return this.deadLetter(env.to, sender, env.body, env.to.startsWith(ASK_PREFIX) ? 'ask-expired' : 'no-such-actor', `no actor at "${env.to}" on node ${this.node}`);
    }
    return cell.enqueue(env.body, sender, trace);
  }

  ask<R extends Message, M extends Message = Message>(to: ActorRef<M> | string, msg: M, timeoutMs: number, trace?: TraceContext): Promise<R> {
    const address = `${ASK_PREFIX}${this.node}/${++this.askSeq}`;
    return new Promise<R>((resolve, reject) => {
      const target = typeof to === 'string' ? to : to.address;
      const receiver = new AskReceiver(
        (reply) => {
          this.local.delete(address);
          this.refs.delete(address);
          resolve(reply as R);
        },
        (err) => {
          this.local.delete(address);
          this.refs.delete(address);
          reject(err);
        },
        this.clock.setTimeout(() => receiver.fail(new AskTimeoutError(target, msg.type, timeoutMs)), timeoutMs),
      );
      this.local.set(address, receiver);
      const replyTo = this.ref(address);
      const r = this.tellRef(typeof to === 'string' ? this.ref(to) : to, msg, replyTo, trace);
      // A dead letter has already failed the ask with its reason (the ask's receiver is the sender);
      // a back-pressured mailbox refuses without one.
      if (r === 'full') receiver.fail(new UndeliverableError(target, msg.type, 'mailbox-full'));
    });
  }

  /** Stops the actor at a local address (children first). Resolves when it has stopped. */
  stop(ref: ActorRef | string): Promise<void> {
    const cell = this.cellOf(typeof ref === 'string' ? ref : ref.address);
    return cell ? cell.terminate({ kind: 'normal' }) : Promise.resolve();
  }

  /** Stops every top-level actor in reverse start order, then forgets them. */
  async shutdown(): Promise<void> {
    const roots = [...this.local.values()].filter((d): d is ActorCell => d instanceof ActorCell && d.parent === null);
    for (const cell of roots.reverse()) await cell.terminate({ kind: 'shutdown' });
    if (this.transport) await this.transport.close();
  }

  /** Publishes a dead letter; tells the sender (unless it is this runtime itself) with an $undeliverable signal. */
  deadLetter(to: string, sender: ActorRef | undefined, message: Message, reason: DeadLetterReason, detail: string, tellSender = true): TellResult {
    this.deadLetters.publish({ to, from: sender?.address, message, reason, detail, at: Date.now() });
    if (tellSender && sender) {
      const cell = this.local.get(sender.address);
      if (cell instanceof ActorCell) cell.signal({ type: '$undeliverable', to, message, reason, detail });
      else if (cell instanceof AskReceiver) cell.fail(new UndeliverableError(to, message.type, reason));
    }
    return reason === 'mailbox-full' ? 'full' : 'dead';
  }

  /** @internal */
  unregister(cell: ActorCell): void {
    if (this.local.get(cell.address) === cell) this.local.delete(cell.address);
  }

  /** @internal called by a cell with no parent when it fails. */
  unsupervisedFailure(cell: ActorCell, error: Error): void {
    this.onUnsupervisedFailure(cell, error);
  }

  /** @internal */
  watchAddress(watcher: ActorCell, address: string): void {
    const target = this.cellOf(address);
    if (target) {
      target.addWatcher(watcher);
      return;
    }
    const node = this.nodeOf(address);
    if (node !== undefined && node !== this.node) {
      throw new RemoteWatchError(watcher.address, address, node);
    }
    // Watching what is not there yields an immediate notice, as in Erlang's monitor.
    watcher.signal({ type: '$terminated', address, reason: { kind: 'normal' } });
  }

  /** @internal */
  unwatchAddress(watcher: ActorCell, address: string): void {
    this.cellOf(address)?.removeWatcher(watcher);
  }
}
