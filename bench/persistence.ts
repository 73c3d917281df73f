import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pinProcess } from '../runtime/affinity.ts';
import { IN_FLIGHT_MAX, JOURNAL_DEFAULTS, Journal, type JournalOptions } from '../runtime/journal.ts';
import { startBenchDatabase } from './bench-database.ts';
import { waitForQuiet } from './cpu-interference.ts';
import { runAppendLoad, type AppendLoadOptions, type AppendLoadResult } from './journal-append-load.ts';
import { measureBatchAnatomy, type BatchAnatomy } from './journal-batch-anatomy.ts';
import { fillEvent } from './fill-event.ts';
import { fillRecoveryJournal, measureRecovery } from './journal-recovery.ts';
import { measureCodecCost } from './json-codec-cost.ts';
import { BenchReport } from './report.ts';
import { activitySince, serverActivity, type ServerActivity } from './server-activity.ts';

/**
 * Suite `persistence` (BENCH.md): the journal's group commit against a durable PostgreSQL (fsync
 * on, synchronous_commit on), and the recovery of one actor from a million events.
 *
 * What is measured is runtime/journal.ts as it is (its defaults unless the sweep says otherwise):
 * a batch's events in one INSERT with one JSON parameter, at most two batches in flight on two
 * connections (the second commits only after the first), into sql/0001_journal.sql's tables.
 *
 *  - journal.events_per_s: 64 simulated actors (own persistence ids, ~100-byte fill events) in a
 *    closed loop, each keeping `depth` appends outstanding: the journal's capacity. Median of rounds.
 *  - journal.append.*: latency from append() to its promise resolving, open loop at `--rate`
 *    events/s (below capacity: what an actor waits for its events to be durable at that load).
 *  - anatomy.*: where one 1000-event batch's time goes (the journal's JS work, BEGIN, the journal's
 *    INSERT, COMMIT with and without the WAL flush), measured step by step on one connection.
 *  - sweep.*: flush_ms and batch_max around the defaults.
 *  - recovery.1m.*: recoverState of one actor over 1,000,000 events, without and with a snapshot
 *    1,000 events before the end; median of 3.
 *  - codec.*: runtime/json-codec.ts per event against plain JSON.
 *
 * PostgreSQL (every process) runs on --server-cores, this process on --bench-cores. DATABASE_URL:
 * that server instead of an embedded one (then not pinned, and the bench's rows are deleted after).
 * --results-dir: write persistence.json there instead of bench/results/ (a trial run that must not
 * replace the committed example).
 *
 *   npm run bench -- persistence [--help] (options: USAGE below)
 *
 * A few minutes with the defaults. Longer runs: --events 1000000 --rounds 5.
 */

const USAGE = `usage: npm run bench -- persistence [--rounds 3] [--events 200000] [--max-s 30] [--actors 64] [--depth 32]
  [--rate 25000] [--samples 100000] [--recovery-events 1000000] [--snapshot-lag 1000] [--recovery-runs 3]
  [--server-cores 0] [--bench-cores 1] [--no-sweep] [--results-dir bench/results]
DATABASE_URL=postgres://... measures that server instead of an embedded one.`;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    rounds: { type: 'string', default: '3' },
    events: { type: 'string', default: '200000' },
    'max-s': { type: 'string', default: '30' },
    actors: { type: 'string', default: '64' },
    depth: { type: 'string', default: '32' },
    rate: { type: 'string', default: '25000' },
    samples: { type: 'string', default: '100000' },
    'recovery-events': { type: 'string', default: '1000000' },
    'snapshot-lag': { type: 'string', default: '1000' },
    'recovery-runs': { type: 'string', default: '3' },
    'server-cores': { type: 'string', default: '0' },
    'bench-cores': { type: 'string', default: '1' },
    'results-dir': { type: 'string' },
    'no-sweep': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const count = (name: keyof typeof values, min: number): number => {
  const raw = values[name];
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`bench persistence: --${name} ${String(raw)}: expected an integer >= ${min}`);
  return n;
};
const rounds = count('rounds', 1);
const actors = count('actors', 1);
const depth = count('depth', 1);
const rate = count('rate', 1);
const samples = count('samples', 1);
const throughputEvents = count('events', 1);
const maxS = count('max-s', 1);
const recoveryEvents = count('recovery-events', 2);
const snapshotLag = count('snapshot-lag', 1);
if (snapshotLag >= recoveryEvents) throw new Error(`bench persistence: --snapshot-lag ${snapshotLag}: expected fewer than --recovery-events ${recoveryEvents}`);
const recoveryRuns = count('recovery-runs', 1);
const serverCores = values['server-cores'];
const benchCores = values['bench-cores'];

