// One tick's trace across node processes: `rt up --replay` of the recorded USD-M files on four
// nodes, each registering the OpenTelemetry SDK with its in-memory exporter (RT_TRACE_FILE: every
// node writes its finished spans when it stops), one tick in 4 starting a trace. A trace that
// ended in an order must run edge (feed gateway, book) -> strategy (signal) -> execution (risk,
// order, venue gateway), each span the child of the one that sent its message.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedDataFile } from '../../actors/feed/recorded-file.ts';
import type { CapturedSpan } from '../../runtime/trace-capture.ts';
import { finishedRun, startReplayRun } from './replay-run.ts';

const files = [sharedDataFile('usdm-btcusdt_20240808.gz'), sharedDataFile('usdm-ethusdt_20240808.gz')];
if (!files[0] || !files[1]) console.warn('SKIPPED tracing test: ../shared/data/binance/usdm-*.gz are absent (a fresh clone has no recorded data; CI has it)');

const dir = mkdtempSync(join(tmpdir(), 'rt-trace-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('traces across node processes', () => {
  it.skipIf(!files[0] || !files[1])(
    'follow one tick from the feed gateway to the venue gateway through three node processes, with parent/child links',
    async () => {
      const prefix = join(dir, 'trace');
      const run = await startReplayRun({ dir, cluster: 'tracetest', files: files as string[], speed: 'max', killAfterMs: 100_000, env: { RT_TRACE_FILE: prefix, RT_TRACE_SAMPLE_EVERY: '4' } });
      await finishedRun(run);
      const spans: CapturedSpan[] = [];
      for (const node of ['exchange', 'edge', 'strategy', 'execution']) {
        const f = `${prefix}.${node}.json`;
        expect(existsSync(f), f).toBe(true);
        spans.push(...(JSON.parse(readFileSync(f, 'utf8')) as CapturedSpan[]));
      }
      const traces = new Map<string, CapturedSpan[]>();
      for (const s of spans) traces.set(s.traceId, [...(traces.get(s.traceId) ?? []), s]);
      // The traces that reached the venue gateway: an order left for the venue.
      const ordered = [...traces.values()].filter((t) => t.some((s) => s.name === 'venue-gw venue-place'));
      expect(ordered.length).toBeGreaterThan(0);
      for (const t of ordered) {
        const byId = new Map(t.map((s) => [s.spanId, s]));
        const roots = t.filter((s) => s.parentSpanId === undefined);
        expect(roots.map((r) => [r.node, r.name.split(' ')[0]])).toEqual([['edge', 'tick']]);
        // Every other span's parent is a span of the same trace, which started no later.
        for (const s of t) {
          if (s.parentSpanId === undefined) continue;
          const parent = byId.get(s.parentSpanId);
          expect(parent, `${s.node} ${s.name}: parent ${s.parentSpanId} not in trace ${s.traceId}`).toBeDefined();
          expect((parent as CapturedSpan).startUs).toBeLessThanOrEqual(s.startUs);
        }
        // The chain from the order back to the tick crosses three nodes in order.
        const chain: CapturedSpan[] = [];
        for (let s: CapturedSpan | undefined = t.find((x) => x.name === 'venue-gw venue-place'); s; s = s.parentSpanId ? byId.get(s.parentSpanId) : undefined) chain.unshift(s);
        expect(chain.map((s) => `${s.node} ${s.name.split(' ').slice(0, 2).join(' ')}`)).toEqual([
          `edge tick depth`,
          'edge book/* depth',
          'strategy signal book-top',
          'execution risk order-intent',
          'execution order/* submit-order',
          'execution venue-gw venue-place',
        ]);
      }
      console.log(`${spans.length} spans in ${traces.size} traces; ${ordered.length} traces ended in an order`);
    },
    150_000,
  );
});
