// The replay server over the real recorded Binance files in ../shared/data/binance/: every line in
// order, several files merged by receive time, the spot format, a snapshot endpoint a client can
// sync from, real pacing, bounded buffering for clients that do not read, and clear refusals.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDepthSnapshot, parseStreamMessage } from '../../actors/feed/binance-format.ts';
import type { DepthDiff, Market } from '../../actors/feed/market-data.ts';
import { isSnapshotLine, readRecorded, SHARED_DATA_DIR, sharedDataFile } from '../../actors/feed/recorded-file.ts';
import { CLOSE_REASON_REPLAY_COMPLETE, CLOSE_REPLAY_COMPLETE, ReplayServer, type ReplayServerOptions } from '../../actors/feed/replay-server.ts';
import { ReplaySource } from '../../actors/feed/replay-source.ts';
import { collect, getJson, numeric, refusedHandshake, syncBook } from './feed-client.ts';

const USDM_BTC = sharedDataFile('usdm-btcusdt_20240808.gz');
const USDM_ETH = sharedDataFile('usdm-ethusdt_20240808.gz');
const SPOT_BTC = sharedDataFile('spot-btcusdt_20240808.gz');
const missing = !USDM_BTC || !USDM_ETH || !SPOT_BTC;
if (missing) {
  console.warn(
    `test/feed/replay-server.test.ts: SKIPPING the recorded-data tests: ${SHARED_DATA_DIR}{usdm-btcusdt,usdm-ethusdt,spot-btcusdt}_20240808.gz not found. ` +
      'CI has ../shared/data beside the checkout; a fresh clone does not (see ../shared/data/README.md).',
  );
}
const file = (f: string | undefined): string => {
  if (!f) throw new Error('recorded file missing');
  return f;
};

interface Line {
  ns: bigint;
  json: string;
}
async function streamLines(f: string): Promise<Line[]> {
  const out: Line[] = [];
  for await (const l of readRecorded(f)) if (!isSnapshotLine(l.json)) out.push({ ns: l.recvNs, json: l.json });
  return out;
}

/** Index of the first difference, -1 when equal (a readable failure for 100k-line arrays). */
function firstDifference(got: readonly string[], want: readonly string[]): number {
  for (let i = 0; i < Math.max(got.length, want.length); i++) if (got[i] !== want[i]) return i;
  return -1;
}

