import type { Behavior } from '../runtime/actor.ts';
import type { KindRegistry } from '../runtime/kind-registry.ts';
import type { Message } from '../runtime/message.ts';
import type { Topology } from '../runtime/topology.ts';
import { child } from './child-spec.ts';
import { supervisor, type SupervisorMsg } from './supervisor.ts';

export const rootAddress = (node: string): string => `$root/${node}`;

/**
 * A node's root supervisor, as topology.yaml describes it: every concrete actor placed on the
 * node (patterns such as `order/*` are spawned at run time by their owners), in file order, with
 * its kind, mailbox, restart type and shutdown timeout, under the node's supervision settings.
 */
export function nodeRootSupervisor(topology: Topology, node: string, kinds: KindRegistry): Behavior<SupervisorMsg, unknown> {
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
  }) as Behavior<SupervisorMsg, unknown>;
}
