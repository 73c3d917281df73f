// The journal writer against a real PostgreSQL: group commit, order, view rows in the events'
// transaction, refusal of a sequence number written twice, and an outage that loses nothing.
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../runtime/embedded-postgres.ts';
import { freePort } from '../../runtime/free-port.ts';
import { Journal, JournalWriteError, type JournalHealth } from '../../runtime/journal.ts';
import { migrate } from '../../runtime/migrations.ts';
import { startTestDatabase, type TestDatabase } from '../support/test-database.ts';

describe('journal', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await startTestDatabase();
    // Pipelined, as a node gives its journal.
    pool = new pg.Pool({ connectionString: db.url, max: 4, pipeline: true } as pg.PoolConfig);
    // The server stopping at the end drops idle connections: that is expected here.
    pool.on('error', () => undefined);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.stop();
  });

  it('commits the events of many actors in few batches, each actor in its order', async () => {
    const j = new Journal(pool, { node: 'n1', flushMs: 1, batchMax: 500 });
    const writes: Promise<void>[] = [];
    for (let i = 1; i <= 3000; i++) {
      for (const pid of ['a', 'b', 'c']) writes.push(j.append({ persistenceId: `gc/${pid}`, seqNr: i, epoch: 0, type: 'n', payload: { i, pid } }));
    }
    await Promise.all(writes);
    const st = j.stats();
    expect(st.events).toBe(9000);
    expect(st.batches).toBeGreaterThanOrEqual(18);
    expect(st.batches).toBeLessThan(9000 / 10);
    for (const pid of ['a', 'b', 'c']) {
      const seen: number[] = [];
      const last = await j.replay(`gc/${pid}`, 0, (e) => seen.push((e.payload as { i: number }).i), 700);
      expect(last).toBe(3000);
      expect(seen).toEqual(Array.from({ length: 3000 }, (_, k) => k + 1));
    }
    const after = await j.replay('gc/a', 2990, () => undefined);
    expect(after).toBe(3000);
    await j.close();
  });

  it('writes an event and its view rows in one transaction: a refused row takes its events with it', async () => {
    await pool.query('CREATE TABLE IF NOT EXISTS view_probe (k text PRIMARY KEY, v int NOT NULL)');
    const j = new Journal(pool, { node: 'n1', flushMs: 50 });
    await j.append({ persistenceId: 'v/1', seqNr: 1, epoch: 3, type: 'set', payload: { v: 1 } }, [{ sql: 'INSERT INTO view_probe (k, v) VALUES ($1, $2)', params: ['x', 1] }]);
    const rows = await pool.query('SELECT v FROM view_probe WHERE k = $1', ['x']);
    expect(rows.rows).toEqual([{ v: 1 }]);
    const ep = await pool.query('SELECT epoch, node, event_type FROM journal WHERE persistence_id = $1', ['v/1']);
    expect(ep.rows).toEqual([{ epoch: '3', node: 'n1', event_type: 'set' }]);
    // The same view key again violates the primary key: the whole batch is refused, events too.
    const bad = j.append({ persistenceId: 'v/1', seqNr: 2, epoch: 3, type: 'set', payload: { v: 2 } }, [{ sql: 'INSERT INTO view_probe (k, v) VALUES ($1, $2)', params: ['x', 2] }]);
    await expect(bad).rejects.toBeInstanceOf(JournalWriteError);
    expect(await j.highestSeqNr('v/1')).toBe(1);
    await j.close();
  });

  it('a row refused for good fails only its actor (and that actor\'s events queued behind it); the other actors of the batch commit', async () => {
    await pool.query('CREATE TABLE IF NOT EXISTS iso_probe (k text PRIMARY KEY)');
    await pool.query("INSERT INTO iso_probe (k) VALUES ('taken') ON CONFLICT DO NOTHING");
    const j = new Journal(pool, { node: 'n1', flushMs: 30, batchMax: 3 });
    const good1 = j.append({ persistenceId: 'iso/good', seqNr: 1, epoch: 0, type: 'e', payload: {} });
    const bad = j.append({ persistenceId: 'iso/bad', seqNr: 1, epoch: 0, type: 'e', payload: {} }, [{ sql: 'INSERT INTO iso_probe (k) VALUES ($1)', params: ['taken'] }]);
    const good2 = j.append({ persistenceId: 'iso/good', seqNr: 2, epoch: 0, type: 'e', payload: {} });
    // The next batch: the bad actor's next event would follow a gap; the good one's goes on.
    const badLater = j.append({ persistenceId: 'iso/bad', seqNr: 2, epoch: 0, type: 'e', payload: {} });
    const good3 = j.append({ persistenceId: 'iso/good', seqNr: 3, epoch: 0, type: 'e', payload: {} });
    await expect(bad).rejects.toThrow(/journal refused the events 1\.\.1 of iso\/bad: duplicate key/);
    await expect(badLater).rejects.toThrow(/an earlier event of iso\/bad was refused/);
    await Promise.all([good1, good2, good3]);
    expect(await j.highestSeqNr('iso/good')).toBe(3);
    expect(await j.highestSeqNr('iso/bad')).toBe(0);
    expect(j.stats().pending).toBe(0);
    await j.close();
  });

  it('two batches in flight that upsert the same view row commit in order, without waiting on each other', async () => {
    await pool.query('CREATE TABLE IF NOT EXISTS same_row (k text PRIMARY KEY, v int NOT NULL)');
    const j = new Journal(pool, { node: 'n1', batchMax: 5 });
    const writes: Promise<void>[] = [];
    for (let i = 1; i <= 300; i++) {
      const view = { sql: 'INSERT INTO same_row (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v', params: ['x', i] };
      writes.push(j.append({ persistenceId: `row/${i % 7}`, seqNr: Math.ceil(i / 7), epoch: 0, type: 'e', payload: { i } }, [view], i % 3 === 0));
    }
    await Promise.all(writes);
    expect((await pool.query<{ v: number }>("SELECT v FROM same_row WHERE k = 'x'")).rows[0].v).toBe(300);
    expect(j.stats().batches).toBeGreaterThan(30);
    await j.close();
  });

  it('refuses a sequence number written twice (a second writer of one actor)', async () => {
    const j = new Journal(pool, { node: 'n1' });
    await j.append({ persistenceId: 'dup/1', seqNr: 1, epoch: 0, type: 'e', payload: {} });
    const again = j.append({ persistenceId: 'dup/1', seqNr: 1, epoch: 0, type: 'e', payload: { other: true } });
    await expect(again).rejects.toThrow(/journal refused the events 1\.\.1 of dup\/1: duplicate key/);
    // The writer goes on with the next batch.
    await j.append({ persistenceId: 'dup/1', seqNr: 2, epoch: 0, type: 'e', payload: {} });
    expect(await j.highestSeqNr('dup/1')).toBe(2);
    await j.close();
  });

  it('keeps the latest snapshot behind the events before it', async () => {
    const j = new Journal(pool, { node: 'n1' });
    void j.append({ persistenceId: 's/1', seqNr: 1, epoch: 0, type: 'e', payload: {} });
    void j.saveSnapshot({ persistenceId: 's/1', seqNr: 1, epoch: 0, state: { total: 1 } });
    void j.append({ persistenceId: 's/1', seqNr: 2, epoch: 0, type: 'e', payload: {} });
    await j.saveSnapshot({ persistenceId: 's/1', seqNr: 2, epoch: 0, state: { total: 2 } });
    expect(await j.latestSnapshot('s/1')).toEqual({ seqNr: 2, epoch: 0, state: { total: 2 } });
    expect(await j.latestSnapshot('s/none')).toBeUndefined();
    await j.close();
  });

  it('an urgent append goes at once; a plain one waits flush_ms for company', async () => {
    const j = new Journal(pool, { node: 'n1', flushMs: 1000 });
    const t0 = performance.now();
    await j.append({ persistenceId: 'urg/1', seqNr: 1, epoch: 0, type: 'e', payload: {} }, undefined, true);
    const urgentMs = performance.now() - t0;
    const t1 = performance.now();
    await j.append({ persistenceId: 'urg/1', seqNr: 2, epoch: 0, type: 'e', payload: {} });
    const plainMs = performance.now() - t1;
    // Not a speed figure: which of the two waited for the flush timer.
    expect(urgentMs).toBeLessThan(900);
    expect(plainMs).toBeGreaterThanOrEqual(990);
    await j.close();
  });

  it('refuses appends past pending_max at once, naming the bound', async () => {
    const j = new Journal(pool, { node: 'n1', pendingMax: 3, flushMs: 20 });
    const ok = [1, 2, 3].map((i) => j.append({ persistenceId: 'full/1', seqNr: i, epoch: 0, type: 'e', payload: {} }));
    expect(() => j.append({ persistenceId: 'full/1', seqNr: 4, epoch: 0, type: 'e', payload: {} })).toThrow(/journal full: 3 events.*pending_max/);
    await Promise.all(ok);
    await j.append({ persistenceId: 'full/1', seqNr: 4, epoch: 0, type: 'e', payload: {} });
    await j.close();
  });
});

