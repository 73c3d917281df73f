// `rt feed`: flags are checked (a bad one is named, exit 2), a recorded replay that completes ends
// the command with 0, and a real process serving the synthetic market stops cleanly on SIGINT.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { feedCommand, FeedUsageError, parseFeedArgs } from '../../actors/feed/feed-command.ts';
import { sharedDataFile } from '../../actors/feed/recorded-file.ts';

const SPOT_BTC = sharedDataFile('spot-btcusdt_20240808.gz');
if (!SPOT_BTC) console.warn('test/feed/feed-command.test.ts: SKIPPING the recorded replay run: ../shared/data/binance/spot-btcusdt_20240808.gz not found (CI has it beside the checkout).');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('rt feed flags', () => {
  it('defaults to the synthetic market at recorded pace on 127.0.0.1:9400', () => {
    expect(parseFeedArgs([])).toEqual({ files: [], speed: 1, host: '127.0.0.1', port: 9400, symbols: ['BTCUSDT', 'ETHUSDT'], seed: 1, gapEvery: 0, startNow: false });
    expect(parseFeedArgs(['--file', 'a.gz', '--file', 'b.gz', '--speed', 'max', '--port', '0', '--start-now', '--gap-every', '50'])).toMatchObject({ files: ['a.gz', 'b.gz'], speed: 'max', port: 0, startNow: true, gapEvery: 50 });
    expect(parseFeedArgs(['--synthetic', '--symbols', 'solusdt,XRPUSDT', '--seed', '7', '--speed', '2.5'])).toMatchObject({ symbols: ['SOLUSDT', 'XRPUSDT'], seed: 7, speed: 2.5 });
  });

  it.each([
    [['--speed', 'fast'], /--speed fast: expected a number > 0 .* or max/],
    [['--speed', '0'], /--speed 0: expected a number > 0/],
    [['--port', '70000'], /--port 70000: expected an integer in 0\.\.65535/],
    [['--gap-every', '1.5'], /--gap-every 1.5: expected an integer in 0\.\./],
    [['--gap-every=-1'], /--gap-every -1: expected an integer/],
    [['--symbols', 'BTCUSDT,DOGEUSDT'], /--symbols BTCUSDT,DOGEUSDT: unknown DOGEUSDT: expected a comma-separated list of BTCUSDT, ETHUSDT/],
    [['--synthetic', '--file', 'a.gz'], /--synthetic and --file: expected one source/],
    [['--file', 'a.gz', '--seed', '3'], /--seed applies to the synthetic market only/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--port'], /--port.*argument missing/],
  ])('refuses %j, naming the flag', (args, message) => {
    expect(() => parseFeedArgs(args)).toThrow(FeedUsageError);
    expect(() => parseFeedArgs(args)).toThrow(message);
  });

  it('exits 2 on a bad flag, with the reason and the usage on stderr', async () => {
    let err = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((err += String(chunk)), true));
    expect(await feedCommand(['--speed', 'fast'])).toBe(2);
    expect(err).toContain('rt feed: --speed fast: expected');
    expect(err).toContain('usage: rt feed');
  });

  it('exits 1 naming the file when a recorded file cannot be read', async () => {
    let err = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((err += String(chunk)), true));
    expect(await feedCommand(['--file', '/nonexistent/x.gz', '--port', '0'])).toBe(1);
    expect(err).toContain('/nonexistent/x.gz:0: cannot read the file (ENOENT)');
  });
});

describe('rt feed runs', () => {
  it.skipIf(!SPOT_BTC)('prints the URLs and symbols, and exits 0 when the recorded replay completes', async () => {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await feedCommand(['--file', SPOT_BTC ?? '', '--speed', 'max', '--start-now', '--port', '0'])).toBe(0);
    expect(out).toMatch(/^rt feed: replay BTCUSDT \(spot\); ws ws:\/\/127\.0\.0\.1:\d+\/stream\?streams=btcusdt@depth@100ms\/btcusdt@trade\/btcusdt@bookTicker ; http http:\/\/127\.0\.0\.1:\d+\/fapi\/v1\/depth\?symbol=BTCUSDT/);
    expect(out.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('a real `rt feed --synthetic` process streams to a client and stops on SIGINT with exit 0, closing the client with 1001', async () => {
    const command = fileURLToPath(new URL('../../actors/feed/feed-command.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', `const { feedCommand } = await import(${JSON.stringify(command)}); process.exitCode = await feedCommand(process.argv.slice(1));`, '--', '--synthetic', '--port', '0', '--speed', '10'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /ws (ws:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`rt feed exited ${code} before printing its URL`)));
      });
      const ws = new WebSocket(url);
      const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
      let messages = 0;
      await new Promise<void>((resolve) =>
        ws.on('message', () => {
          if (++messages === 50) resolve();
        }),
      );
      child.kill('SIGINT');
      expect(await closed).toBe(1001);
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
