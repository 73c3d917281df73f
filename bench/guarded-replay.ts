import type pg from 'pg';
import type { StoredEvent } from '../runtime/journal.ts';
import { guardedDecode } from './json-codec-cost.ts';

/**
 * A bench-only copy of Journal.replay (runtime/journal.ts) that differs in one thing: a payload is
 * decoded with guardedDecode (plain JSON.parse unless the text holds a `"$` tag) instead of
 * decodeJson (JSON.parse with a reviver on every value). Same query, same pages, same gap check:
 * recovery run through it, alternating with the journal's, shows what the decode costs end to end.
 */
export async function guardedReplay(pool: pg.Pool, persistenceId: string, afterSeqNr: number, onEvent: (e: StoredEvent) => void, pageSize = 20_000): Promise<number> {
  let last = afterSeqNr;
  for (;;) {
    const r = await pool.query<{ seq_nr: string; epoch: string; event_type: string; payload: string }>({
      text: 'SELECT seq_nr, epoch, event_type, payload::text AS payload FROM journal WHERE persistence_id = $1 AND seq_nr > $2 ORDER BY seq_nr LIMIT $3',
      values: [persistenceId, last, pageSize],
    });
    for (const row of r.rows) {
      const seqNr = Number(row.seq_nr);
      if (seqNr !== last + 1) throw new Error(`journal of ${persistenceId}: event ${last + 1} is missing (next stored is ${seqNr}): expected no gaps`);
      last = seqNr;
      onEvent({ seqNr, epoch: Number(row.epoch), type: row.event_type, payload: guardedDecode(row.payload) });
    }
    if (r.rows.length < pageSize) return last;
  }
}
