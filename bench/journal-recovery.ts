import { median } from './median.ts';
import type pg from 'pg';
import { Journal } from '../runtime/journal.ts';
import { recoverState, type Recovered, type SnapshotSpec } from '../runtime/persistent-actor.ts';
import { CpuInterference, waitForQuiet } from './cpu-interference.ts';
import { applyFill, EMPTY_POSITION, FILL_EVENT_TYPE, fillEvent, fillPayloadSql, positionAt, type FillEvent, type Position } from './fill-event.ts';

/**
 * Recovery of one persistent actor from a long journal: what its restart costs, through
 * recoverState (runtime/persistent-actor.ts), the code an actor's recovery runs. The actor's
 * journal is written in SQL (INSERT ... SELECT generate_series, the same columns and json payload
 * the journal writes, checked against an event written through Journal.append), because a million
 * appends through group commit would take longer than the recovery being measured. A snapshot is
 * saved through Journal.saveSnapshot `snapshot_lag` events before the end. Each run folds the fills
 * into a position; every run's result is checked against the same fold computed here.
 */

export interface RecoveryOptions {
  events: number;
  /** the snapshot is at events - snapshot_lag */
  snapshot_lag: number;
  runs: number;
  /** replay() page size: the runtime's default unless told */
  page_size?: number;
  persistence_id: string;
  /** the server's CPU time so far, ms (undefined: not measurable) */
  server_cpu_ms: () => number | undefined;
  server_pids: () => number[];
}

export interface RecoveryRun {
  no_snapshot_ms: number;
  snapshot_ms: number;
  /** CPU used during the recovery without a snapshot: this process, and the server (undefined: not measurable) */
  no_snapshot_bench_cpu_ms: number;
  no_snapshot_server_cpu_ms: number | undefined;
  /** CPU used by other processes during the recovery without a snapshot, % of all cores */
  interference_pct: number;
}

export interface RecoveryResult {
  runs: RecoveryRun[];
  /** median over runs */
  no_snapshot_ms: number;
  snapshot_ms: number;
  /** the run whose no_snapshot_ms is the median */
  median_run: RecoveryRun;
  snapshot_seq_nr: number;
  /** events replayed after the snapshot */
  tail_events: number;
}

export interface RecoveryFill {
  /** how long writing the journal took (SQL), and VACUUM ANALYZE after it */
  fill_ms: number;
  vacuum_ms: number;
  /** the table and its indexes after the fill, bytes */
  journal_bytes: number;
}

/** Wait at most this long for a quiet machine before a run (other work on it is reported, not waited out). */
const QUIET = { window_ms: 500, wait_max_ms: 2000 } as const;

export const PROBE_PERSISTENCE_ID = 'bench/recovery-probe';

/** Writes the actor's journal and its snapshot. Returns how long the writes took. */
export async function fillRecoveryJournal(pool: pg.Pool, o: Pick<RecoveryOptions, 'events' | 'snapshot_lag' | 'persistence_id'>): Promise<RecoveryFill> {
  const journal = new Journal(pool, { node: 'bench' });
  try {
    const started = performance.now();
    await pool.query({
      text: `INSERT INTO journal (persistence_id, seq_nr, epoch, event_type, payload, node)
        SELECT $1, s, 0, $2, ${fillPayloadSql('s')}, 'bench' FROM generate_series(1::bigint, $3::bigint) AS s`,
      values: [o.persistence_id, FILL_EVENT_TYPE, o.events],
    });
    const fill_ms = performance.now() - started;
    await assertSameRowAsJournal(pool, journal, o.persistence_id);
    const at = o.events - o.snapshot_lag;
    await journal.saveSnapshot({ persistenceId: o.persistence_id, seqNr: at, epoch: 0, state: positionAt(at) });
    // What autovacuum does soon after a bulk insert (hint bits, visibility map, statistics): without
    // it the first replay would also pay for setting hint bits on a million rows.
    const vacuumStarted = performance.now();
    await pool.query('VACUUM (ANALYZE) journal');
    const vacuum_ms = performance.now() - vacuumStarted;
    const size = await pool.query<{ bytes: string }>(`SELECT pg_total_relation_size('journal') AS bytes`);
    return { fill_ms, vacuum_ms, journal_bytes: Number(size.rows[0]?.bytes ?? 0) };
  } finally {
    await journal.close();
  }
}

