// The market-data server: streams a source (recorded replay or synthetic market) over WebSocket
// with Binance's combined-stream protocol, and serves the REST depth snapshot from its own
// exchange books, AS OF NOW in replay time, the way a live exchange does.
//
//   WS   /stream?streams=btcusdt@depth@0ms/btcusdt@trade   combined-stream envelopes, as recorded
//   WS   /ws/btcusdt@trade[/...]                            raw streams: the envelope's `data` only
//   GET  /fapi/v1/depth?symbol=BTCUSDT&limit=1000            futures snapshot {lastUpdateId,E,T,bids,asks}
//   GET  /api/v3/depth?symbol=BTCUSDT&limit=1000             spot snapshot {lastUpdateId,bids,asks}
//   GET  /status                                             ReplayStatus as JSON
//   WS   other paths mounted with mountWebSocket (the venue's order entry at /ws-api/v3)
//
// One replay clock is shared by every client, like a live exchange: it starts when the first
// client connects (or the first startAfterClients, or at once with startNow) and a client that
// joins later sees the market from where it is. Paced (speed > 0): events go out at their recorded inter-arrival times divided by
// speed; a client that cannot keep up (more than clientLagMaxBytes buffered) is disconnected with
// CLOSE_CLIENT_TOO_SLOW rather than buffered without bound. Max: events go out as fast as the
// slowest client reads; the replay pauses while any client has more than clientBufferMaxBytes
// buffered, and a client that keeps it paused for clientStallMaxMs is disconnected.
//
// Close codes: CLOSE_REPLAY_COMPLETE (4000, "replay complete") when a finite source ends, after
// every message before it (end of data, not a failure); CLOSE_CLIENT_TOO_SLOW (4001); 1011 when
// the source fails (a bad recorded line: the reason names file:line); 1001 when the server closes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, WebSocketServer } from 'ws';
import { DEPTH_LIMIT_MAX_LEVELS, ExchangeBook } from './exchange-book.ts';
import type { Market } from './market-data.ts';
import type { FeedEvent, MarketSource, StreamEvent } from './market-source.ts';

export const CLOSE_REPLAY_COMPLETE = 4000;
export const CLOSE_REASON_REPLAY_COMPLETE = 'replay complete';
export const CLOSE_CLIENT_TOO_SLOW = 4001;
export const CLOSE_SOURCE_FAILED = 1011;
export const CLOSE_SERVER_SHUTDOWN = 1001;

/** max speed: the replay pauses while a client has more than this buffered */
export const CLIENT_BUFFER_MAX_BYTES = 4 * 1024 * 1024;
/** paced: a client with more than this buffered has fallen behind the clock and is disconnected */
export const CLIENT_LAG_MAX_BYTES = 16 * 1024 * 1024;
/** max speed: a client that keeps the replay paused this long is disconnected */
export const CLIENT_STALL_MAX_MS = 30_000;
export const CLIENTS_MAX = 256;
/** Binance allows 1024 streams per spot connection (200 on futures) */
export const STREAMS_PER_CLIENT_MAX = 1024;
/** protocol pings; a client that has not answered the previous one is dropped (0: no pings) */
export const PING_INTERVAL_MS = 20_000;
/** syncStart: longest pause after a symbol's first diff for its snapshot request */
export const SYNC_START_WAIT_MS = 5000;

/** default snapshot depth per side when the request has no `limit` */
export const DEPTH_LIMIT_DEFAULT_LEVELS = 1000;
/** events handled between two turns of the event loop, so requests and new clients are served */
const SEND_BATCH_MAX_EVENTS = 512;
/** paced waits shorter than this are not slept: timers cannot do better, the events go out now */
const PACE_SLEEP_MIN_MS = 1;
/** how often a paused max-speed replay looks at the clients' buffers again */
const DRAIN_POLL_MS = 1;
/** how long close() waits for clients to read what is buffered and answer the close handshake */
const CLOSE_GRACE_MS = 5_000;
/** a connect log line names at most this many streams */
const LOGGED_STREAMS_MAX = 6;
/** WebSocket close reasons are at most 123 bytes */
const CLOSE_REASON_MAX_BYTES = 123;

export type ReplaySpeed = number | 'max';

/** Called with every source event right after the exchange book has applied it. */
export type FeedEventListener = (ev: FeedEvent) => void;

