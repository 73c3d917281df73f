import type pg from 'pg';
import { encodeJson } from '../runtime/json-codec.ts';
import type { JournalEvent, JournalStats } from '../runtime/journal.ts';

/**
 * A bench-only variant of runtime/journal.ts's write path, to measure what two changes would give
 * before anyone makes them there: several batches in flight at once (each on its own connection),
 * and a cheaper encoding of a batch. Events only: no view rows, snapshots, retries or health, so it
 * is an experiment, not a replacement.
 *
 * Order is kept as the runtime's journal keeps it: batch k+1 runs BEGIN and its INSERT while batch k
 * commits, but sends its COMMIT only once batch k has committed (and rolls back if batch k failed),
 * so batches still become durable in append order and an actor's journal never has a gap. What
 * overlaps is the client encoding one batch, the server inserting another, and the WAL flush of a
 * third.
 *
 * Encodings:
 *   arrays: five parameters, text[] / bigint[] / jsonb[] arrays through unnest (as the journal does;
 *           node-postgres writes each array as an array literal, escaping every JSON payload again).
 *   json:   one parameter, the whole batch as one JSON array of [pid, seq, epoch, type, payload]
 *           (one encodeJson call, no second escaping), split server-side with jsonb_array_elements.
 */

export type BatchEncoding = 'arrays' | 'json';

export interface PipelinedJournalOptions {
  node: string;
  flushMs: number;
  batchMax: number;
  /** batches in flight at once (1: as runtime/journal.ts) */
  inflightMax: number;
  encoding: BatchEncoding;
}

const INSERT_ARRAYS = `INSERT INTO journal (persistence_id, seq_nr, epoch, event_type, payload, node)
  SELECT p, s, e, t, d, $6 FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::jsonb[]) AS u(p, s, e, t, d)`;
const INSERT_JSON = `INSERT INTO journal (persistence_id, seq_nr, epoch, event_type, payload, node)
  SELECT x->>0, (x->>1)::bigint, (x->>2)::bigint, x->>3, x->4, $2 FROM jsonb_array_elements($1::jsonb) AS x`;

interface Batch {
  events: JournalEvent[];
  done: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class PipelinedJournal {
  private readonly queue: Batch[] = [];
  private inFlight = 0;
  /** settles when the batch sent last has committed (or failed): the next COMMIT waits for it */
  private lastCommit: Promise<boolean> = Promise.resolve(true);
  private flushTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private readonly s = { events: 0, batches: 0, maxCommitMs: 0 };

  constructor(
    private readonly pool: pg.Pool,
    private readonly o: PipelinedJournalOptions,
  ) {
    if (o.inflightMax < 1) throw new Error(`PipelinedJournal: inflightMax ${o.inflightMax}, expected >= 1`);
  }

  append(event: JournalEvent): Promise<void> {
    let b = this.queue.at(-1);
    if (!b || b.events.length >= this.o.batchMax) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      done.catch(() => undefined);
      b = { events: [], done, resolve, reject };
      this.queue.push(b);
    }
    b.events.push(event);
    if (b.events.length >= this.o.batchMax) this.pump();
    else if (!this.flushTimer && this.inFlight < this.o.inflightMax) {
      const fire = (): void => {
        this.flushTimer = undefined;
        this.pump();
      };
      this.flushTimer = this.o.flushMs === 0 ? setImmediate(fire) : setTimeout(fire, this.o.flushMs);
    }
    return b.done;
  }

  stats(): Pick<JournalStats, 'events' | 'batches' | 'maxCommitMs'> {
    return { ...this.s };
  }

  private pump(): void {
    while (this.inFlight < this.o.inflightMax && this.queue.length > 0) {
      const b = this.queue.shift()!;
      this.inFlight++;
      const previous = this.lastCommit;
      let committed!: (ok: boolean) => void;
      this.lastCommit = new Promise<boolean>((r) => (committed = r));
      void this.write(b, previous, committed);
    }
  }

  private async write(b: Batch, previous: Promise<boolean>, committed: (ok: boolean) => void): Promise<void> {
    const started = performance.now();
    let client: pg.PoolClient | undefined;
    let error: unknown;
    try {
      client = await this.pool.connect();
      await client.query('BEGIN');
      await client.query(insertSql(this.o.encoding), encodeBatch(b.events, this.o.encoding, this.o.node));
      if (!(await previous)) throw new Error('the batch before this one failed: rolled back to keep the journal gapless');
      await client.query('COMMIT');
    } catch (e) {
      error = e;
      if (client) await client.query('ROLLBACK').catch(() => undefined);
    } finally {
      client?.release();
    }
    this.inFlight--;
    committed(error === undefined);
    if (error === undefined) {
      const ms = performance.now() - started;
      if (ms > this.s.maxCommitMs) this.s.maxCommitMs = ms;
      this.s.batches++;
      this.s.events += b.events.length;
      b.resolve();
    } else {
      b.reject(error instanceof Error ? error : new Error(String(error)));
    }
    this.pump();
  }
}

export function insertSql(encoding: BatchEncoding): string {
  return encoding === 'arrays' ? INSERT_ARRAYS : INSERT_JSON;
}

/**
 * A batch's query parameters, payloads through runtime/json-codec.ts's encodeJson as the journal
 * does (`arrays` is exactly what runtime/journal.ts sends; it encodes each payload in append()).
 */
export function encodeBatch(events: readonly JournalEvent[], encoding: BatchEncoding, node: string): unknown[] {
  const n = events.length;
  if (encoding === 'json') {
    const rows = new Array<unknown[]>(n);
    for (let i = 0; i < n; i++) {
      const e = events[i];
      rows[i] = [e.persistenceId, e.seqNr, e.epoch, e.type, e.payload];
    }
    return [encodeJson(rows), node];
  }
  const ids = new Array<string>(n);
  const seqs = new Array<number>(n);
  const epochs = new Array<number>(n);
  const types = new Array<string>(n);
  const payloads = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const e = events[i];
    ids[i] = e.persistenceId;
    seqs[i] = e.seqNr;
    epochs[i] = e.epoch;
    types[i] = e.type;
    payloads[i] = encodeJson(e.payload);
  }
  return [ids, seqs, epochs, types, payloads, node];
}
