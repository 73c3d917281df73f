// Persistent actors against a real PostgreSQL: the state rebuilt from the journal (with and
// without a snapshot) equals the state that wrote it, over random sequences (property); nothing an
// actor says goes out before the events behind it have committed; a restarted actor comes back
// with its state.
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Behavior } from '../../runtime/actor.ts';
import { ActorSystem } from '../../runtime/actor-system.ts';
import { decodeJson, encodeJson } from '../../runtime/json-codec.ts';
import { Journal } from '../../runtime/journal.ts';
import { NodeMetrics } from '../../runtime/metrics.ts';
import { persistent, recoverState, type PersistentBehavior } from '../../runtime/persistent-actor.ts';
import { seriesValue } from '../support/prometheus-text.ts';
import { startTestDatabase, type TestDatabase } from '../support/test-database.ts';

type LedgerMsg = { type: 'deposit'; key: string; n: number } | { type: 'withdraw'; key: string; n: number } | { type: 'get' } | { type: 'boom' };
type LedgerEvent = { type: 'deposited'; key: string; n: number } | { type: 'withdrawn'; key: string; n: number } | { type: 'refused'; key: string; n: number };
interface Ledger {
  balances: Map<string, number>;
  refused: Set<string>;
  /** NaN until the first event: survives the journal's JSON */
  last: number;
  events: number;
}

const applyLedger = (s: Ledger, e: LedgerEvent): Ledger => {
  const balances = new Map(s.balances);
  const refused = new Set(s.refused);
  if (e.type === 'deposited') balances.set(e.key, (balances.get(e.key) ?? 0) + e.n);
  else if (e.type === 'withdrawn') balances.set(e.key, (balances.get(e.key) ?? 0) - e.n);
  else refused.add(`${e.key}:${e.n}`);
  return { balances, refused, last: e.n, events: s.events + 1 };
};

const emptyLedger = (): Ledger => ({ balances: new Map(), refused: new Set(), last: NaN, events: 0 });

const snapshotSpec = (every: number) => ({
  every,
  save: (s: Ledger) => s,
  load: (d: unknown) => d as Ledger,
});

type Notice = { type: 'notice'; seqNr: number };

function ledger(every: number, notify?: string): PersistentBehavior<LedgerMsg, Ledger, LedgerEvent> {
  return {
    empty: emptyLedger,
    apply: applyLedger,
    receive(s, msg, ctx) {
      switch (msg.type) {
        case 'deposit': {
          const e: LedgerEvent = { type: 'deposited', key: msg.key, n: msg.n };
          ctx.persist(e);
          if (notify) ctx.tell<Notice>(notify, { type: 'notice', seqNr: ctx.seqNr });
          return applyLedger(s, e);
        }
        case 'withdraw': {
          // A decision: refused when it would go below zero. The event records the outcome.
          const e: LedgerEvent = (s.balances.get(msg.key) ?? 0) >= msg.n ? { type: 'withdrawn', key: msg.key, n: msg.n } : { type: 'refused', key: msg.key, n: msg.n };
          ctx.persist(e);
          if (notify) ctx.tell<Notice>(notify, { type: 'notice', seqNr: ctx.seqNr });
          return applyLedger(s, e);
        }
        case 'get':
          ctx.reply({ type: 'ledger', state: encodeJson(s) });
          return s;
        case 'boom':
          throw new Error('boom');
      }
    },
    snapshot: snapshotSpec(every),
  };
}

