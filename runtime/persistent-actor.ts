// Persistent actors (event sourcing, as Akka Persistence and Proto.Actor's persistence do it): an
// actor records what happened as events in the node's journal (runtime/journal.ts) and rebuilds
// its state, on start and after every restart, from its latest snapshot plus the events after it.
//
// Persist before acting: while a message is handled, everything the actor says to others (tell,
// reply) is held, and goes out only once every event persisted so far has committed. The actor
// itself does not wait: it moves on to the next message with the new state (its own view runs
// ahead of the journal by at most one group-commit batch), and its held effects go out in order,
// batch by batch. Nobody outside ever sees the effect of an event that a crash could take back.
// If the journal refuses a batch for good, the actor crashes: the effects held behind it are
// dropped and its supervisor restarts it from what is durable.
import type { ActorContext, Behavior } from './actor.ts';
import type { ActorRef } from './actor-ref.ts';
import { type Journal, JOURNAL_DEFAULTS, type JournalHealth, type StoredSnapshot, type ViewWrite } from './journal.ts';
import type { KeyStats } from './metrics.ts';
import type { Message, TraceContext } from './message.ts';
import type { Signal } from './signal.ts';
import type { TellResult } from './tell-result.ts';

export interface EventMeta {
  persistenceId: string;
  seqNr: number;
  epoch: number;
}

/** The context a persistent behaviour sees: an actor context whose tells wait for the journal. */
export interface PersistentContext<M extends Message, E extends { type: string }> extends ActorContext<M> {
  /**
   * Records an event (already reflected in the state the handler returns). What the handler says
   * waits for it to commit, unless `hold: false`: the event's cause is durable elsewhere already
   * and acting on it twice is harmless (an order placed again is deduplicated by the venue), so
   * this message's effects wait only for the actor's earlier events. `urgent`: the world waits
   * on what it holds back (an order): its batch is sent at once if the journal has a slot free.
   */
  persist(event: E, options?: { hold?: boolean; urgent?: boolean }): void;
  /** Sequence number of the last event persisted (0: none). */
  readonly seqNr: number;
  readonly persistenceId: string;
  /** false when the node runs without a journal (state in memory only) */
  readonly durable: boolean;
}

export interface SnapshotSpec<S> {
  /** events between snapshots; default the journal's (persistence.snapshot_every in topology.yaml) */
  every?: number;
  /** the state as JSON-safe data */
  save(state: S): unknown;
  /** the inverse of save */
  load(data: unknown): S;
}

export interface PersistentBehavior<M extends Message, S, E extends { type: string }> {
  /** default: the actor's address */
  persistenceId?: string;
  /**
   * A first message for which the journal certainly holds nothing (risk's SubmitOrder of a new
   * order): the actor starts empty without reading the journal, a round trip saved on the hot
   * path. Any other first input (a message, a signal) is held until recovery is done.
   */
  fresh?(first: M): boolean;
  /** the state before any event */
  empty(ctx: ActorContext<M>): S;
  /**
   * One event onto the state: pure, and the only thing recovery runs. The state `receive`
   * returns must equal the fold of `apply` over the events it persisted (the property tests hold
   * this for every persistent actor).
   */
  apply(state: S, event: E): S;
  receive(state: S, msg: M, ctx: PersistentContext<M, E>): S;
  /** After recovery, before the first message: e.g. ask the venue what was missed. */
  recovered?(state: S, ctx: PersistentContext<M, E>): S;
  onSignal?(state: S, signal: Signal, ctx: PersistentContext<M, E>): S;
  /** true: onSignal hears `$journal` when the journal becomes unavailable or available again (risk does; an order need not) */
  watchJournal?: boolean;
  stop?(state: S, ctx: ActorContext<M>): void | Promise<void>;
  summary?(state: S): unknown;
  snapshot?: SnapshotSpec<S>;
  /** Rows of the operator's tables that follow from an event, written in the event's transaction. */
  views?(event: E, state: S, meta: EventMeta): readonly ViewWrite[];
}


/** Marks behaviours that need the node's journal (the node opens the database only for them). */
export const PERSISTENT = Symbol.for('rt.persistent');

export function isPersistent(b: Behavior<Message, unknown>): boolean {
  return (b as unknown as Record<symbol, unknown>)[PERSISTENT] === true;
}

export interface Recovered<S> {
  state: S;
  seqNr: number;
  /** sequence number of the snapshot it started from (0: none) */
  snapshotSeqNr: number;
  events: number;
}

/** Rebuilds a state from the journal: the latest snapshot, then every event after it. */
export async function recoverState<S, E extends { type: string }>(
  journal: Pick<Journal, 'latestSnapshot' | 'replay'>,
  persistenceId: string,
  empty: S,
  apply: (s: S, e: E) => S,
  snapshot: SnapshotSpec<S> | undefined,
): Promise<Recovered<S>> {
  let state = empty;
  let from = 0;
  const snap: StoredSnapshot | undefined = snapshot ? await journal.latestSnapshot(persistenceId) : undefined;
  if (snap && snapshot) {
    state = snapshot.load(snap.state);
    from = snap.seqNr;
  }
  let events = 0;
  const seqNr = await journal.replay(persistenceId, from, (e) => {
    state = apply(state, e.payload as E);
    events++;
  });
  return { state, seqNr, snapshotSeqNr: from, events };
}

