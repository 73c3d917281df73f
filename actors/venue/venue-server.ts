// The simulated venue's order entry: the wire protocol of venue-protocol.ts served at /ws-api/v3
// on the market data server's own port (the venue and the market data are one exchange). It
// matches against the market server's exchange books as of now in replay time and fills resting
// orders from the market's trades (matching-engine.ts), writes its log before it answers
// (venue-log.ts), and with `recover` rebuilds its orders and positions from that log when it starts.
//
// Every request waits latencyMs before the venue handles it (the network and the matching engine);
// requests of one connection are handled in the order they arrived. A request that arrived is
// handled even if its connection closes meanwhile (its answer is lost, as on a real network: the
// client resends and the venue deduplicates). Execution reports go to every open session: the
// venue has one account, and a reconnected client must hear about fills of its resting orders.
import { existsSync, renameSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { parseStreamMessage } from '../feed/binance-format.ts';
import type { ExchangeBook } from '../feed/exchange-book.ts';
import type { FeedEvent } from '../feed/market-source.ts';
import { type EngineEvent, type EngineStats, MatchingEngine, type MatchingEngineOptions, type VenuePositionsView } from './matching-engine.ts';
import { DecisionTimeMarket, type DecisionTimeStats, type MatchAt } from './decision-time-market.ts';
import { VENUE_ERROR } from './venue-errors.ts';
import { readVenueLog, VenueLog } from './venue-log.ts';
import {
  errorResponse,
  executionReport,
  okResponse,
  parseVenueRequest,
  VENUE_PATH,
  VENUE_REQUEST_MAX_BYTES,
  type VenueRequest,
  type VenueResponse,
  wireOrder,
} from './venue-protocol.ts';

export const VENUE_DEFAULTS = {
  latencyMs: 1,
  recover: false,
  ordersPerSecondMax: 0,
  sessionsMax: 64,
  pendingMax: 4096,
};

/** What the venue needs from the market data server it shares a port with (ReplayServer has it). */
export interface VenueHost {
  readonly httpUrl: string;
  exchangeBooks(): ReadonlyMap<string, ExchangeBook>;
  /** every market event, after the exchange book applied it; returns the unsubscribe */
  onEvent(listener: (ev: FeedEvent) => void): () => void;
  mountWebSocket(path: string, mount: { upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void; close(): Promise<void> }): void;
}

export interface VenueServerOptions extends MatchingEngineOptions {
  /** the venue's append-only log (JSON lines); created with its folder */
  logPath: string;
  /** delay before the venue handles a request, ms; default 1 */
  latencyMs?: number;
  /**
   * true: rebuild orders, resting orders and positions from the log at start (an exchange that
   * restarts keeps its book of orders); false (default): start empty with a new log, the previous
   * one renamed to <log>.prev (each run of the pipeline starts flat: positions are not persisted yet)
   */
  recover?: boolean;
  /** order.place requests per second per session (0: no limit); over it: 429; default 0 */
  ordersPerSecondMax?: number;
  /** sessions at once; default 64 */
  sessionsMax?: number;
  /** requests of one session waiting out the latency; over it: 429; default 4096 */
  pendingMax?: number;
  /** one line per notable event; default stderr */
  log?: (line: string) => void;
  /**
   * arrival (default): match against the market as it stands when the order is handled, as a
   * live exchange does; decision: as it stood at the book update the order was decided on (its
   * marketUpdateId), so a replay gives the same fills in every run (decision-time-market.ts)
   */
  matchAt?: MatchAt;
}

export interface VenueServerStatus {
  url: string;
  latencyMs: number;
  sessions: number;
  sessionsTotal: number;
  requests: number;
  byMethod: Record<string, number>;
  /** responses by status (200, 400, 429, 503) */
  byStatus: Record<string, number>;
  /** frames that were not a valid request (answered 400) */
  badRequests: number;
  lastBad?: string;
  executionReports: number;
  engine: EngineStats;
  matchAt: MatchAt;
  /** match_at decision: events waiting, late orders, forced advances */
  decision?: DecisionTimeStats;
  positions: VenuePositionsView;
  log: { path: string; lines: number; restoredRecords: number };
}

interface Session {
  id: number;
  ws: WebSocket;
  remote: string;
  windowStartMs: number;
  placesInWindow: number;
  pending: number;
  closed: Promise<void>;
}

const CLOSE_GRACE_MS = 1000;
const LAST_BAD_MAX_CHARS = 300;

export class VenueServer {
  readonly engine: MatchingEngine;
  private readonly o: Required<Omit<VenueServerOptions, keyof MatchingEngineOptions>>;
  private readonly journal: VenueLog;
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: VENUE_REQUEST_MAX_BYTES });
  private readonly sessions = new Set<Session>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly unsubscribe: () => void;
  private closing: Promise<void> | undefined;
  private nextSessionId = 1;
  private readonly counts = { sessionsTotal: 0, requests: 0, badRequests: 0, executionReports: 0, restoredRecords: 0 };
  private readonly byMethod: Record<string, number> = {};
  private readonly byStatus: Record<string, number> = {};
  private lastBad: string | undefined;
  /** match_at decision: the venue's own, lagging copy of the market */
  private readonly decisionTime: DecisionTimeMarket | undefined;

  private constructor(
    private readonly host: VenueHost,
    options: VenueServerOptions,
  ) {
    this.o = settings(options);
    this.decisionTime = this.o.matchAt === 'decision' ? new DecisionTimeMarket(host.exchangeBooks(), (ev) => this.applyMarket(ev)) : undefined;
    this.engine = new MatchingEngine(this.decisionTime?.books ?? host.exchangeBooks(), options);
    if (this.o.recover) {
      const records = readVenueLog(this.o.logPath);
      this.counts.restoredRecords = records.length;
      const left = this.engine.restore(records, Date.now());
      this.journal = VenueLog.open(this.o.logPath);
      this.journal.append(left.log);
      if (records.length > 0) {
        const st = this.engine.stats();
        this.o.log(`venue restored from ${this.o.logPath}: ${records.length} records, ${st.orders} orders (${st.resting} resting), ${st.fills} fills`);
      }
    } else {
      // A fresh venue starts a fresh log; the previous one is kept beside it (one generation).
      if (existsSync(this.o.logPath) && statSync(this.o.logPath).size > 0) renameSync(this.o.logPath, `${this.o.logPath}.prev`);
      this.journal = VenueLog.open(this.o.logPath);
    }
    this.unsubscribe = host.onEvent((ev) => this.onMarket(ev));
    host.mountWebSocket(VENUE_PATH, { upgrade: (req, socket, head) => this.onUpgrade(req, socket, head), close: () => this.close() });
  }

  /** Mounts the venue at /ws-api/v3 on the market data server `host`. */
  static start(host: VenueHost, options: VenueServerOptions): VenueServer {
    return new VenueServer(host, options);
  }

  get url(): string {
    return `${this.host.httpUrl.replace(/^http/, 'ws')}${VENUE_PATH}`;
  }

  get logPath(): string {
    return this.o.logPath;
  }

  status(): VenueServerStatus {
    const s: VenueServerStatus = {
      url: this.url,
      latencyMs: this.o.latencyMs,
      sessions: this.sessions.size,
      sessionsTotal: this.counts.sessionsTotal,
      requests: this.counts.requests,
      byMethod: { ...this.byMethod },
      byStatus: { ...this.byStatus },
      badRequests: this.counts.badRequests,
      executionReports: this.counts.executionReports,
      engine: this.engine.stats(),
      matchAt: this.o.matchAt,
      ...(this.decisionTime ? { decision: this.decisionTime.stats() } : {}),
      positions: this.engine.positions(),
      log: { path: this.o.logPath, lines: this.journal.lines, restoredRecords: this.counts.restoredRecords },
    };
    if (this.lastBad !== undefined) s.lastBad = this.lastBad;
    return s;
  }

  /**
   * Fault injection (tests, the chaos suite): cuts every session at once, with no close handshake,
   * as a network failure would. Requests already read are still handled. Returns how many.
   */
  dropSessions(): number {
    const n = this.sessions.size;
    for (const s of this.sessions) s.ws.terminate();
    return n;
  }

  /** Drops every session (1001) and closes the log; requests still waiting are not handled. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // --- sessions --------------------------------------------------------------------------------

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closing) return refuse(socket, 503, 'venue shutting down');
    if (this.sessions.size >= this.o.sessionsMax) return refuse(socket, 503, `too many sessions: ${this.sessions.size} open, at most ${this.o.sessionsMax} (sessions_max)`);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onSession(ws, req));
  }

  private onSession(ws: WebSocket, req: IncomingMessage): void {
    const s: Session = {
      id: this.nextSessionId++,
      ws,
      remote: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`,
      windowStartMs: 0,
      placesInWindow: 0,
      pending: 0,
      closed: new Promise((resolve) => ws.once('close', () => resolve())),
    };
    this.sessions.add(s);
    this.counts.sessionsTotal++;
    this.o.log(`venue session ${s.id} (${s.remote}) opened`);
    ws.on('message', (data, isBinary) => this.onFrame(s, data, isBinary));
    ws.on('close', (code, reason) => {
      if (this.sessions.delete(s)) this.o.log(`venue session ${s.id} (${s.remote}) closed: ${code} ${reason.toString()}`);
    });
    ws.on('error', (e) => this.o.log(`venue session ${s.id} (${s.remote}): ${e.message}`));
  }

  private onFrame(s: Session, data: RawData, isBinary: boolean): void {
    this.counts.requests++;
    const text = isBinary ? Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data as Buffer)]).toString('utf8') : data.toString();
    const parsed = parseVenueRequest(text);
    if (!parsed.ok) {
      this.counts.badRequests++;
      this.lastBad = `session ${s.id}: ${parsed.error.msg}`.slice(0, LAST_BAD_MAX_CHARS);
      return this.reply(s, errorResponse(parsed.id, parsed.error));
    }
    const req = parsed.request;
    this.byMethod[req.method] = (this.byMethod[req.method] ?? 0) + 1;
    if (s.pending >= this.o.pendingMax) {
      return this.reply(s, errorResponse(req.id, { status: 429, code: VENUE_ERROR.TOO_MANY_REQUESTS, msg: `too many requests in flight: ${s.pending} waiting, at most ${this.o.pendingMax} per session (pending_max)` }));
    }
    if (req.method === 'order.place' && this.o.ordersPerSecondMax > 0) {
      const now = Date.now();
      if (now - s.windowStartMs >= 1000) {
        s.windowStartMs = now;
        s.placesInWindow = 0;
      }
      if (++s.placesInWindow > this.o.ordersPerSecondMax) {
        return this.reply(s, errorResponse(req.id, { status: 429, code: VENUE_ERROR.TOO_MANY_REQUESTS, msg: `too many orders: more than ${this.o.ordersPerSecondMax} per second on this session (orders_per_s_max)` }));
      }
    }
    if (this.o.latencyMs === 0) return this.handle(s, req);
    s.pending++;
    const t = setTimeout(() => {
      this.timers.delete(t);
      s.pending--;
      this.handle(s, req);
    }, this.o.latencyMs);
    this.timers.add(t);
  }

  /**
   * One request, after the latency: the engine decides, the log records it, then the answers go
   * out. A log write that fails throws out of here and ends the process (fail-stop): the venue must
   * never answer what it could not record.
   */
  private handle(s: Session, req: VenueRequest): void {
    const now = Date.now();
    switch (req.method) {
      case 'order.place': {
        this.decisionTime?.advanceTo(req.params.symbol, req.params.marketUpdateId);
        const r = this.engine.place(req.params, now);
        this.journal.append(r.log);
        this.reply(s, r.ok ? okResponse(req.id, wireOrder(r.order, r.duplicate)) : errorResponse(req.id, r.error));
        return this.publish(r.events, now);
      }
      case 'order.cancel': {
        const r = this.engine.cancel(req.params.clientOrderId, req.params.symbol, now);
        if (!r.ok) return this.reply(s, errorResponse(req.id, r.error));
        this.journal.append(r.log);
        this.reply(s, okResponse(req.id, wireOrder(r.order)));
        return this.publish(r.events, now);
      }
      case 'order.status': {
        const r = this.engine.status(req.params.clientOrderId, req.params.symbol);
        return this.reply(s, r.ok ? okResponse(req.id, wireOrder(r.order)) : errorResponse(req.id, r.error));
      }
      case 'account.positions':
        return this.reply(s, okResponse(req.id, this.engine.positions()));
      case 'session.ping':
        return this.reply(s, okResponse(req.id, { serverTimeMs: now }));
    }
  }

  private reply(s: Session, r: VenueResponse): void {
    this.byStatus[r.status] = (this.byStatus[r.status] ?? 0) + 1;
    if (s.ws.readyState === s.ws.OPEN) s.ws.send(JSON.stringify(r));
  }

  /** Execution reports of engine events, to every session. Rejections are answered, not pushed. */
  private publish(events: readonly EngineEvent[], now: number): void {
    for (const ev of events) {
      let text: string;
      switch (ev.kind) {
        case 'accepted':
          text = JSON.stringify(executionReport('NEW', ev.order, now));
          break;
        case 'fill':
          text = JSON.stringify(executionReport('TRADE', ev.order, ev.fill.timeMs, ev.fill));
          break;
        case 'cancelled':
          text = JSON.stringify(executionReport('CANCELED', ev.order, now));
          break;
        case 'expired':
          text = JSON.stringify(executionReport('EXPIRED', ev.order, now));
          break;
        case 'rejected':
          continue;
      }
      this.counts.executionReports++;
      for (const x of this.sessions) if (x.ws.readyState === x.ws.OPEN) x.ws.send(text);
    }
  }

  // --- the market ------------------------------------------------------------------------------

  private onMarket(ev: FeedEvent): void {
    if (this.decisionTime) this.decisionTime.push(ev);
    else this.applyMarket(ev);
  }

  /** One market event for the engine: level updates (what our orders took is given back), trades through resting orders. */
  private applyMarket(ev: FeedEvent): void {
    switch (ev.kind) {
      case 'depth':
        this.engine.onBookUpdate(ev.symbol, ev.diff.bids, ev.diff.asks);
        return;
      case 'snapshot':
        this.engine.onBookReload(ev.symbol);
        return;
      case 'trade': {
        if (!this.engine.hasResting(ev.symbol)) return;
        let trade;
        try {
          trade = parseStreamMessage(ev.json, 0);
        } catch {
          return; // the feed gateway counts bad market messages; the venue only skips them
        }
        if (trade.type !== 'trade') return;
        const now = Date.now();
        const r = this.engine.onTrade(ev.symbol, trade.price, trade.qty, now);
        this.journal.append(r.log);
        this.publish(r.events, now);
        return;
      }
      case 'bookTicker':
        return;
    }
  }

  private async shutdown(): Promise<void> {
    this.unsubscribe();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const sessions = [...this.sessions];
    for (const s of sessions) s.ws.close(1001, 'venue shutting down');
    const grace = new Promise((r) => setTimeout(r, CLOSE_GRACE_MS).unref());
    await Promise.race([Promise.all(sessions.map((s) => s.closed)), grace]);
    for (const ws of this.wss.clients) ws.terminate();
    this.sessions.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.journal.close();
  }
}

