import { randomBytes } from 'node:crypto';
import type { NatsConnection, Subscription } from 'nats';
import type { ActorSystem } from './actor-system.ts';
import { ASK_PREFIX } from './actor-system.ts';
import { encodeFrame, type Frame, type FrameHeader, type Outgoing } from './codec.ts';
import type { Envelope, RemoteTransport } from './envelope.ts';
import type { LinkStats } from './ipc-transport.ts';
import { decodeReceived, LinkSequence } from './link-sequence.ts';
import type { Message } from './message.ts';
import { Links, Outbox, TurnFlush, unreachable } from './outbox.ts';
import { addressSubject, heartbeatSubject, keySubject } from './nats-subjects.ts';

export interface NatsTransportOptions {
  cluster: string;
  /** Actor keys of topology.yaml this node holds (`risk`, `order/*`): the mail subjects it subscribes to. */
  keys: readonly string[];
  /** How long an envelope for a silent peer (or while this node's NATS connection is down) is held. */
  holdMs: number;
  /** Most envelopes held per peer node; one more is a dead letter at once. */
  holdMax: number;
  /** Most envelopes packed in one NATS message. */
  batchMax: number;
  /**
   * Most envelopes received but not yet delivered because a back-pressured mailbox is full. NATS
   * cannot be told to stop sending, so past this bound the node is a slow consumer: what arrives
   * is dropped, counted, dead-lettered and reported (event 'slow-consumer'), never silently.
   */
  inboundMax: number;
  /** Heartbeat period; a peer silent for silentMs is held for (its envelopes wait up to holdMs). */
  heartbeatMs?: number;
  silentMs?: number;
  epoch?: number;
}

export const NATS_TRANSPORT_DEFAULTS = { heartbeatMs: 250, silentMs: 1500 };
/** Receiver subjects kept escaped; past it the cache starts again empty. */
const SUBJECTS_CACHED_MAX = 4096;

export interface NatsStats {
  links: LinkStats[];
  connected: boolean;
  disconnects: number;
  receivedFrames: number;
  receivedEnvelopes: number;
  duplicates: number;
  /** envelopes missing in a link's sequence: lost on the way (a NATS server restart, a peer's crash) */
  gaps: number;
  badFrames: number;
  /** envelopes dropped because this node could not keep up (inbound_max) */
  slowConsumerDropped: number;
  /** envelopes received and waiting for a full back-pressured mailbox */
  inboundWaiting: number;
}

interface Peer {
  incarnation: number;
  lastSeenMs: number;
}

/**
 * Envelopes between nodes on different hosts, over NATS core pub/sub. An envelope to `risk`
 * travels on `rt.<cluster>.mail.risk` (runtime/nats-subjects.ts), so what crosses hosts is what
 * `nats sub` shows; the node that holds an actor subscribes to its subjects. The payload is the
 * same msgpack frame as over IPC (runtime/codec.ts), one NATS message per run of envelopes to one
 * receiver told in one dispatcher turn.
 *
 * Order: one connection per node, and NATS keeps one publisher's messages in order to each
 * subscriber (across routes too), so each sender->receiver pair is FIFO, as over IPC. Every
 * envelope carries its link's sequence number; the receiver drops a duplicate and reports a gap
 * (event 'transport-gap') instead of hiding a loss.
 *
 * Core NATS says nothing when no one listens, so nodes publish a heartbeat: envelopes for a
 * peer not heard for silentMs (or while this node's own connection is down) are held, in order,
 * for up to holdMs (holdMax of them), then become dead letters with reason node-unreachable. The
 * nats client reconnects on its own (to any server of the host's list); held envelopes go out
 * when it is back.
 */
