// The product end to end, as `npm start -- --replay <both usdm files> --speed max` runs it: four
// node processes (exchange with the venue, edge, strategy, execution) on this host over IPC. It
// must finish by itself, produce orders and fills, end with positions equal to the venue's, and
// the venue's own log must show no client order id twice.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedDataFile } from '../../actors/feed/recorded-file.ts';
import { readVenueLog } from '../../actors/venue/venue-log.ts';
import { hasPromtool, promtoolCheckMetrics, seriesValue } from '../support/prometheus-text.ts';
import { finishedRun, scrapeWhileRunning, startReplayRun } from './replay-run.ts';

const files = [sharedDataFile('usdm-btcusdt_20240808.gz'), sharedDataFile('usdm-ethusdt_20240808.gz')];
if (!files[0] || !files[1]) console.warn('SKIPPED replay trading test: ../shared/data/binance/usdm-*.gz are absent (a fresh clone has no recorded data; CI has it)');

const dir = mkdtempSync(join(tmpdir(), 'rt-replay-'));
chmodSync(dir, 0o755); // as root the embedded server runs as postgres, which must reach its folder
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rt up --replay (npm start -- --replay ...)', () => {
  it.skipIf(!files[0] || !files[1])(
    'trades both USD-M files at max speed on four node processes: finishes, orders and fills, positions equal the venue, no client order id twice',
    async () => {
      const run = await startReplayRun({ dir, cluster: 'replaytest', files: files as string[], speed: 'max', killAfterMs: 100_000 });
      const scrapes = scrapeWhileRunning(join(dir, 'topology.yaml'));
      const { report } = await finishedRun(run);
      const seen = await scrapes.stop();
      expect(report).toMatch(/ticks read +168,607 \(bad 0\)/);
      const submitted = Number(/orders +submitted ([\d,]+)/.exec(report)?.[1].replace(/,/g, ''));
      const fills = Number(/fills +([\d,]+) applied to positions, ([\d,]+) received from the venue, ([\d,]+) made by the venue/.exec(report)?.[1].replace(/,/g, ''));
      expect(submitted).toBeGreaterThan(0);
      expect(fills).toBeGreaterThan(0);
      expect(report).toMatch(/fills +([\d,]+) applied to positions, \1 received from the venue, \1 made by the venue/);
      expect(report).toMatch(/open 0/);
      const positions = report.split('\n').filter((l) => l.includes('  position '));
      expect(positions.length).toBeGreaterThan(0);
      for (const l of positions) expect(l).toContain('(equal)');

      // The venue's own log: every client order id accepted once; its fills are the fills we booked.
      const log = readVenueLog(join(dir, 'venue.log'));
      const ids = log.filter((r) => r.kind === 'order').map((r) => r.clientOrderId);
      expect(ids.length).toBe(submitted);
      expect(new Set(ids).size).toBe(ids.length);
      expect(log.filter((r) => r.kind === 'fill').length).toBe(fills);

      // What Prometheus saw while it ran (the last scrape of each node, taken before the end):
      // the trading families move with the run and never run ahead of its final counts.
      const last = (node: string): string => {
        const texts = seen[node] ?? [];
        expect(texts.length, `no scrape of ${node}'s /metrics succeeded`).toBeGreaterThan(0);
        return texts[texts.length - 1];
      };
      const execution = last('execution');
      const orders = seriesValue(execution, 'rt_orders_submitted_total') ?? 0;
      expect(orders).toBeGreaterThan(0);
      expect(orders).toBeLessThanOrEqual(submitted);
      const booked = seriesValue(execution, 'rt_fills_total') ?? 0;
      expect(booked).toBeLessThanOrEqual(fills);
      expect(seriesValue(execution, 'rt_risk_approved_total')).toBeGreaterThan(0);
      expect(seriesValue(execution, 'rt_breaker_state{state="closed"}')).toBe(1);
      expect(seriesValue(execution, 'rt_breaker_state{state="open"}')).toBe(0);
      expect(seriesValue(execution, 'rt_kill_switch')).toBe(0);
      expect(seriesValue(execution, 'rt_tick_to_order_seconds_count')).toBeGreaterThan(0);
      expect(seriesValue(execution, 'rt_tick_to_order_seconds_count')).toBeLessThanOrEqual(submitted);
      expect(seriesValue(execution, 'rt_handle_seconds_count{actor="risk"}')).toBeGreaterThan(0);
      const edge = last('edge');
      expect(seriesValue(edge, 'rt_feed_messages_total')).toBeGreaterThan(0);
      expect(seriesValue(edge, 'rt_feed_messages_total')).toBeLessThanOrEqual(168_607);
      expect(seriesValue(edge, 'rt_messages_handled_total{actor="book/*",type="depth"}')).toBeGreaterThan(0);
      // Counters only go up from one scrape to the next.
      const submittedSeen = (seen.execution ?? []).map((t) => seriesValue(t, 'rt_orders_submitted_total') ?? 0);
      expect(submittedSeen).toEqual([...submittedSeen].sort((a, b) => a - b));
      if (hasPromtool) {
        for (const node of ['exchange', 'edge', 'strategy', 'execution']) {
          const r = promtoolCheckMetrics(last(node));
          expect(r.status, `${node}: ${r.output}`).toBe(0);
        }
      } else console.warn('SKIPPED promtool check of the trading nodes\' metrics: promtool is not installed');
    },
    120_000,
  );
});
