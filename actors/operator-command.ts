// Operator commands that talk to a running node: `rt kill-switch on|off`, `rt flatten <symbol>`.
// The command joins the cluster for a moment as a node of its own (`cli-<pid>`): over IPC when
// the actor's node is on this host (it binds its own socket), over NATS when it is on another
// (it subscribes to its replies and beats like a node); it asks the actor by its logical address,
// prints the answer and leaves.
import { hostname, userInfo } from 'node:os';
import { ActorSystem } from '../runtime/actor-system.ts';
import { IpcTransport } from '../runtime/ipc-transport.ts';
import type { Message } from '../runtime/message.ts';
import type { NatsConnection } from 'nats';
import { connectNats } from '../runtime/nats-connection.ts';
import { NatsTransport } from '../runtime/nats-transport.ts';
import { nodeOf } from '../runtime/placement.ts';
import { currentHostsOf, type Topology } from '../runtime/topology.ts';

export const OPERATOR_ASK_TIMEOUT_MS = 5000;
/** An operator command sends one request and reads one answer: its links hold and batch at most this many envelopes. */
const OPERATOR_ENVELOPES_MAX = 16;

/** Sends `msg` to `address` on the running topology and returns its reply. */
export async function askRunning<R extends Message>(topology: Topology, address: string, msg: Message, timeoutMs = OPERATOR_ASK_TIMEOUT_MS, host?: string): Promise<R> {
  const target = nodeOf(topology, address);
  if (target === undefined) throw new Error(`no node of ${topology.file} holds "${address}"`);
  const system = new ActorSystem({ node: `cli-${process.pid}`, nodeOf: (a) => nodeOf(topology, a) });
  const here = currentHostsOf(topology.hosts, host ? { currentHost: host } : {});
  const targetHost = topology.nodes[target].host;
  let nc: NatsConnection | undefined;
  if (here.includes(targetHost)) {
    await IpcTransport.attach(system, { ipcDir: topology.transport.ipcDir, holdMs: timeoutMs, holdMax: OPERATOR_ENVELOPES_MAX, batchMax: OPERATOR_ENVELOPES_MAX });
  } else {
    // Another host's node: through this host's NATS servers, else the target host's.
    const servers = here.flatMap((h) => topology.hosts[h].nats);
    nc = await connectNats(servers.length > 0 ? servers : topology.hosts[targetHost].nats, `rt cli ${process.pid}`, { waitOnFirstConnect: false });
    NatsTransport.attach(system, nc, { cluster: topology.cluster, keys: [], holdMs: timeoutMs, holdMax: OPERATOR_ENVELOPES_MAX, batchMax: OPERATOR_ENVELOPES_MAX, inboundMax: OPERATOR_ENVELOPES_MAX });
  }
  try {
    return await system.ask<R>(address, msg, timeoutMs);
  } finally {
    await system.shutdown();
    await nc?.close();
  }
}

/** Who issued an operator command, for the risk actor's log. */
export function operatorName(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (a container): keep "unknown"
  }
  return `${user}@${hostname()} (pid ${process.pid})`;
}
