// The node's one journal writer: every persistent actor of a node appends its events here, and
// they reach PostgreSQL with group commit: the events of many actors (and many messages) go into
// one transaction per batch, flushed when the batch holds `batchMax` events or `flushMs` after its
// first event, whichever is first. Two batches are in flight at most, on two connections, so the
// server inserts one while the next is being sent; the second commits only after the first has
// (else it rolls back and goes again behind it), so batches commit in append order and an actor's
// events are durable in the order it persisted them. A batch that fails for
// a reason that may pass (the server is down, restarting, out of connections) is retried, with
// backoff, until it commits: nothing appended is dropped. A batch the server refuses for good (a
// sequence number written twice, a bad view row) is written again one actor at a time, so only
// the actor whose rows are refused fails (with its later events still queued, which would leave a
// gap): it crashes and recovers from what is durable; the others commit. Appends wait in memory up
// to `pendingMax` events; past that, append() throws JournalFullError at once.
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { decodeJson, encodeJson } from './json-codec.ts';

export interface JournalEvent {
  persistenceId: string;
  /** 1, 2, 3... per persistence id */
  seqNr: number;
  epoch: number;
  type: string;
  payload: unknown;
}

/** A row of an operator's table that follows from an event, written in the event's transaction. */
export interface ViewWrite {
  sql: string;
  params: readonly unknown[];
  /**
   * Rows of one actor with the same key in one batch: only the latest is written (in the place of
   * the first). For an upsert of an actor's current state, which many events of a batch repeat.
   */
  key?: string;
}

export interface SnapshotWrite {
  persistenceId: string;
  /** the last event the state includes */
  seqNr: number;
  epoch: number;
  state: unknown;
}

export interface StoredEvent {
  seqNr: number;
  epoch: number;
  type: string;
  payload: unknown;
}

export interface StoredSnapshot {
  seqNr: number;
  epoch: number;
  state: unknown;
}

export interface JournalOptions {
  /** written with every row: which node wrote it */
  node: string;
  /** most time the first event of a batch waits for more (0: the next turn of the event loop) */
  flushMs: number;
  batchMax: number;
  /** a batch in flight longer than this makes the journal unavailable until one commits */
  appendTimeoutMs: number;
  /** most events waiting for the journal (queued and in flight) */
  pendingMax: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** events between snapshots of one actor, for actors that do not set their own */
  snapshotEvery: number;
  /** where recovery reads (default: the writing pool; a node gives its writes a pipelined pool of their own) */
  reads?: pg.Pool;
}

export const JOURNAL_DEFAULTS: Omit<JournalOptions, 'node' | 'reads'> = {
  flushMs: 0,
  batchMax: 1000,
  appendTimeoutMs: 500,
  pendingMax: 100_000,
  retryMinMs: 50,
  retryMaxMs: 2000,
  snapshotEvery: 1000,
};

export type JournalHealth = { available: true } | { available: false; reason: string; sinceMs: number };

export class JournalFullError extends Error {
  constructor(readonly pendingMax: number) {
    super(`journal full: ${pendingMax} events already wait for PostgreSQL (persistence.pending_max): expected the database to keep up`);
    this.name = 'JournalFullError';
  }
}

export class JournalWriteError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'JournalWriteError';
  }
}

export class JournalClosedError extends Error {
  constructor() {
    super('journal closed: no more appends (the node is stopping)');
    this.name = 'JournalClosedError';
  }
}

/** An event as the batch holds it: its payload already encoded (the actor's state may change after append). */
interface QueuedEvent {
  seqNr: number;
  epoch: number;
  type: string;
  json: string;
}

interface QueuedSnapshot {
  seqNr: number;
  epoch: number;
  json: string;
}

