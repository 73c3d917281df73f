import { Packr, Unpackr } from 'msgpackr';
import type { Envelope } from './envelope.ts';
import type { Message } from './message.ts';

/**
 * The wire format between nodes: one msgpack frame carries a batch of envelopes from one sender
 * node. Fields every envelope of the frame shares (sender node, its incarnation, lease epoch,
 * send time) are written once in the header; in a frame of several envelopes, addresses are
 * written once in a string table and referred to by index, since a batch usually goes from few
 * senders to few receivers (a lone envelope carries its two addresses inline);
 * each envelope is a flat run of (to, from, seq, trace, body) in one array, because per-message
 * cost, not bytes, is what limits throughput. Bodies are plain msgpack maps, so any msgpack
 * decoder can read a frame and two processes need no shared schema state.
 *
 *   [FRAME_VERSION, node, incarnation, epoch, ts_ms, [address...], to, from, seq, trace, body, ...]
 *
 * The number of envelopes follows from the array's length (5 fields each).
 *
 * to and from are an index into the address table, or the address itself.
 * trace is '' (none), a traceparent string, or [traceparent, tracestate].
 */
export const FRAME_VERSION = 3;
const HEADER = 6;
const NO_ADDRESSES: readonly string[] = Object.freeze([]);
const PER_ENVELOPE = 5;

export interface FrameHeader {
  node: string;
  /** random per start of the sending process */
  incarnation: number;
  epoch: number;
}

export interface Frame extends FrameHeader {
  ts: number;
  envelopes: Envelope[];
}

/** An envelope waiting to be framed (its header fields come from the frame). */
export interface Outgoing {
  to: string;
  from: string;
  seq: number;
  traceparent: string;
  tracestate: string;
  body: Message;
}

export class CodecError extends Error {
  constructor(message: string) {
    super(`bad frame: ${message}`);
    this.name = 'CodecError';
  }
}

// Plain msgpack maps, not msgpackr records: any msgpack decoder (a NATS subscriber, another
// language) reads a frame, and a frame of one message is cheaper without a record definition in it.
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/** Encodes items[start, start+count) as one frame. */
export function encodeFrame(header: FrameHeader, items: readonly Outgoing[], start: number, count: number): Buffer {
  const flat: unknown[] = new Array(HEADER + count * PER_ENVELOPE);
  flat[0] = FRAME_VERSION;
  flat[1] = header.node;
  flat[2] = header.incarnation;
  flat[3] = header.epoch;
  flat[4] = Date.now();
  if (count === 1) {
    // A lone envelope carries its addresses inline: no table, no map.
    const o = items[start];
    flat[5] = NO_ADDRESSES;
    flat[6] = o.to;
    flat[7] = o.from;
    flat[8] = o.seq;
    flat[9] = o.tracestate === '' ? o.traceparent : [o.traceparent, o.tracestate];
    flat[10] = o.body;
    return packr.pack(flat);
  }
  const addresses: string[] = [];
  const index = new Map<string, number>();
  const indexOf = (a: string): number => {
    let i = index.get(a);
    if (i === undefined) {
      i = addresses.push(a) - 1;
      index.set(a, i);
    }
    return i;
  };
  flat[5] = addresses;
  let j = HEADER;
  let lastTo = '';
  let lastToI = -1;
  let lastFrom = '';
  let lastFromI = -1;
  for (let i = start; i < start + count; i++) {
    const o = items[i];
    if (o.to !== lastTo || lastToI < 0) lastToI = indexOf((lastTo = o.to));
    if (o.from !== lastFrom || lastFromI < 0) lastFromI = indexOf((lastFrom = o.from));
    flat[j++] = lastToI;
    flat[j++] = lastFromI;
    flat[j++] = o.seq;
    flat[j++] = o.tracestate === '' ? o.traceparent : [o.traceparent, o.tracestate];
    flat[j++] = o.body;
  }
  return packr.pack(flat);
}

/** Decodes and checks a frame; a malformed frame throws CodecError naming what was wrong. */
export function decodeFrame(buf: Uint8Array): Frame {
  let flat: unknown;
  try {
    flat = unpackr.unpack(buf);
  } catch (e) {
    throw new CodecError(`not msgpack (${(e as Error).message}), ${buf.length} bytes`);
  }
  if (!Array.isArray(flat) || flat.length < HEADER) throw new CodecError(`expected an array of at least ${HEADER} items`);
  if (flat[0] !== FRAME_VERSION) throw new CodecError(`version ${String(flat[0])}, expected ${FRAME_VERSION}`);
  const [, node, incarnation, epoch, ts, addresses] = flat as [number, unknown, unknown, unknown, unknown, unknown];
  if (typeof node !== 'string' || typeof incarnation !== 'number') throw new CodecError('node must be a string and incarnation a number');
  if (typeof epoch !== 'number' || typeof ts !== 'number') throw new CodecError('epoch and ts must be numbers');
  if (!Array.isArray(addresses) || !addresses.every((a) => typeof a === 'string')) throw new CodecError('the address table must be a list of strings');
  const count = (flat.length - HEADER) / PER_ENVELOPE;
  if (!Number.isInteger(count)) {
    throw new CodecError(`${flat.length - HEADER} envelope fields: expected a multiple of ${PER_ENVELOPE} (to, from, seq, trace, body)`);
  }
  const table = addresses as string[];
  const envelopes: Envelope[] = new Array(count);
  let j = HEADER;
  for (let i = 0; i < count; i++) {
    const toField = flat[j++];
    const fromField = flat[j++];
    const to = typeof toField === 'number' ? table[toField] : toField;
    const from = typeof fromField === 'number' ? table[fromField] : fromField;
    const seq = flat[j++];
    const trace = flat[j++];
    const body = flat[j++] as Message;
    if (typeof to !== 'string' || typeof from !== 'string' || typeof seq !== 'number') {
      throw new CodecError(`envelope ${i}: to/from must be addresses or indexes into the address table (${table.length} entries), seq a number`);
    }
    if (body === null || typeof body !== 'object' || typeof body.type !== 'string') {
      throw new CodecError(`envelope ${i} to ${to}: body must be an object with a string "type"`);
    }
    let traceparent = '';
    let tracestate = '';
    if (typeof trace === 'string') traceparent = trace;
    else if (Array.isArray(trace)) [traceparent, tracestate] = trace as [string, string];
    envelopes[i] = { to, from, type: body.type, body, seq, epoch, traceparent, tracestate, ts };
  }
  return { node, incarnation, epoch, ts, envelopes };
}
