import { parseArgs } from 'node:util';
import pg from 'pg';
import { pinProcess } from '../../runtime/affinity.ts';
import { startBenchDatabase } from '../bench-database.ts';
import { fillEvent, fillPayloadSql } from '../fill-event.ts';
import { encodeBatch } from '../pipelined-journal.ts';

/**
 * What the server's time for one journal batch INSERT is made of, on a durable embedded PostgreSQL
 * (taskset -c 0, this process taskset -c 1) holding a journal of --rows events:
 *
 *  1. the parameters alone: round trips of a SELECT that only takes the batch's parameters (as
 *     runtime/journal.ts sends them, and variants: payloads as text[] instead of jsonb[], the json
 *     encoding of bench/pipelined-journal.ts), so parsing jsonb and array literals shows apart from
 *     inserting;
 *  2. the INSERT into copies of the journal (same rows) with 3 indexes (as sql/0001_journal.sql),
 *     the primary key only, the primary key + written_at, and none: EXPLAIN ANALYZE execution time.
 *
 * Medians of --repeats batches of 1000 events from 64 actors.
 *
 *   node --import tsx bench/explore/journal-insert-cost.ts [--rows 1000000] [--repeats 15]
 */

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, repeats: { type: 'string', default: '15' } } });
const rows = Number(values.rows);
const repeats = Number(values.repeats);
const EVENTS = 1000;
const ACTORS = 64;

pinProcess([1]);
const db = await startBenchDatabase({ url: undefined, cores: '0' });
const pool = new pg.Pool({ connectionString: db.url, max: 1 });
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
let seq = 0;
const batch = (): unknown[] =>
  encodeBatch(
    Array.from({ length: EVENTS }, (_, i) => ({ persistenceId: `bench/explore/${i % ACTORS}`, seqNr: ++seq, epoch: 0, type: 'fill', payload: fillEvent(seq) })),
    'arrays',
    'bench',
  );

try {
  const client = await pool.connect();
  try {
    console.log(`writing ${rows.toLocaleString('en-US')} events and four copies of the journal...`);
    await client.query(`INSERT INTO journal (persistence_id, seq_nr, epoch, event_type, payload, node)
      SELECT 'bench/explore/big', s, 0, 'fill', ${fillPayloadSql('s')}, 'bench' FROM generate_series(1::bigint, $1::bigint) s`, [rows]);
    const copies = {
      three_indexes: 'CREATE TABLE t_three_indexes (LIKE journal INCLUDING ALL)',
      pk_only: 'CREATE TABLE t_pk_only (LIKE journal INCLUDING DEFAULTS INCLUDING CONSTRAINTS, PRIMARY KEY (persistence_id, seq_nr))',
      pk_written_at: 'CREATE TABLE t_pk_written_at (LIKE journal INCLUDING DEFAULTS INCLUDING CONSTRAINTS, PRIMARY KEY (persistence_id, seq_nr)); CREATE INDEX ON t_pk_written_at (written_at)',
      no_index: 'CREATE TABLE t_no_index (LIKE journal INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
    };
    for (const [name, ddl] of Object.entries(copies)) {
      await client.query(ddl);
      await client.query(`INSERT INTO t_${name} SELECT * FROM journal`);
    }
    await client.query('VACUUM ANALYZE');
    await client.query('CHECKPOINT');

    const params: Record<string, [string, (p: unknown[]) => unknown[]]> = {
      'five arrays as the journal sends them': ['SELECT cardinality($1::text[]) + cardinality($2::bigint[]) + cardinality($3::bigint[]) + cardinality($4::text[]) + cardinality($5::jsonb[]) + length($6)', (p) => p],
      'the same, payloads as text[]': ['SELECT cardinality($1::text[]) + cardinality($2::bigint[]) + cardinality($3::bigint[]) + cardinality($4::text[]) + cardinality($5::text[]) + length($6)', (p) => p],
      'payloads jsonb[] alone': ['SELECT cardinality($1::jsonb[])', (p) => [p[4]]],
      'payloads text[] alone': ['SELECT cardinality($1::text[])', (p) => [p[4]]],
      'SELECT 1 (a round trip)': ['SELECT 1', () => []],
    };
    const paramMs: Record<string, number[]> = {};
    const insertMs: Record<string, number[]> = {};
    const execMs: Record<string, number[]> = {};
    for (let k = 0; k < repeats; k++) {
      const p = batch();
      for (const [name, [sql, pick]] of Object.entries(params)) {
        const t = performance.now();
        await client.query(sql, pick(p));
        (paramMs[name] ??= []).push(performance.now() - t);
      }
      for (const name of Object.keys(copies)) {
        const sql = `INSERT INTO t_${name} (persistence_id, seq_nr, epoch, event_type, payload, node)
          SELECT p, s, e, t, d, $6 FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::jsonb[]) AS u(p, s, e, t, d)`;
        await client.query('BEGIN');
        const t = performance.now();
        const plan = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE) ${sql}`, batch());
        (insertMs[name] ??= []).push(performance.now() - t);
        await client.query('COMMIT');
        (execMs[name] ??= []).push(Number(/Execution Time: ([\d.]+) ms/.exec(plan.rows.map((r) => r['QUERY PLAN']).join('\n'))?.[1] ?? Number.NaN));
      }
    }
    console.log(`\nparameters of a ${EVENTS}-event batch (round trip, client encoding excluded, node-postgres's array literals included):`);
    for (const [name, xs] of Object.entries(paramMs)) console.log(`  ${name.padEnd(40)} ${median(xs).toFixed(2)} ms`);
    console.log(`\nINSERT of a ${EVENTS}-event batch into a ${rows.toLocaleString('en-US')}-row copy of the journal:`);
    for (const name of Object.keys(copies)) console.log(`  ${name.padEnd(16)} round trip ${median(insertMs[name]).toFixed(2)} ms, server execution ${median(execMs[name]).toFixed(2)} ms`);
  } finally {
    client.release();
  }
} finally {
  await pool.end();
  await db.stop();
}
