import { CpuInterference } from './cpu-interference.ts';
import type { JournalEvent, JournalStats } from '../runtime/journal.ts';
import { FILL_EVENT_TYPE, fillEvent } from './fill-event.ts';
import { LatencyHistogram, type LatencySummary } from './latency.ts';

/**
 * Many simulated persistent actors appending fill events to one journal, as the actors of one node
 * do: each actor has its own persistence id and numbers its events 1, 2, 3...; an append's latency
 * is the time from append() to its promise (the group-commit batch's) resolving.
 *
 * Closed loop (`rate_per_s` unset): every actor keeps `depth` appends outstanding and appends again
 * as soon as one resolves, so the journal always has work: events/s is the journal's capacity and
 * latency includes the wait behind the batches in flight. Open loop (`rate_per_s` set): appends are
 * issued at that aggregate rate, round-robin over the actors, from a 1 ms timer whatever the
 * journal does, so latency is what an actor sees at that load (no coordinated omission: a slow
 * commit does not slow the offered load).
 */

/** What the load needs of a journal: the part of runtime/journal.ts's Journal it calls. */
export interface AppendTarget {
  append(event: JournalEvent): Promise<void>;
  stats(): Pick<JournalStats, 'events' | 'batches' | 'maxCommitMs'>;
  close?(): Promise<void>;
}

export interface AppendLoadOptions {
  actors: number;
  /** closed loop: appends outstanding per actor */
  depth: number;
  /** open loop: events per second over all actors; unset for the closed loop */
  rate_per_s?: number;
  /** events measured, after the warm-up */
  events_max: number;
  /** the measured part ends after this long even if events_max is not reached */
  duration_max_s: number;
  warmup_events: number;
  /** the persistence ids are `${prefix}/<actor>`; a fresh prefix per run keeps seq numbers free */
  persistence_prefix: string;
  /** the server's CPU time so far, ms (undefined: not measurable, e.g. a remote server) */
  server_cpu_ms: () => number | undefined;
  /** the server's pids, so that their CPU does not count as interference */
  server_pids: () => number[];
}

export interface AppendLoadResult {
  events_per_s: number;
  /** events measured (appended and committed after the warm-up) */
  events: number;
  seconds: number;
  latency: LatencySummary;
  /** batches committed while measured */
  batches: number;
  mean_batch_events: number;
  /**
   * seconds / batches: the interval between commits when the journal is saturated; with two batches
   * in flight (runtime/journal.ts IN_FLIGHT_MAX), less than one batch's own time from send to commit
   */
  ms_per_batch: number;
  max_commit_ms: number;
  /** CPU used while measured, % of one core */
  bench_cpu_pct: number;
  /** undefined when the server's CPU cannot be read (DATABASE_URL) */
  server_cpu_pct: number | undefined;
  /** CPU used by other processes while measured, % of all cores (a busy machine: measure again) */
  interference_pct: number;
}

/** Most a 1 ms tick of the open loop issues at once: a stall is caught up over ticks, bounded. */
const OPEN_LOOP_TICK_EVENTS_MAX = 5_000;

export async function runAppendLoad(journal: AppendTarget, o: AppendLoadOptions): Promise<AppendLoadResult> {
  const histogram = new LatencyHistogram();
  const seqs = new Array<number>(o.actors).fill(0);
  const ids = Array.from({ length: o.actors }, (_, a) => `${o.persistence_prefix}/${a}`);
  let issued = 0;
  /** appends issued once measuring had begun: each becomes one latency sample */
  let issuedMeasured = 0;
  let completed = 0;
  let failed: Error | undefined;
  let measuring = false;
  let stopIssuing = false;
  let mark = { t: 0, events: 0, batches: 0, cpu_bench: 0, cpu_server: undefined as number | undefined };
  let interference: CpuInterference | undefined;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));

  const cpuBench = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const startMeasuring = (): void => {
    measuring = true;
    interference = new CpuInterference(o.server_pids());
    interference.start();
    mark = { t: performance.now(), events: completed, batches: journal.stats().batches, cpu_bench: cpuBench(), cpu_server: o.server_cpu_ms() };
    setTimeout(() => {
      stopIssuing = true;
      if (completed === issued) done();
    }, o.duration_max_s * 1000).unref();
  };
  const mayIssue = (): boolean => !stopIssuing && (!measuring || issuedMeasured < o.events_max);

  /** Appends the next event of `actor`; calls `then` once it has committed. */
  const appendOne = (actor: number, then: () => void): void => {
    const seqNr = ++seqs[actor];
    const event: JournalEvent = { persistenceId: ids[actor], seqNr, epoch: 0, type: FILL_EVENT_TYPE, payload: fillEvent(seqNr) };
    issued++;
    const counted = measuring;
    if (counted) issuedMeasured++;
    const start = process.hrtime.bigint();
    journal.append(event).then(
      () => {
        if (counted) histogram.recordSince(start);
        completed++;
        if (!measuring && completed >= o.warmup_events) startMeasuring();
        if (completed === issued && !mayIssue()) done();
        else then();
      },
      (error: unknown) => {
        failed ??= error instanceof Error ? error : new Error(String(error));
        stopIssuing = true;
        completed++;
        if (completed === issued) done();
      },
    );
  };

  if (o.rate_per_s === undefined) {
    const next = (actor: number): void => {
      if (mayIssue()) appendOne(actor, () => next(actor));
    };
    for (let d = 0; d < o.depth; d++) for (let a = 0; a < o.actors; a++) next(a);
  } else {
    const rate = o.rate_per_s;
    const t0 = performance.now();
    let actor = 0;
    const timer = setInterval(() => {
      if (!mayIssue()) {
        clearInterval(timer);
        if (completed === issued) done();
        return;
      }
      const due = Math.floor(((performance.now() - t0) / 1000) * rate);
      for (let k = 0; k < OPEN_LOOP_TICK_EVENTS_MAX && issued < due && mayIssue(); k++) {
        appendOne(actor, () => undefined);
        actor = (actor + 1) % o.actors;
      }
    }, 1);
  }
  await finished;
  if (failed) throw failed;
  if (!measuring) throw new Error(`append load: only ${completed} events committed, fewer than the ${o.warmup_events} of the warm-up`);
  const interference_pct = interference?.stop() ?? 0;
  const seconds = (performance.now() - mark.t) / 1000;
  const serverNow = o.server_cpu_ms();
  const events = completed - mark.events;
  const batches = journal.stats().batches - mark.batches;
  return {
    events_per_s: events / seconds,
    events,
    seconds,
    latency: histogram.summary(),
    batches,
    mean_batch_events: events / Math.max(1, batches),
    ms_per_batch: (seconds * 1000) / Math.max(1, batches),
    max_commit_ms: journal.stats().maxCommitMs,
    bench_cpu_pct: ((cpuBench() - mark.cpu_bench) / (seconds * 1000)) * 100,
    server_cpu_pct: serverNow === undefined || mark.cpu_server === undefined ? undefined : ((serverNow - mark.cpu_server) / (seconds * 1000)) * 100,
    interference_pct,
  };
}
