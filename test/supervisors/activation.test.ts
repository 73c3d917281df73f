import { describe, expect, it } from 'vitest';
import { ActorSystem } from '../../runtime/actor-system.ts';
import { KindRegistry } from '../../runtime/kind-registry.ts';
import type { Message } from '../../runtime/message.ts';
import { nodeOf } from '../../runtime/placement.ts';
import { parseTopology } from '../../runtime/topology.ts';
import { nodeRootSupervisor, patternActivator, rootAddress } from '../../supervisors/node-root.ts';
import { DynamicChildren } from '../../supervisors/supervisor.ts';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

const TOPOLOGY = `
cluster: t
hosts: { local: { address: 127.0.0.1 } }
nodes:
  a: { host: local, cores: [0], actors: [entity/*] }
actors:
  entity/*: { kind: probe, restart: transient, mailbox: { capacity: 8, policy: reject } }
`;

describe('pattern actors are started on their first message', () => {
  it('starts entity/x under the root supervisor with the pattern kind and mailbox, restarts it after a crash, and refuses addresses the kind rejects', async () => {
    const seen: string[] = [];
    const refused: string[] = [];
    const kinds = new KindRegistry().register('probe', ({ address }) => {
      if (address.endsWith('/bad')) throw new TypeError(`${address}: not a valid entity`);
      return {
        init: () => null,
        receive: (s: null, m: Message & { boom?: boolean }) => {
          if (m.boom) throw new Error('boom');
          seen.push(`${address}:${m.type}`);
          return s;
        },
      };
    });
    const topology = parseTopology(TOPOLOGY, 'inline.yaml');
    const sys = new ActorSystem({ node: 'a', nodeOf: (addr) => nodeOf(topology, addr) });
    const dynamic = new DynamicChildren();
    sys.activate = patternActivator(topology, 'a', kinds, dynamic, (a) => refused.push(a));
    sys.spawn(rootAddress('a'), nodeRootSupervisor(topology, 'a', kinds, dynamic));

    expect(sys.tell('entity/x', { type: 'hello' })).toBe('queued');
    expect(sys.cellOf('entity/x')?.mailbox.capacity).toBe(8);
    sys.tell('entity/x', { type: 'boom', boom: true } as Message);
    await settle();
    sys.tell('entity/x', { type: 'again' });
    await settle();
    expect(seen).toEqual(['entity/x:hello', 'entity/x:again']);
    expect(sys.cellOf('entity/x')?.parent?.address).toBe(rootAddress('a'));

    expect(sys.tell('entity/bad', { type: 'hello' })).toBe('dead');
    expect(refused).toEqual(['entity/bad']);
    expect(sys.tell('other', { type: 'hello' })).toBe('dead');
    await sys.shutdown();
  });
});
