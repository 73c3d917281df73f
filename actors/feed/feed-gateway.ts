// The feed gateway: a WebSocket client of Binance's combined-stream format for a list of symbols.
// It routes depth diffs, trades and tickers to each symbol's book actor, fetches depth snapshots
// over HTTP when a book asks, reconnects with backoff, and marks a symbol's book stale (with an
// alarm in the log) when its stream goes silent past a bound. Bad messages are counted by reason
// and skipped, never fatal. Pointed at Binance's endpoints it works unchanged.
import WebSocket from 'ws';
import type { ActorContext, Behavior } from '../../runtime/actor.ts';
import type { KindContext } from '../../runtime/kind-registry.ts';
import { createLogger, type Logger } from '../../runtime/log.ts';
import { FeedFormatError, type FeedErrorReason, parseDepthSnapshot, parseStreamMessage, streamNames } from './binance-format.ts';
import type { DepthSnapshot, FeedDown, Market, SnapshotRejected, SnapshotRequest } from './market-data.ts';
import { CLOSE_REPLAY_COMPLETE } from './replay-server.ts';
import { jitteredBackoffMs } from '../../supervisors/backoff.ts';
import { SocketInbox } from '../socket-inbox.ts';

export interface FeedGatewayOptions {
  /** WebSocket base, e.g. wss://fstream.binance.com or ws://127.0.0.1:9400 (the replay server) */
  wsUrl: string;
  /** REST base for depth snapshots, e.g. https://fapi.binance.com */
  restUrl: string;
  market: Market;
  symbols: string[];
  /** where a symbol's book lives: `${bookPrefix}${SYMBOL}` */
  bookPrefix: string;
  /** addresses that also receive every trade (e.g. risk, for its price band) */
  tradesTo: string[];
  /** a symbol silent this long raises an alarm and marks its book stale */
  silenceMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  snapshotLimit: number;
  snapshotTimeoutMs: number;
}

export const FEED_DEFAULTS = {
  ws_url: 'ws://127.0.0.1:9400',
  rest_url: 'http://127.0.0.1:9400',
  market: 'usdm',
  symbols: ['BTCUSDT', 'ETHUSDT'],
  book_prefix: 'book/',
  trades_to: [] as string[],
  silence_ms: 5000,
  reconnect_min_ms: 100,
  reconnect_max_ms: 10_000,
  snapshot_limit: 1000,
  snapshot_timeout_ms: 5000,
};

/** The close code the replay server sends when a recording has been fully replayed. */
export const REPLAY_COMPLETE_CLOSE_CODE = CLOSE_REPLAY_COMPLETE;

export type FeedStatusRequest = { type: 'feed-status' };

export interface FeedStatus {
  type: 'feed-status-reply';
  url: string;
  connected: boolean;
  /** the server said the recording is over (close code 4000): no reconnect */
  ended: boolean;
  connects: number;
  reconnects: number;
  messages: number;
  byType: { depth: number; trade: number; bookTicker: number };
  /** skipped input by reason: malformed-json, unknown-stream, bad-price, bad-qty, bad-field, unknown-symbol */
  bad: Record<string, number>;
  lastBad?: string;
  snapshots: { requested: number; served: number; failed: number; rejectedByBook: number; lastError?: string };
  silenceAlarms: number;
  /** ms since the last message, per symbol (null: none yet) */
  silentMs: Record<string, number | null>;
  /** frames that waited because the gateway's own mailbox was full */
  pausedReads: number;
}

type Frame = { type: 'frame'; text: string; rxMs: number; conn: number };
type Opened = { type: 'opened'; conn: number };
type Closed = { type: 'closed'; conn: number; code: number; reason: string };
type Reconnect = { type: 'reconnect' };
type Watchdog = { type: 'watchdog' };
type SnapshotFetched = { type: 'snapshot-fetched'; symbol: string; snapshot?: DepthSnapshot; error?: string };
export type FeedGatewayMsg = Frame | Opened | Closed | Reconnect | Watchdog | SnapshotFetched | SnapshotRequest | SnapshotRejected | FeedStatusRequest;

interface State {
  ws: WebSocket | undefined;
  /** connection number: events of an older connection are ignored */
  conn: number;
  connected: boolean;
  ended: boolean;
  stopping: boolean;
  failuresInARow: number;
  status: FeedStatus;
  lastMsgAt: Map<string, number>;
  alarmed: Set<string>;
  inflight: Set<string>;
  /** the connection's frames on their way into the mailbox (back-pressure) */
  inbox: SocketInbox<FeedGatewayMsg> | undefined;
}

