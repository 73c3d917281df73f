// PostgreSQL stopped in the middle of a run (issue: durable state, "database trouble"): `rt up
// --replay` of both USD-M files on four node processes against a server of the test's own. While
// the server is down, risk approves no order (breaker open, "journal unavailable"); once it is
// back, trading resumes, and nothing accepted is lost: every fill the venue made is booked once,
// positions equal the venue's, every order in the orders table.
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedDataFile } from '../../actors/feed/recorded-file.ts';
import { readVenueLog } from '../../actors/venue/venue-log.ts';
import { startEmbeddedPostgres } from '../../runtime/embedded-postgres.ts';
import { freePort } from '../../runtime/free-port.ts';
import { migrate } from '../../runtime/migrations.ts';
import { finishedRun, startReplayRun, untilVenueOrders } from './replay-run.ts';

const files = [sharedDataFile('usdm-btcusdt_20240808.gz'), sharedDataFile('usdm-ethusdt_20240808.gz')];
if (!files[0] || !files[1]) console.warn('SKIPPED database outage test: ../shared/data/binance/usdm-*.gz are absent (a fresh clone has no recorded data; CI has it)');

const dir = mkdtempSync(join(tmpdir(), 'rt-outage-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const OUTAGE_MS = 6000;

describe('PostgreSQL stopped mid-run', () => {
  it.skipIf(!files[0] || !files[1])(
    'approves no order while it is down (breaker open: journal unavailable), resumes when it is back, loses nothing',
    async () => {
      const dataDir = join(dir, 'pg');
      const port = await freePort();
      let server = await startEmbeddedPostgres({ dataDir, port, durable: false });
      const setup = new pg.Pool({ connectionString: server.url, max: 1 });
      await migrate(setup);
      await setup.end();
      try {
        const run = await startReplayRun({ dir, cluster: 'outagetest', files: files as string[], speed: '10', env: { DATABASE_URL: server.url }, killAfterMs: 150_000 });
        const { venueLog } = run;
        // Stop the server once orders are flowing; start it again OUTAGE_MS later.
        expect(await untilVenueOrders(venueLog, 3, 120_000), `orders never reached the venue:\n${run.out()}`).toBe(true);
        await server.stop();
        const stoppedAt = Date.now();
        await sleep(OUTAGE_MS);
        const restartedAt = Date.now();
        server = await startEmbeddedPostgres({ dataDir, port, durable: false });
        const { report } = await finishedRun(run);

        const pool = new pg.Pool({ connectionString: server.url, max: 2 });
        pool.on('error', () => undefined);
        try {
          // Risk's own journal: what it decided, and when (its clock is wall-clock based).
          const decisions = await pool.query<{ approved: boolean; limit: string | null; now_ms: string }>(
            `SELECT payload->'decision'->'approved' IS NOT NULL AS approved, payload->'decision'->'rejected'->>'limit' AS limit, (payload->>'nowMs') AS now_ms
               FROM journal WHERE persistence_id = 'risk' AND payload->'decision' IS NOT NULL ORDER BY seq_nr`,
          );
          const at = (r: { now_ms: string }): number => Number(r.now_ms);
          const down = decisions.rows.filter((r) => at(r) > stoppedAt + 1000 && at(r) < restartedAt);
          const after = decisions.rows.filter((r) => at(r) > restartedAt);
          expect(down.length, 'intents came while the database was down').toBeGreaterThan(0);
          expect(down.filter((r) => r.approved), 'approved while the database was down').toEqual([]);
          expect(down.some((r) => r.limit === 'journal_unavailable')).toBe(true);
          expect(after.filter((r) => r.approved).length, 'trading resumed after the database came back').toBeGreaterThan(0);
          const execLog = readFileSync(join(run.logDir, 'execution.log'), 'utf8');
          expect(execLog).toContain('circuit breaker open: journal unavailable');

          // Nothing lost: every venue fill booked once, positions equal the venue's.
          const vlog = readVenueLog(venueLog);
          const ids = vlog.filter((r) => r.kind === 'order').map((r) => r.clientOrderId);
          expect(new Set(ids).size).toBe(ids.length);
          const venueFills = vlog.filter((r) => r.kind === 'fill') as { clientOrderId: string; tradeId: number | string }[];
          const booked = await pool.query<{ k: string }>("SELECT client_order_id || ':' || trade_id AS k FROM fills");
          expect(new Set(booked.rows.map((r) => r.k))).toEqual(new Set(venueFills.map((f) => `${f.clientOrderId}:${String(f.tradeId)}`)));
          const inTable = await pool.query<{ id: string }>('SELECT client_order_id AS id FROM orders');
          const table = new Set(inTable.rows.map((r) => r.id));
          for (const id of ids) expect(table.has(id), `order ${id} at the venue, not in the orders table`).toBe(true);
          for (const l of report.split('\n').filter((x) => x.includes('  position '))) expect(l).toContain('(equal)');
        } finally {
          await pool.end();
        }
      } finally {
        await server.stop();
      }
    },
    180_000,
  );
});
