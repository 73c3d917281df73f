import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import * as zmq from 'zeromq';
import type { ActorSystem } from './actor-system.ts';
import { encodeFrame, type Frame, type FrameHeader, type Outgoing } from './codec.ts';
import type { RemoteTransport } from './envelope.ts';
import { decodeReceived, LinkSequence } from './link-sequence.ts';
import { Links, Outbox, TurnFlush, unreachable } from './outbox.ts';
import type { Message } from './message.ts';
import { ipcSocketPath } from './topology.ts';

export interface IpcTransportOptions {
  /** Folder of the `<node>.sock` files (all nodes of a host share it). */
  ipcDir: string;
  /** How long an envelope for an unreachable node is held before it becomes a dead letter. */
  holdMs: number;
  /** Most envelopes held per destination node; one more is a dead letter at once. */
  holdMax: number;
  /** Most envelopes packed in one frame. */
  batchMax: number;
  /** Lease epoch written in every frame (0 until failover assigns one). */
  epoch?: number;
}

/** How long one zmq send may wait for the peer before the transport re-checks its hold bounds. */
const SEND_WAIT_MS = 50;
/** Frames libzmq may queue per peer before a send would wait (the outbox holds the rest). */
const ZMQ_SEND_HWM_FRAMES = 10_000;
/** zmq's reconnect to a peer's socket: first retry after this, backing off up to the max. */
const RECONNECT_MIN_MS = 10;
const RECONNECT_MAX_MS = 200;

export interface LinkStats {
  node: string;
  connected: boolean;
  held: number;
  sentFrames: number;
  sentEnvelopes: number;
  expired: number;
}

export interface IpcStats {
  links: LinkStats[];
  receivedFrames: number;
  receivedEnvelopes: number;
  duplicates: number;
  /** envelopes missing in a pair's sequence (lost in a crash of this node's peer, for example) */
  gaps: number;
  badFrames: number;
}

export function ipcEndpoint(ipcDir: string, node: string): string {
  return `ipc://${ipcSocketPath(ipcDir, node)}`;
}

/**
 * Envelopes between the nodes of one host over ZeroMQ `ipc://` sockets. Each node binds one PULL
 * socket (`<ipcDir>/<node>.sock`); to reach a peer it connects one PUSH socket to the peer's, so
 * everything from one node to another, hence each sender->receiver actor pair, flows through one
 * FIFO pipe. Envelopes told during a dispatcher turn are packed into frames at the end of the turn
 * (one zmq message carries up to batchMax).
 *
 * A peer that is down: its PUSH socket has `immediate` set, so zmq queues nothing for it and the
 * envelopes stay in this transport's own outbox, in order, for up to holdMs (at most holdMax of
 * them); past either bound they become dead letters with reason node-unreachable and their
 * senders are told. zmq reconnects on its own when the peer's socket comes back.
 *
 * Every envelope on a link carries the next sequence number of that link (sender node ->
 * receiver node, restarting with each incarnation of the sending node): the receiver drops a
 * duplicate and counts a gap, with state bounded by the number of nodes, not of actor pairs.
 */
export class IpcTransport implements RemoteTransport {
  /** Random per process start: a receiver resets its sequence tracking when it changes. */
  readonly incarnation = randomBytes(4).readUInt32BE(0);
  private readonly pull: zmq.Pull;
  private readonly links = new Links((node) => new Link(this, node));
  /** Sequence numbers seen per sending node (bounded by the number of nodes). */
  private readonly sequence: LinkSequence;
  private readonly sockPath: string;
  private closed = false;
  private receiving: Promise<void> | undefined;
  receivedFrames = 0;
  receivedEnvelopes = 0;
  badFrames = 0;

  constructor(
    private readonly system: ActorSystem,
    readonly options: IpcTransportOptions,
  ) {
    mkdirSync(options.ipcDir, { recursive: true });
    this.sockPath = ipcSocketPath(options.ipcDir, system.node);
    this.pull = new zmq.Pull({ linger: 0, receiveHighWaterMark: 0 });
    this.header = { node: system.node, incarnation: this.incarnation, epoch: options.epoch ?? 0 };
    this.turnFlush = new TurnFlush(system.dispatcher);
    this.sequence = new LinkSequence(system, 'ipc');
  }