interface Deferred {
  done: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** One actor's share of a batch: its events, view rows and snapshot, and the promise its appends got. */
interface Part {
  pid: string;
  events: QueuedEvent[];
  views: ViewWrite[];
  /** view key -> its index in views */
  keyed: Map<string, number> | undefined;
  snapshots: QueuedSnapshot[];
  size: number;
  deferred: Deferred;
}

interface Batch {
  parts: Map<string, Part>;
  /** events + snapshots: what counts against batchMax and pendingMax */
  size: number;
  attempts: number;
  /** append order of batches: a batch sent again goes back in its place */
  order: number;
  /** an actor's part was refused for good (the batch behind must go again without its events) */
  refused?: boolean;
  /** holds an urgent event: goes as soon as there is a slot in flight, full or not */
  urgent?: boolean;
}

/** Batches in flight at most: one being inserted while the next is sent; more buys nothing on two cores. */
export const IN_FLIGHT_MAX = 2;

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // An actor that stopped waiting on it must not turn a refused batch into an unhandled rejection.
  done.catch(() => undefined);
  return { done, resolve, reject };
}

export interface JournalStats {
  events: number;
  snapshots: number;
  batches: number;
  pending: number;
  retries: number;
  failedBatches: number;
  /** the slowest commit so far, ms */
  maxCommitMs: number;
  lastCommitMs: number;
  health: JournalHealth;
}

/** SQLSTATE classes and node errors after which the same batch may well commit: retry it. */
function transient(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err.code === 'string' ? err.code : '';
  if (/^(08|53|57P0|40001|40P01|55P03|58)/.test(code)) return true;
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'].includes(code)) return true;
  const msg = typeof err.message === 'string' ? err.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|terminating connection/i.test(msg);
}

const ignoreClientError = (): void => undefined;

// The batch's events as one JSON parameter, [{p: persistence id, s: seq nr, e: epoch, t: type,
// d: payload}, ...]: no array literal to build and escape on our side, one json value split into
// typed columns by json_to_recordset on the server's (a third cheaper than ->> on each element).
const INSERT_EVENTS = `INSERT INTO journal (persistence_id, seq_nr, epoch, event_type, payload, node)
  SELECT p, s, e, t, d, $2 FROM json_to_recordset($1::json) AS x(p text, s bigint, e bigint, t text, d json)`;
const INSERT_SNAPSHOT = `INSERT INTO snapshots (persistence_id, seq_nr, epoch, state, node) VALUES ($1, $2, $3, $4::json, $5)
  ON CONFLICT (persistence_id, seq_nr) DO UPDATE SET state = EXCLUDED.state, epoch = EXCLUDED.epoch, written_at = clock_timestamp()`;

export class Journal {
  private readonly o: JournalOptions;
  private readonly reads: pg.Pool;
  /** batches sealed or open, oldest first; the last may still take events */
  private readonly queue: Batch[] = [];
  /** batches being written, oldest first, each with whether it committed whole (its successor's cue) */
  private readonly inFlight: { batch: Batch; committed: Promise<boolean> }[] = [];
  /** the writes in flight: for close() to wait on */
  private readonly writing = new Set<Promise<void>>();
  private batchOrder = 0;
  private pending = 0;
  private flushTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** since when the oldest batch in flight has been in flight (a batch slower than appendTimeoutMs: unavailable) */
  private slowTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly health$ = new EventEmitter();
  private healthNow: JournalHealth = { available: true };
  private readonly s = { events: 0, snapshots: 0, batches: 0, retries: 0, failedBatches: 0, maxCommitMs: 0, lastCommitMs: 0 };

  constructor(
    private readonly pool: pg.Pool,
    options: Partial<JournalOptions> & { node: string },
  ) {
    this.o = { ...JOURNAL_DEFAULTS, ...options };
    this.reads = options.reads ?? pool;
    // One listener per actor that watches the journal; not a leak.
    this.health$.setMaxListeners(0);
  }

  /** events between snapshots of one actor (persistence.snapshot_every), for actors that do not set their own */
  get snapshotEvery(): number {
    return this.o.snapshotEvery;
  }

