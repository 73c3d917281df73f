// `rt feed`: run the market-data server on recorded files or on the synthetic market.
// Exit codes: 0 stopped by SIGINT/SIGTERM or the replay completed, 1 a bad recorded file or a
// failed replay, 2 usage (the message names the flag and what it expects).
import { parseArgs } from 'node:util';
import { RecordedFileError } from './recorded-file.ts';
import { ReplayServer, type ReplaySpeed } from './replay-server.ts';
import { type MarketServerConfig, openSource } from './feed-server-actor.ts';
import { SYNTHETIC_DEFAULT_SYMBOLS, SYNTHETIC_SYMBOLS } from './synthetic-feed.ts';
import type { MarketSource } from './market-source.ts';

export const FEED_USAGE = `usage: rt feed [--file <recorded.gz>]... [--speed 1|10|<factor>|max] [--host 127.0.0.1] [--port 9400]
               [--synthetic] [--symbols BTCUSDT,ETHUSDT] [--seed N] [--gap-every N] [--start-now]

  Serves market data the way Binance does: WebSocket combined streams at /stream?streams=...
  (raw streams at /ws/<stream>), REST depth snapshots at /fapi/v1/depth and /api/v3/depth
  (as of now in replay time), and /status.

  --file F        a recorded file (repeat for several symbols; merged by receive time);
                  without --file the synthetic market is served
  --synthetic     serve the seeded synthetic market (USD-M futures protocol)
  --symbols S,S   synthetic symbols (default ${SYNTHETIC_DEFAULT_SYMBOLS.join(',')}; known: ${Object.keys(SYNTHETIC_SYMBOLS).join(',')})
  --seed N        synthetic seed (default 1): the same seed gives the same market
  --gap-every N   withhold one depth diff every N per symbol, so clients must resync (default 0: never)
  --speed X       recorded pace times X (default 1), or max: as fast as the slowest client reads
  --host H        default 127.0.0.1
  --port P        default 9400 (0: any free port)
  --start-now     start the replay clock now instead of at the first client

  A recorded replay that ends closes every client with code 4000 "replay complete" and exits 0.
`;

export const FEED_DEFAULT_PORT = 9400;

/** What the flags ask for, validated. */
export type FeedConfig = MarketServerConfig & { startNow: boolean };

export class FeedUsageError extends Error {
  override name = 'FeedUsageError';
}

/** Parses and validates the flags of `rt feed`. Throws FeedUsageError naming the flag. */
export function parseFeedArgs(args: string[]): FeedConfig | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        file: { type: 'string', multiple: true },
        speed: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        synthetic: { type: 'boolean' },
        symbols: { type: 'string' },
        seed: { type: 'string' },
        'gap-every': { type: 'string' },
        'start-now': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new FeedUsageError((e as Error).message);
  }
  if (values.help) return 'help';
  const files = values.file ?? [];
  if (values.synthetic && files.length > 0) throw new FeedUsageError('--synthetic and --file: expected one source, either recorded files or the synthetic market');
  const synthetic = files.length === 0;
  if (!synthetic) {
    for (const flag of ['symbols', 'seed'] as const) {
      if (values[flag] !== undefined) throw new FeedUsageError(`--${flag} applies to the synthetic market only: recorded files bring their own symbols`);
    }
  }
  const symbols = values.symbols === undefined ? [...SYNTHETIC_DEFAULT_SYMBOLS] : values.symbols.split(',').map((s) => s.trim().toUpperCase());
  const unknown = symbols.filter((s) => !SYNTHETIC_SYMBOLS[s]);
  if (unknown.length > 0 || symbols.length === 0) {
    throw new FeedUsageError(`--symbols ${values.symbols}: ${unknown.length ? `unknown ${unknown.join(',')}` : 'empty'}: expected a comma-separated list of ${Object.keys(SYNTHETIC_SYMBOLS).join(', ')}`);
  }
  if (new Set(symbols).size !== symbols.length) throw new FeedUsageError(`--symbols ${values.symbols}: expected each symbol once`);
  return {
    files,
    speed: parseSpeed(values.speed),
    host: values.host ?? '127.0.0.1',
    port: integerFlag('port', values.port, FEED_DEFAULT_PORT, 0, 65_535),
    symbols,
    seed: integerFlag('seed', values.seed, 1, 0, Number.MAX_SAFE_INTEGER),
    gapEvery: integerFlag('gap-every', values['gap-every'], 0, 0, Number.MAX_SAFE_INTEGER),
    startNow: values['start-now'] ?? false,
  };
}

function parseSpeed(text: string | undefined): ReplaySpeed {
  if (text === undefined) return 1;
  if (text === 'max') return 'max';
  const x = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(x > 0 && Number.isFinite(x))) throw new FeedUsageError(`--speed ${text}: expected a number > 0 (1 = recorded pace, 10 = ten times faster) or max`);
  return x;
}

function integerFlag(flag: string, text: string | undefined, dflt: number, min: number, max: number): number {
  if (text === undefined) return dflt;
  const x = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(Number.isSafeInteger(x) && x >= min && x <= max)) throw new FeedUsageError(`--${flag} ${text}: expected an integer in ${min}..${max}`);
  return x;
}

/** `rt feed ...`: runs until SIGINT/SIGTERM, or until a recorded replay completes. */
export async function feedCommand(args: string[]): Promise<number> {
  let config: FeedConfig | 'help';
  try {
    config = parseFeedArgs(args);
  } catch (e) {
    if (!(e instanceof FeedUsageError)) throw e;
    process.stderr.write(`rt feed: ${e.message}\n${FEED_USAGE}`);
    return 2;
  }
  if (config === 'help') {
    process.stdout.write(FEED_USAGE);
    return 0;
  }

  let source: MarketSource;
  try {
    source = await openSource(config);
  } catch (e) {
    if (!(e instanceof RecordedFileError)) throw e;
    process.stderr.write(`rt feed: ${e.message}\n`);
    return 1;
  }

  let server: ReplayServer;
  try {
    server = await ReplayServer.start(source, {
      host: config.host,
      port: config.port,
      speed: config.speed,
      startNow: config.startNow,
      log: (line) => process.stderr.write(`rt feed: ${line}\n`),
    });
  } catch (e) {
    await source.close();
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') {
      process.stderr.write(`rt feed: cannot listen on ${config.host}:${config.port} (${err.code}): expected a free port (--port) on a local address (--host)\n`);
      return 1;
    }
    throw e;
  }

  const symbols = source.symbols.map((s) => `${s.symbol} (${s.market})`).join(', ');
  const start = config.startNow ? 'started' : 'starts on the first client';
  process.stdout.write(
    `rt feed: ${source.kind} ${symbols}; ws ${server.streamUrl()} ; http ${server.httpUrl}/fapi/v1/depth?symbol=${source.symbols[0].symbol} (and /api/v3/depth, /status); speed ${config.speed}, ${start}\n`,
  );

  let stopSignal: (signal: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => (stopSignal = resolve));
  const onSignal = (signal: NodeJS.Signals): void => stopSignal(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const end = await Promise.race([server.finished, stopped]);
    if (typeof end === 'string') {
      process.stderr.write(`rt feed: ${end}, closing\n`);
      return 0;
    }
    if (end.kind === 'failed') return 1;
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await server.close();
  }
}