type Held = { kind: 'tell'; to: ActorRef; msg: Message; trace: TraceContext | undefined } | { kind: 'reply'; to: ActorRef | undefined; msg: Message; trace: TraceContext | undefined };

export function persistent<M extends Message, S, E extends { type: string }>(def: PersistentBehavior<M, S, E>): Behavior<M, S> {
  let every = JOURNAL_DEFAULTS.snapshotEvery;
  // Per incarnation (reset by init):
  let persistenceId = '';
  let seqNr = 0;
  let sinceSnapshot = 0;
  let incarnation = 0;
  /** the batch of the latest event not yet known to be committed */
  let lastWrite: Promise<void> | undefined;
  let pendingEvents: E[] = [];
  /** pendingEvents[i] urgent (sparse: most are not) */
  let urgentAt: Set<number> | undefined;
  /** whether this message's effects must wait for its own events (any persisted with hold) */
  let holdOwn = false;
  /** fresh(): recovery waits for the first input, to see whether there is anything to recover */
  let recoveryDue = false;
  /** the first input's sender and trace while it is handled after a deferred recovery */
  let replay: { sender: ActorRef | undefined; trace: TraceContext | undefined } | undefined;
  let held: Held[] = [];
  let journal: Journal | undefined;
  let unsubscribe: (() => void) | undefined;
  let real!: ActorContext<M>;

  // Held effects go out through the system, not the cell's tell: count them here as the cell would.
  let sentStats: KeyStats | undefined;
  const send = (h: Held): void => {
    if (h.kind === 'reply' && !h.to) return;
    sentStats ??= real.system.metrics?.statsOf(real.self.address);
    sentStats?.sent(h.msg.type);
    real.system.tellRef(h.to as ActorRef, h.msg, real.self, h.trace);
  };

  const pctx: PersistentContext<M, E> = {
    get self() {
      return real.self;
    },
    get system() {
      return real.system;
    },
    get sender() {
      return replay ? replay.sender : real.sender;
    },
    get trace() {
      return replay ? replay.trace : real.trace;
    },
    get timers() {
      return real.timers;
    },
    get seqNr() {
      return seqNr + pendingEvents.length;
    },
    get persistenceId() {
      return persistenceId;
    },
    get durable() {
      return journal !== undefined;
    },
    persist(event: E, options?: { hold?: boolean; urgent?: boolean }): void {
      if (options?.urgent === true) (urgentAt ??= new Set()).add(pendingEvents.length);
      pendingEvents.push(event);
      if (options?.hold !== false) holdOwn = true;
    },
    tell<T extends Message>(to: ActorRef<T> | string, msg: T): TellResult {
      const ref = typeof to === 'string' ? real.system.ref<T>(to) : to;
      held.push({ kind: 'tell', to: ref as ActorRef, msg, trace: pctx.trace });
      return 'queued';
    },
    reply<T extends Message>(msg: T): TellResult {
      held.push({ kind: 'reply', to: pctx.sender, msg, trace: pctx.trace });
      return 'queued';
    },
    ask: (to, msg, timeoutMs) => real.ask(to, msg, timeoutMs),
    spawn: (address, behavior, options) => real.spawn(address, behavior, options),
    stop: (ref) => real.stop(ref),
    watch: (ref) => real.watch(ref),
    unwatch: (ref) => real.unwatch(ref),
    suspendUntil: (promise, then) => real.suspendUntil(promise, then),
    crash: (error) => real.crash(error),
    startTrace: (name) => real.startTrace(name),
  };

  /** After a handler: journal its events, then release its effects now or once they are durable. */
  const settle = (state: S): S => {
    // Effects wait for the actor's earlier events still in flight, and for this message's own
    // unless they were all persisted with hold: false.
    const waitFor = lastWrite;
    const own = holdOwn;
    holdOwn = false;
    if (pendingEvents.length > 0) {
      const events = pendingEvents;
      const urgent = urgentAt;
      pendingEvents = [];
      urgentAt = undefined;
      if (journal) {
        const epoch = real.system.epoch;
        for (let i = 0; i < events.length; i++) {
          const event = events[i];
          seqNr++;
          const meta: EventMeta = { persistenceId, seqNr, epoch };
          const p = journal.append({ persistenceId, seqNr, epoch, type: event.type, payload: event }, def.views?.(event, state, meta), urgent?.has(i) === true);
          if (p !== lastWrite) watchWrite(p);
        }
        sinceSnapshot += events.length;
        if (def.snapshot && sinceSnapshot >= every) {
          sinceSnapshot = 0;
          const p = journal.saveSnapshot({ persistenceId, seqNr, epoch, state: def.snapshot.save(state) });
          if (p !== lastWrite) watchWrite(p);
        }
      } else seqNr += events.length;
    }
    if (held.length > 0) {
      const effects = held;
      held = [];
      const after = own ? lastWrite : waitFor;
      if (!after) for (const h of effects) send(h);
      // Once its events are durable an effect goes out, even if the actor has restarted since:
      // the recovered state includes those events, so it must not lose what they caused.
      else after.then(() => effects.forEach(send), () => undefined);
    }
    return state;
  };

  const watchWrite = (p: Promise<void>): void => {
    lastWrite = p;
    const mine = incarnation;
    p.then(
      () => {
        if (lastWrite === p) lastWrite = undefined;
      },
      (e: unknown) => {
        if (mine === incarnation) real.crash(e instanceof Error ? e : new Error(String(e)));
      },
    );
  };

  /** A handler's turn: its events and effects settle, or (it threw) are dropped with it. */
  const handled = (handler: () => S): S => {
    try {
      return settle(handler());
    } catch (e) {
      pendingEvents = [];
      urgentAt = undefined;
      held = [];
      holdOwn = false;
      throw e;
    }
  };

  /** Rebuilds the state from the journal with the mailbox suspended; then `next` (the held first input, if any). */
  const recover = (j: Journal, empty: S, next?: (s: S) => S): void => {
    const sender = real.sender;
    const trace = real.trace;
    real.suspendUntil(recoverState<S, E>(j, persistenceId, empty, def.apply, def.snapshot), (_: S, r: Recovered<S>) => {
      seqNr = r.seqNr;
      sinceSnapshot = r.seqNr - r.snapshotSeqNr;
      let s = r.state;
      const h = j.health;
      const on = def.onSignal;
      const rec = def.recovered;
      if (def.watchJournal && !h.available && on) s = handled(() => on(s, { type: '$journal', available: false, reason: h.reason }, pctx));
      if (rec) s = handled(() => rec(s, pctx));
      if (!next) return s;
      replay = { sender, trace };
      try {
        return next(s);
      } finally {
        replay = undefined;
      }
    });
  };

  const reset = (): void => {
    incarnation++;
    seqNr = 0;
    sinceSnapshot = 0;
    lastWrite = undefined;
    pendingEvents = [];
    urgentAt = undefined;
    held = [];
    holdOwn = false;
    recoveryDue = false;
    replay = undefined;
    unsubscribe?.();
    unsubscribe = undefined;
  };

  const behavior: Behavior<M, S> = {
    init(ctx) {
      reset();
      real = ctx;
      persistenceId = def.persistenceId ?? ctx.self.address;
      journal = ctx.system.journal;
      every = def.snapshot?.every ?? journal?.snapshotEvery ?? JOURNAL_DEFAULTS.snapshotEvery;
      const empty = def.empty(ctx);
      if (!journal) return def.recovered ? settle(def.recovered(empty, pctx)) : empty;
      const j = journal;
      const mine = incarnation;
      const cell = ctx.system.cellOf(ctx.self.address);
      const onHealth = (h: JournalHealth): void => {
        if (mine !== incarnation) return;
        cell?.signal({ type: '$journal', available: h.available, reason: h.available ? '' : h.reason });
      };
      if (def.watchJournal) unsubscribe = j.onHealth(onHealth);
      if (def.fresh) recoveryDue = true;
      else recover(j, empty);
      return empty;
    },
    receive(state, msg, ctx) {
      real = ctx;
      if (recoveryDue) {
        recoveryDue = false;
        if (!(def.fresh as NonNullable<typeof def.fresh>)(msg) && journal) {
          recover(journal, state, (s) => handled(() => def.receive(s, msg, pctx)));
          return state;
        }
        return handled(() => (def.recovered ? def.receive(def.recovered(state, pctx), msg, pctx) : def.receive(state, msg, pctx)));
      }
      return handled(() => def.receive(state, msg, pctx));
    },
    onSignal(state, signal, ctx) {
      real = ctx;
      const on = def.onSignal;
      if (recoveryDue && journal) {
        recoveryDue = false;
        recover(journal, state, on ? (s) => handled(() => on(s, signal, pctx)) : undefined);
        return state;
      }
      return on ? handled(() => on(state, signal, pctx)) : state;
    },
    stop(state, ctx) {
      unsubscribe?.();
      unsubscribe = undefined;
      // What is held waits for its batch: give it the chance to commit and go out.
      const pending = lastWrite;
      const hook = def.stop?.(state, ctx);
      if (!pending) return hook;
      return Promise.allSettled([pending, hook]).then(() => undefined);
    },
    summary: def.summary ? (s) => def.summary?.(s) : undefined,
  };
  (behavior as unknown as Record<symbol, unknown>)[PERSISTENT] = true;
  return behavior;
}