  get health(): JournalHealth {
    return this.healthNow;
  }

  /** Called on every change between available and unavailable. Returns the unsubscribe. */
  onHealth(listener: (h: JournalHealth) => void): () => void {
    this.health$.on('health', listener);
    return () => this.health$.off('health', listener);
  }

  /**
   * Queues an event (and the view rows that follow from it) for the next batch. `urgent`: an
   * effect the world waits for hangs on it (risk's approval of an order): its batch goes into
   * the second slot in flight at once instead of waiting behind the batch ahead. The promise is
   * the batch's: it resolves once the batch has committed. Throws JournalFullError when
   * pendingMax events already wait, JournalClosedError after close().
   */
  append(event: JournalEvent, views?: readonly ViewWrite[], urgent = false): Promise<void> {
    const part = this.partOf(event.persistenceId);
    // Something waits on this one (an order about to leave): its batch may take the second slot
    // in flight at once rather than wait for the batch ahead to commit.
    if (urgent) (this.queue.at(-1) as Batch).urgent = true;
    // Encoded now: the objects it refers to may be the actor's, and change after this turn.
    part.events.push({ seqNr: event.seqNr, epoch: event.epoch, type: event.type, json: encodeJson(event.payload) });
    if (views) {
      for (const v of views) {
        if (v.key === undefined) {
          part.views.push(v);
          continue;
        }
        part.keyed ??= new Map();
        const at = part.keyed.get(v.key);
        if (at === undefined) {
          part.keyed.set(v.key, part.views.length);
          part.views.push(v);
        } else part.views[at] = v;
      }
    }
    return this.added(part);
  }

  /** Queues a snapshot behind the events appended before it (same ordered stream). */
  saveSnapshot(snapshot: SnapshotWrite): Promise<void> {
    const part = this.partOf(snapshot.persistenceId);
    part.snapshots.push({ seqNr: snapshot.seqNr, epoch: snapshot.epoch, json: encodeJson(snapshot.state) });
    return this.added(part);
  }

  /** The latest snapshot of an actor, if any. */
  async latestSnapshot(persistenceId: string): Promise<StoredSnapshot | undefined> {
    const r = await this.reads.query<{ seq_nr: string; epoch: string; state: string }>({
      text: 'SELECT seq_nr, epoch, state::text AS state FROM snapshots WHERE persistence_id = $1 ORDER BY seq_nr DESC LIMIT 1',
      values: [persistenceId],
    });
    const row = r.rows[0];
    return row ? { seqNr: Number(row.seq_nr), epoch: Number(row.epoch), state: decodeJson(row.state) } : undefined;
  }

  /**
   * Feeds every event of an actor after `afterSeqNr` to onEvent, in order, a page at a time.
   * Returns the last sequence number seen (afterSeqNr when there was none). A gap in the
   * sequence is an error: the journal has lost an event and the state cannot be rebuilt.
   */
  async replay(persistenceId: string, afterSeqNr: number, onEvent: (e: StoredEvent) => void, pageSize = 20_000): Promise<number> {
    let last = afterSeqNr;
    for (;;) {
      const r = await this.reads.query<{ seq_nr: string; epoch: string; event_type: string; payload: string }>({
        text: 'SELECT seq_nr, epoch, event_type, payload::text AS payload FROM journal WHERE persistence_id = $1 AND seq_nr > $2 ORDER BY seq_nr LIMIT $3',
        values: [persistenceId, last, pageSize],
      });
      for (const row of r.rows) {
        const seqNr = Number(row.seq_nr);
        if (seqNr !== last + 1) throw new JournalWriteError(`journal of ${persistenceId}: event ${last + 1} is missing (next stored is ${seqNr}): expected no gaps`, undefined);
        last = seqNr;
        onEvent({ seqNr, epoch: Number(row.epoch), type: row.event_type, payload: decodeJson(row.payload) });
      }
      if (r.rows.length < pageSize) return last;
    }
  }

