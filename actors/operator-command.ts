// Operator commands that talk to a running node: `rt kill-switch on|off`, `rt flatten <symbol>`.
// The command joins the host's IPC mesh for a moment as a node of its own (`cli-<pid>`): it binds
// its own socket, asks the actor by its logical address, prints the answer and leaves.
import { hostname, userInfo } from 'node:os';
import { ActorSystem } from '../runtime/actor-system.ts';
import { IpcTransport } from '../runtime/ipc-transport.ts';
import type { Message } from '../runtime/message.ts';
import { nodeOf } from '../runtime/placement.ts';
import type { Topology } from '../runtime/topology.ts';

export const OPERATOR_ASK_TIMEOUT_MS = 5000;

/** Sends `msg` to `address` on the running topology and returns its reply. */
export async function askRunning<R extends Message>(topology: Topology, address: string, msg: Message, timeoutMs = OPERATOR_ASK_TIMEOUT_MS): Promise<R> {
  if (nodeOf(topology, address) === undefined) throw new Error(`no node of ${topology.file} holds "${address}"`);
  const system = new ActorSystem({ node: `cli-${process.pid}`, nodeOf: (a) => nodeOf(topology, a) });
  const { ipcDir } = topology.transport;
  await IpcTransport.attach(system, { ipcDir, holdMs: timeoutMs, holdMax: 16, batchMax: 16 });
  try {
    return await system.ask<R>(address, msg, timeoutMs);
  } finally {
    await system.shutdown();
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
