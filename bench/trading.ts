import { parseArgs } from 'node:util';
import { pinProcess } from '../runtime/affinity.ts';
import { measureOrdersThroughput } from './orders-throughput.ts';
import { BenchReport } from './report.ts';
import { type Layout, measureT2o } from './trading-t2o.ts';

/**
 * Suite `trading` (BENCH.md): tick-to-order latency through the whole product (`rt up` on the
 * synthetic market, a signal that wants an order on every top it sees) with all trading actors in
 * one node, and with books, signal and risk + orders on three nodes over ZeroMQ IPC; orders per
 * second through the risk and order actors alone.
 *
 *   npm run bench -- trading [--samples 20000] [--max-s 300] [--diffs-per-s 10] [--speed 10] [--orders 20000]
 *
 * The defaults keep the pipeline well below saturation on this 2-core machine (about 200 orders/s),
 * so the figures are latency, not queueing; 20,000 samples then take about 100 s per layout
 * (BENCH.md asks 100,000: pass --samples 100000 and allow --max-s 600).
 */
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    samples: { type: 'string', default: '20000' },
    'max-s': { type: 'string', default: '300' },
    'diffs-per-s': { type: 'string', default: '10' },
    speed: { type: 'string', default: '10' },
    orders: { type: 'string', default: '20000' },
  },
});

const report = new BenchReport('trading', 'npm run bench -- trading', { pinned: true });
const t2o = { samples: Number(values.samples), max_s: Number(values['max-s']), diffs_per_s: Number(values['diffs-per-s']), speed: Number(values.speed) };
const market = `synthetic BTCUSDT + ETHUSDT, ${t2o.diffs_per_s} diffs/s per symbol in market time at replay speed ${t2o.speed} (${2 * t2o.diffs_per_s * t2o.speed} diffs/s), signal thresholds 0.01 and no cooldown (an intent per inference), wide risk limits`;

for (const [layout, prefix] of [
  ['one_node', 't2o.one_node'],
  ['three_nodes', 't2o.three_nodes'],
] as const) {
  console.log(`tick-to-order, ${layout} (up to ${t2o.samples} orders or ${t2o.max_s} s)...`);
  const r = await measureT2o({ layout: layout as Layout, ...t2o });
  const note = `${r.layout}; ${market}; from the feed gateway's socket read to the venue gateway's socket write; ${r.n} orders in ${r.seconds.toFixed(0)} s`;
  report.add({ name: `${prefix}.p50_us`, value: r.p50_us, unit: 'us', better: 'lower', n: r.n, note });
  report.add({ name: `${prefix}.p99_us`, value: r.p99_us, unit: 'us', better: 'lower', n: r.n, note });
  report.add({ name: `${prefix}.p999_us`, value: r.p999_us, unit: 'us', better: 'lower', n: r.n, note });
}

console.log('orders per second through risk and order actors (core 1)...');
const pinned = pinProcess([1]);
const o = await measureOrdersThroughput(Number(values.orders));
report.add({ name: 'orders.per_s', value: o.orders_per_s, unit: 'orders/s', better: 'higher', n: o.orders, note: `intents -> risk (all checks) -> one order actor per order (XState lifecycle) -> an in-process venue that acks and fills at once -> filled; batches of 50 in flight; one process${pinned.error ? '' : ' pinned to core 1'}` });
await report.write();
