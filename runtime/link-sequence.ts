import type { ActorSystem } from './actor-system.ts';
import { CodecError, decodeFrame, type Frame } from './codec.ts';
import type { Envelope } from './envelope.ts';

/** A received frame decoded, or undefined after reporting it (event 'bad-frame'): a malformed frame is skipped, never fatal. */
export function decodeReceived(system: ActorSystem, buf: Uint8Array): Frame | undefined {
  try {
    return decodeFrame(buf);
  } catch (e) {
    system.events.emit('bad-frame', { error: e instanceof CodecError ? e : new CodecError(String(e)), bytes: buf.length });
    return undefined;
  }
}

/**
 * The receiving end of the per-link sequence numbers (sender node -> this node) that every
 * transport writes: a duplicate is dropped (a dead letter, reason duplicate), a gap is counted
 * and reported (event 'transport-gap': envelopes lost on the way, in a crash of the sender or of a
 * NATS server). State is one entry per sending node, not per actor pair.
 */
export class LinkSequence {
  private readonly last = new Map<string, { incarnation: number; seq: number }>();
  duplicates = 0;
  gaps = 0;

  constructor(
    private readonly system: ActorSystem,
    /** the transport's name, in the gap event */
    private readonly transport: 'ipc' | 'nats',
  ) {}

  /** Whether `env`, from `node`'s `incarnation`, is new (deliver it); a duplicate is dead-lettered here. */
  admit(node: string, incarnation: number, env: Envelope): boolean {
    const seq = env.seq;
    let last = this.last.get(node);
    if (!last) this.last.set(node, (last = { incarnation, seq: seq - 1 }));
    if (last.incarnation !== incarnation) {
      // The sending node restarted: its numbering starts again.
      last.incarnation = incarnation;
      last.seq = seq;
      return true;
    }
    if (seq <= last.seq) {
      this.duplicates++;
      this.system.deadLetter(env.to, undefined, env.body, 'duplicate', `seq ${seq} from node ${node} already delivered (last ${last.seq})`, false);
      return false;
    }
    if (seq > last.seq + 1) {
      this.gaps += seq - last.seq - 1;
      this.system.events.emit('transport-gap', { transport: this.transport, node, from: last.seq + 1, to: seq - 1 });
    }
    last.seq = seq;
    return true;
  }
}