export class NatsTransport implements RemoteTransport {
  readonly incarnation = randomBytes(4).readUInt32BE(0);
  readonly header: FrameHeader;
  private readonly links = new Links((node) => new NatsLink(this, node));
  private readonly peers = new Map<string, Peer>();
  private readonly subs: Subscription[] = [];
  private readonly sequence: LinkSequence;
  private readonly heartbeatMs: number;
  private readonly silentMs: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  connected = true;
  disconnects = 0;
  receivedFrames = 0;
  receivedEnvelopes = 0;
  badFrames = 0;
  slowConsumerDropped = 0;
  /** Frames received while a back-pressured mailbox was full, delivered in order when it has room. */
  private waiting: { frame: Frame; at: number }[] = [];
  private waitingEnvelopes = 0;

  constructor(
    private readonly system: ActorSystem,
    private readonly nc: NatsConnection,
    readonly options: NatsTransportOptions,
  ) {
    this.header = { node: system.node, incarnation: this.incarnation, epoch: options.epoch ?? 0 };
    this.heartbeatMs = options.heartbeatMs ?? NATS_TRANSPORT_DEFAULTS.heartbeatMs;
    this.silentMs = options.silentMs ?? NATS_TRANSPORT_DEFAULTS.silentMs;
    this.sequence = new LinkSequence(system, 'nats');
    this.turnFlush = new TurnFlush(system.dispatcher);
  }

  /** Makes `system` reach other nodes over `nc`: a transport for it, attached as its route, subscribed and beating. */
  static attach(system: ActorSystem, nc: NatsConnection, options: NatsTransportOptions): NatsTransport {
    const transport = new NatsTransport(system, nc, options);
    system.attachTransport(transport);
    transport.start();
    return transport;
  }