function settings(o: VenueServerOptions): Required<Omit<VenueServerOptions, keyof MatchingEngineOptions>> {
  const int = (name: string, v: number | undefined, dflt: number, min: number): number => {
    const x = v ?? dflt;
    if (!Number.isInteger(x) || x < min) throw new RangeError(`${name} = ${x}: expected an integer >= ${min}`);
    return x;
  };
  if (typeof o.logPath !== 'string' || o.logPath === '') throw new RangeError(`logPath = ${JSON.stringify(o.logPath)}: expected a file path`);
  return {
    logPath: o.logPath,
    latencyMs: int('latencyMs', o.latencyMs, VENUE_DEFAULTS.latencyMs, 0),
    recover: o.recover ?? VENUE_DEFAULTS.recover,
    ordersPerSecondMax: int('ordersPerSecondMax', o.ordersPerSecondMax, VENUE_DEFAULTS.ordersPerSecondMax, 0),
    sessionsMax: int('sessionsMax', o.sessionsMax, VENUE_DEFAULTS.sessionsMax, 1),
    pendingMax: int('pendingMax', o.pendingMax, VENUE_DEFAULTS.pendingMax, 1),
    matchAt: o.matchAt ?? 'arrival',
    log: o.log ?? ((line) => process.stderr.write(`venue: ${line}\n`)),
  };
}

