import { Packr, Unpackr } from 'msgpackr';
import type { Envelope } from './envelope.ts';
import type { Message } from './message.ts';

/**
 * The wire format between nodes: one msgpack frame carries a batch of envelopes from one sender
 * node. Fields every envelope of the frame shares (sender node, its incarnation, lease epoch,
 * send time) are written once in the header; each envelope is a flat run of
 * (to, from, seq, trace, body) in one array, because per-message cost, not bytes, is what limits
 * throughput. Bodies are plain msgpack maps, so two processes need no shared schema state.
 *
 *   [FRAME_VERSION, node, incarnation, epoch, ts_ms, count, to, from, seq, trace, body, ...]
 *
 * trace is '' (none), a traceparent string, or [traceparent, tracestate].
 */
export const FRAME_VERSION = 1;
const HEADER = 6;
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
  flat[5] = count;
  let j = HEADER;
  for (let i = start; i < start + count; i++) {
    const o = items[i];
    flat[j++] = o.to;
    flat[j++] = o.from;
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
  const [, node, incarnation, epoch, ts, count] = flat as [number, unknown, unknown, unknown, unknown, unknown];
  if (typeof node !== 'string' || typeof incarnation !== 'number') throw new CodecError('node must be a string and incarnation a number');
  if (typeof epoch !== 'number' || typeof ts !== 'number') throw new CodecError('epoch and ts must be numbers');
  if (typeof count !== 'number' || flat.length !== HEADER + count * PER_ENVELOPE) {
    throw new CodecError(`count ${String(count)} does not match ${flat.length - HEADER} envelope fields`);
  }
  const envelopes: Envelope[] = new Array(count);
  let j = HEADER;
  for (let i = 0; i < count; i++) {
    const to = flat[j++];
    const from = flat[j++];
    const seq = flat[j++];
    const trace = flat[j++];
    const body = flat[j++] as Message;
    if (typeof to !== 'string' || typeof from !== 'string' || typeof seq !== 'number') {
      throw new CodecError(`envelope ${i}: to/from must be strings and seq a number`);
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