  /** The highest sequence number stored for an actor (0 when it has none). */
  async highestSeqNr(persistenceId: string): Promise<number> {
    const r = await this.reads.query<{ m: string | null }>('SELECT max(seq_nr) AS m FROM journal WHERE persistence_id = $1', [persistenceId]);
    return Number(r.rows[0]?.m ?? 0);
  }

  stats(): JournalStats {
    return { ...this.s, pending: this.pending, health: this.healthNow };
  }

  /**
   * Writes what is queued (waiting at most `timeoutMs` for it), then refuses further appends.
   * What could not be written in time fails with JournalClosedError.
   */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pump(true);
    const all = Promise.allSettled([...this.writing, ...this.queue.flatMap((b) => [...b.parts.values()].map((p) => p.deferred.done))]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const outcome = await Promise.race([all, timedOut]);
    clearTimeout(timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.slowTimer) clearTimeout(this.slowTimer);
    if (outcome === 'timeout') {
      for (const b of this.queue.splice(0)) for (const p of b.parts.values()) p.deferred.reject(new JournalClosedError());
    }
  }

  // ---- batching ----

  /** The part of the open batch for an actor (a new batch when the last is full). */
  private partOf(pid: string): Part {
    if (this.closed) throw new JournalClosedError();
    if (this.pending + 1 > this.o.pendingMax) throw new JournalFullError(this.o.pendingMax);
    let b = this.queue.at(-1);
    if (!b || b.size >= this.o.batchMax) {
      b = { parts: new Map(), size: 0, attempts: 0, order: this.batchOrder++ };
      this.queue.push(b);
    }
    let part = b.parts.get(pid);
    if (!part) {
      part = { pid, events: [], views: [], keyed: undefined, snapshots: [], size: 0, deferred: deferred() };
      b.parts.set(pid, part);
    }
    return part;
  }

  private added(part: Part): Promise<void> {
    const b = this.queue.at(-1) as Batch;
    part.size++;
    b.size++;
    this.pending++;
    if (b.size >= this.o.batchMax || (b.urgent === true && this.inFlight.length < IN_FLIGHT_MAX && this.queue.length === 1)) this.pump(true);
    else if (!this.flushTimer && this.inFlight.length === 0) {
      // Nothing in flight: the first event waits at most flushMs for company. (While a batch is in
      // flight, events gather behind it: a full batch goes at once, in the second slot; the rest
      // goes the moment the batch ahead commits.)
      const fire = (): void => {
        this.flushTimer = undefined;
        this.pump(true);
      };
      this.flushTimer = this.o.flushMs === 0 ? setImmediate(fire) : setTimeout(fire, this.o.flushMs);
    }
    return part.deferred.done;
  }

  /** Sends the oldest batches while there is room in flight: when full, or when `due` (their time is up). */
  private pump(due: boolean): void {
    while (this.inFlight.length < IN_FLIGHT_MAX && !this.retryTimer && this.queue.length > 0) {
      const head = this.queue[0];
      if (!due && head.size < this.o.batchMax) return;
      this.queue.shift();
      if (head.size === 0) continue;
      const prev = this.inFlight.at(-1)?.committed;
      let settle!: (ok: boolean) => void;
      const committed = new Promise<boolean>((r) => (settle = r));
      this.inFlight.push({ batch: head, committed });
      if (!this.slowTimer) this.armSlowTimer();
      const w = this.write(head, prev, settle);
      this.writing.add(w);
      void w.finally(() => this.writing.delete(w));
    }
  }

  private armSlowTimer(): void {
    this.slowTimer = setTimeout(() => this.unavailable(`append slower than ${this.o.appendTimeoutMs} ms (persistence.append_timeout_ms)`), this.o.appendTimeoutMs);
  }

  /** A batch back in the queue in its place (append order), for another try. */
  private requeue(b: Batch): void {
    let i = 0;
    while (i < this.queue.length && this.queue[i].order < b.order) i++;
    this.queue.splice(i, 0, b);
  }

