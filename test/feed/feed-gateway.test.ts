// The feed gateway against a real WebSocket + HTTP server that sends what the test scripts:
// bad input is counted by reason and skipped; a snapshot older than the buffered diffs is refused
// and a newer one syncs the book; a dropped connection reconnects and the book resyncs; silence
// raises an alarm and marks the book stale; close code 4000 ends the feed without a reconnect.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { book, type BookStatus } from '../../actors/book/book-actor.ts';
import type { BookPublication } from '../../actors/book/book-top.ts';
import { feedGateway, feedGatewayOptions, type FeedStatus, REPLAY_COMPLETE_CLOSE_CODE } from '../../actors/feed/feed-gateway.ts';
import { ActorSystem } from '../../runtime/actor-system.ts';
import type { Behavior } from '../../runtime/actor.ts';

type Scripted = { server: Server; wss: WebSocketServer; url: string; sockets: WebSocket[]; snapshots: string[]; connections: number; onConnect?: (ws: WebSocket, n: number) => void };

async function scriptedExchange(): Promise<Scripted> {
  const server = createServer();
  const wss = new WebSocketServer({ server, path: '/stream' });
  const x: Scripted = { server, wss, url: '', sockets: [], snapshots: [], connections: 0 };
  server.on('request', (req, res) => {
    if (!req.url?.startsWith('/fapi/v1/depth')) return void res.writeHead(404).end();
    const body = x.snapshots.length > 1 ? (x.snapshots.shift() as string) : x.snapshots[0];
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  wss.on('connection', (ws) => {
    x.sockets.push(ws);
    x.onConnect?.(ws, ++x.connections);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  x.url = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return x;
}

const diff = (U: number, u: number, pu: number, bids: [string, string][], asks: [string, string][]) =>
  JSON.stringify({ stream: 'btcusdt@depth@0ms', data: { e: 'depthUpdate', E: 1, T: 1, s: 'BTCUSDT', U, u, pu, b: bids, a: asks } });
const snapshot = (id: number) => JSON.stringify({ lastUpdateId: id, bids: [['100.0', '1.000']], asks: [['101.0', '2.000']] });

const collector = (out: BookPublication[]): Behavior<BookPublication, null> => ({ init: () => null, receive: (s, m) => (out.push(m), s) });

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(x: Scripted, options: Record<string, unknown> = {}) {
  const sys = new ActorSystem({ node: 't' });
  const out: BookPublication[] = [];
  sys.spawn('probe', collector(out), { mailbox: { capacity: 10_000, policy: 'reject' } });
  sys.spawn('book/BTCUSDT', book({ symbol: 'BTCUSDT', publishTo: ['probe'], gateway: 'feed', snapshotRetryMs: 100, bufferMaxDiffs: 100, tickersPendingMax: 16 }), { mailbox: { capacity: 10_000, policy: 'reject' } });
  const opts = feedGatewayOptions({ address: 'feed', node: 't', options: { ws_url: `ws://${x.url}`, rest_url: `http://${x.url}`, symbols: ['BTCUSDT'], reconnect_min_ms: 20, reconnect_max_ms: 100, ...options } });
  sys.spawn('feed', feedGateway(opts), { mailbox: { capacity: 10_000, policy: 'backpressure' } });
  cleanup.push(async () => {
    await sys.shutdown();
    for (const s of x.sockets) s.terminate();
    x.wss.close();
    await new Promise((r) => x.server.close(r));
  });
  const feed = () => sys.ask<FeedStatus>('feed', { type: 'feed-status' }, 1000);
  const bookStatus = () => sys.ask<BookStatus>('book/BTCUSDT', { type: 'book-status' }, 1000);
  return { sys, out, feed, bookStatus };
}

describe('feed gateway', () => {
  it('counts and skips malformed JSON, unknown streams, bad prices and quantities, unsubscribed symbols; refuses a snapshot older than the buffered diffs; then syncs', async () => {
    const x = await scriptedExchange();
    x.snapshots = [snapshot(5), snapshot(12)];
    x.onConnect = (ws) => {
      ws.send('{"stream": "btcusdt@trade", "data": {');
      ws.send(JSON.stringify({ stream: 'btcusdt@kline_1m', data: {} }));
      ws.send(JSON.stringify({ stream: 'btcusdt@trade', data: { e: 'trade', p: '-5.0', q: '1', T: 1, m: false } }));
      ws.send(JSON.stringify({ stream: 'btcusdt@trade', data: { e: 'trade', p: 'abc', q: '1', T: 1, m: false } }));
      ws.send(diff(9, 9, 8, [['100.0', 'lots']], []));
      ws.send(JSON.stringify({ stream: 'ethusdt@trade', data: { e: 'trade', p: '2000', q: '1', T: 1, m: false } }));
      // Valid diffs 10..14: the first snapshot (5) ends before them; the second (12) bridges.
      ws.send(diff(10, 10, 9, [['100.0', '1.500']], []));
      ws.send(diff(11, 12, 10, [], [['101.0', '3.000']]));
      ws.send(diff(13, 13, 12, [['100.5', '0.100']], []));
      setTimeout(() => ws.send(diff(14, 14, 13, [], [['100.9', '0.200']])), 300);
    };
    const { out, feed, bookStatus } = await setup(x);
    await until('book synced and top at u=14', async () => (await bookStatus()).lastU === 14);
    const f = await feed();
    expect(f.bad).toEqual({ 'malformed-json': 1, 'unknown-stream': 1, 'bad-price': 2, 'bad-qty': 1, 'unknown-symbol': 1 });
    expect(f.snapshots.rejectedByBook).toBe(1);
    expect(f.snapshots.served).toBe(2);
    expect(f.connected).toBe(true);
    const last = out[out.length - 1];
    expect(last).toMatchObject({ type: 'book-top', u: 14, bid: 100.5, bidQty: 0.1, ask: 100.9, askQty: 0.2, crossed: false });
    expect((await bookStatus()).counters.snapshotsTooOld).toBe(1);
  });

  it('reconnects after the connection drops, marks the book stale meanwhile, and resyncs', async () => {
    const x = await scriptedExchange();
    x.snapshots = [snapshot(10)];
    x.onConnect = (ws, n) => {
      if (n === 1) {
        ws.send(diff(10, 11, 9, [['100.0', '2.000']], []));
        setTimeout(() => ws.terminate(), 100);
      } else {
        x.snapshots = [snapshot(20)];
        ws.send(diff(20, 21, 19, [['99.0', '1.000']], []));
      }
    };
    const { out, feed, bookStatus } = await setup(x);
    await until('resynced at u=21', async () => (await bookStatus()).lastU === 21);
    const f = await feed();
    expect(f.reconnects).toBe(1);
    expect(f.connects).toBe(2);
    const kinds = out.map((p) => (p.type === 'book-top' ? `top@${p.u}` : 'stale'));
    expect(kinds).toEqual(['stale', 'top@11', 'stale', 'top@21']);
  });

  it('raises a silence alarm and marks the book stale when the stream goes quiet', async () => {
    const x = await scriptedExchange();
    x.snapshots = [snapshot(10)];
    x.onConnect = (ws) => ws.send(diff(10, 11, 9, [['100.0', '2.000']], []));
    const { out, feed } = await setup(x, { silence_ms: 150 });
    await until('silence alarm', async () => (await feed()).silenceAlarms === 1);
    expect(out.map((p) => p.type)).toEqual(['book-stale', 'book-top', 'book-stale']);
    expect((await feed()).silentMs.BTCUSDT).toBeGreaterThan(150);
  });

  it('treats close code 4000 as the end of a replay: no reconnect, the book is marked stale', async () => {
    const x = await scriptedExchange();
    x.snapshots = [snapshot(10)];
    x.onConnect = (ws) => {
      ws.send(diff(10, 11, 9, [['100.0', '2.000']], []));
      setTimeout(() => ws.close(REPLAY_COMPLETE_CLOSE_CODE, 'replay complete'), 50);
    };
    const { out, feed } = await setup(x);
    await until('ended', async () => (await feed()).ended);
    await new Promise((r) => setTimeout(r, 200));
    const f = await feed();
    expect(f.connects).toBe(1);
    expect(f.reconnects).toBe(0);
    expect(out[out.length - 1].type).toBe('book-stale');
  });

  it('refuses bad options naming the field and what was expected', () => {
    const opts = (options: Record<string, unknown>) => () => feedGatewayOptions({ address: 'feed', node: 't', options });
    expect(opts({ market: 'coinm' })).toThrow(/options.market: expected usdm or spot, got "coinm"/);
    expect(opts({ symbols: ['btcusdt'] })).toThrow(/options.symbols: expected a list of upper-case symbols/);
    expect(opts({ silence_ms: 0 })).toThrow(/options.silence_ms: expected an integer >= 1, got 0/);
  });
});
