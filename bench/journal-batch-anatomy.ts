import type pg from 'pg';
import type { JournalEvent } from '../runtime/journal.ts';
import { FILL_EVENT_TYPE, fillEvent } from './fill-event.ts';
import { journalInsert, type JournalInsert } from './journal-insert-events.ts';

/**
 * Where the time of one group-commit batch goes, step by step, on one connection with nothing
 * else running: the journal's JS work for the batch (append() of every event, encodeJson of its
 * payload, and the batch's one JSON parameter), BEGIN, the INSERT runtime/journal.ts sends (round
 * trip: the JSON parameter sent and parsed, json_to_recordset split into typed rows, rows into the heap,
 * the primary key and the BRIN index on written_at of sql/0001_journal.sql), and COMMIT with
 * synchronous_commit on (the WAL flush) and, for comparison, off. EXPLAIN (ANALYZE, WAL) gives the
 * server's execution time and WAL bytes of the same INSERT. The statement and its parameters come
 * from runtime/journal.ts itself (bench/journal-insert-events.ts). Medians of `repeats` batches.
 */

export interface BatchAnatomyOptions {
  events: number;
  repeats: number;
  node: string;
}

export interface BatchAnatomy {
  events: number;
  /** the journal's own JS work: append() of every event (encodeJson of its payload) and the batch's JSON parameter */
  encode_ms: number;
  begin_ms: number;
  insert_ms: number;
  commit_ms: number;
  commit_async_ms: number;
  /** EXPLAIN ANALYZE execution time of the INSERT (excludes parsing the statement) */
  server_exec_ms: number;
  wal_bytes: number;
  /** a round trip with no work: SELECT 1 */
  rtt_ms: number;
}

let batchNo = 0;

function batch(n: number): JournalEvent[] {
  const id = `bench/anatomy/${++batchNo}`;
  return Array.from({ length: n }, (_, i) => ({ persistenceId: id, seqNr: i + 1, epoch: 0, type: FILL_EVENT_TYPE, payload: fillEvent(i + 1) }));
}

export async function measureBatchAnatomy(pool: pg.Pool, o: BatchAnatomyOptions): Promise<BatchAnatomy> {
  const client = await pool.connect();
  const samples: Record<Exclude<keyof BatchAnatomy, 'events'>, number[]> = {
    encode_ms: [], begin_ms: [], insert_ms: [], commit_ms: [], commit_async_ms: [], server_exec_ms: [], wal_bytes: [], rtt_ms: [],
  };
  const next = (): Promise<JournalInsert> => journalInsert(batch(o.events), o.node);
  try {
    for (let k = 0; k < o.repeats; k++) {
      let t = performance.now();
      await client.query('SELECT 1');
      samples.rtt_ms.push(performance.now() - t);
      t = performance.now();
      const first = await next();
      samples.encode_ms.push(performance.now() - t);
      // Alternate: synchronous commit on, then off for the same kind of batch.
      for (const sync of ['on', 'off'] as const) {
        const insert = sync === 'on' ? first : await next();
        const t0 = performance.now();
        await client.query('BEGIN');
        const t1 = performance.now();
        if (sync === 'off') await client.query('SET LOCAL synchronous_commit = off');
        const t2 = performance.now();
        await client.query(insert.text, insert.values);
        const t3 = performance.now();
        await client.query('COMMIT');
        const t4 = performance.now();
        if (sync === 'on') {
          samples.begin_ms.push(t1 - t0);
          samples.insert_ms.push(t3 - t2);
          samples.commit_ms.push(t4 - t3);
        } else samples.commit_async_ms.push(t4 - t3);
      }
      const explained = await next();
      await client.query('BEGIN');
      const plan = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, WAL, FORMAT TEXT) ${explained.text}`, explained.values);
      await client.query('COMMIT');
      const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
      samples.server_exec_ms.push(Number(/Execution Time: ([\d.]+) ms/.exec(text)?.[1] ?? Number.NaN));
      samples.wal_bytes.push(Number(/WAL: .*bytes=(\d+)/.exec(text)?.[1] ?? Number.NaN));
    }
  } finally {
    client.release();
  }
  const m = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {
    events: o.events,
    encode_ms: m(samples.encode_ms),
    begin_ms: m(samples.begin_ms),
    insert_ms: m(samples.insert_ms),
    commit_ms: m(samples.commit_ms),
    commit_async_ms: m(samples.commit_async_ms),
    server_exec_ms: m(samples.server_exec_ms),
    wal_bytes: m(samples.wal_bytes),
    rtt_ms: m(samples.rtt_ms),
  };
}