export function feedGatewayOptions(ctx: KindContext): FeedGatewayOptions {
  const o = { ...FEED_DEFAULTS, ...(ctx.options as Record<string, unknown>) };
  const where = `actor ${ctx.address}: options`;
  const str = (k: string): string => {
    const v = o[k as keyof typeof o];
    if (typeof v !== 'string' || v === '') throw new TypeError(`${where}.${k}: expected a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  };
  const int = (k: string, min: number): number => {
    const v = o[k as keyof typeof o];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new TypeError(`${where}.${k}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v;
  };
  const list = (k: string, re: RegExp, what: string): string[] => {
    const v = o[k as keyof typeof o];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && re.test(x))) throw new TypeError(`${where}.${k}: expected a list of ${what}, got ${JSON.stringify(v)}`);
    return v as string[];
  };
  const market = str('market');
  if (market !== 'usdm' && market !== 'spot') throw new TypeError(`${where}.market: expected usdm or spot, got ${JSON.stringify(market)}`);
  const symbols = list('symbols', /^[A-Z0-9]{2,20}$/, 'upper-case symbols such as BTCUSDT');
  if (symbols.length === 0) throw new TypeError(`${where}.symbols: expected at least one symbol`);
  const opts: FeedGatewayOptions = {
    wsUrl: str('ws_url').replace(/\/+$/, ''),
    restUrl: str('rest_url').replace(/\/+$/, ''),
    market,
    symbols,
    bookPrefix: str('book_prefix'),
    tradesTo: list('trades_to', /.+/, 'actor addresses'),
    silenceMs: int('silence_ms', 1),
    reconnectMinMs: int('reconnect_min_ms', 1),
    reconnectMaxMs: int('reconnect_max_ms', 1),
    snapshotLimit: int('snapshot_limit', 1),
    snapshotTimeoutMs: int('snapshot_timeout_ms', 1),
  };
  if (opts.reconnectMaxMs < opts.reconnectMinMs) throw new TypeError(`${where}.reconnect_max_ms (${opts.reconnectMaxMs}): expected >= reconnect_min_ms (${opts.reconnectMinMs})`);
  return opts;
}

/** Where Binance serves depth snapshots for each market. */
export const snapshotPath = (market: Market): string => (market === 'usdm' ? '/fapi/v1/depth' : '/api/v3/depth');

export function streamUrl(o: FeedGatewayOptions): string {
  return `${o.wsUrl}/stream?streams=${streamNames(o.symbols, o.market).join('/')}`;
}

/** The connection is gone: its waiting frames go with it; its pause count stays in the status. */
function closeInbox(s: State): void {
  if (!s.inbox) return;
  s.inbox.clear();
  s.status.pausedReads += s.inbox.pausedReads;
  s.inbox = undefined;
}

