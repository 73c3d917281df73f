import type { ActorContext, Behavior, SpawnOptions } from './actor.ts';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from './actor.ts';
import { ActorRef, type Deliverable } from './actor-ref.ts';
import type { ActorSystem } from './actor-system.ts';
import type { Runnable } from './dispatcher.ts';
import { DEFAULT_MAILBOX, Mailbox, Offer } from './mailbox.ts';
import type { Message, TraceContext } from './message.ts';
import type { ExitReason, Signal } from './signal.ts';
import type { TellResult } from './tell-result.ts';
import { ActorTimers } from './timers.ts';
import type { KeyStats } from './metrics.ts';
import { activeTrace } from './tracing.ts';
import { type Span, SpanStatusCode } from '@opentelemetry/api';

export type CellStatus = 'running' | 'suspended' | 'stopping' | 'stopped';

/**
 * The runtime side of one actor: its mailbox, its state, its place in the tree, and the loop
 * that feeds it messages. A failure suspends the cell (its mailbox keeps filling, within bounds)
 * and tells the parent, whose supervisor decides: restart, stop or escalate.
 */
export class ActorCell<M extends Message = Message, S = unknown> implements Deliverable, Runnable, ActorContext<M> {
  status: CellStatus = 'running';
  queued = false;
  /** the counters of this actor's key, when the node has metrics */
  private readonly stats: KeyStats | undefined;
  /** the actor's topology key (its address when the node has no metrics), for span names */
  private readonly statsKey: string;
  readonly mailbox: Mailbox<M>;
  readonly self: ActorRef<M>;
  readonly timers: ActorTimers<M>;
  readonly children: ActorCell[] = [];
  readonly shutdownTimeoutMs: number;
  private readonly signals: Signal[] = [];
  private readonly watchers = new Set<ActorCell>();
  private readonly watching = new Set<string>();
  private state!: S;
  private current: M | undefined;
  private stopped: Promise<void> | undefined;
  sender: ActorRef | undefined;
  trace: TraceContext | undefined;
  handled = 0;
  restarts = 0;
  /** set while the actor waits for a promise (suspendUntil): messages queue, none is handled */
  private waiting = false;
  /** bumped on every restart and stop: a completion of an earlier incarnation's wait is ignored */
  private incarnation = 0;
  lastError: Error | undefined;

  constructor(
    readonly system: ActorSystem,
    readonly address: string,
    readonly behavior: Behavior<M, S>,
    readonly parent: ActorCell | null,
    options: SpawnOptions,
  ) {
    this.mailbox = new Mailbox<M>(options.mailbox ?? DEFAULT_MAILBOX);
    this.stats = system.metrics?.statsOf(address);
    this.statsKey = this.stats?.key ?? address;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    this.self = new ActorRef<M>(address, system, this);
    this.timers = new ActorTimers<M>(system.clock, (msg) => {
      // A timer has nobody to push back on: a tick that finds a back-pressured mailbox full is a dead letter.
      if (this.enqueue(msg, this.self, undefined) === 'full' && this.mailbox.policy === 'backpressure') {
        this.system.deadLetter(this.address, undefined, msg, 'mailbox-full', `timer message for ${this.address} found its mailbox full (capacity ${this.mailbox.capacity})`, false);
      }
    });
  }

  /** This cell with its message and state types erased, as the tree (parent, children, watchers) holds it. */
  private get erased(): ActorCell {
    return this as unknown as ActorCell;
  }

  get dead(): boolean {
    return this.status === 'stopped';
  }

  /** Runs init; a throwing init is a failure reported to the parent like a throwing handler. */
  start(): void {
    try {
      this.state = this.behavior.init(this);
    } catch (e) {
      this.fail(e);
    }
  }

  // ---- Deliverable ----

