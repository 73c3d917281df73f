import type pg from 'pg';

/**
 * Background work of the server that competes with the journal's backend for its core: autovacuum
 * and autoanalyze runs on the journal table, and checkpoints, counted so far. Read before and after
 * a measurement to tell a slow round caused by them from one caused by the journal. PostgreSQL
 * updates these statistics with a short delay, so a count is approximate at the edges.
 */
export interface ServerActivity {
  autovacuums: number;
  checkpoints: number;
}

export async function serverActivity(pool: pg.Pool): Promise<ServerActivity | undefined> {
  try {
    const r = await pool.query<{ av: string | null; cp: string | null }>(`SELECT
      (SELECT autovacuum_count + autoanalyze_count FROM pg_stat_user_tables WHERE relname = 'journal') AS av,
      (SELECT num_timed + num_requested FROM pg_stat_checkpointer) AS cp`);
    const row = r.rows[0];
    return { autovacuums: Number(row?.av ?? 0), checkpoints: Number(row?.cp ?? 0) };
  } catch {
    return undefined; // pg_stat_checkpointer is PostgreSQL 17+: an older DATABASE_URL server has none
  }
}

/** What happened between two readings; undefined when either is missing. */
export function activitySince(before: ServerActivity | undefined, after: ServerActivity | undefined): ServerActivity | undefined {
  if (before === undefined || after === undefined) return undefined;
  return { autovacuums: after.autovacuums - before.autovacuums, checkpoints: after.checkpoints - before.checkpoints };
}
