import { parseArgs } from 'node:util';
import pg from 'pg';
import { pinProcess } from '../../runtime/affinity.ts';
import { startBenchDatabase } from '../bench-database.ts';
import { encodeJson } from '../../runtime/json-codec.ts';
import type { JournalEvent } from '../../runtime/journal.ts';
import { fillEvent, fillPayloadSql } from '../fill-event.ts';
import { journalInsert, type JournalInsert } from '../journal-insert-events.ts';

/**
 * What the server's time for one journal batch INSERT is made of, on a durable embedded PostgreSQL
 * (taskset -c 0, this process taskset -c 1) holding a journal of --rows events:
 *
 *  1. the parameters alone: round trips of a SELECT that only takes the batch's parameters: the one
 *     JSON parameter runtime/journal.ts sends (bench/journal-insert-events.ts), and for comparison
 *     the five arrays it sent before (text[], bigint[], bigint[], text[], payloads as jsonb[] or
 *     text[]), so parsing the parameters shows apart from inserting;
 *  2. the journal's INSERT into copies of the journal (same rows) with its own indexes (the primary
 *     key and a BRIN index on written_at, as sql/0001_journal.sql), the primary key only, the
 *     primary key + a B-tree on written_at, and none: EXPLAIN ANALYZE execution time.
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
const events = (): JournalEvent[] =>
  Array.from({ length: EVENTS }, (_, i) => ({ persistenceId: `bench/explore/${i % ACTORS}`, seqNr: ++seq, epoch: 0, type: 'fill', payload: fillEvent(seq) }));
const batch = (): Promise<JournalInsert> => journalInsert(events(), 'bench');
/** The five parameters of the journal's INSERT before it took one JSON parameter (unnest of arrays). */
const arrays = (es: readonly JournalEvent[]): unknown[] => [
  es.map((e) => e.persistenceId),
  es.map((e) => e.seqNr),
  es.map((e) => e.epoch),
  es.map((e) => e.type),
  es.map((e) => encodeJson(e.payload)),
  'bench',
];

try {
  const client = await pool.connect();
  try {
    console.log(`writing ${rows.toLocaleString('en-US')} events and four copies of the journal...`);
    await client.query(`INSERT INTO journal (persistence_id, seq_nr, epoch, event_type, payload, node)
      SELECT 'bench/explore/big', s, 0, 'fill', ${fillPayloadSql('s')}, 'bench' FROM generate_series(1::bigint, $1::bigint) s`, [rows]);
    const copies = {
      as_journal: 'CREATE TABLE t_as_journal (LIKE journal INCLUDING ALL)',
      pk_only: 'CREATE TABLE t_pk_only (LIKE journal INCLUDING DEFAULTS INCLUDING CONSTRAINTS, PRIMARY KEY (persistence_id, seq_nr))',
      pk_written_at_btree: 'CREATE TABLE t_pk_written_at_btree (LIKE journal INCLUDING DEFAULTS INCLUDING CONSTRAINTS, PRIMARY KEY (persistence_id, seq_nr)); CREATE INDEX ON t_pk_written_at_btree (written_at)',
      no_index: 'CREATE TABLE t_no_index (LIKE journal INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
    };
    for (const [name, ddl] of Object.entries(copies)) {
      await client.query(ddl);
      await client.query(`INSERT INTO t_${name} SELECT * FROM journal`);
    }
    await client.query('VACUUM ANALYZE');
    await client.query('CHECKPOINT');

    const fiveArrays = 'SELECT cardinality($1::text[]) + cardinality($2::bigint[]) + cardinality($3::bigint[]) + cardinality($4::text[])';
    const params: Record<string, [string, (p: { json: unknown[]; arrays: unknown[] }) => unknown[]]> = {
      'one JSON parameter, as the journal sends it': ['SELECT length($1::json::text) + length($2)', (p) => p.json],
      'the same, split by json_array_elements': ['SELECT count(*) + length($2) FROM json_array_elements($1::json)', (p) => p.json],
      'five arrays (before), payloads jsonb[]': [`${fiveArrays} + cardinality($5::jsonb[]) + length($6)`, (p) => p.arrays],
      'five arrays (before), payloads text[]': [`${fiveArrays} + cardinality($5::text[]) + length($6)`, (p) => p.arrays],
      'SELECT 1 (a round trip)': ['SELECT 1', () => []],
    };
    const paramMs: Record<string, number[]> = {};
    const insertMs: Record<string, number[]> = {};
    const execMs: Record<string, number[]> = {};
    for (let k = 0; k < repeats; k++) {
      const es = events();
      const p = { json: (await journalInsert(es, 'bench')).values, arrays: arrays(es) };
      for (const [name, [sql, pick]] of Object.entries(params)) {
        const t = performance.now();
        await client.query(sql, pick(p));
        (paramMs[name] ??= []).push(performance.now() - t);
      }
      for (const name of Object.keys(copies)) {
        const insert = await batch();
        const sql = insert.text.replace(/^INSERT INTO journal /, `INSERT INTO t_${name} `);
        await client.query('BEGIN');
        const t = performance.now();
        const plan = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE) ${sql}`, insert.values);
        (insertMs[name] ??= []).push(performance.now() - t);
        await client.query('COMMIT');
        (execMs[name] ??= []).push(Number(/Execution Time: ([\d.]+) ms/.exec(plan.rows.map((r) => r['QUERY PLAN']).join('\n'))?.[1] ?? Number.NaN));
      }
    }
    console.log(`\nparameters of a ${EVENTS}-event batch (round trip, client encoding excluded, node-postgres's array literals included):`);
    for (const [name, xs] of Object.entries(paramMs)) console.log(`  ${name.padEnd(44)} ${median(xs).toFixed(2)} ms`);
    console.log(`\nINSERT of a ${EVENTS}-event batch into a ${rows.toLocaleString('en-US')}-row copy of the journal:`);
    for (const name of Object.keys(copies)) console.log(`  ${name.padEnd(20)} round trip ${median(insertMs[name]).toFixed(2)} ms, server execution ${median(execMs[name]).toFixed(2)} ms`);
  } finally {
    client.release();
  }
} finally {
  await pool.end();
  await db.stop();
}