  /**
   * Makes `system` reachable over ipc: a transport for it, attached as its route to other nodes,
   * bound and reading. A socket that cannot be bound closes the transport and throws.
   */
  static async attach(system: ActorSystem, options: IpcTransportOptions): Promise<IpcTransport> {
    const transport = new IpcTransport(system, options);
    system.attachTransport(transport);
    try {
      await transport.start();
    } catch (e) {
      await transport.close();
      throw e;
    }
    return transport;
  }

  /** Binds this node's socket and starts reading. */
  async start(): Promise<void> {
    await this.pull.bind(ipcEndpoint(this.options.ipcDir, this.system.node));
    this.receiving = this.receiveLoop();
  }

  send(node: string, to: string, from: string, body: Message, traceparent: string, tracestate: string): void {
    this.links.to(node).tell(to, from, body, traceparent, tracestate, this.system.dispatcher);
  }

  private readonly turnFlush: TurnFlush;

  /** @internal flush a link at the end of the current dispatcher turn */
  scheduleFlush(link: Outbox): void {
    this.turnFlush.schedule(link);
  }

  /** @internal */
  linkError(node: string, error: Error): void {
    this.system.events.emit('transport-error', { node, error });
  }

  /** @internal a held envelope expired or overflowed: dead letter, sender told. */
  undeliverable(o: Outgoing, node: string, detail: string): void {
    unreachable(this.system, o, node, detail);
  }

  /** @internal what every frame of this node says about its sender */
  readonly header: FrameHeader;

  get isClosed(): boolean {
    return this.closed;
  }

  private async receiveLoop(): Promise<void> {
    const pull = this.pull;
    while (!this.closed) {
      let parts: Buffer[];
      try {
        parts = await pull.receive();
      } catch (e) {
        if (this.closed) return;
        throw e;
      }
      const dispatcher = this.system.dispatcher;
      // Enqueue times (a mailbox's oldest-message age) are read from the dispatcher's coarse clock.
      dispatcher.now = performance.now();
      this.frame = parts[0];
      this.blocked = undefined;
      dispatcher.deliverAndRun(this.deliverFrame);
      if (this.blocked) await this.blocked;
    }
  }

  private frame: Buffer = Buffer.alloc(0);
  private blocked: Promise<void> | undefined;
  private readonly deliverFrame = (): void => {
    this.blocked = this.onFrame(this.frame);
  };

  /** Delivers a frame; returns a promise only when a back-pressured mailbox made it stop part-way. */
  private onFrame(buf: Buffer): Promise<void> | undefined {
    const frame = decodeReceived(this.system, buf);
    if (frame === undefined) {
      this.badFrames++;
      return undefined;
    }
    this.receivedFrames++;
    return this.deliverFrom(frame, 0);
  }

  private deliverFrom(frame: Frame, start: number): Promise<void> | undefined {
    const envelopes = frame.envelopes;
    for (let i = start; i < envelopes.length; i++) {
      const env = envelopes[i];
      if (!this.sequence.admit(frame.node, frame.incarnation, env)) continue;
      this.receivedEnvelopes++;
      if (this.system.deliverEnvelope(env) === 'full') {
        const box = this.system.cellOf(env.to)?.mailbox;
        // Back-pressure: stop reading until the receiver's mailbox has room again. zmq then queues
        // up to its high-water mark and the senders' outboxes hold the rest, within their bounds.
        if (box && box.policy === 'backpressure') {
          this.receivedEnvelopes--;
          return this.resumeWhenWritable(frame, i, box);
        }
      }
    }
    return undefined;
  }

  private async resumeWhenWritable(frame: Frame, at: number, box: { whenWritable(): Promise<void> }): Promise<void> {
    this.system.dispatcher.runNow();
    await box.whenWritable();
    if (this.closed) return;
    let next: Promise<void> | undefined;
    this.system.dispatcher.deliverAndRun(() => {
      // The envelope that found the mailbox full was already sequence-checked: deliver it as is.
      const env = frame.envelopes[at];
      this.receivedEnvelopes++;
      if (this.system.deliverEnvelope(env) === 'full') {
        this.receivedEnvelopes--;
        next = this.resumeWhenWritable(frame, at, box);
        return;
      }
      next = this.deliverFrom(frame, at + 1);
    });
    if (next) await next;
  }