/** A WebSocket endpoint served on this server's port next to the market data (the venue). */
export interface WebSocketMount {
  /** takes over the upgrade request of a connection to the mounted path */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** called first when the server shuts down (its connections would keep the port open) */
  close(): Promise<void>;
}

export interface ReplayServerOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** default 0: an ephemeral port (see ReplayServer.port) */
  port?: number;
  /** a positive factor on recorded time (1 = recorded pace), or 'max'; default 1 */
  speed?: ReplaySpeed;
  /** start the replay clock at once instead of at the first client; default false */
  startNow?: boolean;
  /** start the replay clock when this many clients are connected (so all see it from the start); default 1 */
  startAfterClients?: number;
  /**
   * Pause after each symbol's first depth diff until that symbol's REST snapshot is asked for (at
   * most SYNC_START_WAIT_MS): a client's book then syncs on the same snapshot in every run, and
   * the same recorded data gives the same book, tops and signals, however fast the client is.
   * Default false.
   */
  syncStart?: boolean;
  /** default CLIENT_BUFFER_MAX_BYTES */
  clientBufferMaxBytes?: number;
  /** default CLIENT_LAG_MAX_BYTES */
  clientLagMaxBytes?: number;
  /** default CLIENT_STALL_MAX_MS */
  clientStallMaxMs?: number;
  /** default CLIENTS_MAX */
  clientsMax?: number;
  /** default PING_INTERVAL_MS */
  pingIntervalMs?: number;
  /** one line per notable event (client dropped, replay done or failed); default: stderr */
  log?: (line: string) => void;
}

export type ReplayEnd = { kind: 'complete'; events: number } | { kind: 'failed'; error: Error } | { kind: 'closed' };

export type ReplayState = 'waiting' | 'running' | 'complete' | 'failed' | 'closed';

export interface ReplayStatus {
  source: string;
  sourceKind: MarketSource['kind'];
  speed: ReplaySpeed;
  state: ReplayState;
  done: boolean;
  /** source events handled (streamed, withheld, snapshots) */
  eventsReplayed: number;
  /** frames written to clients */
  messagesSent: number;
  diffsWithheld: number;
  /** replay time of the last event handled, ms since epoch */
  replayTimeMs: number | null;
  clients: number;
  clientsDroppedSlow: number;
  clientsDroppedUnresponsive: number;
  /** times a max-speed replay paused for a slow client */
  backpressurePauses: number;
  symbols: { symbol: string; market: Market; lastUpdateId: number; streams: readonly string[] }[];
  error?: string;
}

interface Client {
  id: number;
  ws: WebSocket;
  /** the connection under ws: corked while a batch of frames is written (see flush) */
  socket: Duplex;
  corked: boolean;
  streams: ReadonlySet<string>;
  /** /ws/<stream>: send the envelope's data only */
  raw: boolean;
  remote: string;
  alive: boolean;
  /** when its buffer went over clientBufferMaxBytes (performance.now() ms), 0 when under */
  overSinceMs: number;
  closed: Promise<void>;
}

type Subscription = { streams: string[]; raw: boolean };
type Rejection = { status: number; body: { code: number; msg: string } };

interface Settings {
  host: string;
  port: number;
  speed: ReplaySpeed;
  startNow: boolean;
  startAfterClients: number;
  syncStart: boolean;
  clientBufferMaxBytes: number;
  clientLagMaxBytes: number;
  clientStallMaxMs: number;
  clientsMax: number;
  pingIntervalMs: number;
  log: (line: string) => void;
}

