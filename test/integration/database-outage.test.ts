// PostgreSQL stopped in the middle of a run (issue: durable state, "database trouble"): `rt up
// --replay` of both USD-M files on four node processes against a server of the test's own. While
// the server is down, risk approves no order (breaker open, "journal unavailable"); once it is
// back, trading resumes, and nothing accepted is lost: every fill the venue made is booked once,
// positions equal the venue's, every order in the orders table.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { sharedDataFile } from '../../actors/feed/recorded-file.ts';
import { isolateTopology } from '../../actors/isolated-topology.ts';
import { readVenueLog } from '../../actors/venue/venue-log.ts';
import { startEmbeddedPostgres } from '../../runtime/embedded-postgres.ts';
import { freePort } from '../../runtime/free-port.ts';
import { migrate } from '../../runtime/migrations.ts';

const ROOT = join(import.meta.dirname, '../..');
const RT = join(ROOT, 'bin/rt.mjs');
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
        const doc = parseDocument(readFileSync(join(ROOT, 'topology.yaml'), 'utf8'));
        await isolateTopology(doc, dir, 'outagetest');
        const topology = join(dir, 'topology.yaml');
        writeFileSync(topology, doc.toString());
        const venueLog = join(dir, 'venue.log');
        const proc = spawn(process.execPath, [RT, 'up', '--topology', topology, '--log-dir', join(dir, 'logs'), '--replay', files[0] as string, '--replay', files[1] as string, '--speed', '10'], {
          cwd: dir,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, DATABASE_URL: server.url },
        });
        let out = '';
        proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
        proc.stderr.on('data', (b: Buffer) => (out += b.toString()));
        const exited = new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
        const guard = setTimeout(() => proc.kill('SIGINT'), 150_000);

        // Stop the server once orders are flowing; start it again OUTAGE_MS later.
        let stoppedAt: number | undefined;
        for (let i = 0; i < 1200 && stoppedAt === undefined; i++) {
          await sleep(100);
          const orders = existsSync(venueLog) ? readVenueLog(venueLog).filter((r) => r.kind === 'order').length : 0;
          if (orders >= 3) {
            await server.stop();
            stoppedAt = Date.now();
          }
        }
        expect(stoppedAt, `orders never reached the venue:\n${out}`).toBeDefined();
        await sleep(OUTAGE_MS);
        const restartedAt = Date.now();
        server = await startEmbeddedPostgres({ dataDir, port, durable: false });
        const code = await exited;
        clearTimeout(guard);
        const report = out.slice(out.indexOf('== trading report'));
        console.log(report);
        expect(code, out).toBe(0);
        expect(out).toContain('rt up: finished; stopping every node');

        const pool = new pg.Pool({ connectionString: server.url, max: 2 });
        pool.on('error', () => undefined);
        try {
          // Risk's own journal: what it decided, and when (its clock is wall-clock based).
          const decisions = await pool.query<{ approved: boolean; limit: string | null; now_ms: string }>(
            `SELECT payload->'decision' ? 'approved' AS approved, payload->'decision'->'rejected'->>'limit' AS limit, (payload->>'nowMs') AS now_ms
               FROM journal WHERE persistence_id = 'risk' AND payload ? 'decision' ORDER BY seq_nr`,
          );
          const at = (r: { now_ms: string }): number => Number(r.now_ms);
          const down = decisions.rows.filter((r) => at(r) > (stoppedAt as number) + 1000 && at(r) < restartedAt);
          const after = decisions.rows.filter((r) => at(r) > restartedAt);
          expect(down.length, 'intents came while the database was down').toBeGreaterThan(0);
          expect(down.filter((r) => r.approved), 'approved while the database was down').toEqual([]);
          expect(down.some((r) => r.limit === 'journal_unavailable')).toBe(true);
          expect(after.filter((r) => r.approved).length, 'trading resumed after the database came back').toBeGreaterThan(0);
          const execLog = readFileSync(join(dir, 'logs', 'execution.log'), 'utf8');
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
