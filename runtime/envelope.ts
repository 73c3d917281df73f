import type { Message } from './message.ts';

/**
 * A message on its way between nodes. Inside a node a message travels as itself (a ring-buffer
 * slot, no envelope); it is wrapped only when it leaves the process.
 */
export interface Envelope {
  /** logical address of the receiver */
  to: string;
  /** logical address of the sender ('' when sent from outside any actor) */
  from: string;
  /** the message's `type`, readable without touching the body (inspection, subjects) */
  type: string;
  body: Message;
  /** per link (sender node -> receiver node), from 1, restarting at 1 with each incarnation of the sending node */
  seq: number;
  /** lease epoch of the sending node (0 until failover assigns one); fencing compares it */
  epoch: number;
  /** W3C traceparent ('' when none) */
  traceparent: string;
  /** W3C tracestate ('' when none) */
  tracestate: string;
  /** send time, ms since the epoch */
  ts: number;
}

/** The transport the actor system hands messages for other nodes to. */
export interface RemoteTransport {
  send(node: string, to: string, from: string, msg: Message, traceparent: string, tracestate: string): void;
  close(): Promise<void>;
}