  stats(): IpcStats {
    return {
      links: [...this.links.values()].map((l) => l.stats()),
      receivedFrames: this.receivedFrames,
      receivedEnvelopes: this.receivedEnvelopes,
      duplicates: this.sequence.duplicates,
      gaps: this.sequence.gaps,
      badFrames: this.badFrames,
    };
  }

  /** Closes every socket and removes this node's socket file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.links.values()) {
      l.dropHeld((o) => this.undeliverable(o, l.node, 'this node stopped with the envelope still held'));
      l.close();
    }
    this.pull.close();
    await this.receiving?.catch(() => undefined);
    rmSync(this.sockPath, { force: true });
  }
}

/** The way to one peer node: a PUSH socket and the outbox of envelopes not yet handed to zmq. */
class Link extends Outbox {
  private readonly push: zmq.Push;
  private writing = false;
  connected = false;

  constructor(
    private readonly transport: IpcTransport,
    node: string,
  ) {
    super(transport, node);
    this.push = new zmq.Push({
      immediate: true,
      linger: 0,
      sendTimeout: 0,
      sendHighWaterMark: ZMQ_SEND_HWM_FRAMES,
      reconnectInterval: RECONNECT_MIN_MS,
      reconnectMaxInterval: RECONNECT_MAX_MS,
    });
    this.push.connect(ipcEndpoint(transport.options.ipcDir, node));
  }

  protected override busy(): boolean {
    return this.writing;
  }

  readonly flush = (): void => {
    this.flushScheduled = false;
    if (!this.writing) this.sendNext();
  };

  /**
   * Sends the outbox, frame by frame, in order: one frame in zmq's hands at a time, the next cut
   * when its send settles. The socket's sendTimeout is 0 while the peer keeps up: zeromq.js then
   * always takes its synchronous path (with a timeout it defers every send after 512 in a row to a
   * later event-loop turn on a socket that never receives, as a PUSH socket never does). When a
   * send finds no peer (or no room), the link switches to waiting sends of at most SEND_WAIT_MS,
   * expiring what outlived hold_ms between them, until one goes through.
   */
  private sendNext(): void {
    if (this.held === 0 || this.transport.isClosed) {
      this.writing = false;
      if (this.held === 0) this.clear();
      return;
    }
    this.writing = true;
    this.inFlight = Math.min(this.held, this.transport.options.batchMax);
    const frame = encodeFrame(this.transport.header, this.queue, this.head, this.inFlight);
    let sent: Promise<void>;
    try {
      sent = this.push.send(frame);
    } catch (e) {
      this.onSendFailed(e);
      return;
    }
    sent.then(this.onSent, this.onSendFailed);
  }

  private inFlight = 0;

  private readonly onSent = (): void => {
    if (!this.connected) {
      this.connected = true;
      this.push.sendTimeout = 0;
    }
    this.sentFrames++;
    this.sentEnvelopes += this.inFlight;
    this.head += this.inFlight;
    if (this.head > 4096 && this.head * 2 > this.queue.length) this.compact();
    this.sendNext();
  };

  private readonly onSendFailed = (e: unknown): void => {
    if (this.transport.isClosed) {
      this.writing = false;
      return;
    }
    if ((e as { code?: string }).code !== 'EAGAIN') {
      // Not a missing peer: report it, keep the envelopes, and try again at the next flush.
      this.writing = false;
      this.transport.linkError(this.node, e instanceof Error ? e : new Error(String(e)));
      return;
    }
    // The peer is not there (or not keeping up): keep everything, in order.
    if (this.connected || this.push.sendTimeout === 0) this.push.sendTimeout = SEND_WAIT_MS;
    this.connected = false;
    this.expire(performance.now());
    this.sendNext();
  };

  stats(): LinkStats {
    return { node: this.node, connected: this.connected, held: this.held, sentFrames: this.sentFrames, sentEnvelopes: this.sentEnvelopes, expired: this.expired };
  }

  close(): void {
    this.push.close();
  }
}