  enqueue(msg: Message, sender: ActorRef | undefined, trace: TraceContext | undefined): TellResult {
    if (this.status === 'stopped') return this.system.deadLetter(this.address, sender, msg, 'actor-stopped', 'the actor has stopped');
    const r = this.mailbox.offer(msg as M, sender, this.system.dispatcher.now, trace);
    if (r === Offer.Queued) {
      if (!this.queued && this.status === 'running') this.system.dispatcher.schedule(this);
      return 'queued';
    }
    if (r === Offer.Conflated) return 'conflated';
    if (r === Offer.QueuedDroppedOldest) {
      if (!this.queued && this.status === 'running') this.system.dispatcher.schedule(this);
      const dropped = this.mailbox.dropped as Message;
      this.mailbox.dropped = undefined;
      this.system.deadLetter(this.address, this.mailbox.droppedSender as ActorRef | undefined, dropped, 'conflated-overflow',
        `mailbox full (${this.mailbox.capacity} keys): dropped the oldest to keep the newest`, false);
      return 'queued';
    }
    if (this.mailbox.policy === 'reject') {
      return this.system.deadLetter(this.address, sender, msg, 'mailbox-full',
        `mailbox of ${this.address} is full (capacity ${this.mailbox.capacity}, policy reject)`);
    }
    return 'full';
  }

  /** Delivers a runtime notice; signals go before queued messages. */
  signal(s: Signal): void {
    if (this.status === 'stopped') return;
    this.signals.push(s);
    if (!this.queued && this.status === 'running') this.system.dispatcher.schedule(this);
  }

  // ---- Runnable ----

  hasWork(): boolean {
    return this.status === 'running' && !this.waiting && (this.signals.length !== 0 || this.mailbox.size !== 0);
  }

