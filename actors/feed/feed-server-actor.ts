// The market data server as an actor, so a topology can run it on a node of its own (the
// simulated exchange's node): the synthetic feed by default, or a replay of recorded files. It
// serves Binance's combined-stream WebSocket and REST depth (replay-server.ts) and, with a `venue:`
// options block, the simulated venue's order entry on the same port (actors/venue/venue-server.ts):
// the market data and the venue are one exchange.
import type { Behavior } from '../../runtime/actor.ts';
import type { KindContext } from '../../runtime/kind-registry.ts';
import { createLogger } from '../../runtime/log.ts';
import type { MarketSource } from './market-source.ts';
import { ReplayServer, type ReplaySpeed, type ReplayStatus } from './replay-server.ts';
import { ReplaySource } from './replay-source.ts';
import { SyntheticFeed, SYNTHETIC_DEFAULT_SYMBOLS } from './synthetic-feed.ts';
import { VenueServer, venueServerOptions, type VenueServerOptions, type VenueServerStatus } from '../venue/venue-server.ts';

/** What a market data server serves and where: the same for `rt feed` and the `feed-server` kind. */
export interface MarketServerConfig {
  /** recorded files to replay; none: the synthetic market */
  files: string[];
  speed: ReplaySpeed;
  host: string;
  port: number;
  /** synthetic only */
  symbols: string[];
  seed: number;
  diffsPerSecond?: number;
  /** withhold one diff every N per symbol (0: never) */
  gapEvery: number;
  startNow?: boolean;
  /** replay: pause after each symbol's first diff until its snapshot is asked for (ReplayServerOptions.syncStart) */
  syncStart?: boolean;
}

export type FeedServerOptions = MarketServerConfig & {
  source: 'synthetic' | 'replay';
  /** the simulated venue on the same port (`venue:` block); absent: market data only */
  venue?: Omit<VenueServerOptions, 'log'>;
};

