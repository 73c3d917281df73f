// Test clients of the market-data server: a WebSocket client that keeps every frame and the close,
// a refused-handshake reader, and Binance's documented book sync procedure.
import WebSocket from 'ws';
import { OrderBook } from '../../actors/book/order-book.ts';
import type { DepthDiff, DepthSnapshot, Market } from '../../actors/feed/market-data.ts';

export interface Collected {
  messages: string[];
  code: number;
  reason: string;
}

/** Connects and keeps every text frame until the server closes. */
export function collect(url: string, onMessage?: (text: string, n: number) => void): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const messages: string[] = [];
    const ws = new WebSocket(url);
    ws.on('message', (data) => {
      const text = data.toString();
      messages.push(text);
      onMessage?.(text, messages.length);
    });
    ws.on('error', reject);
    ws.on('close', (code, reason) => resolve({ messages, code, reason: reason.toString() }));
  });
}

/** The HTTP status and JSON body of a refused WebSocket handshake. */
export function refusedHandshake(url: string): Promise<{ status: number; body: { code: number; msg: string } }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('open', () => reject(new Error(`${url}: expected the handshake to be refused, it was accepted`)));
    ws.on('error', reject);
    ws.on('unexpected-response', (req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { code: number; msg: string } });
      });
    });
  });
}

export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

/**
 * Binance's sync procedure: load the snapshot, drop the diffs it already holds, check that the
 * first diff applied bridges it, then that every next diff chains. Throws on a gap.
 * Futures: drop u < L; first U <= L <= u; then pu = previous u.
 * Spot: drop u <= L; first U <= L + 1 <= u; then U = previous u + 1.
 */
export function syncBook(snapshot: DepthSnapshot, diffs: readonly DepthDiff[], market: Market): { book: OrderBook; applied: number } {
  const book = new OrderBook();
  book.load(snapshot.bids, snapshot.asks);
  const L = snapshot.lastUpdateId;
  let prevU: number | undefined;
  let applied = 0;
  for (const d of diffs) {
    if (prevU === undefined) {
      if (market === 'usdm' ? d.u < L : d.u <= L) continue;
      const bridges = market === 'usdm' ? d.U <= L && L <= d.u : d.U <= L + 1 && L + 1 <= d.u;
      if (!bridges) throw new Error(`first diff U=${d.U} u=${d.u} does not bridge snapshot ${L}`);
    } else {
      const chains = market === 'usdm' ? d.pu === prevU : d.U === prevU + 1;
      if (!chains) throw new Error(`gap: diff U=${d.U} u=${d.u} pu=${d.pu} after u=${prevU}`);
    }
    book.apply(d.bids, d.asks);
    prevU = d.u;
    applied++;
  }
  return { book, applied };
}

/** [["p","q"],...] -> [[p, q],...] numbers, as a client parses them. */
export const numeric = (levels: [string, string][]): [number, number][] => levels.map(([p, q]) => [Number(p), Number(q)]);
