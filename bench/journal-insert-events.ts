import type pg from 'pg';
import { Journal, type JournalEvent } from '../runtime/journal.ts';

/**
 * The statement and parameters the journal sends for a batch's events, taken from runtime/journal.ts
 * itself: a real Journal appends the events and writes the batch through a connection that only
 * records what it is sent (BEGIN, the INSERT, COMMIT). runtime/journal.ts exports neither its SQL
 * (INSERT_EVENTS, one JSON parameter through json_to_recordset) nor its encoding, so a benchmark
 * that replays this INSERT against the real server measures exactly what the journal does, and
 * fails here, loudly, if the journal changes how it writes a batch.
 */
export interface JournalInsert {
  text: string;
  values: unknown[];
}

interface Sent {
  text: string;
  values: unknown[] | undefined;
}

/** A pool of one connection that answers every query with no rows and keeps what it was sent. */
function recordingPool(sent: Sent[]): pg.Pool {
  const client = {
    on: () => client,
    off: () => client,
    release: () => undefined,
    query: (text: string, values?: unknown[]) => {
      sent.push({ text, values });
      return Promise.resolve({ rows: [], rowCount: 0 });
    },
  };
  // Only what Journal's write path calls (connect, and on/off/query/release of the client).
  return { connect: () => Promise.resolve(client) } as unknown as pg.Pool;
}

/**
 * The INSERT runtime/journal.ts sends for `events` as one batch (all of them: batchMax is their
 * count). Timing this call times the journal's own JS work for a batch: append() of every event
 * (encodeJson of its payload) and building the one JSON parameter.
 */
export async function journalInsert(events: readonly JournalEvent[], node: string): Promise<JournalInsert> {
  if (events.length === 0) throw new Error('journalInsert: no events; expected at least one');
  const sent: Sent[] = [];
  const journal = new Journal(recordingPool(sent), { node, batchMax: events.length, pendingMax: events.length, flushMs: 0 });
  try {
    await Promise.all(events.map((e) => journal.append(e)));
  } finally {
    await journal.close();
  }
  const shape = sent.map((q) => q.text.split(/\s+/, 3).join(' ')).join('; ');
  const insert = sent[1];
  if (sent.length !== 3 || sent[0].text !== 'BEGIN' || sent[2].text !== 'COMMIT' || !insert.text.startsWith('INSERT INTO journal') || insert.values === undefined) {
    throw new Error(`journalInsert: runtime/journal.ts wrote one batch as [${shape}]; expected [BEGIN; INSERT INTO journal ... with parameters; COMMIT]: update bench/journal-insert-events.ts`);
  }
  return { text: insert.text, values: insert.values };
}
