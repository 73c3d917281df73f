import type { Behavior } from './actor.ts';
import type { Message } from './message.ts';

export interface KindContext {
  /** The address the behaviour will run at. */
  address: string;
  /** The node it runs on. */
  node: string;
  /** The actor's `options` from topology.yaml. */
  options: Readonly<Record<string, unknown>>;
}

export type KindFactory = (ctx: KindContext) => Behavior<Message, unknown>;

export class UnknownKindError extends Error {
  constructor(
    readonly kind: string,
    readonly address: string,
    known: string[],
  ) {
    super(`actor ${address}: unknown kind "${kind}": expected one of ${known.join(', ')}`);
    this.name = 'UnknownKindError';
  }
}

/**
 * Behaviours by the name topology.yaml gives them (`kind:`). The runtime registers its
 * diagnostic kinds; an application registers its own before nodes start.
 */
export class KindRegistry {
  private readonly kinds = new Map<string, KindFactory>();

  register(kind: string, factory: KindFactory): this {
    if (this.kinds.has(kind)) throw new Error(`kind "${kind}" is registered twice`);
    this.kinds.set(kind, factory);
    return this;
  }

  create(kind: string, ctx: KindContext): Behavior<Message, unknown> {
    const f = this.kinds.get(kind);
    if (!f) throw new UnknownKindError(kind, ctx.address, this.names());
    return f(ctx);
  }

  has(kind: string): boolean {
    return this.kinds.has(kind);
  }

  names(): string[] {
    return [...this.kinds.keys()].sort();
  }
}
