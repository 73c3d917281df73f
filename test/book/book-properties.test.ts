// Invariants of the book (DESIGN.md, invariant 5) over random valid depth streams, and the sync
// procedure's answer to every missing or reordered diff.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ActorSystem } from '../../runtime/actor-system.ts';
import type { Behavior } from '../../runtime/actor.ts';
import { book } from '../../actors/book/book-actor.ts';
import { BookSync } from '../../actors/book/book-sync.ts';
import type { BookPublication } from '../../actors/book/book-top.ts';
import type { DepthDiff, DepthSnapshot } from '../../actors/feed/market-data.ts';

const TICK = 0.1;
const price = (i: number): number => Math.round(i * TICK * 10) / 10 + 100;

/**
 * One step of the exchange's true book: a boundary tick (bids strictly below it, asks at or
 * above it, so the true book never crosses) and random level changes (qty 0 deletes).
 */
const stepArb = fc.record({
  boundary: fc.integer({ min: 40, max: 60 }),
  changes: fc.array(fc.record({ tick: fc.integer({ min: 0, max: 99 }), qty: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 500 }).map((q) => q / 100)) }), { maxLength: 12 }),
  ids: fc.integer({ min: 1, max: 5 }),
});

type TrueBook = { bids: Map<number, number>; asks: Map<number, number> };

/** Turns steps into a chained diff stream (futures: pu; spot: U = prev u + 1), keeping the true book. */
type Step = { boundary: number; changes: { tick: number; qty: number }[]; ids: number };

function exchange(steps: Step[], spot: boolean) {
  const truth: TrueBook = { bids: new Map(), asks: new Map() };
  for (let t = 0; t < 50; t++) truth.bids.set(price(t), 1);
  for (let t = 50; t < 100; t++) truth.asks.set(price(t), 1);
  const snapshotAt = (id: number): DepthSnapshot => ({ type: 'snapshot', symbol: 'TEST', lastUpdateId: id, bids: [...truth.bids].flat(), asks: [...truth.asks].flat() });
  let u = 1000;
  const snapshot = snapshotAt(u);
  const diffs: DepthDiff[] = [];
  const states: TrueBook[] = [];
  for (const s of steps) {
    const b = new Map<number, number>();
    const a = new Map<number, number>();
    const p = price(s.boundary);
    // Levels that would now be on the wrong side of the boundary are deleted in the same diff.
    for (const k of truth.bids.keys()) if (k >= p) b.set(k, 0);
    for (const k of truth.asks.keys()) if (k < p) a.set(k, 0);
    for (const c of s.changes) {
      const px = price(c.tick);
      if (px < p) b.set(px, c.qty);
      else a.set(px, c.qty);
    }
    for (const [k, q] of b) {
      if (q === 0) truth.bids.delete(k);
      else truth.bids.set(k, q);
    }
    for (const [k, q] of a) {
      if (q === 0) truth.asks.delete(k);
      else truth.asks.set(k, q);
    }
    const U = u + 1;
    const pu = u;
    u += s.ids;
    diffs.push({ type: 'depth', symbol: 'TEST', U, u, pu: spot ? -1 : pu, bids: [...b].flat(), asks: [...a].flat(), eventMs: 0, rxMs: 0 });
    states.push({ bids: new Map(truth.bids), asks: new Map(truth.asks) });
  }
  return { snapshot, diffs, states };
}

const sameAs = (sync: BookSync, t: TrueBook): boolean => {
  const l = sync.book.levels();
  const bids = [...t.bids].sort((x, y) => y[0] - x[0]);
  const asks = [...t.asks].sort((x, y) => x[0] - y[0]);
  return JSON.stringify(l.bids) === JSON.stringify(bids) && JSON.stringify(l.asks) === JSON.stringify(asks);
};