  /** Subscribes to this node's mail subjects and the cluster's heartbeats, and starts beating. */
  start(): void {
    const { cluster } = this.options;
    const onMail = (err: Error | null, m: { data: Uint8Array }): void => {
      if (err) this.system.events.emit('transport-error', { node: this.system.node, error: err });
      else this.onData(m.data);
    };
    for (const key of this.options.keys) this.subs.push(this.nc.subscribe(keySubject(cluster, 'mail', key), { callback: onMail }));
    // Replies to this node's asks: $ask/<node>/<n>.
    this.subs.push(this.nc.subscribe(keySubject(cluster, 'mail', `${ASK_PREFIX}${this.system.node}/*`), { callback: onMail }));
    this.subs.push(
      this.nc.subscribe(heartbeatSubject(cluster, '*'), {
        callback: (err, m) => {
          if (!err) this.onHeartbeat(m.data);
        },
      }),
    );
    this.beat();
    this.timer = setInterval(() => this.tick(), this.heartbeatMs);
    this.timer.unref();
    // Ends when the connection closes (the node closes it after this transport).
    void this.watchStatus();
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (this.closed) return;
      if (s.type === 'disconnect') {
        this.connected = false;
        this.disconnects++;
        this.system.events.emit('nats-status', { status: 'disconnected', server: String(s.data) });
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.system.events.emit('nats-status', { status: 'reconnected', server: String(s.data) });
        this.beat();
        for (const l of this.links.values()) l.flush();
      } else if (s.type === 'error') {
        this.system.events.emit('nats-status', { status: 'error', server: String(s.data) });
      }
    }
  }

  private beat(): void {
    if (this.closed || this.nc.isClosed()) return;
    this.nc.publish(heartbeatSubject(this.options.cluster, this.system.node), Buffer.from(JSON.stringify({ node: this.system.node, incarnation: this.incarnation, ts: Date.now() })));
  }

  private onHeartbeat(data: Uint8Array): void {
    let hb: { node?: unknown; incarnation?: unknown };
    try {
      hb = JSON.parse(Buffer.from(data).toString()) as typeof hb;
    } catch {
      return;
    }
    if (typeof hb.node !== 'string' || typeof hb.incarnation !== 'number' || hb.node === this.system.node) return;
    const peer = this.peers.get(hb.node);
    const wasUp = peer !== undefined && this.isUp(peer, performance.now());
    if (peer) {
      peer.lastSeenMs = performance.now();
      peer.incarnation = hb.incarnation;
    } else this.peers.set(hb.node, { incarnation: hb.incarnation, lastSeenMs: performance.now() });
    if (!wasUp) {
      this.system.events.emit('nats-peer', { node: hb.node, up: true });
      this.links.get(hb.node)?.flush();
    }
  }

  private isUp(peer: Peer, now: number): boolean {
    return now - peer.lastSeenMs < this.silentMs;
  }

  /** Whether `node` has ever been heard over NATS (a node outside the topology, such as a CLI, is reached the way it came). */
  hears(node: string): boolean {
    return this.peers.has(node);
  }

  /** Resolves once `node` is heard (envelopes for it then go out at once); rejects after `timeoutMs`, naming it. */
  async untilHeard(node: string, timeoutMs: number): Promise<void> {
    for (const end = performance.now() + timeoutMs; !this.canSend(node); ) {
      if (performance.now() > end) throw new Error(`node ${node} not heard over NATS within ${timeoutMs} ms: is it running, and connected to the same NATS cluster?`);
      await new Promise((r) => setTimeout(r, Math.max(1, this.heartbeatMs / 10)));
    }
  }

  /** @internal whether envelopes for `node` may be published now */
  canSend(node: string): boolean {
    if (!this.connected || this.closed) return false;
    const peer = this.peers.get(node);
    return peer !== undefined && this.isUp(peer, performance.now());
  }

  private tick(): void {
    this.beat();
    const now = performance.now();
    for (const [node, peer] of this.peers) {
      if (!this.isUp(peer, now) && peer.lastSeenMs > 0) {
        peer.lastSeenMs = 0;
        this.system.events.emit('nats-peer', { node, up: false });
      }
    }
    for (const l of this.links.values()) {
      l.expire(now);
      if (l.held > 0 && this.canSend(l.node)) l.flush();
    }
  }

  send(node: string, to: string, from: string, body: Message, traceparent: string, tracestate: string): void {
    this.links.to(node).tell(to, from, body, traceparent, tracestate, this.system.dispatcher);
  }

  private readonly turnFlush: TurnFlush;

  /** @internal as over IPC: frames are cut at the end of the dispatcher turn (or microtask, outside one) */
  scheduleFlush(link: Outbox): void {
    this.turnFlush.schedule(link);
  }

  /** Subjects of recent receivers: escaping an address is string work that a hot link repeats. */
  private readonly subjects = new Map<string, string>();

  /** @internal */
  publish(to: string, frame: Uint8Array): void {
    let subject = this.subjects.get(to);
    if (subject === undefined) {
      // One entry per receiver address: bounded, since orders come and go (order/<id>).
      if (this.subjects.size >= SUBJECTS_CACHED_MAX) this.subjects.clear();
      subject = addressSubject(this.options.cluster, 'mail', to);
      this.subjects.set(to, subject);
    }
    this.nc.publish(subject, frame);
  }

  /** @internal */
  undeliverable(o: Outgoing, node: string, detail: string): void {
    unreachable(this.system, o, node, detail, 'NATS');
  }

  private onData(buf: Uint8Array): void {
    if (this.closed) return;
    const frame = decodeReceived(this.system, buf);
    if (frame === undefined) {
      this.badFrames++;
      return;
    }
    this.receivedFrames++;
    // Sequence check on arrival (arrival order is the link's order), before any waiting.
    const envs = frame.envelopes;
    let kept = 0;
    for (let i = 0; i < envs.length; i++) {
      const env = envs[i];
      if (this.sequence.admit(frame.node, frame.incarnation, env)) envs[kept++] = env;
    }
    envs.length = kept;
    if (this.waiting.length > 0) {
      this.wait(frame, 0);
      return;
    }
    const dispatcher = this.system.dispatcher;
    dispatcher.now = performance.now();
    let at = -1;
    dispatcher.deliverAndRun(() => {
      at = this.deliverFrom(frame.envelopes, 0);
    });
    if (at >= 0) {
      this.wait(frame, at);
      void this.drainWaiting();
    }
  }

  /** Delivers envs[start..]; returns the index of the first one a back-pressured mailbox refused, or -1. */
  private deliverFrom(envs: Envelope[], start: number): number {
    for (let i = start; i < envs.length; i++) {
      const env = envs[i];
      if (this.system.deliverEnvelope(env) === 'full' && this.system.cellOf(env.to)?.mailbox.policy === 'backpressure') return i;
      this.receivedEnvelopes++;
    }
    return -1;
  }

  private wait(frame: Frame, at: number): void {
    const n = frame.envelopes.length - at;
    if (this.waitingEnvelopes + n > this.options.inboundMax) {
      this.slowConsumerDropped += n;
      for (let i = at; i < frame.envelopes.length; i++) {
        const env = frame.envelopes[i];
        this.system.deadLetter(env.to, undefined, env.body, 'slow-consumer', `node ${this.system.node} is a slow consumer: ${this.waitingEnvelopes} envelopes already wait for full mailboxes (inbound_max ${this.options.inboundMax})`, false);
      }
      this.system.events.emit('slow-consumer', { node: frame.node, dropped: n, total: this.slowConsumerDropped, waiting: this.waitingEnvelopes });
      return;
    }
    this.waiting.push({ frame, at });
    this.waitingEnvelopes += n;
  }

  private draining = false;

  /** Delivers the waiting frames, in order, as the full mailboxes drain. */
  private async drainWaiting(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.waiting.length > 0 && !this.closed) {
        const head = this.waiting[0];
        const box = this.system.cellOf(head.frame.envelopes[head.at].to)?.mailbox;
        if (box) await box.whenWritable();
        if (this.closed) return;
        let at = -1;
        this.system.dispatcher.deliverAndRun(() => {
          at = this.deliverFrom(head.frame.envelopes, head.at);
        });
        this.waitingEnvelopes -= (at < 0 ? head.frame.envelopes.length : at) - head.at;
        if (at < 0) this.waiting.shift();
        else head.at = at;
      }
    } finally {
      this.draining = false;
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): NatsStats {
    return {
      links: [...this.links.values()].map((l) => l.stats()),
      connected: this.connected,
      disconnects: this.disconnects,
      receivedFrames: this.receivedFrames,
      receivedEnvelopes: this.receivedEnvelopes,
      duplicates: this.sequence.duplicates,
      gaps: this.sequence.gaps,
      badFrames: this.badFrames,
      slowConsumerDropped: this.slowConsumerDropped,
      inboundWaiting: this.waitingEnvelopes,
    };
  }

  /** Publishes what it can, unsubscribes; the connection itself belongs to the node. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const l of this.links.values()) l.flush();
    this.closed = true;
    clearInterval(this.timer);
    for (const l of this.links.values()) l.dropHeld((o) => this.undeliverable(o, l.node, 'this node stopped with the envelope still held'));
    for (const s of this.subs) s.unsubscribe();
    if (!this.nc.isClosed()) await this.nc.flush().catch(() => undefined);
  }
}

/** The way to one peer node: its outbox, published run by run when the peer is up. */
class NatsLink extends Outbox {
  constructor(
    private readonly transport: NatsTransport,
    node: string,
  ) {
    super(transport, node);
  }

  /** Publishes the outbox, one NATS message per run of envelopes to one receiver (at most batchMax). */
  readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.held === 0 || !this.transport.canSend(this.node)) return;
    const batchMax = this.transport.options.batchMax;
    const q = this.queue;
    let i = this.head;
    while (i < q.length) {
      const to = q[i].to;
      let j = i + 1;
      while (j < q.length && j - i < batchMax && q[j].to === to) j++;
      this.transport.publish(to, encodeFrame(this.transport.header, q, i, j - i));
      this.sentFrames++;
      this.sentEnvelopes += j - i;
      i = j;
    }
    this.clear();
  };

  stats(): LinkStats {
    return { node: this.node, connected: this.transport.canSend(this.node), held: this.held, sentFrames: this.sentFrames, sentEnvelopes: this.sentEnvelopes, expired: this.expired };
  }
}