export class ReplayServer {
  /** resolves (never rejects) when the replay ends: complete, failed, or closed first */
  readonly finished: Promise<ReplayEnd>;
  private readonly o: Settings;
  private readonly http: Server;
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly clients = new Set<Client>();
  private corked: Client[] = [];
  private readonly books = new Map<string, ExchangeBook>();
  private readonly listeners = new Set<FeedEventListener>();
  private readonly mounts = new Map<string, WebSocketMount>();
  private readonly markets = new Map<string, Market>();
  /** stream name -> symbol */
  private readonly streams = new Map<string, string>();
  private readonly abort = new AbortController();
  private state: ReplayState = 'waiting';
  private openGate!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.openGate = resolve));
  private endWith!: (end: ReplayEnd) => void;
  private loop: Promise<void> = Promise.resolve();
  private pinger: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private nextClientId = 1;
  private boundPort = 0;
  private eventsReplayed = 0;
  private messagesSent = 0;
  private diffsWithheld = 0;
  private replayTimeMs: number | null = null;
  private clientsDroppedSlow = 0;
  private clientsDroppedUnresponsive = 0;
  private backpressurePauses = 0;
  private error: Error | undefined;

  private constructor(
    private readonly source: MarketSource,
    options: ReplayServerOptions,
  ) {
    this.o = settings(options);
    this.finished = new Promise((resolve) => (this.endWith = resolve));
    for (const s of source.symbols) {
      this.books.set(s.symbol, new ExchangeBook(s.symbol, s.precision, s.snapshot, s.snapshotEventMs));
      this.markets.set(s.symbol, s.market);
      for (const name of s.streams) this.streams.set(normaliseStream(name), s.symbol);
    }
    this.http = createServer((req, res) => this.onRequest(req, res));
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  /** Binds host:port and starts (the replay itself waits for the first client unless startNow). */
  static async start(source: MarketSource, options: ReplayServerOptions = {}): Promise<ReplayServer> {
    const server = new ReplayServer(source, options);
    await server.listen();
    return server;
  }

  /** The bound port (the ephemeral one when asked for port 0). */
  get port(): number {
    return this.boundPort;
  }

  /** The exchange's books, by symbol, as of now in replay time (the venue matches against them). */
  exchangeBooks(): ReadonlyMap<string, ExchangeBook> {
    return this.books;
  }

  /** Calls `listener` with every source event after the exchange book applied it; returns the unsubscribe. */
  onEvent(listener: FeedEventListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Serves another WebSocket endpoint at `path` on this port (e.g. the venue's /ws-api/v3). */
  mountWebSocket(path: string, mount: WebSocketMount): void {
    if (path === '/stream' || path.startsWith('/stream/') || path.startsWith('/ws/') || this.mounts.has(path)) throw new Error(`mountWebSocket ${path}: the path is taken`);
    this.mounts.set(path, mount);
  }

  get httpUrl(): string {
    return `http://${urlHost(this.o.host)}:${this.boundPort}`;
  }

  get wsUrl(): string {
    return `ws://${urlHost(this.o.host)}:${this.boundPort}`;
  }

  /** The combined-stream URL for these streams (default: every stream served). */
  streamUrl(streams: readonly string[] = [...this.streams.keys()]): string {
    return `${this.wsUrl}/stream?streams=${streams.join('/')}`;
  }

  status(): ReplayStatus {
    return {
      source: this.source.description,
      sourceKind: this.source.kind,
      speed: this.o.speed,
      state: this.state,
      done: this.state !== 'waiting' && this.state !== 'running',
      eventsReplayed: this.eventsReplayed,
      messagesSent: this.messagesSent,
      diffsWithheld: this.diffsWithheld,
      replayTimeMs: this.replayTimeMs,
      clients: this.clients.size,
      clientsDroppedSlow: this.clientsDroppedSlow,
      clientsDroppedUnresponsive: this.clientsDroppedUnresponsive,
      backpressurePauses: this.backpressurePauses,
      symbols: this.source.symbols.map((s) => ({ symbol: s.symbol, market: s.market, lastUpdateId: this.books.get(s.symbol)?.lastUpdateId ?? 0, streams: s.streams })),
      ...(this.error ? { error: this.error.message } : {}),
    };
  }

  /** Ends the replay, closes every connection (1001) and frees the port. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.o.port, this.o.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (this.http.address() as AddressInfo).port;
    if (this.o.pingIntervalMs > 0) {
      this.pinger = setInterval(() => this.ping(), this.o.pingIntervalMs);
      this.pinger.unref();
    }
    if (this.o.startNow) this.openGate();
    this.loop = this.run();
  }

  // --- the replay clock -------------------------------------------------------------------------

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const events = this.source.events();
    try {
      await Promise.race([this.gate, aborted(signal)]);
      if (signal.aborted) return;
      this.state = 'running';
      const paced = this.o.speed !== 'max';
      const speed = this.o.speed === 'max' ? Infinity : this.o.speed;
      let firstNs: bigint | undefined;
      let wallStartMs = 0;
      let sinceTurn = 0;
      for (;;) {
        const r = await events.next();
        if (r.done || signal.aborted) break;
        const ev = r.value;
        if (paced) {
          if (firstNs === undefined) {
            firstNs = ev.recvNs;
            wallStartMs = performance.now();
          }
          const waitMs = wallStartMs + Number(ev.recvNs - firstNs) / 1e6 / speed - performance.now();
          if (waitMs >= PACE_SLEEP_MIN_MS) {
            this.flush();
            if (!(await this.pause(waitMs))) break;
            sinceTurn = 0;
          }
        } else if (!(await this.waitForSlowClients())) break;
        if (++sinceTurn >= SEND_BATCH_MAX_EVENTS) {
          sinceTurn = 0;
          this.flush();
          await nextTurn();
          if (signal.aborted) break;
        }
        this.handle(ev, paced);
        if (this.o.syncStart && ev.kind === 'depth' && !ev.withheld && !this.depthSeen.has(ev.symbol)) {
          this.depthSeen.add(ev.symbol);
          this.flush();
          if (!(await this.untilSnapshotAsked(ev.symbol))) break;
          sinceTurn = 0;
          if (paced && firstNs !== undefined) {
            // The wait is not replay time: the recorded gaps after it keep their length.
            firstNs = ev.recvNs;
            wallStartMs = performance.now();
          }
        }
      }
      this.flush();
      if (signal.aborted) return;
      this.state = 'complete';
      this.o.log(`replay complete: ${this.eventsReplayed} events, ${this.messagesSent} messages sent`);
      for (const c of this.clients) c.ws.close(CLOSE_REPLAY_COMPLETE, CLOSE_REASON_REPLAY_COMPLETE);
      this.endWith({ kind: 'complete', events: this.eventsReplayed });
    } catch (e) {
      this.flush();
      const error = e instanceof Error ? e : new Error(String(e));
      this.state = 'failed';
      this.error = error;
      this.o.log(`replay failed: ${error.message}`);
      for (const c of this.clients) c.ws.close(CLOSE_SOURCE_FAILED, closeReason(`replay failed: ${error.message}`));
      this.endWith({ kind: 'failed', error });
    } finally {
      await events.return?.(undefined);
    }
  }

  /** syncStart: symbols whose first diff went out; whose snapshot was asked for; the pause waiting for one. */
  private readonly depthSeen = new Set<string>();
  private readonly snapshotAsked = new Set<string>();
  private snapshotWaiter: { symbol: string; resolve: () => void } | undefined;

  /** Resolves true once `symbol`'s snapshot is asked for or SYNC_START_WAIT_MS have passed; false if the server closes. */
  private async untilSnapshotAsked(symbol: string): Promise<boolean> {
    if (!this.snapshotAsked.has(symbol)) {
      const asked = new Promise<void>((resolve) => (this.snapshotWaiter = { symbol, resolve }));
      await Promise.race([asked, sleep(SYNC_START_WAIT_MS), aborted(this.abort.signal)]);
      this.snapshotWaiter = undefined;
    }
    return !this.abort.signal.aborted;
  }

  /** One event: the exchange book first (a snapshot request right after sees it), then the clients. */
  private handle(ev: FeedEvent, paced: boolean): void {
    this.eventsReplayed++;
    this.replayTimeMs = Number(ev.recvNs / 1_000_000n);
    const book = this.books.get(ev.symbol);
    if (ev.kind === 'snapshot') {
      book?.load(ev.snapshot, ev.eventMs);
      return this.notify(ev);
    }
    if (ev.kind === 'depth') {
      book?.apply(ev.diff);
      if (ev.withheld) {
        this.diffsWithheld++;
        return this.notify(ev);
      }
    }
    for (const c of this.clients) {
      if (!c.streams.has(ev.stream)) continue;
      if (paced && c.ws.bufferedAmount > this.o.clientLagMaxBytes) {
        this.clientsDroppedSlow++;
        this.drop(c, CLOSE_CLIENT_TOO_SLOW, `client too slow: ${c.ws.bufferedAmount} bytes buffered > ${this.o.clientLagMaxBytes} (clientLagMaxBytes)`);
        continue;
      }
      if (!c.corked) {
        c.corked = true;
        c.socket.cork();
        this.corked.push(c);
      }
      c.ws.send(c.raw ? rawPayload(ev) : ev.json);
      this.messagesSent++;
    }
    this.notify(ev);
  }

  /** A listener that throws is logged; the replay goes on. */
  private notify(ev: FeedEvent): void {
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (e) {
        this.o.log(`event listener failed on ${ev.kind} ${ev.symbol}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  /**
   * Writes the frames of the batch. ws writes each frame with its own syscall; corking the
   * socket for a batch lets Node write them together (about 5x the messages per second). Called
   * before every wait, so nothing due sits in a corked socket while the replay sleeps.
   */
  private flush(): void {
    for (const c of this.corked) {
      c.corked = false;
      c.socket.uncork();
    }
    this.corked = [];
  }

  /** Max speed: waits while a client is over its buffer bound. False when the server is closing. */
  private async waitForSlowClients(): Promise<boolean> {
    let paused = false;
    for (;;) {
      let over = false;
      const now = performance.now();
      for (const c of this.clients) {
        if (c.ws.bufferedAmount <= this.o.clientBufferMaxBytes) {
          c.overSinceMs = 0;
          continue;
        }
        if (c.overSinceMs === 0) c.overSinceMs = now;
        if (now - c.overSinceMs > this.o.clientStallMaxMs) {
          this.clientsDroppedSlow++;
          this.drop(c, CLOSE_CLIENT_TOO_SLOW, `client stalled: over ${this.o.clientBufferMaxBytes} bytes buffered for ${this.o.clientStallMaxMs} ms (clientStallMaxMs)`);
          continue;
        }
        over = true;
      }
      if (!over) return true;
      this.flush();
      if (!paused) {
        paused = true;
        this.backpressurePauses++;
      }
      if (!(await this.pause(DRAIN_POLL_MS))) return false;
    }
  }

  /** Sleeps; false when close() interrupted it. */
  private async pause(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.abort.signal });
      return true;
    } catch {
      return false;
    }
  }

  // --- clients ----------------------------------------------------------------------------------

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A client that resets mid-handshake must not take the server down.
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://localhost');
    const mount = this.mounts.get(url.pathname);
    if (mount) {
      if (this.state === 'closed') return rejectUpgrade(socket, { status: 503, body: { code: 503, msg: 'server shutting down' } });
      return mount.upgrade(req, socket, head);
    }
    const sub = this.subscription(url);
    if ('status' in sub) return rejectUpgrade(socket, sub);
    if (this.state === 'closed') return rejectUpgrade(socket, { status: 503, body: { code: 503, msg: 'server shutting down' } });
    if (this.clients.size >= this.o.clientsMax) {
      return rejectUpgrade(socket, { status: 503, body: { code: 503, msg: `too many clients: ${this.clients.size} connected, at most ${this.o.clientsMax} (clientsMax)` } });
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onClient(ws, socket, sub, req));
  }

  private onClient(ws: WebSocket, socket: Duplex, sub: Subscription, req: IncomingMessage): void {
    const client: Client = {
      id: this.nextClientId++,
      ws,
      socket,
      corked: false,
      streams: new Set(sub.streams),
      raw: sub.raw,
      remote: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`,
      alive: true,
      overSinceMs: 0,
      closed: new Promise((resolve) => ws.once('close', () => resolve())),
    };
    ws.on('close', (code, reason) => {
      if (this.clients.delete(client)) this.o.log(`client ${client.id} (${client.remote}) closed: ${code} ${reason.toString()}`);
    });
    ws.on('error', (e) => this.o.log(`client ${client.id} (${client.remote}): ${e.message}`));
    ws.on('pong', () => (client.alive = true));
    // Clients' messages (e.g. SUBSCRIBE) are not supported: subscriptions are in the URL.
    ws.on('message', () => {});
    if (this.state === 'complete') return ws.close(CLOSE_REPLAY_COMPLETE, CLOSE_REASON_REPLAY_COMPLETE);
    if (this.state === 'failed') return ws.close(CLOSE_SOURCE_FAILED, closeReason(`replay failed: ${this.error?.message ?? ''}`));
    this.clients.add(client);
    const shown = sub.streams.length > LOGGED_STREAMS_MAX ? `${sub.streams.slice(0, LOGGED_STREAMS_MAX).join(',')},... (${sub.streams.length} streams)` : sub.streams.join(',');
    this.o.log(`client ${client.id} (${client.remote}) connected: ${sub.raw ? 'raw ' : ''}${shown}`);
    if (this.clients.size >= this.o.startAfterClients) this.openGate();
  }

  private drop(c: Client, code: number, reason: string): void {
    this.clients.delete(c);
    this.o.log(`client ${c.id} (${c.remote}) disconnected: ${reason}`);
    c.ws.close(code, closeReason(reason));
  }

  private ping(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        this.clientsDroppedUnresponsive++;
        this.clients.delete(c);
        this.o.log(`client ${c.id} (${c.remote}) disconnected: no pong within ${this.o.pingIntervalMs} ms`);
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  /** The streams a WebSocket URL asks for, or why it cannot be served. */
  private subscription(url: URL): Subscription | Rejection {
    let names: string[];
    let raw: boolean;
    if (url.pathname === '/stream' || url.pathname === '/stream/') {
      names = (url.searchParams.get('streams') ?? '').split('/');
      raw = false;
    } else if (url.pathname.startsWith('/ws/')) {
      names = url.pathname.slice('/ws/'.length).split('/').map(decodeURIComponent);
      raw = true;
    } else {
      return reject(404, `no stream endpoint at ${url.pathname}: expected /stream?streams=<stream>/<stream>... (combined) or /ws/<stream> (raw)`);
    }
    names = names.filter((n) => n !== '').map(normaliseStream);
    const available = [...this.streams.keys()].join(', ');
    if (names.length === 0) return reject(400, `no streams in ${url.pathname}${url.search}: expected /stream?streams=<stream>/<stream>..., streams served: ${available}`);
    if (names.length > STREAMS_PER_CLIENT_MAX) return reject(400, `${names.length} streams: expected at most ${STREAMS_PER_CLIENT_MAX} per connection`);
    const unknown = names.filter((n) => !this.streams.has(n));
    if (unknown.length > 0) return reject(400, `unknown stream${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: streams served: ${available}`);
    return { streams: names, raw };
  }

  // --- REST -------------------------------------------------------------------------------------

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, req, reject(405, `method ${req.method}: expected GET`));
    switch (url.pathname) {
      case '/fapi/v1/depth':
        return send(res, req, this.depth(url, 'usdm'));
      case '/api/v3/depth':
        return send(res, req, this.depth(url, 'spot'));
      case '/status':
        return send(res, req, { status: 200, body: this.status() });
    }
    if (this.mounts.has(url.pathname)) return send(res, req, reject(426, `${url.pathname} is a WebSocket endpoint: connect with a WebSocket client`));
    const sub = this.subscription(url);
    if ('status' in sub) return send(res, req, sub);
    send(res, req, reject(426, `${url.pathname} is a WebSocket endpoint: connect with a WebSocket client`));
  }

  /** The REST depth snapshot, from the exchange book as of now. Any symbol on either path. */
  private depth(url: URL, api: Market): { status: number; body: unknown } {
    const symbol = url.searchParams.get('symbol');
    if (!symbol) return { status: 400, body: { code: -1102, msg: "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed." } };
    const book = this.books.get(symbol.toUpperCase());
    if (!book) return { status: 400, body: { code: -1121, msg: 'Invalid symbol.' } };
    const limitText = url.searchParams.get('limit') ?? String(DEPTH_LIMIT_DEFAULT_LEVELS);
    const limit = /^\d{1,5}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= DEPTH_LIMIT_MAX_LEVELS)) {
      return { status: 400, body: { code: -1100, msg: `Illegal value for parameter 'limit': ${JSON.stringify(limitText)}; expected an integer in 1..${DEPTH_LIMIT_MAX_LEVELS}.` } };
    }
    const v = book.depth(limit);
    this.snapshotAsked.add(book.symbol);
    if (this.snapshotWaiter?.symbol === book.symbol) this.snapshotWaiter.resolve();
    // Futures responses carry event (E) and transaction (T) times; spot ones do not. The book
    // keeps one time, the newest diff's E, and serves it as both.
    const body = api === 'usdm' ? { lastUpdateId: v.lastUpdateId, E: v.eventMs, T: v.eventMs, bids: v.bids, asks: v.asks } : { lastUpdateId: v.lastUpdateId, bids: v.bids, asks: v.asks };
    return { status: 200, body };
  }

  // --- shutdown ---------------------------------------------------------------------------------

  private async shutdown(): Promise<void> {
    if (this.state === 'waiting' || this.state === 'running') {
      this.state = 'closed';
      this.endWith({ kind: 'closed' });
    }
    this.abort.abort();
    await this.loop;
    await Promise.all([...this.mounts.values()].map((m) => m.close()));
    if (this.pinger) clearInterval(this.pinger);
    const clients = [...this.clients];
    for (const c of clients) c.ws.close(CLOSE_SERVER_SHUTDOWN, 'server shutting down');
    const graceOver = sleep(CLOSE_GRACE_MS, undefined, { ref: false });
    await Promise.race([Promise.all(clients.map((c) => c.closed)), graceOver]);
    // Clients that did not answer the close handshake, and any still mid-close, are cut.
    for (const ws of this.wss.clients) ws.terminate();
    for (const c of clients) c.ws.terminate();
    this.clients.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.source.close();
  }
}

