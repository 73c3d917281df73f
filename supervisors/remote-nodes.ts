import type { NatsConnection } from 'nats';
import type { NodeInspection } from '../runtime/inspection.ts';
import { connectNats } from '../runtime/nats-connection.ts';
import { nodeSubject } from '../runtime/nats-subjects.ts';

/** How long one node has to answer a status request. */
const REQUEST_TIMEOUT_MS = 1000;

/**
 * What `rt up` on one host knows of the nodes of the other hosts: each node's answer to its NATS
 * node endpoint (rt.<cluster>.node.<node>), asked every everyMs. Its gauges join this host's, so
 * the status, the report and "a replay is finished" are the cluster's, whichever host runs `rt up`.
 */
export class RemoteNodes {
  private readonly latest = new Map<string, { at: number; status: NodeInspection }>();
  private timer: NodeJS.Timeout | undefined;
  private nc: NatsConnection | undefined;
  private closed = false;

  constructor(
    private readonly o: { servers: readonly string[]; cluster: string; nodes: readonly string[]; everyMs: number; name: string },
  ) {}

  /** Connects in the background (NATS may come up after `rt up`) and starts asking. */
  start(): void {
    void connectNats(this.o.servers, this.o.name).then((nc) => {
      if (this.closed) return void nc.close();
      this.nc = nc;
      this.timer = setInterval(() => void this.poll(), this.o.everyMs);
      void this.poll();
    });
  }

  private async poll(): Promise<void> {
    const nc = this.nc;
    if (!nc || this.closed) return;
    await Promise.all(
      this.o.nodes.map(async (node) => {
        try {
          const m = await nc.request(nodeSubject(this.o.cluster, node), new Uint8Array(0), { timeout: REQUEST_TIMEOUT_MS });
          if (m.headers?.hasError) return;
          this.latest.set(node, { at: Date.now(), status: JSON.parse(Buffer.from(m.data).toString()) as NodeInspection });
        } catch {
          // Not up (yet), or gone: its last answer stands, marked by its age.
        }
      }),
    );
  }

  /** Whether every remote node has answered at least once. */
  get allHeard(): boolean {
    return this.o.nodes.every((n) => this.latest.has(n));
  }

  /** The remote nodes' latest gauges, merged. */
  gauges(): Record<string, number | string> {
    const all: Record<string, number | string> = {};
    for (const { status } of this.latest.values()) Object.assign(all, status.gauges);
    return all;
  }

  /** One line per remote node: its actors and how long ago it answered. */
  lines(): string[] {
    return this.o.nodes.map((node) => {
      const l = this.latest.get(node);
      if (!l) return `${node.padEnd(12)} (remote) not heard over NATS yet`;
      const depth = l.status.actors.reduce((s, a) => s + a.depth, 0);
      return `${node.padEnd(12)} (remote) pid ${l.status.pid}, ${l.status.actors.length} actors, ${depth} queued, heard ${((Date.now() - l.at) / 1000).toFixed(1)} s ago`;
    });
  }

  async stop(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.nc?.close();
  }
}
