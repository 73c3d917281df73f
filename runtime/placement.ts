// Placement: which node holds a logical address, from the topology alone (failover state is the
// router's business). An exact actor key wins over a pattern; among patterns the longest prefix
// wins, so `book/spot/*` can carve an exception out of `book/*`.
import type { ActorSpec, Topology } from './topology.ts';

/** The spec that governs `address`: its exact key, else the longest `prefix/*` pattern matching it. */
export function actorSpecOf(topology: Topology, address: string): ActorSpec | undefined {
  if (Object.hasOwn(topology.actors, address)) return topology.actors[address];
  // Walk the prefixes from the longest down: the first pattern found is the longest match.
  // A pattern needs something after its slash, so `book/` matches nothing.
  for (let cut = address.lastIndexOf('/'); cut > 0; cut = address.lastIndexOf('/', cut - 1)) {
    if (cut === address.length - 1) continue;
    const pattern = `${address.slice(0, cut)}/*`;
    if (Object.hasOwn(topology.actors, pattern)) return topology.actors[pattern];
  }
  return undefined;
}

/** The node `address` is placed on, or undefined when no actor key or pattern covers it. */
export function nodeOf(topology: Topology, address: string): string | undefined {
  return actorSpecOf(topology, address)?.node;
}

/** The nodes that run on `host`, in file order (the order `rt up` starts them). */
export function nodesOnHost(topology: Topology, host: string): string[] {
  return Object.values(topology.nodes)
    .filter((node) => node.host === host)
    .map((node) => node.name);
}