function settings(o: ReplayServerOptions): Settings {
  const speed = o.speed ?? 1;
  if (speed !== 'max' && !(typeof speed === 'number' && speed > 0 && Number.isFinite(speed))) {
    throw new RangeError(`speed = ${String(speed)}: expected a number > 0 or 'max'`);
  }
  const positive = (name: string, v: number | undefined, dflt: number, min = 1): number => {
    const x = v ?? dflt;
    if (!Number.isFinite(x) || x < min) throw new RangeError(`${name} = ${x}: expected a number >= ${min}`);
    return x;
  };
  const port = o.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new RangeError(`port = ${port}: expected an integer in 0..65535`);
  return {
    host: o.host ?? '127.0.0.1',
    port,
    speed,
    startNow: o.startNow ?? false,
    startAfterClients: positive('startAfterClients', o.startAfterClients, 1),
    syncStart: o.syncStart ?? false,
    clientBufferMaxBytes: positive('clientBufferMaxBytes', o.clientBufferMaxBytes, CLIENT_BUFFER_MAX_BYTES),
    clientLagMaxBytes: positive('clientLagMaxBytes', o.clientLagMaxBytes, CLIENT_LAG_MAX_BYTES),
    clientStallMaxMs: positive('clientStallMaxMs', o.clientStallMaxMs, CLIENT_STALL_MAX_MS),
    clientsMax: positive('clientsMax', o.clientsMax, CLIENTS_MAX),
    pingIntervalMs: positive('pingIntervalMs', o.pingIntervalMs, PING_INTERVAL_MS, 0),
    log: o.log ?? ((line) => process.stderr.write(`replay-server: ${line}\n`)),
  };
}