const turns = async (n = 10): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('persistent actors', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let journal: Journal;
  let run = 0;
  beforeAll(async () => {
    db = await startTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
    // The server stopping at the end drops idle connections: that is expected here.
    pool.on('error', () => undefined);
    journal = new Journal(pool, { node: 'test', flushMs: 1 });
  });
  afterAll(async () => {
    await journal?.close();
    await pool?.end();
    await db?.stop();
  });

  const commands = fc.array(
    fc.oneof(
      fc.record({ type: fc.constant('deposit' as const), key: fc.constantFrom('a', 'b', 'c'), n: fc.integer({ min: 1, max: 100 }) }),
      fc.record({ type: fc.constant('withdraw' as const), key: fc.constantFrom('a', 'b', 'c'), n: fc.integer({ min: 1, max: 150 }) }),
    ),
    { minLength: 1, maxLength: 120 },
  );

  it('rebuilds from the journal exactly the state that wrote it, with and without a snapshot (property)', async () => {
    await fc.assert(
      fc.asyncProperty(commands, fc.integer({ min: 1, max: 40 }), async (cmds, every) => {
        const sys = new ActorSystem({ node: 'test' });
        sys.journal = journal;
        const address = `ledger/${++run}`;
        const ref = sys.spawn(address, persistent(ledger(every)), { mailbox: { capacity: 1000, policy: 'reject' } });
        for (const c of cmds) ref.tell(c);
        const live = decodeJson(((await sys.ask(ref, { type: 'get' }, 5000)) as unknown as { state: string }).state) as Ledger;
        await sys.shutdown();
        const withSnap = await recoverState(journal, address, emptyLedger(), applyLedger, snapshotSpec(every));
        const noSnap = await recoverState(journal, address, emptyLedger(), applyLedger, undefined);
        expect(withSnap.state).toEqual(live);
        expect(noSnap.state).toEqual(live);
        expect(noSnap.seqNr).toBe(cmds.length);
        expect(noSnap.snapshotSeqNr).toBe(0);
        if (cmds.length >= every) expect(withSnap.snapshotSeqNr).toBeGreaterThan(0);
        expect(withSnap.events).toBe(cmds.length - withSnap.snapshotSeqNr);
        // The same through a new actor at the address: it recovers before its first message.
        const sys2 = new ActorSystem({ node: 'test' });
        sys2.journal = journal;
        const again = sys2.spawn(address, persistent(ledger(every)), { mailbox: { capacity: 1000, policy: 'reject' } });
        const back = decodeJson(((await sys2.ask(again, { type: 'get' }, 5000)) as unknown as { state: string }).state);
        expect(back).toEqual(live);
        await sys2.shutdown();
      }),
      { numRuns: 25 },
    );
  });

  it('counts what it sends once the events behind it commit, as a plain actor would (rt_messages_sent_total)', async () => {
    const sys = new ActorSystem({ node: 'test' });
    sys.journal = journal;
    const metrics = new NodeMetrics(sys, { node: 'test', cluster: 'c', keyOf: (a) => (a.startsWith('ledger/') ? 'ledger/*' : a.startsWith('$') ? undefined : a) });
    sys.metrics = metrics;
    let notices = 0;
    const all = new Promise<void>((resolve) => sys.spawn<Notice, null>('watcher', { init: () => null, receive: (st) => (++notices === 3 && resolve(), st) }));
    const ref = sys.spawn(`ledger/${++run}`, persistent(ledger(1000, 'watcher')), { mailbox: { capacity: 100, policy: 'reject' } });
    for (let i = 0; i < 3; i++) ref.tell({ type: 'deposit', key: 'a', n: 1 });
    await all;
    await sys.ask(ref, { type: 'get' }, 5000);
    const text = await metrics.text();
    expect(seriesValue(text, 'rt_messages_sent_total{actor="ledger/*",type="notice"}')).toBe(3);
    expect(seriesValue(text, 'rt_messages_sent_total{actor="ledger/*",type="ledger"}')).toBe(1);
    expect(seriesValue(text, 'rt_messages_handled_total{actor="watcher",type="notice"}')).toBe(3);
    await sys.shutdown();
  });

  it('says nothing to anyone before the events behind it have committed', async () => {
    const sys = new ActorSystem({ node: 'test' });
    sys.journal = journal;
    const address = `ledger/${++run}`;
    // Only this actor writes during the test: the journal's count of committed events, read the
    // moment a notice arrives, must already include the event the notice names.
    const base = journal.stats().events;
    const seen: number[] = [];
    const committedAtArrival: number[] = [];
    const probe: Behavior<Notice, null> = {
      init: () => null,
      receive: (s, msg) => {
        seen.push(msg.seqNr);
        committedAtArrival.push(journal.stats().events - base);
        return s;
      },
    };
    sys.spawn('probe', probe);
    const ref = sys.spawn(address, persistent(ledger(1000, 'probe')), { mailbox: { capacity: 1000, policy: 'reject' } });
    for (let wave = 0; wave < 20; wave++) {
      for (let i = 0; i < 10; i++) ref.tell({ type: 'deposit', key: 'a', n: 1 });
      await turns(3);
    }
    for (let i = 0; i < 200 && seen.length < 200; i++) await new Promise((r) => setTimeout(r, 5));
    seen.forEach((seqNr, i) => expect(committedAtArrival[i]).toBeGreaterThanOrEqual(seqNr));
    expect(seen).toEqual(Array.from({ length: 200 }, (_, k) => k + 1));
    await sys.shutdown();
  });

  it('a restarted actor (its handler threw) comes back with its state from the journal', async () => {
    const { supervisor } = await import('../../supervisors/supervisor.ts');
    const { child } = await import('../../supervisors/child-spec.ts');
    const sys = new ActorSystem({ node: 'test' });
    sys.journal = journal;
    const address = `ledger/${++run}`;
    sys.spawn(
      'sup',
      supervisor({ strategy: 'one_for_one', intensity: { maxRestarts: 3, withinMs: 10_000 }, backoff: { minMs: 1, maxMs: 10 }, children: [child({ address, behavior: persistent(ledger(3)) as Behavior<never, unknown>, restart: 'permanent' })] }) as Behavior<never, unknown>,
    );
    await turns();
    const ref = sys.ref<LedgerMsg>(address);
    for (let i = 0; i < 10; i++) ref.tell({ type: 'deposit', key: 'a', n: i });
    ref.tell({ type: 'boom' });
    await new Promise((r) => setTimeout(r, 100));
    ref.tell({ type: 'deposit', key: 'b', n: 7 });
    const back = decodeJson(((await sys.ask(ref, { type: 'get' }, 5000)) as unknown as { state: string }).state) as Ledger;
    expect(back.balances).toEqual(new Map([['a', 45], ['b', 7]]));
    expect(back.events).toBe(11);
    expect(sys.cellOf(address)?.restarts).toBe(1);
    await sys.shutdown();
  });

  it('fresh(): a first message with nothing to recover reads no journal; any other first message waits for recovery, then is answered', async () => {
    let replays = 0;
    // The real journal, counting its reads.
    class CountingJournal extends Journal {
      override replay(...args: Parameters<Journal['replay']>): ReturnType<Journal['replay']> {
        replays++;
        return super.replay(...args);
      }
    }
    const counting = new CountingJournal(pool, { node: 'test' });
    const address = `ledger/${++run}`;
    const freshLedger = (): Behavior<LedgerMsg, Ledger> => persistent<LedgerMsg, Ledger, LedgerEvent>({ ...ledger(1000), fresh: (m) => m.type === 'deposit' && m.key === 'new' });
    const sys = new ActorSystem({ node: 'test' });
    sys.journal = counting;
    const ref = sys.spawn(address, freshLedger());
    ref.tell({ type: 'deposit', key: 'new', n: 5 });
    ref.tell({ type: 'deposit', key: 'a', n: 2 });
    const live = decodeJson(((await sys.ask(ref, { type: 'get' }, 5000)) as unknown as { state: string }).state) as Ledger;
    expect(replays).toBe(0);
    expect(live.events).toBe(2);
    await sys.shutdown();
    // A new incarnation asked first: it recovers, then answers the ask with the recovered state.
    const sys2 = new ActorSystem({ node: 'test' });
    sys2.journal = counting;
    const again = sys2.spawn(address, freshLedger());
    const back = decodeJson(((await sys2.ask(again, { type: 'get' }, 5000)) as unknown as { state: string }).state) as Ledger;
    expect(replays).toBe(1);
    expect(back).toEqual(live);
    await sys2.shutdown();
    await counting.close();
  });

  it('persist(event, { hold: false }): that message\'s effects go out before the event commits, later ones still wait', async () => {
    const slow = new Journal(pool, { node: 'test', flushMs: 200 });
    const sys = new ActorSystem({ node: 'test' });
    sys.journal = slow;
    const arrivals: { seqNr: number; committed: number; atMs: number }[] = [];
    sys.spawn<Notice, null>('probe', { init: () => null, receive: (s, m) => (arrivals.push({ seqNr: m.seqNr, committed: slow.stats().events, atMs: performance.now() }), s) });
    const def = ledger(1000, 'probe');
    const ref = sys.spawn(
      `ledger/${++run}`,
      persistent<LedgerMsg, Ledger, LedgerEvent>({
        ...def,
        receive: (s, m, ctx) => {
          if (m.type !== 'deposit' || m.key !== 'early') return def.receive(s, m, ctx);
          const e: LedgerEvent = { type: 'deposited', key: m.key, n: m.n };
          ctx.persist(e, { hold: false });
          ctx.tell<Notice>('probe', { type: 'notice', seqNr: ctx.seqNr });
          return applyLedger(s, e);
        },
      }),
    );
    const t0 = performance.now();
    ref.tell({ type: 'deposit', key: 'early', n: 1 });
    ref.tell({ type: 'deposit', key: 'a', n: 1 });
    for (let i = 0; i < 200 && arrivals.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(arrivals.map((a) => a.seqNr)).toEqual([1, 2]);
    // The first went out at once, before anything committed; the second only after its commit.
    expect(arrivals[0].committed).toBe(0);
    expect(arrivals[0].atMs - t0).toBeLessThan(150);
    expect(arrivals[1].committed).toBeGreaterThanOrEqual(2);
    await sys.shutdown();
    await slow.close();
  });

  it('without a journal, a persistent behaviour runs in memory and says so', async () => {
    const sys = new ActorSystem({ node: 'test' });
    let durable: boolean | undefined;
    const def = ledger(10);
    const b = persistent<LedgerMsg, Ledger, LedgerEvent>({
      ...def,
      receive: (s, m, ctx) => {
        durable = ctx.durable;
        return def.receive(s, m, ctx);
      },
    });
    const ref = sys.spawn('mem', b);
    ref.tell({ type: 'deposit', key: 'a', n: 5 });
    const st = decodeJson(((await sys.ask(ref, { type: 'get' }, 5000)) as unknown as { state: string }).state) as Ledger;
    expect(st.balances.get('a')).toBe(5);
    expect(durable).toBe(false);
    await sys.shutdown();
  });
});
