import type { Message } from './message.ts';

/** Why an actor ended. `normal`: it stopped itself or was stopped; `failed`: its handler threw. */
export type ExitReason = { kind: 'normal' } | { kind: 'shutdown' } | { kind: 'failed'; error: Error };

/**
 * Notices the runtime delivers to an actor's `onSignal`, outside its message union, so that an
 * actor's own messages stay a closed, typed union.
 */
export type Signal =
  /** A watched actor ended (death notice). */
  | { type: '$terminated'; address: string; reason: ExitReason }
  /** A child's handler threw: the child is suspended until the parent restarts, stops or escalates. */
  | { type: '$child-failed'; address: string; error: Error; restarts: number }
  /** A child ended (normally, by shutdown, or after a failure its parent chose not to restart). */
  | { type: '$child-exited'; address: string; reason: ExitReason }
  /** A message this actor sent could not be delivered (mailbox full with policy reject, no such actor, node unreachable). */
  | { type: '$undeliverable'; to: string; message: Message; reason: DeadLetterReason; detail: string }
  /** A persistent actor's journal became unavailable (PostgreSQL unreachable, appends too slow) or available again. */
  | { type: '$journal'; available: boolean; reason: string };

export type DeadLetterReason =
  | 'no-such-actor'
  | 'no-route'
  | 'actor-stopped'
  | 'mailbox-full'
  | 'conflated-overflow'
  | 'handler-failed'
  | 'node-unreachable'
  | 'ask-expired'
  | 'duplicate'
  /** a NATS receiver could not keep up: more than inbound_max envelopes waited for full mailboxes */
  | 'slow-consumer'
  /** the behaviour had no case for the message (its receive returned undefined); its state was kept */
  | 'unhandled';
