import type { RemoteTransport } from './envelope.ts';
import type { Message } from './message.ts';

/**
 * The one transport an actor system sees: an envelope for a node of this host goes over IPC, one
 * for a node of another host over NATS. Actors never choose; the topology does.
 */
export class TransportRouter implements RemoteTransport {
  constructor(
    private readonly local: RemoteTransport,
    private readonly remote: RemoteTransport | undefined,
    /** whether a node runs on this node's host */
    private readonly sameHost: (node: string) => boolean,
  ) {}

  send(node: string, to: string, from: string, msg: Message, traceparent: string, tracestate: string): void {
    if (this.remote === undefined || this.sameHost(node)) this.local.send(node, to, from, msg, traceparent, tracestate);
    else this.remote.send(node, to, from, msg, traceparent, tracestate);
  }

  async close(): Promise<void> {
    await Promise.all([this.local.close(), this.remote?.close()]);
  }
}
