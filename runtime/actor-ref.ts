import type { ActorSystem } from './actor-system.ts';
import type { Message, TraceContext } from './message.ts';
import type { TellResult } from './tell-result.ts';

/** Anything a local address can resolve to: an actor cell, or the temporary receiver of an ask. */
export interface Deliverable {
  readonly dead: boolean;
  enqueue(msg: Message, sender: ActorRef | undefined, trace: TraceContext | undefined): TellResult;
}

/**
 * A handle on a logical address (`risk`, `book/BTCUSDT`, `order/42`). It caches the local cell
 * when there is one, so a tell between local actors is a ring-buffer write; otherwise the system
 * routes the message to the node that holds the address.
 */
export class ActorRef<M extends Message = Message> {
  /** @internal the local receiver, when the address lives on this node. */
  cell: Deliverable | null;

  constructor(
    readonly address: string,
    readonly system: ActorSystem,
    cell: Deliverable | null,
  ) {
    this.cell = cell;
  }

  tell(msg: M, sender?: ActorRef, trace?: TraceContext): TellResult {
    return this.system.tellRef(this, msg, sender, trace);
  }

  toString(): string {
    return this.address;
  }
}
