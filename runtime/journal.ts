// The node's one journal writer: every persistent actor of a node appends its events here, and
// they reach PostgreSQL with group commit: the events of many actors (and many messages) go into
// one transaction per batch, flushed when the batch holds `batchMax` events or `flushMs` after its
// first event, whichever is first. One batch is in flight at a time, so batches commit in append
// order and an actor's events are durable in the order it persisted them. A batch that fails for
// a reason that may pass (the server is down, restarting, out of connections) is retried, with
// backoff, until it commits: nothing appended is dropped. A batch the server refuses for good (a
// sequence number written twice, a bad view row) fails its appends, and their actors crash and
// recover from what is durable. Appends wait in memory up to `pendingMax` events; past that,
// append() throws JournalFullError at once.
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
   * Rows with the same key in one batch: only the latest is written (in the place of the first).
   * For an upsert of an actor's current state, which many events of a batch would repeat.
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
}

export const JOURNAL_DEFAULTS: Omit<JournalOptions, 'node'> = {
  flushMs: 1,
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
type QueuedEvent = Omit<JournalEvent, 'payload'> & { json: string };

interface Batch {
  events: QueuedEvent[];
  views: ViewWrite[];
  /** view key -> its index in views */
  keyed: Map<string, number> | undefined;
  snapshots: (Omit<SnapshotWrite, 'state'> & { json: string })[];
  /** events + snapshots: what counts against batchMax and pendingMax */
  size: number;
  done: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
  attempts: number;
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

const INSERT_EVENTS = `INSERT INTO journal (persistence_id, seq_nr, epoch, event_type, payload, node)
  SELECT p, s, e, t, d, $6 FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::jsonb[]) AS u(p, s, e, t, d)`;
const INSERT_SNAPSHOT = `INSERT INTO snapshots (persistence_id, seq_nr, epoch, state, node) VALUES ($1, $2, $3, $4::jsonb, $5)
  ON CONFLICT (persistence_id, seq_nr) DO UPDATE SET state = EXCLUDED.state, epoch = EXCLUDED.epoch, written_at = clock_timestamp()`;

export class Journal {
  private readonly o: JournalOptions;
  /** batches sealed or open, oldest first; the last may still take events */
  private readonly queue: Batch[] = [];
  private inFlight: Batch | undefined;
  private pending = 0;
  private flushTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
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
   * Queues an event (and the view rows that follow from it) for the next batch. The promise is
   * the batch's: it resolves once the batch has committed. Throws JournalFullError when
   * pendingMax events already wait, JournalClosedError after close().
   */
  append(event: JournalEvent, views?: readonly ViewWrite[]): Promise<void> {
    const b = this.open(1);
    // Encoded now: the objects it refers to may be the actor's, and change after this turn.
    b.events.push({ persistenceId: event.persistenceId, seqNr: event.seqNr, epoch: event.epoch, type: event.type, json: encodeJson(event.payload) });
    if (views) {
      for (const v of views) {
        if (v.key === undefined) {
          b.views.push(v);
          continue;
        }
        b.keyed ??= new Map();
        const at = b.keyed.get(v.key);
        if (at === undefined) {
          b.keyed.set(v.key, b.views.length);
          b.views.push(v);
        } else b.views[at] = v;
      }
    }
    return this.added(b);
  }

  /** Queues a snapshot behind the events appended before it (same ordered stream). */
  saveSnapshot(snapshot: SnapshotWrite): Promise<void> {
    const b = this.open(1);
    b.snapshots.push({ persistenceId: snapshot.persistenceId, seqNr: snapshot.seqNr, epoch: snapshot.epoch, json: encodeJson(snapshot.state) });
    return this.added(b);
  }

  /** The latest snapshot of an actor, if any. */
  async latestSnapshot(persistenceId: string): Promise<StoredSnapshot | undefined> {
    const r = await this.pool.query<{ seq_nr: string; epoch: string; state: string }>({
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
      const r = await this.pool.query<{ seq_nr: string; epoch: string; event_type: string; payload: string }>({
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
    const r = await this.pool.query<{ m: string | null }>('SELECT max(seq_nr) AS m FROM journal WHERE persistence_id = $1', [persistenceId]);
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
    const all = Promise.allSettled([...(this.inFlight ? [this.inFlight.done] : []), ...this.queue.map((b) => b.done)]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const outcome = await Promise.race([all, timedOut]);
    clearTimeout(timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.slowTimer) clearTimeout(this.slowTimer);
    if (outcome === 'timeout') {
      for (const b of this.queue.splice(0)) b.reject(new JournalClosedError());
    }
  }

  // ---- batching ----

  private open(n: number): Batch {
    if (this.closed) throw new JournalClosedError();
    if (this.pending + n > this.o.pendingMax) throw new JournalFullError(this.o.pendingMax);
    let b = this.queue.at(-1);
    if (!b || b.size >= this.o.batchMax) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // An actor that stopped waiting on it must not turn a failed batch into an unhandled rejection.
      done.catch(() => undefined);
      b = { events: [], views: [], keyed: undefined, snapshots: [], size: 0, done, resolve, reject, attempts: 0 };
      this.queue.push(b);
    }
    return b;
  }

  private added(b: Batch): Promise<void> {
    b.size++;
    this.pending++;
    if (b.size >= this.o.batchMax) this.pump(true);
    else if (!this.flushTimer && !this.inFlight) {
      // Nothing in flight: the first event waits at most flushMs for company. (While a batch is
      // in flight, events gather behind it and go the moment it commits.)
      const fire = (): void => {
        this.flushTimer = undefined;
        this.pump(true);
      };
      this.flushTimer = this.o.flushMs === 0 ? setImmediate(fire) : setTimeout(fire, this.o.flushMs);
    }
    return b.done;
  }

  /** Sends the oldest batch if none is in flight: when it is full, or when `due` (its time is up). */
  private pump(due: boolean): void {
    if (this.inFlight || this.retryTimer || this.queue.length === 0) return;
    const head = this.queue[0];
    if (!due && head.size < this.o.batchMax) return;
    this.queue.shift();
    this.inFlight = head;
    void this.write(head);
  }

  private async write(b: Batch): Promise<void> {
    const started = performance.now();
    this.slowTimer = setTimeout(() => this.unavailable(`append slower than ${this.o.appendTimeoutMs} ms (persistence.append_timeout_ms)`), this.o.appendTimeoutMs);
    let client: pg.PoolClient | undefined;
    let error: unknown;
    try {
      client = await this.pool.connect();
      // A connection that breaks while checked out emits 'error' on its client: without a
      // listener that is an uncaught exception (the query fails on its own, and is retried).
      client.on('error', ignoreClientError);
      await client.query('BEGIN');
      if (b.events.length > 0) {
        const n = b.events.length;
        const ids = new Array<string>(n);
        const seqs = new Array<number>(n);
        const epochs = new Array<number>(n);
        const types = new Array<string>(n);
        const payloads = new Array<string>(n);
        for (let i = 0; i < n; i++) {
          const e = b.events[i];
          ids[i] = e.persistenceId;
          seqs[i] = e.seqNr;
          epochs[i] = e.epoch;
          types[i] = e.type;
          payloads[i] = e.json;
        }
        await client.query(INSERT_EVENTS, [ids, seqs, epochs, types, payloads, this.o.node]);
      }
      for (const v of b.views) await client.query(v.sql, v.params as unknown[]);
      for (const s of b.snapshots) await client.query(INSERT_SNAPSHOT, [s.persistenceId, s.seqNr, s.epoch, s.json, this.o.node]);
      await client.query('COMMIT');
    } catch (e) {
      error = e;
      if (client) await client.query('ROLLBACK').catch(() => undefined);
    } finally {
      // A client whose connection broke must not go back to the pool.
      client?.off('error', ignoreClientError);
      client?.release(error !== undefined && transient(error) ? (error as Error) : undefined);
    }
    clearTimeout(this.slowTimer);
    this.slowTimer = undefined;
    this.inFlight = undefined;
    if (error === undefined) {
      const ms = performance.now() - started;
      this.s.lastCommitMs = ms;
      if (ms > this.s.maxCommitMs) this.s.maxCommitMs = ms;
      this.s.batches++;
      this.s.events += b.events.length;
      this.s.snapshots += b.snapshots.length;
      this.pending -= b.size;
      if (ms <= this.o.appendTimeoutMs) this.available();
      b.resolve();
    } else if (transient(error) && !this.closed) {
      b.attempts++;
      this.s.retries++;
      this.unavailable(`PostgreSQL unreachable: ${(error as Error).message}`);
      this.queue.unshift(b);
      const delay = Math.min(this.o.retryMaxMs, this.o.retryMinMs * 2 ** Math.min(b.attempts - 1, 20));
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.pump(true);
      }, delay);
      return;
    } else {
      this.s.failedBatches++;
      this.pending -= b.size;
      const err = error as { message?: string; code?: string };
      b.reject(new JournalWriteError(`journal batch of ${b.events.length} events refused by PostgreSQL: ${err.message ?? String(error)}`, err.code));
    }
    // What gathered while this batch was in flight has waited long enough.
    this.pump(true);
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