export function feedServerOptions(ctx: KindContext): FeedServerOptions {
  const o = ctx.options as Record<string, unknown>;
  const where = `actor ${ctx.address}: options`;
  const source = o.source ?? 'synthetic';
  if (source !== 'synthetic' && source !== 'replay') throw new TypeError(`${where}.source: expected synthetic or replay, got ${JSON.stringify(source)}`);
  const files = o.files ?? [];
  if (!Array.isArray(files) || !files.every((f) => typeof f === 'string' && f !== '')) throw new TypeError(`${where}.files: expected a list of recorded file paths, got ${JSON.stringify(files)}`);
  if (source === 'replay' && files.length === 0) throw new TypeError(`${where}.files: expected at least one recorded file when source is replay`);
  const speed = o.speed ?? 1;
  if (speed !== 'max' && !(typeof speed === 'number' && speed > 0 && Number.isFinite(speed))) throw new TypeError(`${where}.speed: expected a number > 0 or "max", got ${JSON.stringify(speed)}`);
  const host = o.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw new TypeError(`${where}.host: expected an address to bind, got ${JSON.stringify(host)}`);
  const int = (k: string, dflt: number, min: number, max: number): number => {
    const v = o[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new TypeError(`${where}.${k}: expected an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
    return v;
  };
  const symbols = o.symbols ?? [...SYNTHETIC_DEFAULT_SYMBOLS];
  if (!Array.isArray(symbols) || !symbols.every((s) => typeof s === 'string')) throw new TypeError(`${where}.symbols: expected a list of symbols, got ${JSON.stringify(symbols)}`);
  const port = int('port', 9400, 0, 65535);
  const syncStart = o.sync_start ?? source === 'replay';
  if (typeof syncStart !== 'boolean') throw new TypeError(`${where}.sync_start: expected true or false, got ${JSON.stringify(syncStart)}`);
  const venue = venueServerOptions(`${where}.venue`, o.venue, port);
  return {
    source,
    ...(venue ? { venue } : {}),
    files: files as string[],
    speed,
    host,
    port,
    symbols: symbols as string[],
    seed: int('seed', 1, -(2 ** 31), 2 ** 31 - 1),
    gapEvery: int('gap_every', 0, 0, 1_000_000_000),
    diffsPerSecond: int('diffs_per_s', 50, 1, 100_000),
    syncStart,
  };
}

/** Recorded files when there are any, else the seeded synthetic market. */
export async function openSource(o: MarketServerConfig): Promise<MarketSource> {
  return o.files.length > 0
    ? ReplaySource.open(o.files, { gapEvery: o.gapEvery })
    : new SyntheticFeed({ symbols: o.symbols, seed: o.seed, gapEvery: o.gapEvery, diffsPerSecond: o.diffsPerSecond });
}

export type FeedServerStatusRequest = { type: 'feed-server-status' };
type Started = { type: 'started'; server: ReplayServer; venue: VenueServer | undefined };
type StartFailed = { type: 'start-failed'; error: Error };
type Ended = { type: 'ended'; how: string };
type VenueGauges = { type: 'venue-gauges' };
type Msg = FeedServerStatusRequest | Started | StartFailed | Ended | VenueGauges;

/** how often the venue's fills and positions are published as gauges (exchange.fills, exchange.position.<SYMBOL>) */
const VENUE_GAUGES_INTERVAL_MS = 250;

interface State {
  server: ReplayServer | undefined;
  venue: VenueServer | undefined;
  closed: boolean;
}

export interface FeedServerStatusReply {
  type: 'feed-server-status-reply';
  status: ReplayStatus | undefined;
  /** the venue's status when it runs here */
  venue?: VenueServerStatus;
}

export const feedServer = (opts: FeedServerOptions): Behavior<Msg, State> => ({
  init(ctx) {
    const self = ctx.self;
    const s: State = { server: undefined, venue: undefined, closed: false };
    const log = createLogger({ node: ctx.system.node, actor: ctx.self.address });
    openSource(opts)
      .then((source) => ReplayServer.start(source, { host: opts.host, port: opts.port, speed: opts.speed, syncStart: opts.syncStart, log: (line) => log.info(line) }))
      .then(
        (server) => {
          // Stopped (or restarted) while starting: do not leak the port.
          if (s.closed) return void server.close();
          let venue: VenueServer | undefined;
          try {
            venue = opts.venue && VenueServer.start(server, { ...opts.venue, log: (line) => log.info(line) });
          } catch (e) {
            void server.close();
            return void self.tell({ type: 'start-failed', error: new Error(`venue: ${e instanceof Error ? e.message : String(e)}`) });
          }
          log.info({ ws: server.streamUrl([]), source: server.status().source, venue: venue?.url }, venue ? 'exchange listening: market data and venue' : 'market data server listening');
          void server.finished.then((end) => self.tell({ type: 'ended', how: end.kind }));
          self.tell({ type: 'started', server, venue });
        },
        (e: unknown) => self.tell({ type: 'start-failed', error: e instanceof Error ? e : new Error(String(e)) }),
      );
    return s;
  },
  receive(s, msg, ctx) {
    switch (msg.type) {
      case 'started':
        s.server = msg.server;
        s.venue = msg.venue;
        if (s.venue) ctx.timers.startPeriodic('venue-gauges', { type: 'venue-gauges' }, VENUE_GAUGES_INTERVAL_MS);
        return s;
      case 'venue-gauges': {
        if (!s.venue) return s;
        const p = s.venue.engine.positions();
        ctx.system.gauges.set('exchange.fills', p.fills);
        for (const [symbol, qty] of Object.entries(p.positions)) ctx.system.gauges.set(`exchange.position.${symbol}`, qty);
        return s;
      }
      case 'start-failed':
        throw new Error(`market data server on ${opts.host}:${opts.port} could not start: ${msg.error.message}`);
      case 'ended':
        return s;
      case 'feed-server-status':
        ctx.reply<FeedServerStatusReply>({ type: 'feed-server-status-reply', status: s.server?.status(), ...(s.venue ? { venue: s.venue.status() } : {}) });
        return s;
    }
  },
  stop(s) {
    s.closed = true;
    // The market server closes its mounts (the venue) first.
    return s.server?.close();
  },
  summary: (s) => (s.server ? { ...s.server.status(), ...(s.venue ? { venue: s.venue.status() } : {}) } : { state: 'starting' }),
});