function refuse(socket: Duplex, status: number, msg: string): void {
  const text = JSON.stringify({ code: status, msg });
  socket.end(`HTTP/1.1 ${status} ${status === 503 ? 'Service Unavailable' : 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
}

/** The venue's options in topology.yaml (a `venue:` block of the `feed-server` kind), validated. */
export const VENUE_TOPOLOGY_DEFAULTS = {
  enabled: true,
  latency_ms: VENUE_DEFAULTS.latencyMs,
  reject_rate: 0,
  error_rate: 0,
  seed: 1,
  /** default: .data/venue/venue-<port>.log */
  log: undefined as string | undefined,
  recover: VENUE_DEFAULTS.recover,
  fence_epoch: true,
  orders_max: 200_000,
  resting_max: 10_000,
  orders_per_s_max: VENUE_DEFAULTS.ordersPerSecondMax,
  sessions_max: VENUE_DEFAULTS.sessionsMax,
  pending_max: VENUE_DEFAULTS.pendingMax,
  match_at: 'arrival' as MatchAt,
};

/** Parses a `venue:` options block; undefined when absent or `enabled: false`. Errors name the field. */
export function venueServerOptions(where: string, raw: unknown, port: number): Omit<VenueServerOptions, 'log'> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new TypeError(`${where}: expected a map of venue options (${Object.keys(VENUE_TOPOLOGY_DEFAULTS).join(', ')}), got ${JSON.stringify(raw)}`);
  const given = raw as Record<string, unknown>;
  const unknown = Object.keys(given).filter((k) => !(k in VENUE_TOPOLOGY_DEFAULTS));
  if (unknown.length > 0) throw new TypeError(`${where}.${unknown[0]}: unknown venue option, expected one of ${Object.keys(VENUE_TOPOLOGY_DEFAULTS).join(', ')}`);
  const o = { ...VENUE_TOPOLOGY_DEFAULTS, ...given };
  const bool = (k: keyof typeof VENUE_TOPOLOGY_DEFAULTS): boolean => {
    if (typeof o[k] !== 'boolean') throw new TypeError(`${where}.${k}: expected true or false, got ${JSON.stringify(o[k])}`);
    return o[k] as boolean;
  };
  const int = (k: keyof typeof VENUE_TOPOLOGY_DEFAULTS, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new TypeError(`${where}.${k}: expected an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
    return v;
  };
  const rate = (k: keyof typeof VENUE_TOPOLOGY_DEFAULTS): number => {
    const v = o[k];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new TypeError(`${where}.${k}: expected a number in 0..1 (a share of orders), got ${JSON.stringify(v)}`);
    return v;
  };
  if (!bool('enabled')) return undefined;
  const log = o.log ?? `.data/venue/venue-${port}.log`;
  if (typeof log !== 'string' || log === '') throw new TypeError(`${where}.log: expected a file path, got ${JSON.stringify(log)}`);
  return {
    logPath: log,
    latencyMs: int('latency_ms', 0, 60_000),
    rejectRate: rate('reject_rate'),
    errorRate: rate('error_rate'),
    seed: int('seed', -(2 ** 31), 2 ** 31 - 1),
    recover: bool('recover'),
    fenceEpoch: bool('fence_epoch'),
    ordersMax: int('orders_max', 1, 100_000_000),
    restingMax: int('resting_max', 0, 10_000_000),
    ordersPerSecondMax: int('orders_per_s_max', 0, 10_000_000),
    sessionsMax: int('sessions_max', 1, 100_000),
    pendingMax: int('pending_max', 1, 10_000_000),
    matchAt: matchAtOption(where, o.match_at),
  };
}

function matchAtOption(where: string, v: unknown): MatchAt {
  if (v !== 'arrival' && v !== 'decision') throw new TypeError(`${where}.match_at: expected arrival (the market as the order arrives) or decision (as it stood at the update the order was decided on), got ${JSON.stringify(v)}`);
  return v;
}