describe('journal through a PostgreSQL outage', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'rt-journal-outage-'));
    await chmod(root, 0o755);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('holds every append while the server is down, says it is unavailable, and commits them all when it is back', async () => {
    const dataDir = path.join(root, 'data');
    const port = await freePort();
    let server = await startEmbeddedPostgres({ dataDir, port, durable: false });
    const pool = new pg.Pool({ connectionString: server.url, max: 2, connectionTimeoutMillis: 1000 });
    pool.on('error', () => undefined);
    await migrate(pool);
    const j = new Journal(pool, { node: 'n1', retryMinMs: 20, retryMaxMs: 200, appendTimeoutMs: 300 });
    const health: JournalHealth[] = [];
    j.onHealth((h) => health.push(h));
    try {
      let seq = 0;
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 100; i++) writes.push(j.append({ persistenceId: 'out/1', seqNr: ++seq, epoch: 0, type: 'e', payload: { seq } }));
      await Promise.all(writes);
      await server.stop();
      let settled = 0;
      for (let i = 0; i < 500; i++) {
        const p = j.append({ persistenceId: 'out/1', seqNr: ++seq, epoch: 0, type: 'e', payload: { seq } });
        writes.push(p);
        void p.then(() => settled++);
      }
      await new Promise((r) => setTimeout(r, 800));
      expect(settled).toBe(0);
      expect(j.health.available).toBe(false);
      expect(health[0]).toMatchObject({ available: false });
      server = await startEmbeddedPostgres({ dataDir, port, durable: false });
      await Promise.all(writes);
      expect(j.health.available).toBe(true);
      expect(health.at(-1)).toEqual({ available: true });
      expect(j.stats().retries).toBeGreaterThan(0);
      const seen: number[] = [];
      await j.replay('out/1', 0, (e) => seen.push((e.payload as { seq: number }).seq));
      expect(seen).toEqual(Array.from({ length: 600 }, (_, k) => k + 1));
    } finally {
      await j.close(1000);
      await pool.end();
      await server.stop();
    }
  });
});
