// The venue's own append-only log: one JSON line per accepted order, per fill, per end of an
// order (cancel, expiry), per order the venue refused (reject) and per order fenced for a stale
// epoch. The venue writes the lines of a request before it answers it, in order, with one write
// per request, so the log is never behind what a client was told. The chaos suite checks the
// trading side against it (every fill here reached positions; no order line twice for one client
// order id; no order line with a stale epoch), and the venue rebuilds its state from it at start.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Side, TimeInForce } from '../order/order-protocol.ts';

interface RecordBase {
  /** venue wall-clock time, ms since epoch */
  timeMs: number;
  clientOrderId: string;
  /** the venue's order id */
  orderId: number;
  symbol: string;
}

/** An order the venue accepted: a new order, never written twice for one client order id. */
export interface OrderRecord extends RecordBase {
  kind: 'order';
  side: Side;
  qty: number;
  price: number;
  tif: TimeInForce;
  epoch: number;
  reduceOnly: boolean;
}

export interface FillRecord extends RecordBase {
  kind: 'fill';
  side: Side;
  qty: number;
  price: number;
  /** unique per fill, venue-wide */
  tradeId: number;
  /** the order's filled quantity after this fill */
  cumQty: number;
  /** true when a resting order was filled by a market trade, false when the order took the book */
  maker: boolean;
}

/** The order ended without being filled in full: cancelled on request, or its IOC remainder expired. */
export interface EndRecord extends RecordBase {
  kind: 'cancel' | 'expire';
  cumQty: number;
}

/** An order the venue refused (simulated reject, reduce-only). A resend of its id gets the same answer. */
export interface RejectRecord extends RecordBase {
  kind: 'reject';
  side: Side;
  qty: number;
  price: number;
  tif: TimeInForce;
  epoch: number;
  reason: string;
}

/** An order refused for a stale epoch: not an order (the id stays free for the current epoch). */
export interface FencedRecord extends Omit<RecordBase, 'orderId'> {
  kind: 'fenced';
  epoch: number;
  /** the highest epoch the venue had seen */
  epochSeen: number;
}

export type VenueLogRecord = OrderRecord | FillRecord | EndRecord | RejectRecord | FencedRecord;

export class VenueLogError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'VenueLogError';
  }
}

export class VenueLog {
  private fd: number | undefined;
  private linesWritten = 0;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /** Opens (creating the folder and the file) for appending. */
  static open(path: string): VenueLog {
    mkdirSync(dirname(path), { recursive: true });
    return new VenueLog(path, openSync(path, 'a'));
  }

  get lines(): number {
    return this.linesWritten;
  }

  /** Appends the records in order with one write (they reach the OS before this returns). */
  append(records: readonly VenueLogRecord[]): void {
    if (records.length === 0) return;
    if (this.fd === undefined) throw new Error(`venue log ${this.path}: append after close`);
    let text = '';
    for (const r of records) text += `${JSON.stringify(r)}\n`;
    const buf = Buffer.from(text);
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off);
    this.linesWritten += records.length;
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

const KINDS = new Set(['order', 'fill', 'cancel', 'expire', 'reject', 'fenced']);

/**
 * Every record of a venue log, in order ([] when the file does not exist). A last line cut short
 * (the venue killed mid-write) is skipped; any other line that is not a record is an error naming
 * file:line.
 */
export function readVenueLog(path: string): VenueLogRecord[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const out: VenueLogRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    const last = i === lines.length - 1;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      if (last) break; // not newline-terminated: a write the venue did not finish
      throw new VenueLogError(path, i + 1, `expected a JSON record, got ${JSON.stringify(line.slice(0, 80))}`);
    }
    const problem = recordProblem(r);
    if (problem) throw new VenueLogError(path, i + 1, problem);
    out.push(r as VenueLogRecord);
  }
  return out;
}

function recordProblem(r: unknown): string | undefined {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'expected a JSON object';
  const o = r as Record<string, unknown>;
  if (typeof o.kind !== 'string' || !KINDS.has(o.kind)) return `kind ${JSON.stringify(o.kind)}: expected one of ${[...KINDS].join(', ')}`;
  for (const k of ['timeMs', ...(o.kind === 'fenced' ? ['epoch'] : ['orderId'])]) if (typeof o[k] !== 'number') return `${k}: expected a number, got ${JSON.stringify(o[k])}`;
  for (const k of ['clientOrderId', 'symbol']) if (typeof o[k] !== 'string') return `${k}: expected a string, got ${JSON.stringify(o[k])}`;
  if (o.kind === 'order' || o.kind === 'fill' || o.kind === 'reject') {
    if (o.side !== 'buy' && o.side !== 'sell') return `side: expected buy or sell, got ${JSON.stringify(o.side)}`;
    for (const k of ['qty', 'price']) if (typeof o[k] !== 'number') return `${k}: expected a number, got ${JSON.stringify(o[k])}`;
  }
  if (o.kind === 'fill' && (typeof o.tradeId !== 'number' || typeof o.cumQty !== 'number')) return 'fill: expected numbers tradeId and cumQty';
  return undefined;
}