export const feedGateway = (opts: FeedGatewayOptions): Behavior<FeedGatewayMsg, State> => {
  const url = streamUrl(opts);
  const subscribed = new Set(opts.symbols);
  let log: Logger | undefined;

  const connect = (s: State, ctx: ActorContext<FeedGatewayMsg>): void => {
    const conn = ++s.conn;
    const self = ctx.self;
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: opts.snapshotTimeoutMs });
    s.ws = ws;
    s.status.connects++;
    const inbox = new SocketInbox<FeedGatewayMsg>(ctx, ws);
    s.inbox = inbox;
    ws.on('open', () => self.tell({ type: 'opened', conn }));
    ws.on('message', (data, isBinary) => {
      const rxMs = performance.timeOrigin + performance.now();
      inbox.offer({ type: 'frame', text: isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString(), rxMs, conn });
    });
    // Through the inbox, so the close is handled after every frame read before it.
    ws.on('close', (code, reason) => inbox.offer({ type: 'closed', conn, code, reason: reason.toString() }));
    // A close event follows every error; the reconnect is decided there.
    ws.on('error', (e) => log?.warn({ url, err: e.message }, 'feed connection error'));
  };

  const bookOf = (symbol: string): string => `${opts.bookPrefix}${symbol}`;

  const allFeedDown = (s: State, ctx: ActorContext<FeedGatewayMsg>, reason: string): void => {
    for (const sym of opts.symbols) ctx.tell<FeedDown>(bookOf(sym), { type: 'feed-down', symbol: sym, reason });
  };

  const bad = (s: State, reason: FeedErrorReason | 'unknown-symbol', detail: string, ctx?: ActorContext<FeedGatewayMsg>): void => {
    s.status.bad[reason] = (s.status.bad[reason] ?? 0) + 1;
    ctx?.system.gauges.add('feed.bad');
    s.status.lastBad = detail;
    log?.debug({ reason, detail }, 'feed message skipped');
  };

  const onFrame = (s: State, ctx: ActorContext<FeedGatewayMsg>, f: Frame): void => {
    if (f.conn !== s.conn) return;
    s.status.messages++;
    let m;
    try {
      m = parseStreamMessage(f.text, f.rxMs);
    } catch (e) {
      if (e instanceof FeedFormatError) return bad(s, e.reason, e.message, ctx);
      throw e;
    }
    if (!subscribed.has(m.symbol)) return bad(s, 'unknown-symbol', `symbol ${m.symbol} is not subscribed (expected one of ${opts.symbols.join(', ')})`, ctx);
    s.lastMsgAt.set(m.symbol, f.rxMs);
    if (s.alarmed.delete(m.symbol)) log?.info({ symbol: m.symbol }, 'feed for symbol resumed');
    // One tick in the node's sample rate starts a trace: book, signal, risk, order and venue
    // gateway handle it in spans of that trace, on whichever node they run.
    ctx.startTrace(`tick ${m.type} ${m.symbol}`);
    switch (m.type) {
      case 'depth':
        s.status.byType.depth++;
        break;
      case 'trade':
        s.status.byType.trade++;
        for (const to of opts.tradesTo) ctx.tell(to, m);
        break;
      case 'book-ticker':
        s.status.byType.bookTicker++;
        break;
    }
    ctx.tell(bookOf(m.symbol), m);
  };

  const fetchSnapshot = (s: State, ctx: ActorContext<FeedGatewayMsg>, symbol: string): void => {
    if (s.inflight.has(symbol)) return;
    s.inflight.add(symbol);
    s.status.snapshots.requested++;
    const self = ctx.self;
    const u = `${opts.restUrl}${snapshotPath(opts.market)}?symbol=${symbol}&limit=${opts.snapshotLimit}`;
    fetch(u, { signal: AbortSignal.timeout(opts.snapshotTimeoutMs) })
      .then(async (r) => {
        const text = await r.text();
        if (!r.ok) throw new Error(`GET ${u}: HTTP ${r.status} ${text.slice(0, 200)}`);
        self.tell({ type: 'snapshot-fetched', symbol, snapshot: parseDepthSnapshot(symbol, text) });
      })
      .catch((e: unknown) => self.tell({ type: 'snapshot-fetched', symbol, error: e instanceof Error ? e.message : String(e) }));
  };

  const scheduleReconnect = (s: State, ctx: ActorContext<FeedGatewayMsg>): void => {
    const delay = jitteredBackoffMs({ minMs: opts.reconnectMinMs, maxMs: opts.reconnectMaxMs }, ++s.failuresInARow);
    ctx.timers.startSingle('reconnect', { type: 'reconnect' }, delay);
  };

  return {
    init(ctx) {
      log ??= createLogger({ node: ctx.system.node, actor: ctx.self.address });
      const s: State = {
        ws: undefined,
        conn: 0,
        connected: false,
        ended: false,
        stopping: false,
        failuresInARow: 0,
        status: {
          type: 'feed-status-reply',
          url,
          connected: false,
          ended: false,
          connects: 0,
          reconnects: 0,
          messages: 0,
          byType: { depth: 0, trade: 0, bookTicker: 0 },
          bad: {},
          snapshots: { requested: 0, served: 0, failed: 0, rejectedByBook: 0 },
          silenceAlarms: 0,
          silentMs: {},
          pausedReads: 0,
        },
        lastMsgAt: new Map(),
        alarmed: new Set(),
        inflight: new Set(),
        inbox: undefined,
      };
      connect(s, ctx);
      ctx.timers.startPeriodic('watchdog', { type: 'watchdog' }, Math.max(10, Math.floor(opts.silenceMs / 4)));
      return s;
    },

    receive(s, msg, ctx) {
      switch (msg.type) {
        case 'frame':
          onFrame(s, ctx, msg);
          return s;
        case 'opened':
          if (msg.conn !== s.conn) return s;
          s.connected = true;
          s.failuresInARow = 0;
          // Silence is measured from the connection on, not from before it.
          for (const sym of opts.symbols) s.lastMsgAt.set(sym, Date.now());
          log?.info({ url }, 'feed connected');
          return s;
        case 'closed': {
          if (msg.conn !== s.conn || s.stopping) return s;
          const was = s.connected;
          s.connected = false;
          s.ws = undefined;
          closeInbox(s);
          if (msg.code === REPLAY_COMPLETE_CLOSE_CODE) {
            s.ended = true;
            ctx.system.gauges.set('feed.messages', s.status.messages);
            ctx.system.gauges.set('feed.ended', 1);
            log?.info({ url, reason: msg.reason }, 'feed ended: the replay is complete');
            allFeedDown(s, ctx, `feed ended (${msg.reason || 'replay complete'})`);
            return s;
          }
          s.status.reconnects++;
          log?.warn({ url, code: msg.code, reason: msg.reason, wasConnected: was }, 'feed disconnected; reconnecting');
          allFeedDown(s, ctx, `feed disconnected (code ${msg.code}${msg.reason ? `: ${msg.reason}` : ''})`);
          scheduleReconnect(s, ctx);
          return s;
        }
        case 'reconnect':
          if (!s.ended && !s.ws) connect(s, ctx);
          return s;
        case 'watchdog': {
          // The node reports gauges once a second: no need to touch one per frame.
          ctx.system.gauges.set('feed.messages', s.status.messages);
          if (!s.connected) return s;
          const now = Date.now();
          let silent = 0;
          for (const sym of opts.symbols) {
            const quiet = now - (s.lastMsgAt.get(sym) ?? now);
            if (quiet <= opts.silenceMs) continue;
            silent++;
            if (s.alarmed.has(sym)) continue;
            s.alarmed.add(sym);
            s.status.silenceAlarms++;
            log?.error({ symbol: sym, silentMs: quiet, boundMs: opts.silenceMs }, `ALARM: feed for ${sym} silent for ${quiet} ms (bound ${opts.silenceMs} ms); its book is stale`);
            ctx.tell<FeedDown>(bookOf(sym), { type: 'feed-down', symbol: sym, reason: `stream silent for ${quiet} ms (bound ${opts.silenceMs} ms)` });
          }
          // Every stream silent: the connection itself is dead (half-open TCP); drop it and reconnect.
          if (silent === opts.symbols.length && now - (Math.max(...s.lastMsgAt.values()) || now) > 2 * opts.silenceMs) s.ws?.terminate();
          return s;
        }
        case 'snapshot-request':
          if (subscribed.has(msg.symbol)) fetchSnapshot(s, ctx, msg.symbol);
          else bad(s, 'unknown-symbol', `snapshot requested for ${msg.symbol}, which is not subscribed`);
          return s;
        case 'snapshot-fetched':
          s.inflight.delete(msg.symbol);
          if (msg.snapshot) {
            s.status.snapshots.served++;
            ctx.tell(bookOf(msg.symbol), msg.snapshot);
          } else {
            s.status.snapshots.failed++;
            s.status.snapshots.lastError = msg.error;
            log?.warn({ symbol: msg.symbol, err: msg.error }, 'depth snapshot failed; the book asks again');
          }
          return s;
        case 'snapshot-rejected':
          s.status.snapshots.rejectedByBook++;
          s.status.snapshots.lastError = `${msg.symbol}: ${msg.reason}`;
          return s;
        case 'feed-status':
          ctx.reply<FeedStatus>(statusOf(s, opts));
          return s;
      }
    },

    stop(s) {
      s.stopping = true;
      s.ws?.terminate();
      s.ws = undefined;
    },

    summary: (s) => statusOf(s, opts),
  };
};

function statusOf(s: State, opts: FeedGatewayOptions): FeedStatus {
  const now = Date.now();
  const silentMs: Record<string, number | null> = {};
  for (const sym of opts.symbols) {
    const t = s.lastMsgAt.get(sym);
    silentMs[sym] = t === undefined ? null : Math.max(0, Math.round(now - t));
  }
  return { ...s.status, pausedReads: s.status.pausedReads + (s.inbox?.pausedReads ?? 0), connected: s.connected, ended: s.ended, bad: { ...s.status.bad }, snapshots: { ...s.status.snapshots }, byType: { ...s.status.byType }, silentMs };
}
