// One tick's trace across node processes: `rt up --replay` of the recorded USD-M files on four
// nodes, each registering the OpenTelemetry SDK with its in-memory exporter (RT_TRACE_FILE: every
// node writes its finished spans when it stops), one tick in 4 starting a trace. A trace that
// ended in an order must run edge (feed gateway, book) -> strategy (signal) -> execution (risk,
// order, venue gateway), each span the child of the one that sent its message.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedDataFile } from '../../actors/feed/recorded-file.ts';
import { chainTo, ORDER_CHAIN, ORDER_SPAN, readCapturedSpans, tracesById } from '../support/trace-chains.ts';
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
      const spans = readCapturedSpans(prefix, ['exchange', 'edge', 'strategy', 'execution']);
      const traces = tracesById(spans);
      // The traces that reached the venue gateway: an order left for the venue.
      const ordered = [...traces.values()].filter((t) => t.some((s) => s.name === ORDER_SPAN));
      expect(ordered.length).toBeGreaterThan(0);
      // Each has one root (the tick, on edge); every other span's parent is in the trace and
      // started no later; the chain from the order back to the tick crosses three nodes in order.
      for (const t of ordered) expect(chainTo(t, ORDER_SPAN)).toEqual(ORDER_CHAIN);
      console.log(`${spans.length} spans in ${traces.size} traces; ${ordered.length} traces ended in an order`);
    },
    150_000,
  );
});