describe('book sync (property)', () => {
  it('on any valid delta stream, sizes stay > 0, the book never crosses and equals the exchange book', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 60 }), fc.boolean(), fc.nat(5), (steps, spot, early) => {
        const { snapshot, diffs, states } = exchange(steps, spot);
        const sync = new BookSync();
        // Some diffs may arrive before the snapshot is taken: they are buffered and replayed.
        const before = Math.min(early, diffs.length);
        for (let i = 0; i < before; i++) expect(sync.onDiff(diffs[i])).toBe('buffered');
        expect(['synced', 'bridging']).toContain(sync.onSnapshot(snapshot));
        for (let i = before; i < diffs.length; i++) expect(sync.onDiff(diffs[i])).toBe('applied');
        expect(sync.state).toBe('synced');
        for (const side of [sync.book.bids, sync.book.asks]) expect(side.qtys.every((q) => q > 0)).toBe(true);
        expect(sync.book.crossed).toBe(false);
        expect(sameAs(sync, states[states.length - 1])).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a snapshot older than the buffered diffs is refused, and a newer one then syncs', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 3, maxLength: 30 }), fc.boolean(), (steps, spot) => {
        const { snapshot, diffs } = exchange(steps, spot);
        const sync = new BookSync();
        // The first diff is lost before buffering starts: the snapshot no longer reaches the buffer.
        for (const d of diffs.slice(1)) sync.onDiff(d);
        expect(sync.onSnapshot(snapshot)).toBe('too-old');
        expect(sync.state).toBe('buffering');
      }),
      { numRuns: 200 },
    );
  });
});

const collector = (out: BookPublication[]): Behavior<BookPublication, null> => ({
  init: () => null,
  receive: (s, m) => {
    out.push(m);
    return s;
  },
});

const settle = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};

describe('book actor (property)', () => {
  it('any missing or reordered diff leads to a resync, and no stale top of book is published', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { minLength: 4, maxLength: 40 }),
        fc.boolean(),
        fc.constantFrom('drop', 'swap'),
        fc.nat(),
        async (steps, spot, fault, where) => {
          const { snapshot, diffs, states } = exchange(steps, spot);
          const at = 1 + (where % (diffs.length - 2));
          const sent = [...diffs];
          if (fault === 'drop') sent.splice(at, 1);
          else [sent[at], sent[at + 1]] = [sent[at + 1], sent[at]];

          const sys = new ActorSystem({ node: 't' });
          const out: BookPublication[] = [];
          const requests: unknown[] = [];
          sys.spawn('probe', collector(out), { mailbox: { capacity: 10_000, policy: 'reject' } });
          sys.spawn('feed', { init: () => null, receive: (s, m) => (requests.push(m), s) });
          const ref = sys.spawn('book/TEST', book({ symbol: 'TEST', publishTo: ['probe'], gateway: 'feed', snapshotRetryMs: 60_000, bufferMaxDiffs: 1000, tickersPendingMax: 16 }), {
            mailbox: { capacity: 10_000, policy: 'reject' },
          });
          ref.tell(diffs[0]);
          ref.tell(snapshot);
          for (const d of sent.slice(1)) ref.tell(d);
          await settle();
          await sys.shutdown();

          // Every top published is the exchange's true book at that update id...
          const byU = new Map(diffs.map((d, i) => [d.u, states[i]]));
          const tops = out.filter((p) => p.type === 'book-top');
          for (const t of tops) {
            const truth = byU.get(t.u) as TrueBook;
            expect(t.bid).toBe(Math.max(...truth.bids.keys()));
            expect(t.ask).toBe(Math.min(...truth.asks.keys()));
          }
          // ...none is published from the fault on: the last word is "stale", and a new snapshot is asked for.
          const lastGood = diffs[at - 1].u;
          expect(tops.every((t) => t.u <= lastGood)).toBe(true);
          expect(out[out.length - 1].type).toBe('book-stale');
          expect(requests.length).toBe(2);
        },
      ),
      { numRuns: 150 },
    );
  });
});