let server: ReplayServer | undefined;
async function serve(files: string[], options: ReplayServerOptions): Promise<ReplayServer> {
  server = await ReplayServer.start(await ReplaySource.open(files), { log: () => {}, ...options });
  return server;
}
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe.skipIf(missing)('replay server over recorded Binance data', () => {
  it('sends every stream line of a file, as recorded and in order, at max speed, then closes 4000 "replay complete"', async () => {
    const want = await streamLines(file(USDM_BTC));
    const s = await serve([file(USDM_BTC)], { speed: 'max' });
    const got = await collect(s.streamUrl());
    expect(firstDifference(got.messages, want.map((l) => l.json))).toBe(-1);
    expect(got.code).toBe(CLOSE_REPLAY_COMPLETE);
    expect(got.reason).toBe(CLOSE_REASON_REPLAY_COMPLETE);
    expect(s.status()).toMatchObject({ state: 'complete', done: true, eventsReplayed: want.length + 1, messagesSent: want.length });
  });

  it('merges two files by receive time and serves both symbols, each client only its streams', async () => {
    const [btc, eth] = await Promise.all([streamLines(file(USDM_BTC)), streamLines(file(USDM_ETH))]);
    const merged: string[] = [];
    for (let i = 0, j = 0; i < btc.length || j < eth.length; ) {
      if (j >= eth.length || (i < btc.length && btc[i].ns <= eth[j].ns)) merged.push(btc[i++].json);
      else merged.push(eth[j++].json);
    }
    const s = await serve([file(USDM_BTC), file(USDM_ETH)], { speed: 'max', startAfterClients: 2 });
    expect(s.status().symbols.map((x) => x.symbol)).toEqual(['BTCUSDT', 'ETHUSDT']);
    const [all, ethTrades] = await Promise.all([collect(s.streamUrl()), collect(s.streamUrl(['ethusdt@trade']))]);
    expect(firstDifference(all.messages, merged)).toBe(-1);
    expect(firstDifference(ethTrades.messages, eth.filter((l) => l.json.startsWith('{"stream":"ethusdt@trade"')).map((l) => l.json))).toBe(-1);
    expect(all.code).toBe(CLOSE_REPLAY_COMPLETE);
    expect(ethTrades.code).toBe(CLOSE_REPLAY_COMPLETE);
  });

  it('serves the spot file: depth@100ms without pu, and /api/v3/depth without E/T', async () => {
    const s = await serve([file(SPOT_BTC)], { speed: 'max' });
    expect(s.status().symbols[0]).toMatchObject({ symbol: 'BTCUSDT', market: 'spot', streams: ['btcusdt@depth@100ms', 'btcusdt@trade', 'btcusdt@bookTicker'] });
    const snap = await getJson<Record<string, unknown>>(`${s.httpUrl}/api/v3/depth?symbol=BTCUSDT&limit=5`);
    expect(Object.keys(snap.body)).toEqual(['lastUpdateId', 'bids', 'asks']);
    expect((snap.body.bids as string[][])[0][0]).toMatch(/^\d+\.\d{8}$/);
    const got = await collect(`${s.wsUrl}/stream?streams=btcusdt@depth@100ms`);
    expect(got.messages.length).toBe(3451);
    const first = JSON.parse(got.messages[0]) as { stream: string; data: Record<string, unknown> };
    expect(first.stream).toBe('btcusdt@depth@100ms');
    expect(first.data).not.toHaveProperty('pu');
    expect(got.code).toBe(CLOSE_REPLAY_COMPLETE);
  });

  it.each<[string, () => string | undefined, Market, string]>([
    ['futures', () => USDM_BTC, 'usdm', '/fapi/v1/depth'],
    ['spot', () => SPOT_BTC, 'spot', '/api/v3/depth'],
  ])('%s: a client syncing by Binance\'s procedure from the snapshot served before or during the replay ends with the server\'s book', async (_name, f, market, path) => {
    const s = await serve([file(f())], { speed: 'max' });
    const symbol = 'BTCUSDT';
    const depthStream = s.status().symbols[0].streams[0];
    const snapshotUrl = `${s.httpUrl}${path}?symbol=${symbol}&limit=5000`;
    const before = (await getJson<unknown>(snapshotUrl)).body;
    let during: Promise<unknown> | undefined;
    const got = await collect(s.streamUrl([depthStream]), (_text, n) => {
      if (n === 1000) during = getJson<unknown>(snapshotUrl).then((r) => r.body);
    });
    expect(got.code).toBe(CLOSE_REPLAY_COMPLETE);
    const diffs = got.messages.map((m) => parseStreamMessage(m, 0) as DepthDiff);
    const final = (await getJson<{ lastUpdateId: number; bids: [string, string][]; asks: [string, string][] }>(snapshotUrl)).body;
    expect(final.lastUpdateId).toBe(diffs[diffs.length - 1].u);
    const duringBody = await during;
    expect(duringBody).toBeDefined();
    for (const snap of [before, duringBody]) {
      const parsed = parseDepthSnapshot(symbol, JSON.stringify(snap));
      const { book, applied } = syncBook(parsed, diffs, market);
      expect(applied).toBeGreaterThan(0);
      // The recorded futures book grows past 5000 levels a side (deep levels are never deleted): compare what the endpoint serves.
      expect(book.levels(5000)).toEqual({ bids: numeric(final.bids), asks: numeric(final.asks) });
    }
    expect(parseDepthSnapshot(symbol, JSON.stringify(duringBody)).lastUpdateId).toBeGreaterThan(parseDepthSnapshot(symbol, JSON.stringify(before)).lastUpdateId);
  });

  it('paces: at speed 500 the replay takes at least the recorded span / 500', async () => {
    const lines: bigint[] = [];
    for await (const l of readRecorded(file(SPOT_BTC))) lines.push(l.recvNs);
    const spanMs = Number(lines[lines.length - 1] - lines[0]) / 1e6;
    const speed = 500;
    const s = await serve([file(SPOT_BTC)], { speed });
    const t0 = performance.now();
    const got = await collect(s.streamUrl(['btcusdt@bookTicker']));
    const elapsedMs = performance.now() - t0;
    expect(got.code).toBe(CLOSE_REPLAY_COMPLETE);
    expect(elapsedMs).toBeGreaterThanOrEqual(spanMs / speed - 20);
    expect(elapsedMs).toBeLessThan(spanMs / speed + 5_000);
  });

  it('paced: a client that stops reading is disconnected (4001) once over clientLagMaxBytes; the others get everything', async () => {
    const s = await serve([file(USDM_BTC)], { speed: 100_000, clientLagMaxBytes: 256 * 1024, startAfterClients: 2 });
    const stuck = await stuckClient(s.port, '/stream?streams=btcusdt@depth@0ms/btcusdt@bookTicker/btcusdt@trade');
    const reader = await collect(s.streamUrl(['btcusdt@trade']));
    expect(reader.code).toBe(CLOSE_REPLAY_COMPLETE);
    expect(reader.messages.length).toBe(21_313);
    expect(s.status().clientsDroppedSlow).toBe(1);
    stuck.destroy();
  });

  it('max speed: the replay pauses for a client that stops reading, drops it after clientStallMaxMs, then completes', async () => {
    const s = await serve([file(USDM_BTC)], { speed: 'max', clientBufferMaxBytes: 256 * 1024, clientStallMaxMs: 300, startNow: false });
    const stuck = await stuckClient(s.port, '/stream?streams=btcusdt@depth@0ms/btcusdt@bookTicker/btcusdt@trade');
    const end = await s.finished;
    expect(end.kind).toBe('complete');
    const st = s.status();
    expect(st.clientsDroppedSlow).toBe(1);
    expect(st.backpressurePauses).toBeGreaterThanOrEqual(1);
    stuck.destroy();
  });

  it('refuses unknown streams (400, naming them) and bad depth requests (Binance error codes)', async () => {
    const s = await serve([file(USDM_BTC)], { speed: 'max' });
    const refused = await refusedHandshake(`${s.wsUrl}/stream?streams=btcusdt@trade/dogeusdt@trade/btcusdt@kline_1m`);
    expect(refused.status).toBe(400);
    expect(refused.body.msg).toContain('unknown streams dogeusdt@trade, btcusdt@kline_1m');
    expect(refused.body.msg).toContain('btcusdt@depth@0ms');
    expect((await refusedHandshake(`${s.wsUrl}/stream?streams=`)).status).toBe(400);
    expect((await refusedHandshake(`${s.wsUrl}/nowhere`)).status).toBe(404);
    expect(await getJson(`${s.httpUrl}/fapi/v1/depth?symbol=DOGEUSDT`)).toEqual({ status: 400, body: { code: -1121, msg: 'Invalid symbol.' } });
    expect((await getJson<{ code: number }>(`${s.httpUrl}/fapi/v1/depth`)).body.code).toBe(-1102);
    const badLimit = await getJson<{ code: number; msg: string }>(`${s.httpUrl}/fapi/v1/depth?symbol=BTCUSDT&limit=5001`);
    expect(badLimit).toMatchObject({ status: 400, body: { code: -1100 } });
    expect(badLimit.body.msg).toContain('1..5000');
    expect((await getJson(`${s.httpUrl}/stream?streams=btcusdt@trade`)).status).toBe(426);
    // Neither refusals nor REST requests start the replay.
    expect((await getJson<{ state: string; clients: number }>(`${s.httpUrl}/status`)).body).toMatchObject({ state: 'waiting', clients: 0 });
  });

  it('serves raw streams at /ws/<stream> (the envelope\'s data only) and case-insensitive symbols', async () => {
    const s = await serve([file(SPOT_BTC)], { speed: 'max', startAfterClients: 2 });
    const [raw, combined] = await Promise.all([collect(`${s.wsUrl}/ws/btcusdt@trade`), collect(`${s.wsUrl}/stream?streams=BTCUSDT@trade`)]);
    expect(raw.messages.length).toBe(combined.messages.length);
    expect(raw.messages.length).toBeGreaterThan(9_000);
    expect(raw.messages[0]).toBe(JSON.stringify((JSON.parse(combined.messages[0]) as { data: unknown }).data));
  });
});

/** Does the WebSocket handshake by hand, then never reads: the server's buffer for it grows. */
async function stuckClient(port: number, path: string): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.pause();
  socket.on('error', () => {});
  return socket;
}
