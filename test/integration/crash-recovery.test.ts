// Exact recovery after a crash (issue: durable state): `rt up --replay` of both USD-M files on
// four node processes, with PostgreSQL of the test's own; in the middle of the replay the
// execution node (risk, orders, positions, venue gateway) is killed with SIGKILL, `rt up`
// restarts it, it recovers from its journal and catches up with the venue. At the end:
// positions == the sum of the fills in the fills table == the venue's positions; every fill the
// venue made is booked once; no client order id reached the venue twice.
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedDataFile } from '../../actors/feed/recorded-file.ts';
import { readVenueLog } from '../../actors/venue/venue-log.ts';
import { livePid } from '../../runtime/pid-file.ts';
import { startTestDatabase } from '../support/test-database.ts';
import { finishedRun, startReplayRun, untilVenueOrders } from './replay-run.ts';

const files = [sharedDataFile('usdm-btcusdt_20240808.gz'), sharedDataFile('usdm-ethusdt_20240808.gz')];
if (!files[0] || !files[1]) console.warn('SKIPPED crash recovery test: ../shared/data/binance/usdm-*.gz are absent (a fresh clone has no recorded data; CI has it)');

const dir = mkdtempSync(join(tmpdir(), 'rt-crash-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kill -9 of the execution node in the middle of a replay', () => {
  it.skipIf(!files[0] || !files[1])(
    'recovers risk, orders and positions from the journal: positions == sum of fills == venue, every venue fill booked once, no order sent twice',
    async () => {
      const db = await startTestDatabase();
      const pool = new pg.Pool({ connectionString: db.url, max: 2 });
      pool.on('error', () => undefined);
      try {
        const run = await startReplayRun({ dir, cluster: 'crashtest', files: files as string[], speed: '10', env: { DATABASE_URL: db.url }, killAfterMs: 150_000 });
        const { ipcDir, venueLog } = run;
        // Kill once orders are flowing: a few have reached the venue and some are journaled.
        expect(await untilVenueOrders(venueLog, 4, 120_000), `orders never reached the venue:\n${run.out()}`).toBe(true);
        const killed = livePid(ipcDir, 'execution');
        expect(killed, 'the execution node is running').toBeDefined();
        process.kill(killed as number, 'SIGKILL');
        const { report } = await finishedRun(run);
        // It really was restarted and recovered from its journal.
        const execLog = readFileSync(join(run.logDir, 'execution.log'), 'utf8');
        expect(execLog).toContain('risk recovered from its journal');
        expect(livePid(ipcDir, 'execution')).toBeUndefined();

        // The venue: each client order id accepted once; its fills and positions.
        const log = readVenueLog(venueLog);
        const ids = log.filter((r) => r.kind === 'order').map((r) => r.clientOrderId);
        expect(new Set(ids).size).toBe(ids.length);
        const venueFills = log.filter((r) => r.kind === 'fill') as { clientOrderId: string; tradeId: number | string; symbol: string; side: string; qty: number }[];
        expect(venueFills.length).toBeGreaterThan(0);
        const venuePos = new Map<string, number>();
        for (const f of venueFills) venuePos.set(f.symbol, (venuePos.get(f.symbol) ?? 0) + (f.side === 'buy' || f.side === 'BUY' ? 1 : -1) * Number(f.qty));

        // Ours: the fills table has each venue fill once; positions == sum of fills == the venue.
        const booked = await pool.query<{ client_order_id: string; trade_id: string }>('SELECT client_order_id, trade_id FROM fills');
        const bookedKeys = new Set(booked.rows.map((r) => `${r.client_order_id}:${r.trade_id}`));
        expect(booked.rows.length).toBe(venueFills.length);
        for (const f of venueFills) expect(bookedKeys.has(`${f.clientOrderId}:${String(f.tradeId)}`), `venue fill ${f.clientOrderId}:${f.tradeId} not booked`).toBe(true);
        const sums = await pool.query<{ symbol: string; qty: string }>("SELECT symbol, sum(CASE WHEN side = 'buy' THEN qty ELSE -qty END) AS qty FROM fills GROUP BY symbol");
        const positions = await pool.query<{ symbol: string; qty: string }>('SELECT symbol, qty FROM positions');
        const posMap = new Map(positions.rows.map((r) => [r.symbol, Number(r.qty)]));
        for (const r of sums.rows) {
          expect(posMap.get(r.symbol), `positions.${r.symbol}`).toBeCloseTo(Number(r.qty), 8);
          expect(venuePos.get(r.symbol) ?? 0, `venue ${r.symbol}`).toBeCloseTo(Number(r.qty), 8);
        }
        for (const l of report.split('\n').filter((x) => x.includes('  position '))) expect(l).toContain('(equal)');
        expect(report).toMatch(/fills +([\d,]+) applied to positions, ([\d,]+) received from the venue, ([\d,]+) made by the venue/);
        // Every order the venue holds is in the orders table, and none is left open.
        const orders = await pool.query<{ n: string; open: string }>("SELECT count(*) AS n, count(*) FILTER (WHERE state NOT IN ('filled', 'cancelled', 'rejected', 'expired')) AS open FROM orders");
        expect(Number(orders.rows[0].n)).toBeGreaterThanOrEqual(ids.length);
        expect(Number(orders.rows[0].open)).toBe(0);
      } finally {
        await pool.end();
        await db.stop();
      }
    },
    180_000,
  );
});