  process(budget: number): number {
    let n = 0;
    while (n < budget && this.status === 'running' && !this.waiting) {
      try {
        if (this.signals.length !== 0) {
          const s = this.signals.shift() as Signal;
          this.sender = undefined;
          this.trace = undefined;
          if (this.behavior.onSignal) this.state = this.behavior.onSignal(this.state, s, this);
          n++;
          continue;
        }
        const mailbox = this.mailbox;
        if (mailbox.size === 0) break;
        const behavior = this.behavior;
        const stats = this.stats;
        const tracing = this.system.tracing;
        let t0 = stats === undefined ? 0 : performance.now();
        // The hot loop: everything it touches is a field read or a ring-buffer slot.
        while (n < budget && mailbox.size !== 0 && this.signals.length === 0 && !this.waiting) {
          this.sender = mailbox.peekSender() as ActorRef | undefined;
          this.trace = mailbox.peekTrace();
          const msg = mailbox.shift() as M;
          this.current = msg;
          if (this.trace !== undefined && tracing !== undefined) {
            const h = tracing.startHandle(this.statsKey, msg.type, this.trace);
            if (h) {
              this.span = h.span;
              this.trace = h.trace;
            }
          }
          activeTrace.current = this.trace;
          const next = behavior.receive(this.state, msg, this);
          if (next === undefined && this.state !== undefined) {
            // A switch without a case for this message type: keep the state (do not let the next
            // message crash on an undefined one) and say which message it was.
            this.system.deadLetter(this.address, this.sender, msg, 'unhandled', `${this.address} has no case for a "${msg.type}" message: state kept`, false);
          } else this.state = next;
          if (stats !== undefined) {
            // One clock read per message: this message ended when the next one starts.
            const t1 = performance.now();
            stats.handled(msg.type, t1 - t0);
            t0 = t1;
          }
          if (this.span !== undefined || this.rootSpan !== undefined) this.endSpan();
          this.handled++;
          n++;
          if (this.status !== 'running') break;
        }
        this.current = undefined;
        // What is sent outside a message (timers, a restart's init, stop hooks) carries no trace.
        this.trace = undefined;
        activeTrace.current = undefined;
      } catch (e) {
        n++;
        const status = { code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) };
        this.span?.setStatus(status);
        this.rootSpan?.setStatus(status);
        this.endSpan();
        this.trace = undefined;
        activeTrace.current = undefined;
        this.fail(e);
      }
    }
    return n;
  }

  /** The span of the message being handled (or the trace it started), if any. */
  private span: Span | undefined;

  /** A trace this message started (startTrace), ended with the message. */
  private rootSpan: Span | undefined;

  private endSpan(): void {
    this.span?.end();
    this.span = undefined;
    this.rootSpan?.end();
    this.rootSpan = undefined;
  }

  /**
   * Starts a new trace here, for one call in the tracing's sampleEvery; what this message sends
   * from now on carries it (the other calls start none: what is sent carries no trace). A no-op
   * on a node that does not trace.
   */
  startTrace(name: string): void {
    const tracing = this.system.tracing;
    if (tracing === undefined) return;
    this.rootSpan?.end();
    const root = tracing.startRoot(name);
    this.rootSpan = root?.span;
    this.trace = root?.trace;
    activeTrace.current = this.trace;
  }

  // ---- failure, restart, stop ----

  /**
   * Stops handling messages until `promise` settles (they queue, within the mailbox's bound); then
   * `then` moves the state with its value, in the actor's turn, and messages flow again. A
   * rejection is a failure of the actor like a throwing handler. What a persistent actor's
   * recovery waits on (Akka's stash during recovery).
   */
  suspendUntil<T, X = S>(promise: Promise<T>, then: (state: X, value: T) => X): void {
    const incarnation = this.incarnation;
    this.waiting = true;
    promise.then(
      (value) => {
        if (incarnation !== this.incarnation || this.status === 'stopped') return;
        this.waiting = false;
        this.sender = undefined;
        this.trace = undefined;
        try {
          this.state = then(this.state as unknown as X, value) as unknown as S;
        } catch (e) {
          this.fail(e);
          return;
        }
        if (this.status === 'running' && !this.queued && this.hasWork()) this.system.dispatcher.schedule(this);
      },
      (e: unknown) => {
        if (incarnation !== this.incarnation || this.status === 'stopped') return;
        this.waiting = false;
        this.fail(e);
      },
    );
  }

  /** Fails the actor from outside its turn (e.g. its journal refused its events): its supervisor decides. */
  crash(error: Error): void {
    if (this.status !== 'running') return;
    this.fail(error);
  }

  private fail(e: unknown): void {
    const error = e instanceof Error ? e : new Error(String(e));
    this.lastError = error;
    this.status = 'suspended';
    this.timers.cancelAll();
    if (this.current !== undefined) {
      this.system.deadLetter(this.address, this.sender, this.current, 'handler-failed', `handler threw: ${error.message}`, false);
      this.current = undefined;
    }
    this.system.events.emit('failure', { address: this.address, error });
    if (this.parent && this.parent.status !== 'stopped') {
      this.parent.signal({ type: '$child-failed', address: this.address, error, restarts: this.restarts });
    } else {
      this.system.unsupervisedFailure(this.erased, error);
    }
  }

  /**
   * First half of a restart (a supervisor calls halt() then reinit(): same address, same mailbox,
   * fresh state): suspends the actor, stops its children and runs its stop hook. Its
   * mailbox keeps accepting messages (within its bound) until reinit(). Supervisors restarting
   * several siblings halt them all (in reverse start order) before re-initialising any.
   */
  async halt(): Promise<void> {
    if (this.status === 'stopped' || this.status === 'stopping') return;
    this.status = 'suspended';
    this.incarnation++;
    this.waiting = false;
    this.timers.cancelAll();
    await this.stopChildren();
    await this.runStopHook();
  }

  /** Resumes a suspended actor with the state it had (the failing message stays dropped). */
  resume(): void {
    if (this.status !== 'suspended') return;
    this.status = 'running';
    if (!this.queued && this.hasWork()) this.system.dispatcher.schedule(this);
  }

  /** Second half of a restart: a fresh state from init, and the mailbox runs again. */
  reinit(): void {
    if (this.status !== 'suspended') return;
    this.restarts++;
    this.status = 'running';
    this.system.events.emit('restart', { address: this.address, restarts: this.restarts });
    this.start();
    if (this.status === 'running' && !this.queued && this.hasWork()) this.system.dispatcher.schedule(this);
  }

  /** Stops this actor: children first, then its stop hook, then its queued messages go to dead letters. */
  terminate(reason: ExitReason = { kind: 'normal' }): Promise<void> {
    this.stopped ??= this.doStop(reason);
    return this.stopped;
  }

  private async doStop(reason: ExitReason): Promise<void> {
    this.status = 'stopping';
    this.incarnation++;
    this.waiting = false;
    this.timers.cancelAll();
    await this.stopChildren();
    await this.runStopHook();
    this.status = 'stopped';
    this.mailbox.drain((msg, sender) =>
      this.system.deadLetter(this.address, sender as ActorRef | undefined, msg, 'actor-stopped', 'the actor stopped with this message queued', false),
    );
    this.signals.length = 0;
    this.system.unregister(this.erased);
    if (this.parent) {
      const i = this.parent.children.indexOf(this.erased);
      if (i >= 0) this.parent.children.splice(i, 1);
      this.parent.signal({ type: '$child-exited', address: this.address, reason });
    }
    for (const w of this.watchers) w.signal({ type: '$terminated', address: this.address, reason });
    this.watchers.clear();
    for (const a of this.watching) this.system.unwatchAddress(this.erased, a);
    this.system.events.emit('stopped', { address: this.address, reason });
  }

  /** Children stop in reverse start order, each within its own shutdown timeout. */
  private async stopChildren(): Promise<void> {
    for (const child of [...this.children].reverse()) await child.terminate({ kind: 'shutdown' });
  }

  private async runStopHook(): Promise<void> {
    const hook = this.behavior.stop;
    if (!hook) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const done = hook.call(this.behavior, this.state, this);
      if (done && typeof (done as Promise<void>).then === 'function') {
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), this.shutdownTimeoutMs);
        });
        if ((await Promise.race([done, timeout])) === 'timeout') {
          this.system.events.emit('stop-timeout', { address: this.address, timeoutMs: this.shutdownTimeoutMs });
        }
      }
    } catch (e) {
      this.system.events.emit('stop-error', { address: this.address, error: e instanceof Error ? e : new Error(String(e)) });
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  addWatcher(w: ActorCell): void {
    this.watchers.add(w);
  }

  removeWatcher(w: ActorCell): void {
    this.watchers.delete(w);
  }

  /** State summary for inspection: the behaviour's own summary, or nothing. */
  summary(): unknown {
    return this.behavior.summary ? this.behavior.summary(this.state) : undefined;
  }

  // ---- ActorContext ----

  tell<T extends Message>(to: ActorRef<T> | string, msg: T): TellResult {
    const ref = typeof to === 'string' ? this.system.ref<T>(to) : to;
    this.stats?.sent(msg.type);
    return this.system.tellRef(ref, msg, this.self, this.trace);
  }

  reply<T extends Message>(msg: T): TellResult {
    if (!this.sender) return this.system.deadLetter('(no sender)', this.self, msg, 'no-such-actor', `reply from ${this.address} to a message that had no sender`);
    this.stats?.sent(msg.type);
    return this.system.tellRef(this.sender, msg, this.self, this.trace);
  }

  ask<R extends Message, T extends Message = Message>(to: ActorRef<T> | string, msg: T, timeoutMs: number): Promise<R> {
    return this.system.ask<R, T>(to, msg, timeoutMs, this.trace);
  }

  spawn<C extends Message, CS>(address: string, behavior: Behavior<C, CS>, options?: SpawnOptions): ActorRef<C> {
    return this.system.spawnCell(address, behavior, options ?? {}, this.erased).self;
  }

  stop(ref?: ActorRef): Promise<void> {
    if (!ref || ref.address === this.address) return this.terminate({ kind: 'normal' });
    return this.system.stop(ref);
  }

  watch(ref: ActorRef): void {
    this.watching.add(ref.address);
    this.system.watchAddress(this.erased, ref.address);
  }

  unwatch(ref: ActorRef): void {
    this.watching.delete(ref.address);
    this.system.unwatchAddress(this.erased, ref.address);
  }
}
