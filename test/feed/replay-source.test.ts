// The recorded-file source and the exchange book it feeds, on small hand-written files: what the
// server knows about a file comes from its streams, bad files are named by file:line, several
// files merge by receive time, and the snapshot endpoint serves the book as of now.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { FeedEvent } from '../../actors/feed/market-source.ts';
import { RecordedFileError } from '../../actors/feed/recorded-file.ts';
import { CLOSE_REPLAY_COMPLETE, ReplayServer } from '../../actors/feed/replay-server.ts';
import { ReplaySource } from '../../actors/feed/replay-source.ts';
import { collect, getJson } from './feed-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'replay-source-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function gz(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, gzipSync(lines.join('\n') + '\n'));
  return file;
}

const depth = (sym: string, U: number, u: number, pu: number | undefined, b: [string, string][], a: [string, string][]): string =>
  JSON.stringify({ stream: `${sym.toLowerCase()}@depth@0ms`, data: { e: 'depthUpdate', E: 1_700_000_000_000 + u, T: 1_700_000_000_000 + u, s: sym, U, u, ...(pu === undefined ? {} : { pu }), b, a } });
const trade = (sym: string, t: number): string => JSON.stringify({ stream: `${sym.toLowerCase()}@trade`, data: { e: 'trade', E: 1, T: 1, s: sym, t, p: '100.10', q: '0.001', m: true } });
const snapshot = (L: number): string =>
  JSON.stringify({ lastUpdateId: L, E: 1_700_000_000_007, T: 1_700_000_000_007, bids: [['100.10', '1.500'], ['100.00', '3.000']], asks: [['100.20', '2.000'], ['100.30', '1.000']] });

/** A tiny futures file: a diff older than the snapshot, the snapshot, a trade, two newer diffs. */
const tinyFutures = (sym = 'BTCUSDT', t0 = 1000): string[] => [
  `${t0} ${depth(sym, 5, 7, 4, [['100.10', '9.000']], [])}`,
  `${t0 + 10} ${snapshot(7)}`,
  `${t0 + 20} ${trade(sym, 1)}`,
  `${t0 + 30} ${depth(sym, 6, 9, 7, [['100.10', '0.000'], ['100.05', '0.700']], [['100.20', '1.250']])}`,
  `${t0 + 40} ${depth(sym, 10, 12, 9, [], [['100.40', '4.000']])}`,
];

async function drain(source: ReplaySource): Promise<FeedEvent[]> {
  const out: FeedEvent[] = [];
  for await (const ev of source.events()) out.push(ev);
  return out;
}

