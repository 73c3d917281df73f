/**
 * The receiving end of the per-link sequence numbers (sender node -> this node) that every
 * transport writes: a duplicate is dropped, a gap is counted (envelopes lost on the way, in a
 * crash of the sender or of a NATS server). State is one entry per sending node, not per actor pair.
 */
export class LinkSequence {
  private readonly last = new Map<string, { incarnation: number; seq: number }>();
  duplicates = 0;
  gaps = 0;

  /** @param onGap told of every gap: the sending node and the sequence numbers that never came */
  constructor(private readonly onGap?: (node: string, from: number, to: number) => void) {}

  /** Whether the envelope numbered `seq` from `node`'s `incarnation` is new (deliver it) or a duplicate. */
  accept(node: string, incarnation: number, seq: number): boolean {
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
      return false;
    }
    if (seq > last.seq + 1) {
      this.gaps += seq - last.seq - 1;
      this.onGap?.(node, last.seq + 1, seq - 1);
    }
    last.seq = seq;
    return true;
  }

  /** The last sequence number accepted from `node` (for a duplicate's dead-letter detail). */
  lastOf(node: string): number {
    return this.last.get(node)?.seq ?? 0;
  }
}