const WARMUP_EVENTS = 20_000;
/** batches: a figure's `n` is the samples behind it */
const ANATOMY_REPEATS = 20;
const ANATOMY_EVENTS = 1000;
const SWEEP_BATCH_MAX = [100, 4000] as const;
const SWEEP_FLUSH_MS = [0, 5] as const;
/** Wait at most this long for a quiet machine before a run (other work on it is reported in the notes, not waited out). */
const QUIET = { window_ms: 500, wait_max_ms: 2000 } as const;
const CODEC_OPS = 200_000;
const CODEC_BLOCKS = 3;
/** What the throughput and latency sections measure. */
const JOURNAL_WHAT = `runtime/journal.ts, defaults (flush_ms ${JOURNAL_DEFAULTS.flushMs}, batch_max ${JOURNAL_DEFAULTS.batchMax}; a batch's events in one INSERT with one JSON parameter; at most ${IN_FLIGHT_MAX} batches in flight on ${IN_FLIGHT_MAX} connections, committing in order)`;

const pinned = pinProcess(benchCores.split(',').map(Number));
if (pinned.error) console.log(`bench process not pinned: ${pinned.error}`);
console.log(`starting PostgreSQL (${process.env.DATABASE_URL ? 'DATABASE_URL' : `embedded, durable, taskset -c ${serverCores}`})...`);
const db = await startBenchDatabase({ url: process.env.DATABASE_URL, cores: serverCores });
console.log(`using ${db.source}`);
const stopOnSignal = (signal: NodeJS.Signals): void => {
  console.error(`${signal}: stopping PostgreSQL and removing its data folder`);
  void db.stop().finally(() => process.exit(130));
};
process.once('SIGINT', stopOnSignal);
process.once('SIGTERM', stopOnSignal);

const s = db.settings;
const pinning = `${db.cores === undefined ? 'PostgreSQL not pinned (DATABASE_URL)' : `PostgreSQL (all processes) taskset -c ${db.cores}`}; bench (node, all threads) taskset -c ${pinned.cores.join(',')}`;
const resultsDir = values['results-dir'];
const report = new BenchReport('persistence', 'npm run bench -- persistence', {
  pinned: db.cores !== undefined && !pinned.error,
  ...(resultsDir === undefined ? {} : { results_dir: pathToFileURL(`${resolve(resultsDir)}/`) }),
  machine_extra: {
    pinning,
    database: db.source.replace(/, data in .*$/, ''),
    fsync: s.fsync,
    synchronous_commit: s.synchronous_commit,
    wal_sync_method: s.wal_sync_method,
    full_page_writes: s.full_page_writes,
    shared_buffers: s.shared_buffers,
    commit_delay: s.commit_delay,
  },
});
const run = Date.now().toString(36);
let loadNo = 0;
const payload = '~104-byte JSON fill event ({type, id, symbol, side, qty, price, timeMs})';
// Connections stay open (no idle timeout) so the server's backends, and their CPU counters, live for the whole run.
const pool = new pg.Pool({ connectionString: db.url, max: 4, idleTimeoutMillis: 0 });
let ending = false;
pool.on('error', (error) => {
  if (!ending) console.error(`idle PostgreSQL connection lost: ${error.message}`);
});

try {
  if (db.embedded && (s.fsync !== 'on' || s.synchronous_commit !== 'on')) {
    throw new Error(`embedded PostgreSQL: fsync=${s.fsync}, synchronous_commit=${s.synchronous_commit}; expected both on (durable: true)`);
  }
  await Promise.all(Array.from({ length: 4 }, () => pool.connect())).then((clients) => clients.forEach((c) => c.release()));
  const payloadTexts = await measureRecoverySection();
  addCodecFigures(payloadTexts);
  await checkpoint();
  addAnatomyFigures(await measureBatchAnatomy(pool, { events: ANATOMY_EVENTS, repeats: ANATOMY_REPEATS, node: 'bench' }), `anatomy.batch_${ANATOMY_EVENTS}`);
  await measureThroughputSection();
  await measureLatencySection();
  if (!values['no-sweep']) await measureSweepSection();
} finally {
  if (!db.embedded) await pool.query(`DELETE FROM journal WHERE persistence_id LIKE 'bench/%'`).catch(() => undefined);
  if (!db.embedded) await pool.query(`DELETE FROM snapshots WHERE persistence_id LIKE 'bench/%'`).catch(() => undefined);
  ending = true;
  await pool.end();
  await db.stop();
}
console.log(`written to ${await report.write()}`);

