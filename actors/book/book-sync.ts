// Binance's order book sync procedure as a pure state machine: buffer diffs, load a snapshot,
// drop what the snapshot already holds, bridge on the first diff, then chain every diff on the
// previous one (futures: pu = previous u; spot: U = previous u + 1). A break is a gap: the book
// goes back to buffering and asks for a new snapshot; it is never published while unsynced.
import type { DepthDiff, DepthSnapshot } from '../feed/market-data.ts';
import { OrderBook } from './order-book.ts';

export type SyncState =
  /** collecting diffs; a snapshot has been (or must be) requested */
  | 'buffering'
  /** snapshot loaded; waiting for the diff that bridges it (U <= lastUpdateId <= u) */
  | 'bridging'
  | 'synced';

/** What one diff did. `gap` means: the book is now unsynced and needs a new snapshot. */
export type DiffOutcome = 'applied' | 'buffered' | 'stale-dropped' | 'gap';

/**
 * What one snapshot did. `too-old`: it ends before the buffered diffs begin; `gap`: the buffered
 * diffs do not chain. Either way: ask for a newer one.
 */
export type SnapshotOutcome = 'synced' | 'bridging' | 'too-old' | 'gap' | 'ignored';

export const DEFAULT_BUFFER_MAX_DIFFS = 10_000;

export class BookSync {
  readonly book = new OrderBook();
  state: SyncState = 'buffering';
  /** last applied update id (or the snapshot's lastUpdateId while bridging) */
  lastU = -1;
  /** futures streams carry pu; spot streams do not. Learned from the diffs themselves. */
  private spot: boolean | undefined;
  private buffer: DepthDiff[] = [];
  /** diffs dropped because the buffer was full while waiting for a snapshot */
  bufferOverflows = 0;
  /** the last diff applied (its times stamp the top it produced) */
  lastApplied: DepthDiff | undefined;
  diffsApplied = 0;
  /** levels applied since creation (diffs and snapshots), for throughput figures */
  levelsApplied = 0;

  constructor(readonly bufferMaxDiffs = DEFAULT_BUFFER_MAX_DIFFS) {
    if (!Number.isInteger(bufferMaxDiffs) || bufferMaxDiffs < 1) throw new RangeError(`buffer_max_diffs ${bufferMaxDiffs}: expected an integer >= 1`);
  }

  get buffered(): number {
    return this.buffer.length;
  }

  onDiff(d: DepthDiff): DiffOutcome {
    if (this.spot === undefined) this.spot = d.pu < 0;
    switch (this.state) {
      case 'buffering':
        if (this.buffer.length >= this.bufferMaxDiffs) {
          this.buffer.shift();
          this.bufferOverflows++;
        }
        this.buffer.push(d);
        return 'buffered';
      case 'bridging':
        return this.bridge(d);
      case 'synced':
        if (!this.chains(d)) return this.lose(d);
        this.levelsApplied += this.book.apply(d.bids, d.asks);
        this.lastU = d.u;
        this.lastApplied = d;
    this.diffsApplied++;
        return 'applied';
    }
  }

  /** Loads a snapshot and replays the buffered diffs on it. */
  onSnapshot(s: DepthSnapshot): SnapshotOutcome {
    if (this.state === 'synced') return 'ignored';
    const id = s.lastUpdateId;
    const pending = this.buffer;
    // The snapshot must reach at least the first buffered diff, or diffs in between are missing.
    const first = pending.find((d) => !this.alreadyIn(d, id));
    if (first && !this.bridges(first, id)) return 'too-old';
    this.levelsApplied += this.book.load(s.bids, s.asks);
    this.lastU = id;
    this.state = 'bridging';
    this.buffer = [];
    for (const d of pending) {
      if (this.onDiff(d) === 'gap') return 'gap';
    }
    return (this.state as SyncState) === 'synced' ? 'synced' : 'bridging';
  }

  /** Back to buffering (feed down, forced resync). */
  reset(): void {
    this.state = 'buffering';
    this.buffer = [];
    this.lastU = -1;
  }

  private bridge(d: DepthDiff): DiffOutcome {
    if (this.alreadyIn(d, this.lastU)) return 'stale-dropped';
    if (!this.bridges(d, this.lastU)) return this.lose(d);
    this.levelsApplied += this.book.apply(d.bids, d.asks);
    this.lastU = d.u;
    this.lastApplied = d;
    this.diffsApplied++;
    this.state = 'synced';
    return 'applied';
  }

  /** Futures drop u < lastUpdateId; spot drops u <= lastUpdateId (Binance's two procedures). */
  private alreadyIn(d: DepthDiff, id: number): boolean {
    return this.spot ? d.u <= id : d.u < id;
  }

  /**
   * Binance's bridge rule (futures U <= id <= u; spot U <= id + 1 <= u). A futures diff whose pu is
   * the snapshot's id also continues it exactly: a snapshot taken at a diff boundary is followed
   * by such a diff, and the strict rule would refuse every snapshot of a quiet book.
   */
  private bridges(d: DepthDiff, id: number): boolean {
    return this.spot ? d.U <= id + 1 && d.u >= id + 1 : (d.U <= id && d.u >= id) || d.pu === id;
  }

  private chains(d: DepthDiff): boolean {
    return this.spot ? d.U === this.lastU + 1 : d.pu === this.lastU;
  }

  /** A gap: everything known is suspect; keep the diff that revealed it, it may bridge the next snapshot. */
  private lose(d: DepthDiff): DiffOutcome {
    this.state = 'buffering';
    this.buffer = [d];
    this.lastU = -1;
    return 'gap';
  }
}
