import { readFileSync } from 'node:fs';
import type { BenchResult, Figure } from './report.ts';

/**
 * Prints the README's table of latest figures from bench/results/runtime.json, so the README is
 * updated from a measurement, never by hand:  node --import tsx bench/figures-table.ts
 */
const result = JSON.parse(readFileSync(new URL('./results/runtime.json', import.meta.url), 'utf8')) as BenchResult;
const f = new Map<string, Figure>(result.figures.map((x) => [x.name, x]));
const v = (name: string, digits = 1): string => {
  const fig = f.get(name);
  if (!fig) throw new Error(`bench/results/runtime.json has no figure ${name}: run npm run bench -- runtime`);
  return fig.value.toLocaleString('en-US', { maximumFractionDigits: digits });
};
const trio = (prefix: string): string => `${v(`${prefix}.p50_us`)} / ${v(`${prefix}.p99_us`)} / ${v(`${prefix}.p999_us`)} µs`;
const rows: [string, string, string][] = [
  ['in-process one-way', `${v('inproc.oneway.msgs_per_s', 0)} msg/s`, '>= 10,000,000'],
  ['in-process ping-pong', `${v('inproc.pingpong.rtt_per_s', 0)} rtt/s`, '>= 1,000,000'],
  ['IPC round trip through the runtime, p50 / p99 / p99.9', trio('ipc.rtt'), ''],
  ['IPC round trip, bare zeromq.js DEALER/ROUTER', trio('zmq_raw.rtt'), ''],
  ['IPC round trip, bare Node Unix socket', trio('uds_raw.rtt'), ''],
  ['runtime / bare zeromq, p99 (p50)', `${v('ipc.rtt.p99_ratio', 2)} (${v('ipc.rtt.p50_ratio', 2)})`, '<= 1.3 (p99)'],
  ['IPC round trip through the runtime, 256-byte payload', trio('ipc_256b.rtt'), ''],
  ['IPC round trip, bare zeromq.js, 256-byte payload', trio('zmq_raw_256b.rtt'), ''],
  ['runtime / bare zeromq, p99, 256-byte payload', v('ipc_256b.rtt.p99_ratio', 2), ''],
  ['CPU per round trip, both processes: runtime / zeromq / socket', `${v('ipc.cpu_us_per_rtt', 0)} / ${v('zmq_raw.cpu_us_per_rtt', 0)} / ${v('uds_raw.cpu_us_per_rtt', 0)} µs`, ''],
  ['IPC one-way through the runtime', `${v('ipc.oneway.msgs_per_s', 0)} msg/s`, '>= 2,000,000'],
];
const m = result.machine;
console.log(`Latest figures (${result.when}, ${m.cpus} x ${m.cpu_model}, Node ${m.node}, \`${result.command}\`):\n`);
console.log('| figure | measured | target |\n|---|---|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
