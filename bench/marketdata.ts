import { parseArgs } from 'node:util';
import { sharedDataFile } from '../actors/feed/recorded-file.ts';
import { measureBookApply } from './book-apply.ts';
import { pinProcess } from '../runtime/affinity.ts';
import { measureOnnxInfer } from './onnx-infer.ts';
import { measureReplayToSignal } from './replay-to-signal.ts';
import { BenchReport } from './report.ts';

/**
 * Suite `marketdata` (BENCH.md): depth levels applied per second by one book actor on recorded
 * data; ONNX inference latency for one feature vector; replay-to-signal throughput (replay server
 * in its own pinned process, gateway + books + signal in another).
 *
 *   npm run bench -- marketdata [--passes 20] [--samples 100000]
 */
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { passes: { type: 'string', default: '20' }, samples: { type: 'string', default: '100000' } },
});

const btc = sharedDataFile('usdm-btcusdt_20240808.gz');
const eth = sharedDataFile('usdm-ethusdt_20240808.gz');
// This process (book, ONNX, and the gateway/books/signal of the replay) runs on core 1; the replay
// server gets core 0.
const pinned = pinProcess([1]);
const report = new BenchReport('marketdata', 'npm run bench -- marketdata', { pinned: true });

if (!btc || !eth) {
  console.log('SKIPPED book.levels_per_s and replay.msgs_per_s: ../shared/data/binance/usdm-*.gz are absent (recorded data is not in a fresh clone)');
} else {
  console.log('book actor on usdm-btcusdt (core 1)...');
  const b = await measureBookApply(btc, Number(values.passes));
  report.add({ name: 'book.levels_per_s', value: b.levels_per_s, unit: 'levels/s', better: 'higher', n: b.levels, note: `one book actor, snapshot + ${b.diffs} recorded diffs per pass, ${b.passes} passes, every top published to a conflating mailbox; core 1` });
  report.add({ name: 'book.pure.levels_per_s', value: b.pure_levels_per_s, unit: 'levels/s', better: 'higher', n: b.levels, note: 'the sync state machine and book alone, no actor' });
}

console.log('onnx inference (core 1)...');
const o = await measureOnnxInfer({ samples: Number(values.samples) });
for (const f of o.figures) report.add(f);

if (btc && eth) {
  console.log('replay -> gateway -> books -> signal, both usdm files at --speed max...');
  const r = await measureReplayToSignal([btc, eth], { serverCores: '0', cores: '1' });
  report.add({
    name: 'replay.msgs_per_s',
    value: r.msgs_per_s,
    unit: 'msg/s',
    better: 'higher',
    n: r.messages,
    note: `rt feed --speed max (taskset -c 0) -> feed gateway, 2 books, signal with ONNX in one process; ${r.tops} tops reached the signal (conflated), ${r.inferences} inferences, ${r.intents} intents, ${r.bad} bad messages`,
  });
}
if (pinned.error) console.log(`not pinned: ${pinned.error}`);
await report.write();