describe('ReplaySource', () => {
  it('takes the symbol, market, streams and decimals from the streams, not the file name', async () => {
    const source = await ReplaySource.open([gz('whatever-name.gz', tinyFutures('ETHUSDT'))]);
    expect(source.symbols).toHaveLength(1);
    const s = source.symbols[0];
    expect(s).toMatchObject({ symbol: 'ETHUSDT', market: 'usdm', streams: ['ethusdt@depth@0ms', 'ethusdt@trade', 'ethusdt@bookTicker'], precision: { priceDecimals: 2, qtyDecimals: 3 } });
    expect(s.snapshot.lastUpdateId).toBe(7);
    const events = await drain(source);
    expect(events.map((e) => e.kind)).toEqual(['depth', 'snapshot', 'trade', 'depth', 'depth']);
    expect(events[0]).toMatchObject({ recvNs: 1000n, stream: 'ethusdt@depth@0ms', symbol: 'ETHUSDT', withheld: false });
    expect(events[2].json).toBe(tinyFutures('ETHUSDT')[2].slice('1020 '.length));
  });

  it('reads a spot file (depth@100ms, no pu) as market spot', async () => {
    const lines = [
      `1 ${JSON.stringify({ stream: 'btcusdt@depth@100ms', data: { e: 'depthUpdate', E: 1, s: 'BTCUSDT', U: 3, u: 5, b: [['100.10000000', '1.00000000']], a: [] } })}`,
      `2 ${JSON.stringify({ lastUpdateId: 4, bids: [['100.10000000', '1.00000000']], asks: [['100.20000000', '1.00000000']] })}`,
    ];
    const source = await ReplaySource.open([gz('spot.gz', lines)]);
    expect(source.symbols[0]).toMatchObject({ symbol: 'BTCUSDT', market: 'spot', streams: ['btcusdt@depth@100ms', 'btcusdt@trade', 'btcusdt@bookTicker'], precision: { priceDecimals: 8, qtyDecimals: 8 } });
    await source.close();
  });

  it('merges several files by receive time, ties to the file named first', async () => {
    const a = gz('a.gz', tinyFutures('BTCUSDT', 1000));
    const b = gz('b.gz', tinyFutures('ETHUSDT', 1015));
    const events = await drain(await ReplaySource.open([a, b]));
    expect(events.map((e) => `${e.recvNs}:${e.symbol}`)).toEqual([
      '1000:BTCUSDT', '1010:BTCUSDT', '1015:ETHUSDT', '1020:BTCUSDT', '1025:ETHUSDT', '1030:BTCUSDT', '1035:ETHUSDT', '1040:BTCUSDT', '1045:ETHUSDT', '1055:ETHUSDT',
    ]);
    const c = gz('c.gz', tinyFutures('ETHUSDT', 1000));
    const tied = await drain(await ReplaySource.open([a, c]));
    expect(tied.slice(0, 2).map((e) => e.symbol)).toEqual(['BTCUSDT', 'ETHUSDT']);
  });

  it('withholds one diff every gapEvery diffs', async () => {
    const events = await drain(await ReplaySource.open([gz('gap.gz', tinyFutures())], { gapEvery: 2 }));
    expect(events.flatMap((e) => (e.kind === 'depth' ? [e.withheld] : []))).toEqual([false, true, false]);
  });

  it.each([
    ['a line without a receive time', [`{"stream":"btcusdt@trade","data":{}}`], 'x.gz:1: expected "<receive time ns> <JSON>"'],
    ['an unknown stream', [`1 {"stream":"btcusdt@aggTrade","data":{}}`], 'x.gz:1: unknown stream "btcusdt@aggTrade"'],
    ['two symbols in one file', [...tinyFutures().slice(0, 3), `1025 ${trade('ETHUSDT', 2)}`], 'x.gz:4: stream "ethusdt@trade" is not for BTCUSDT'],
    ['no snapshot', [tinyFutures()[0], tinyFutures()[2]], 'x.gz:2: no REST depth snapshot line'],
    ['a malformed depth diff', [...tinyFutures(), `2000 ${depth('BTCUSDT', 13, 14, 12, [['abc', '1.000']], [])}`], 'x.gz:6: price "b[0][0]" = "abc"'],
    ['not JSON', [...tinyFutures().slice(0, 2), '1500 {"lastUpdateId": nope'], 'x.gz:3: depth snapshot for BTCUSDT is not JSON'],
  ])('names file:line for %s', async (_what, lines, message) => {
    const file = gz('x.gz', lines);
    const error = await (async () => {
      try {
        await drain(await ReplaySource.open([file]));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(RecordedFileError);
    expect((error as Error).message).toContain(message.replace('x.gz', file));
  });

  it('refuses a missing file and two files of one symbol', async () => {
    await expect(ReplaySource.open([join(dir, 'missing.gz')])).rejects.toThrow(/missing\.gz:0: cannot read the file \(ENOENT\)/);
    const a = gz('a1.gz', tinyFutures());
    const b = gz('b1.gz', tinyFutures());
    await expect(ReplaySource.open([a, b])).rejects.toThrow(/b1\.gz:1: symbol BTCUSDT is already replayed from .*a1\.gz/);
  });
});

describe('the exchange book behind the snapshot endpoint', () => {
  let server: ReplayServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves the file snapshot first, then the book as of the last diff streamed, with the file decimals', async () => {
    server = await ReplayServer.start(await ReplaySource.open([gz('book.gz', tinyFutures())]), { speed: 'max', log: () => {} });
    const before = await getJson<{ lastUpdateId: number; bids: string[][]; asks: string[][] }>(`${server.httpUrl}/fapi/v1/depth?symbol=BTCUSDT`);
    expect(before.body).toMatchObject({ lastUpdateId: 7, E: 1_700_000_000_007, bids: [['100.10', '1.500'], ['100.00', '3.000']], asks: [['100.20', '2.000'], ['100.30', '1.000']] });

    const got = await collect(server.streamUrl());
    expect(got.code).toBe(CLOSE_REPLAY_COMPLETE);
    expect(got.messages).toHaveLength(4); // every stream line; the snapshot line is not a stream message

    // The diff with u=7 is in the snapshot already; u=9 and u=12 are applied.
    const after = await getJson(`${server.httpUrl}/fapi/v1/depth?symbol=btcusdt&limit=2`);
    expect(after.body).toEqual({
      lastUpdateId: 12,
      E: 1_700_000_000_012,
      T: 1_700_000_000_012,
      bids: [['100.05', '0.700'], ['100.00', '3.000']],
      asks: [['100.20', '1.250'], ['100.30', '1.000']],
    });
    const spot = await getJson(`${server.httpUrl}/api/v3/depth?symbol=BTCUSDT&limit=1`);
    expect(spot.body).toEqual({ lastUpdateId: 12, bids: [['100.05', '0.700']], asks: [['100.20', '1.250']] });
  });

  it('applies a withheld diff to the book but does not send it', async () => {
    server = await ReplayServer.start(await ReplaySource.open([gz('book-gap.gz', tinyFutures())], { gapEvery: 3 }), { speed: 'max', log: () => {} });
    const got = await collect(server.streamUrl(['btcusdt@depth@0ms']));
    expect(got.messages.map((m) => (JSON.parse(m) as { data: { u: number } }).data.u)).toEqual([7, 9]);
    const after = await getJson<{ lastUpdateId: number }>(`${server.httpUrl}/fapi/v1/depth?symbol=BTCUSDT`);
    expect(after.body.lastUpdateId).toBe(12);
    expect(server.status()).toMatchObject({ diffsWithheld: 1, state: 'complete', done: true });
  });

  it('closes clients with 1011 naming file:line when the file turns bad mid-replay', async () => {
    const file = gz('bad-late.gz', [...tinyFutures(), '2000 not json at all']);
    server = await ReplayServer.start(await ReplaySource.open([file]), { speed: 'max', log: () => {} });
    const got = await collect(server.streamUrl());
    expect(got.messages).toHaveLength(4);
    expect(got.code).toBe(1011);
    expect(got.reason).toContain(':6: not JSON');
    const end = await server.finished;
    expect(end.kind).toBe('failed');
    expect(server.status().error).toContain(`${file}:6:`);
  });
});