/** Times `runs` recoveries without a snapshot and from the snapshot; checks every state. */
export async function measureRecovery(pool: pg.Pool, o: RecoveryOptions, onRun: (run: RecoveryRun, index: number) => void = () => undefined): Promise<RecoveryResult> {
  const journal = new Journal(pool, { node: 'bench' });
  // replay()'s default page size unless the caller asks for another.
  const replaying: Pick<Journal, 'latestSnapshot' | 'replay'> = {
    latestSnapshot: (id) => journal.latestSnapshot(id),
    replay: (id, after, onEvent, pageSize) => journal.replay(id, after, onEvent, o.page_size ?? pageSize),
  };
  const spec: SnapshotSpec<Position> = { save: (s) => s, load: (d) => d as Position };
  const expected = positionAt(o.events);
  const snapshot_seq_nr = o.events - o.snapshot_lag;
  const full = { seqNr: o.events, snapshotSeqNr: 0, events: o.events };
  const runs: RecoveryRun[] = [];
  try {
    for (let i = 0; i < o.runs; i++) {
      await waitForQuiet(QUIET);
      const plain = await measured(o, () => recoverState<Position, FillEvent>(replaying, o.persistence_id, EMPTY_POSITION, applyFill, undefined));
      check('without a snapshot', plain.result, full, expected);
      const started = performance.now();
      const fast = await recoverState<Position, FillEvent>(replaying, o.persistence_id, EMPTY_POSITION, applyFill, spec);
      const snapshot_ms = performance.now() - started;
      check('from the snapshot', fast, { seqNr: o.events, snapshotSeqNr: snapshot_seq_nr, events: o.snapshot_lag }, expected);
      const run: RecoveryRun = {
        no_snapshot_ms: plain.ms,
        snapshot_ms,
        no_snapshot_bench_cpu_ms: plain.bench_cpu_ms,
        no_snapshot_server_cpu_ms: plain.server_cpu_ms,
        interference_pct: plain.interference_pct,
      };
      runs.push(run);
      onRun(run, i);
    }
  } finally {
    await journal.close();
  }
  const no_snapshot_ms = median(runs.map((r) => r.no_snapshot_ms));
  return {
    runs,
    median_run: runs.find((r) => r.no_snapshot_ms === no_snapshot_ms)!,
    no_snapshot_ms,
    snapshot_ms: median(runs.map((r) => r.snapshot_ms)),
    snapshot_seq_nr,
    tail_events: o.snapshot_lag,
  };
}

interface Measured {
  result: Recovered<Position>;
  ms: number;
  bench_cpu_ms: number;
  server_cpu_ms: number | undefined;
  interference_pct: number;
}

async function measured(o: RecoveryOptions, recover: () => Promise<Recovered<Position>>): Promise<Measured> {
  const interference = new CpuInterference(o.server_pids());
  interference.start();
  const cpu0 = cpuMs();
  const server0 = o.server_cpu_ms();
  const started = performance.now();
  const result = await recover();
  const ms = performance.now() - started;
  const server1 = o.server_cpu_ms();
  return {
    result,
    ms,
    bench_cpu_ms: cpuMs() - cpu0,
    server_cpu_ms: server0 === undefined || server1 === undefined ? undefined : server1 - server0,
    interference_pct: interference.stop(),
  };
}

interface Counts {
  seqNr: number;
  snapshotSeqNr: number;
  events: number;
}

function check(how: string, got: Counts & { state: Position }, want: Counts, state: Position): void {
  const counts = { seqNr: got.seqNr, snapshotSeqNr: got.snapshotSeqNr, events: got.events };
  const same = (Object.keys(want) as (keyof Counts)[]).every((k) => counts[k] === want[k]) && (Object.keys(state) as (keyof Position)[]).every((k) => got.state[k] === state[k]);
  if (!same) {
    throw new Error(`recovery ${how}: got ${JSON.stringify({ ...counts, state: got.state })}, expected ${JSON.stringify({ ...want, state })}`);
  }
}

/** The generated rows must be the rows Journal.append writes: same type, payload, epoch and node. */
async function assertSameRowAsJournal(pool: pg.Pool, journal: Journal, persistenceId: string): Promise<void> {
  await pool.query('DELETE FROM journal WHERE persistence_id = $1', [PROBE_PERSISTENCE_ID]);
  await journal.append({ persistenceId: PROBE_PERSISTENCE_ID, seqNr: 1, epoch: 0, type: FILL_EVENT_TYPE, payload: fillEvent(1) });
  // payload::jsonb: json has no equality operator; as jsonb the two compare as values.
  const r = await pool.query<{ same: boolean }>(
    `SELECT (a.event_type, a.payload::jsonb, a.epoch, a.node) IS NOT DISTINCT FROM (b.event_type, b.payload::jsonb, b.epoch, b.node) AS same
       FROM journal a, journal b WHERE a.persistence_id = $1 AND a.seq_nr = 1 AND b.persistence_id = $2 AND b.seq_nr = 1`,
    [PROBE_PERSISTENCE_ID, persistenceId],
  );
  if (r.rows[0]?.same !== true) throw new Error(`recovery fill: event 1 of ${persistenceId} written in SQL differs from the same event written by Journal.append (${PROBE_PERSISTENCE_ID}); expected identical rows`);
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