// ---- sections ----

/** Returns some of the actor's payloads as the server sends them, for the codec section. */
async function measureRecoverySection(): Promise<string[]> {
  const label = recoveryEvents % 1_000_000 === 0 ? `${recoveryEvents / 1_000_000}m` : recoveryEvents % 1000 === 0 ? `${recoveryEvents / 1000}k` : String(recoveryEvents);
  const o = {
    events: recoveryEvents,
    snapshot_lag: snapshotLag,
    runs: recoveryRuns,
    persistence_id: `bench/${run}/recovery`,
    server_cpu_ms: () => db.serverCpuMs(),
    server_pids: () => db.serverPids(),
  };
  console.log(`recovery: writing ${recoveryEvents.toLocaleString('en-US')} events of one actor (INSERT ... SELECT generate_series)...`);
  const fill = await fillRecoveryJournal(pool, o);
  console.log(`  written in ${(fill.fill_ms / 1000).toFixed(1)} s, VACUUM ANALYZE ${(fill.vacuum_ms / 1000).toFixed(1)} s, journal ${(fill.journal_bytes / 2 ** 20).toFixed(0)} MiB with indexes`);
  const r = await measureRecovery(pool, o, (x, i) =>
    console.log(`  run ${i + 1}: no snapshot ${x.no_snapshot_ms.toFixed(0)} ms (CPU bench ${x.no_snapshot_bench_cpu_ms.toFixed(0)} ms, server ${x.no_snapshot_server_cpu_ms?.toFixed(0) ?? '?'} ms, others ${x.interference_pct.toFixed(1)}%), snapshot ${x.snapshot_ms.toFixed(1)} ms`),
  );
  const runs = (key: 'no_snapshot_ms' | 'snapshot_ms'): string => r.runs.map((x) => x[key].toFixed(1)).join(', ');
  const how = `recoverState (runtime/persistent-actor.ts) of one actor, Journal.replay pages of 20,000, apply folds fills into a position (checked against the same fold here); journal of ${recoveryEvents.toLocaleString('en-US')} events written in SQL with the journal's row shape (checked against Journal.append), then VACUUM ANALYZE; warm cache; ${pinning}`;
  report.add({ name: `recovery.${label}.no_snapshot_ms`, value: r.no_snapshot_ms, unit: 'ms', better: 'lower', n: recoveryEvents, note: `${how}; median of ${recoveryRuns} runs (${runs('no_snapshot_ms')})` });
  report.add({ name: `recovery.${label}.snapshot_ms`, value: r.snapshot_ms, unit: 'ms', better: 'lower', n: snapshotLag, note: `latest snapshot (seq ${r.snapshot_seq_nr.toLocaleString('en-US')}) + ${snapshotLag} events; ${how}; median of ${recoveryRuns} runs (${runs('snapshot_ms')})` });
  report.add({ name: `recovery.${label}.events_per_s`, value: recoveryEvents / (r.no_snapshot_ms / 1000), unit: 'events/s', better: 'higher', n: recoveryEvents, note: 'events replayed per second without a snapshot (from the median run)' });
  const m = r.median_run;
  report.add({ name: `recovery.${label}.no_snapshot.bench_cpu_ms`, value: m.no_snapshot_bench_cpu_ms, unit: 'ms', better: 'lower', n: recoveryEvents, note: `CPU of this process (node-postgres parsing rows and JSON, replay, apply) during the median recovery without a snapshot; other processes used ${m.interference_pct.toFixed(1)}% of the machine` });
  if (m.no_snapshot_server_cpu_ms !== undefined) {
    report.add({ name: `recovery.${label}.no_snapshot.server_cpu_ms`, value: m.no_snapshot_server_cpu_ms, unit: 'ms', better: 'lower', n: recoveryEvents, note: 'CPU of all PostgreSQL processes (primary-key index scan, heap reads, sending the json payloads as stored) during the same run' });
  }
  const texts = await pool.query<{ payload: string }>({
    text: 'SELECT payload::text AS payload FROM journal WHERE persistence_id = $1 ORDER BY seq_nr LIMIT 10000',
    values: [o.persistence_id],
  });
  return texts.rows.map((row) => row.payload);
}

