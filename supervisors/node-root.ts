import type { Behavior } from '../runtime/actor.ts';
import type { KindRegistry } from '../runtime/kind-registry.ts';
import type { Message } from '../runtime/message.ts';
import { actorSpecOf } from '../runtime/placement.ts';
import type { Topology } from '../runtime/topology.ts';
import { child } from './child-spec.ts';
import { DynamicChildren, supervisor, type SupervisorMsg } from './supervisor.ts';

export const rootAddress = (node: string): string => `$root/${node}`;

/**
 * A node's root supervisor, as topology.yaml describes it: every concrete actor placed on the
 * node (patterns such as `order/*` are started on their first message: see patternActivator), in file order, with
 * its kind, mailbox, restart type and shutdown timeout, under the node's supervision settings.
 */
export function nodeRootSupervisor(topology: Topology, node: string, kinds: KindRegistry, dynamic?: DynamicChildren): Behavior<SupervisorMsg, unknown> {
  const spec = topology.nodes[node];
  const children = spec.actors
    .map((key) => topology.actors[key])
    .filter((a) => !a.pattern)
    .map((a) =>
      child({
        address: a.key,
        behavior: kinds.create(a.kind, { address: a.key, node, options: a.options }) as Behavior<Message, unknown>,
        restart: a.restart,
        options: { mailbox: a.mailbox, shutdownTimeoutMs: a.shutdownTimeoutMs },
      }),
    );
  const s = spec.supervision;
  return supervisor({
    strategy: s.strategy,
    intensity: { maxRestarts: s.maxRestarts, withinMs: s.withinS * 1000 },
    backoff: { minMs: s.backoffMinMs, maxMs: s.backoffMaxMs },
    children,
    dynamic,
  }) as Behavior<SupervisorMsg, unknown>;
}

/**
 * The node's activator: an address with no actor yet, covered by a pattern placed on this node
 * (`book/*`, `order/*`), gets one started under the root supervisor with the pattern's kind,
 * mailbox, restart type and options. Unknown kinds were already refused at start.
 */
export function patternActivator(
  topology: Topology,
  node: string,
  kinds: KindRegistry,
  dynamic: DynamicChildren,
  onRefused?: (address: string, error: Error) => void,
): (address: string) => boolean {
  return (address) => {
    const spec = actorSpecOf(topology, address);
    if (!spec || !spec.pattern || spec.node !== node) return false;
    let behavior: Behavior<Message, unknown>;
    try {
      behavior = kinds.create(spec.kind, { address, node, options: spec.options }) as Behavior<Message, unknown>;
    } catch (e) {
      // This address cannot hold this kind (e.g. book/foo is not a symbol): its mail is a dead letter.
      onRefused?.(address, e instanceof Error ? e : new Error(String(e)));
      return false;
    }
    return dynamic.start(child({ address, behavior, restart: spec.restart, options: { mailbox: spec.mailbox, shutdownTimeoutMs: spec.shutdownTimeoutMs } }));
  };
}
