import type { Behavior, RestartType, SpawnOptions } from '../runtime/actor.ts';
import type { Message } from '../runtime/message.ts';

/**
 * A child, as data (OTP child spec): where it lives, what runs there, when it is restarted, and
 * how long it may take to stop.
 * - permanent: always restarted, whatever the reason it ended;
 * - transient: restarted only after a failure, not after a normal stop;
 * - temporary: never restarted.
 */
export interface ChildSpec<M extends Message = Message, S = unknown> {
  address: string;
  behavior: Behavior<M, S>;
  restart?: RestartType;
  options?: SpawnOptions;
}

/** Erases a child spec's message and state types, for lists of heterogeneous children. */
export function child<M extends Message, S>(spec: ChildSpec<M, S>): ChildSpec {
  return spec as unknown as ChildSpec;
}