function addCodecFigures(texts: string[]): void {
  const c = measureCodecCost(Array.from({ length: texts.length }, (_, i) => fillEvent(i + 1)), texts, CODEC_OPS, CODEC_BLOCKS);
  console.log(`codec per event: encodeJson ${c.encode_json_ns.toFixed(0)} ns (JSON.stringify ${c.json_stringify_ns.toFixed(0)}), decodeJson ${c.decode_json_ns.toFixed(0)} ns (JSON.parse ${c.json_parse_ns.toFixed(0)})`);
  const note = (what: string): string => `${what}; one fill event (${payload}), this process's thread (taskset -c ${pinned.cores.join(',')}); median of ${CODEC_BLOCKS} alternating blocks of ${CODEC_OPS.toLocaleString('en-US')}`;
  const ns = (name: string, value: number, what: string): void => report.add({ name: `codec.${name}`, value, unit: 'ns', better: 'lower', n: c.ops, note: note(what) });
  ns('encode_json_ns', c.encode_json_ns, 'runtime/json-codec.ts encodeJson (JSON.stringify with a replacer), what Journal.append runs per event');
  ns('json_stringify_ns', c.json_stringify_ns, 'plain JSON.stringify, for comparison');
  ns('decode_json_ns', c.decode_json_ns, 'runtime/json-codec.ts decodeJson of the payload text the server returns, what Journal.replay runs per event (a fill event holds no "$ tag: a scan for one, then JSON.parse without the reviver)');
  ns('json_parse_ns', c.json_parse_ns, 'plain JSON.parse of the same text');
}

async function checkpoint(): Promise<void> {
  // The recovery fill dirtied the buffers: write them out now rather than during the appends measured next.
  await pool.query('CHECKPOINT').catch((error: Error) => console.log(`CHECKPOINT refused (${error.message}); going on`));
}

function addAnatomyFigures(a: BatchAnatomy, prefix: string): void {
  const what = 'the INSERT runtime/journal.ts sends (one JSON parameter [{p: pid, s: seq, e: epoch, t: type, d: payload}, ...] through json_to_recordset, taken from the journal itself: bench/journal-insert-events.ts) into the journal table of sql/0001_journal.sql (payload json; primary key + BRIN index on written_at)';
  const note = `${what}; ${a.events} events of one actor (${payload}) per batch, one connection, nothing else running; median of ${ANATOMY_REPEATS} batches; ${pinning}`;
  const ms = (name: string, value: number, extra: string): void => report.add({ name: `${prefix}.${name}`, value, unit: 'ms', better: 'lower', n: ANATOMY_REPEATS, note: `${extra}; ${note}` });
  console.log(`${prefix}: journal JS ${a.encode_ms.toFixed(2)} ms, BEGIN ${a.begin_ms.toFixed(2)}, INSERT ${a.insert_ms.toFixed(2)} (server executes ${a.server_exec_ms.toFixed(2)}), COMMIT ${a.commit_ms.toFixed(2)} (async ${a.commit_async_ms.toFixed(2)}) ms, SELECT 1 ${a.rtt_ms.toFixed(2)} ms, ${(a.wal_bytes / a.events).toFixed(0)} WAL bytes/event`);
  ms('encode_ms', a.encode_ms, 'JS: Journal.append of every event (runtime/json-codec.ts encodeJson of its payload) and building the batch\'s one JSON parameter, through runtime/journal.ts on a connection that only records');
  ms('begin_ms', a.begin_ms, 'BEGIN round trip');
  ms('insert_ms', a.insert_ms, 'INSERT round trip: the JSON parameter sent and checked, json_to_recordset splitting it, rows into the heap, the primary key and the BRIN index');
  ms('server_exec_ms', a.server_exec_ms, 'Execution Time of EXPLAIN (ANALYZE, WAL) of the same INSERT: splitting the parameter and inserting the rows (not the round trip, nor the parameter\'s check at bind)');
  ms('commit_ms', a.commit_ms, 'COMMIT round trip with synchronous_commit on: the WAL flush');
  ms('commit_async_ms', a.commit_async_ms, 'COMMIT with SET LOCAL synchronous_commit = off: no wait for the flush');
  ms('rtt_ms', a.rtt_ms, 'SELECT 1 round trip');
  report.add({ name: `${prefix}.wal_bytes_per_event`, value: a.wal_bytes / a.events, unit: 'bytes', better: 'lower', n: ANATOMY_REPEATS, note: `EXPLAIN (ANALYZE, WAL) of the INSERT, per event: heap row, primary-key entry, and any BRIN summary update; ${note}` });
}

