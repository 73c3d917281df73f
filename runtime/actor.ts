import type { ActorRef } from './actor-ref.ts';
import type { ActorSystem } from './actor-system.ts';
import type { MailboxSpec } from './mailbox.ts';
import type { Message, TraceContext } from './message.ts';
import type { Signal } from './signal.ts';
import type { Timers } from './timers.ts';
import type { TellResult } from './tell-result.ts';

/**
 * The whole actor contract: an initial state, and a transition per message. `receive` should be a
 * pure function of (state, message) apart from the effects it asks for through the context
 * (tell, reply, spawn, timers): that is what makes an actor testable without a process and
 * replayable from a journal.
 */
export interface Behavior<M extends Message, S> {
  /** Builds the state on start and on every restart. Throwing here is a failure like any other. */
  init(ctx: ActorContext<M>): S;
  receive(state: S, msg: M, ctx: ActorContext<M>): S;
  /** Runtime notices (death of a watched actor, child failures, undeliverable messages). Default: ignored. */
  onSignal?(state: S, signal: Signal, ctx: ActorContext<M>): S;
  /** Releases what init acquired; called on stop and before a restart. May be async (bounded by the shutdown timeout). */
  stop?(state: S, ctx: ActorContext<M>): void | Promise<void>;
  /** A short, JSON-safe summary of the state, for inspection. */
  summary?(state: S): unknown;
}

export type RestartType = 'permanent' | 'transient' | 'temporary';

export interface SpawnOptions {
  mailbox?: MailboxSpec;
  /** How long stop() waits for the behaviour's stop hook before giving up on it. */
  shutdownTimeoutMs?: number;
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5000;

export interface ActorContext<M extends Message = Message> {
  readonly self: ActorRef<M>;
  readonly system: ActorSystem;
  /** Sender of the message being handled (undefined when sent from outside any actor). */
  readonly sender: ActorRef | undefined;
  /** Trace context of the message being handled; messages sent while handling it carry it on. */
  readonly trace: TraceContext | undefined;
  readonly timers: Timers<M>;
  tell<T extends Message>(to: ActorRef<T> | string, msg: T): TellResult;
  /** Tells the sender of the current message. */
  reply<T extends Message>(msg: T): TellResult;
  ask<R extends Message, T extends Message = Message>(to: ActorRef<T> | string, msg: T, timeoutMs: number): Promise<R>;
  /** Starts a child of this actor at `address`. */
  spawn<C extends Message, CS>(address: string, behavior: Behavior<C, CS>, options?: SpawnOptions): ActorRef<C>;
  /** Stops this actor (no argument) or a child. */
  stop(ref?: ActorRef): Promise<void>;
  watch(ref: ActorRef): void;
  unwatch(ref: ActorRef): void;
  /**
   * Handles no message until `promise` settles, then moves the state with `then` in the actor's
   * turn; a rejection fails the actor. Messages queue meanwhile, within the mailbox's bound.
   */
  suspendUntil<T, S>(promise: Promise<T>, then: (state: S, value: T) => S): void;
  /** Fails the actor from outside its turn: its supervisor decides, as for a throwing handler. */
  crash(error: Error): void;
  /**
   * Starts a new trace at this message, for one call in the node's sample rate (when it traces):
   * what it sends from now on carries the new trace context, or none for the calls not sampled.
   * The feed gateway calls it per tick.
   */
  startTrace(name: string): void;
}