  /** One transaction: the parts' events in one INSERT, their view rows, their snapshots. */
  /**
   * `before`: resolves once the batch ahead has committed whole (true) or not (false); this
   * transaction then commits, or rolls back (returns false) to go again behind it.
   */
  private async commit(parts: readonly Part[], before?: Promise<boolean>): Promise<boolean> {
    const client = await this.pool.connect();
    // A connection that breaks while checked out emits 'error' on its client: without a
    // listener that is an uncaught exception (the query fails on its own, and is retried).
    client.on('error', ignoreClientError);
    let error: unknown;
    try {
      let rows = '';
      for (const p of parts) {
        const pid = JSON.stringify(p.pid);
        for (const e of p.events) rows += `${rows === '' ? '' : ','}{"p":${pid},"s":${e.seqNr},"e":${e.epoch},"t":${JSON.stringify(e.type)},"d":${e.json}}`;
      }
      // Statements go out together: on a pipelined connection (pg's pipeline mode, what the node
      // gives the journal) as one flight, not one round trip each; on a plain one they queue. The
      // first failure is the batch's (those after it fail as the transaction aborted).
      const all = async (sent: Promise<unknown>[]): Promise<void> => {
        const failed = (await Promise.allSettled(sent)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      };
      const first: Promise<unknown>[] = [client.query('BEGIN')];
      if (rows !== '') first.push(client.query(INSERT_EVENTS, [`[${rows}]`, this.o.node]));
      await all(first);
      // View rows only once the batch ahead has committed: an upsert of a row the batch ahead
      // also writes would otherwise take the row's lock first and wait for a commit that waits
      // for it (a deadlock across the two connections).
      if (before && !(await before)) {
        await client.query('ROLLBACK');
        return false;
      }
      const rest: Promise<unknown>[] = [];
      for (const p of parts) for (const v of p.views) rest.push(client.query(v.sql, v.params as unknown[]));
      for (const p of parts) for (const sn of p.snapshots) rest.push(client.query(INSERT_SNAPSHOT, [p.pid, sn.seqNr, sn.epoch, sn.json, this.o.node]));
      // COMMIT in the same flight: after a failed statement the server answers it as a ROLLBACK,
      // and the failure is what all() reports.
      rest.push(client.query('COMMIT'));
      await all(rest);
      return true;
    } catch (e) {
      error = e;
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.off('error', ignoreClientError);
      // A client whose connection broke must not go back to the pool.
      client.release(error !== undefined && transient(error) ? (error as Error) : undefined);
    }
  }

  private async write(b: Batch, prev: Promise<boolean> | undefined, settle: (committedWhole: boolean) => void): Promise<void> {
    const started = performance.now();
    let error: unknown;
    let committed = false;
    try {
      committed = await this.commit([...b.parts.values()], prev);
    } catch (e) {
      error = e;
    }
    // A failure before the batch ahead settled: wait for it, so batches are handled in order; if
    // it did not commit whole, this one goes again behind it, whatever its own error was.
    if (error !== undefined && prev && !(await prev)) error = undefined;
    if (error !== undefined && !transient(error) && !this.closed) {
      // Refused for good: find whose rows, one actor at a time; the others commit.
      error = await this.isolate(b);
      committed = error === undefined;
    }
    this.inFlight.shift();
    clearTimeout(this.slowTimer);
    this.slowTimer = undefined;
    if (this.inFlight.length > 0) this.armSlowTimer();
    const refusedSome = b.refused === true;
    if (committed) {
      const ms = performance.now() - started;
      this.s.lastCommitMs = ms;
      if (ms > this.s.maxCommitMs) this.s.maxCommitMs = ms;
      this.s.batches++;
      for (const p of b.parts.values()) {
        this.s.events += p.events.length;
        this.s.snapshots += p.snapshots.length;
      }
      this.pending -= b.size;
      if (ms <= this.o.appendTimeoutMs) this.available();
      for (const p of b.parts.values()) p.deferred.resolve();
      // A batch with an actor refused: the one behind must go again without that actor's events.
      settle(!refusedSome);
    } else if (error === undefined) {
      // Rolled back because the batch ahead did not commit whole: again, behind it.
      settle(false);
      this.requeue(b);
      this.retryLater(b, undefined);
      return;
    } else if (transient(error) && !this.closed) {
      settle(false);
      this.unavailable(`PostgreSQL unreachable: ${(error as Error).message}`);
      this.requeue(b);
      this.retryLater(b, error);
      return;
    } else {
      this.s.failedBatches++;
      this.pending -= b.size;
      const err = error as { message?: string; code?: string };
      for (const p of b.parts.values()) p.deferred.reject(new JournalWriteError(`journal batch refused by PostgreSQL: ${err.message ?? String(error)}`, err.code));
      settle(false);
    }
    // What gathered while this batch was in flight has waited long enough; with another batch
    // still in flight, only a full one joins it (the rest goes when that one commits).
    this.pump(this.inFlight.length === 0);
  }

  /** After a failure: try again after a backoff (a failed attempt) or at once (rolled back behind one). */
  private retryLater(b: Batch, error: unknown): void {
    if (error !== undefined) {
      b.attempts++;
      this.s.retries++;
    }
    if (this.retryTimer) return;
    const delay = error === undefined ? 0 : Math.min(this.o.retryMaxMs, this.o.retryMinMs * 2 ** Math.min(b.attempts - 1, 20));
    // Nothing goes out again until everything in flight has settled (it would overtake).
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.inFlight.length > 0) return this.retryLater(b, undefined);
      this.pump(true);
    }, delay);
  }

  /**
   * After a refusal for good: each actor's part in a transaction of its own. A refused part fails
   * its appends, and so do that actor's events queued behind it (they would follow a gap). Returns
   * a transient error if the server went away meanwhile (the batch is then retried whole, minus
   * what committed), else undefined.
   */
  private async isolate(b: Batch): Promise<unknown> {
    for (const p of [...b.parts.values()]) {
      try {
        await this.commit([p]);
      } catch (e) {
        if (transient(e)) return e;
        const err = e as { message?: string; code?: string };
        this.refuse(p, new JournalWriteError(`journal refused the events ${p.events[0]?.seqNr ?? '-'}..${p.events.at(-1)?.seqNr ?? '-'} of ${p.pid}: ${err.message ?? String(e)}`, err.code));
        b.parts.delete(p.pid);
        b.size -= p.size;
        b.refused = true;
        for (const later of [...this.inFlight.map((f) => f.batch).filter((x) => x !== b), ...this.queue]) {
          const q = later.parts.get(p.pid);
          if (!q) continue;
          this.refuse(q, new JournalWriteError(`journal: an earlier event of ${p.pid} was refused; this one would follow a gap`, err.code));
          later.parts.delete(p.pid);
          later.size -= q.size;
        }
        continue;
      }
      // Committed on its own: done, whatever happens to the rest.
      this.s.events += p.events.length;
      this.s.snapshots += p.snapshots.length;
      this.pending -= p.size;
      b.parts.delete(p.pid);
      b.size -= p.size;
      p.deferred.resolve();
    }
    return undefined;
  }

  private refuse(p: Part, e: JournalWriteError): void {
    this.s.failedBatches++;
    this.pending -= p.size;
    p.deferred.reject(e);
  }

  private unavailable(reason: string): void {
    if (!this.healthNow.available) return;
    this.healthNow = { available: false, reason, sinceMs: Date.now() };
    this.health$.emit('health', this.healthNow);
  }

  private available(): void {
    if (this.healthNow.available) return;
    this.healthNow = { available: true };
    this.health$.emit('health', this.healthNow);
  }
}