/** A journal as the node runs it (its defaults unless told), with room for the whole load. */
function newJournal(o: Partial<JournalOptions> = {}): Journal {
  return new Journal(pool, { node: 'bench', pendingMax: 1_000_000, ...o });
}

type LoadResult = AppendLoadResult & { activity: ServerActivity | undefined };

async function load(journal: Journal, o: Partial<AppendLoadOptions>): Promise<LoadResult> {
  await waitForQuiet(QUIET);
  const before = await serverActivity(pool);
  const result = await runAppendLoad(journal, {
    actors,
    depth,
    events_max: throughputEvents,
    duration_max_s: maxS,
    warmup_events: WARMUP_EVENTS,
    persistence_prefix: `bench/${run}/load${++loadNo}`,
    server_cpu_ms: () => db.serverCpuMs(),
    server_pids: () => db.serverPids(),
    ...o,
  });
  await journal.close();
  return { ...result, activity: activitySince(before, await serverActivity(pool)) };
}

function describe(label: string, r: LoadResult): string {
  const server = r.server_cpu_pct === undefined ? '?' : r.server_cpu_pct.toFixed(0);
  return `${label}: ${Math.round(r.events_per_s).toLocaleString('en-US')} events/s, p50 ${(r.latency.p50_us / 1000).toFixed(1)} p99 ${(r.latency.p99_us / 1000).toFixed(1)} ms, ${r.mean_batch_events.toFixed(0)} events/batch, ${r.ms_per_batch.toFixed(1)} ms/batch, CPU bench ${r.bench_cpu_pct.toFixed(0)}% server ${server}% (of one core), others ${r.interference_pct.toFixed(1)}%${activityNote(r)}`;
}

function activityNote(r: LoadResult): string {
  return r.activity === undefined ? '' : `, autovacuum/analyze runs ${r.activity.autovacuums}, checkpoints ${r.activity.checkpoints}`;
}

function medianBy(results: LoadResult[]): LoadResult {
  return [...results].sort((a, b) => a.events_per_s - b.events_per_s)[Math.floor(results.length / 2)];
}

function cpuNote(r: LoadResult): string {
  const server = r.server_cpu_pct === undefined ? 'server CPU not measured (DATABASE_URL)' : `server ${r.server_cpu_pct.toFixed(0)}%`;
  const others = db.embedded ? 'other processes' : 'other processes (the DATABASE_URL server too, if local)';
  return `CPU of one core: bench ${r.bench_cpu_pct.toFixed(0)}%, ${server}; ${others} ${r.interference_pct.toFixed(1)}% of the machine${activityNote(r)} on the journal`;
}

async function measureThroughputSection(): Promise<void> {
  const rows = await pool.query<{ n: string }>('SELECT count(*) AS n FROM journal');
  const closed = `closed loop: ${actors} actors (own persistence ids) x ${depth} appends outstanding, ${payload}; ${WARMUP_EVENTS.toLocaleString('en-US')} warm-up events, then up to ${throughputEvents.toLocaleString('en-US')} events or ${maxS} s; the journal table held ${Number(rows.rows[0]?.n ?? 0).toLocaleString('en-US')} rows before the first round`;
  console.log(`throughput, ${closed}; ${rounds} rounds...`);
  const results: LoadResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    const r = await load(newJournal(), {});
    results.push(r);
    console.log(describe(`round ${round}`, r));
  }
  const spread = `median of ${results.length} rounds (${results.map((r) => Math.round(r.events_per_s).toLocaleString('en-US')).join(', ')})`;
  const j = medianBy(results);
  const note = `${JOURNAL_WHAT}; ${closed}; ${pinning}`;
  report.add({ name: 'journal.events_per_s', value: j.events_per_s, unit: 'events/s', better: 'higher', n: j.events, note: `${note}; ${spread}; ${cpuNote(j)}` });
  report.addLatency('journal.closed_loop.append', j.latency, `append() to its promise resolving, saturated (mostly the wait behind the batches in flight: ${actors * depth} outstanding / events/s); ${note}; the median round`);
  report.add({ name: 'journal.batches_per_s', value: j.batches / j.seconds, unit: 'batches/s', better: 'higher', n: j.batches, note: 'committed group-commit batches, the median round' });
  report.add({ name: 'journal.mean_batch_events', value: j.mean_batch_events, unit: 'events', better: 'higher', n: j.batches, note: `events per batch (batch_max ${JOURNAL_DEFAULTS.batchMax}), the median round` });
  report.add({ name: 'journal.max_commit_ms', value: j.max_commit_ms, unit: 'ms', better: 'lower', n: j.batches, note: `the slowest batch from send to commit (connect, BEGIN, INSERT, waiting for the batch ahead to commit, COMMIT) of the median round's journal, warm-up included; above append_timeout_ms (${JOURNAL_DEFAULTS.appendTimeoutMs}) the journal reports itself unavailable` });
  report.add({ name: 'journal.ms_per_batch', value: j.ms_per_batch, unit: 'ms', better: 'lower', n: j.batches, note: `run time / batches: the interval between commits at saturation; with up to ${IN_FLIGHT_MAX} batches in flight (one inserted while the next is sent) this is less than one batch's time from send to commit (anatomy.* breaks one batch down)` });
  if (j.server_cpu_pct !== undefined) {
    report.add({ name: 'journal.server_cpu_us_per_event', value: ((j.server_cpu_pct / 100) * j.seconds * 1e6) / j.events, unit: 'us', better: 'lower', n: j.events, note: 'CPU time of all PostgreSQL processes (backends, WAL writer, checkpointer, autovacuum) per event committed' });
  }
  report.add({ name: 'journal.bench_cpu_us_per_event', value: ((j.bench_cpu_pct / 100) * j.seconds * 1e6) / j.events, unit: 'us', better: 'lower', n: j.events, note: 'CPU time of this process (journal + node-postgres + the simulated actors) per event committed' });
}