/** Stream names compare with the symbol part in lower case, as Binance's do. */
function normaliseStream(name: string): string {
  const at = name.indexOf('@');
  return at < 0 ? name.toLowerCase() : name.slice(0, at).toLowerCase() + name.slice(at);
}

/** The envelope's `data`, cut out of the text without a parse when the envelope has the usual shape. */
function rawPayload(ev: StreamEvent): string {
  const prefix = `{"stream":"${ev.stream}","data":`;
  if (ev.json.startsWith(prefix) && ev.json.endsWith('}')) return ev.json.slice(prefix.length, -1);
  return JSON.stringify((JSON.parse(ev.json) as { data?: unknown }).data ?? null);
}

function reject(status: number, msg: string): Rejection {
  return { status, body: { code: status, msg } };
}

function send(res: ServerResponse, req: IncomingMessage, r: { status: number; body: unknown }): void {
  const text = JSON.stringify(r.body);
  res.writeHead(r.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(req.method === 'HEAD' ? undefined : text);
}

function rejectUpgrade(socket: Duplex, r: Rejection): void {
  const text = JSON.stringify(r.body);
  socket.end(
    `HTTP/1.1 ${r.status} ${STATUS_TEXT[r.status] ?? 'Error'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 503: 'Service Unavailable' };

function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= CLOSE_REASON_MAX_BYTES) return reason;
  let r = reason.slice(0, CLOSE_REASON_MAX_BYTES - 3);
  while (Buffer.byteLength(`${r}...`) > CLOSE_REASON_MAX_BYTES) r = r.slice(0, -1);
  return `${r}...`;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