async function measureLatencySection(): Promise<void> {
  const open = `open loop: ${rate.toLocaleString('en-US')} events/s offered round-robin over ${actors} actors from a 1 ms timer, ${payload}; ${WARMUP_EVENTS.toLocaleString('en-US')} warm-up events, then ${samples.toLocaleString('en-US')} samples`;
  console.log(`append latency, ${open}...`);
  const r = await load(newJournal(), { rate_per_s: rate, events_max: samples, duration_max_s: Math.max(maxS, Math.ceil((samples / rate) * 2)) });
  console.log(describe(`journal at ${rate}/s`, r));
  const note = `append() to its promise resolving (its batch committed); ${JOURNAL_WHAT}; ${open}; ${pinning}; ${r.mean_batch_events.toFixed(0)} events/batch; ${cpuNote(r)}`;
  report.addLatency('journal.append', r.latency, note);
  report.add({ name: 'journal.open_loop.events_per_s', value: r.events_per_s, unit: 'events/s', better: 'higher', n: r.events, note: `events committed per second at ${rate} offered (below capacity it equals the offered rate)` });
}

async function measureSweepSection(): Promise<void> {
  const sweepEvents = Math.min(throughputEvents, 150_000);
  console.log(`sweep: batch_max ${SWEEP_BATCH_MAX.join(', ')} (closed loop, ${sweepEvents.toLocaleString('en-US')} events), flush_ms ${SWEEP_FLUSH_MS.join(', ')} (open loop at ${rate}/s)...`);
  for (const batchMax of SWEEP_BATCH_MAX) {
    const r = await load(newJournal({ batchMax }), { events_max: sweepEvents });
    console.log(describe(`batch_max ${batchMax}`, r));
    report.add({ name: `sweep.batch_max_${batchMax}.events_per_s`, value: r.events_per_s, unit: 'events/s', better: 'higher', n: r.events, note: `runtime/journal.ts with batch_max ${batchMax}, flush_ms ${JOURNAL_DEFAULTS.flushMs}; closed loop ${actors} x ${depth}; one round; ${r.mean_batch_events.toFixed(0)} events/batch, ${r.ms_per_batch.toFixed(1)} ms/batch; ${cpuNote(r)}` });
  }
  for (const flushMs of SWEEP_FLUSH_MS) {
    const r = await load(newJournal({ flushMs }), { rate_per_s: rate, events_max: samples, duration_max_s: Math.max(maxS, Math.ceil((samples / rate) * 2)) });
    console.log(describe(`flush_ms ${flushMs} at ${rate}/s`, r));
    report.addLatency(`sweep.flush_${flushMs}ms.append`, r.latency, `runtime/journal.ts with flush_ms ${flushMs}, batch_max ${JOURNAL_DEFAULTS.batchMax}; open loop at ${rate} events/s over ${actors} actors; ${r.mean_batch_events.toFixed(0)} events/batch; ${cpuNote(r)}`);
  }
}
