import { runAlternating } from './alternating-rounds.ts';
import { sharedDataFile } from '../actors/feed/recorded-file.ts';
import { pinProcess } from '../runtime/affinity.ts';
import { measureBookApply } from './book-apply.ts';
import { measureInproc } from './inproc.ts';
import { median } from './median.ts';
import type { ObsMode } from './observed-system.ts';
import { addPingPongFigures, describePingPong, medianPingPong, PINGPONG_DEFAULTS } from './raw/pingpong.ts';
import { BenchReport } from './report.ts';
import { measureRuntimePingPong } from './runtime-pingpong.ts';
import { roundTripArgs } from './suite-args.ts';

/**
 * Suite `observability` (BENCH.md): what metrics and tracing cost a message. Round trips between
 * two node processes over ZeroMQ ipc (the path every message between nodes takes), alternating in
 * the same run: observability off; `nosdk` (tracing through @opentelemetry/api with no SDK
 * registered, the product's state without an exporter); `on` (every message counted and timed
 * into a histogram, spans through the OpenTelemetry SDK for one trace in 100, the product's
 * default with an exporter); and `all` (every message traced). The cost is CPU per round trip of
 * both processes, and latency. Then a real handler in one process (the book actor applying
 * recorded depth diffs), and empty handlers in one process, where nothing hides the cost.
 *
 *   npm run bench -- observability [--rounds 3] [--round-trips 100000]
 */

const { rounds, round_trips } = roundTripArgs();
const report = new BenchReport('observability', 'npm run bench -- observability', { pinned: true });
const pct = (on: number, off: number): number => ((on - off) / off) * 100;

console.log(`ipc round trips with observability off / nosdk / on / all, ${rounds} alternating rounds...`);
// Traced round trips are slower (about 0.4 ms here): give a run time enough.
const opts = (obs: ObsMode) => ({ round_trips, args: ['--obs', obs], deadline_ms: 300_000 });
const pings = await runAlternating(
  { off: () => measureRuntimePingPong(opts('off')), nosdk: () => measureRuntimePingPong(opts('nosdk')), on: () => measureRuntimePingPong(opts('on')), all: () => measureRuntimePingPong(opts('all')) },
  rounds,
  (name, round, r) => console.log(describePingPong(`round ${round} obs ${name}`, r)),
);
const pinning = `client taskset -c ${PINGPONG_DEFAULTS.client_cores}, echo taskset -c ${PINGPONG_DEFAULTS.echo_cores}; ${PINGPONG_DEFAULTS.payload_bytes}-byte payload`;
addPingPongFigures(report, 'obs_off', pings.off, `runtime ping-pong over ipc, no metrics, no tracing; ${pinning}`);
addPingPongFigures(report, 'obs_nosdk', pings.nosdk, `the same traced through @opentelemetry/api with no SDK registered, no metrics; ${pinning}`);
addPingPongFigures(report, 'obs_on', pings.on, `the same with metrics (counts, handle-time histogram) and SDK tracing, 1 trace in 100; ${pinning}`);
addPingPongFigures(report, 'obs_all', pings.all, `the same with every round trip traced (4 spans each); ${pinning}`);
const [off, nosdk, on, all] = [medianPingPong(pings.off), medianPingPong(pings.nosdk), medianPingPong(pings.on), medianPingPong(pings.all)];
const cpu = (r: typeof off): number => r.client.cpu_us + r.echo.cpu_us;
const n = on.latency.n;
report.add({ name: 'obs.overhead_pct', value: pct(cpu(on), cpu(off)), unit: '%', better: 'lower', n, note: 'CPU per round trip (both processes), metrics and tracing on (1 trace in 100) vs off, medians of the alternating rounds' });
report.add({ name: 'obs.no_sdk_overhead_pct', value: pct(cpu(nosdk), cpu(off)), unit: '%', better: 'lower', n, note: 'CPU per round trip, tracing through the API with no SDK registered vs off' });
report.add({ name: 'obs.rtt_p50_overhead_pct', value: pct(on.latency.p50_us, off.latency.p50_us), unit: '%', better: 'lower', n, note: 'round-trip p50, on vs off' });
report.add({ name: 'obs.rtt_p99_overhead_pct', value: pct(on.latency.p99_us, off.latency.p99_us), unit: '%', better: 'lower', n, note: 'round-trip p99, on vs off' });
report.add({ name: 'obs.trace_all_overhead_pct', value: pct(cpu(all), cpu(off)), unit: '%', better: 'lower', n, note: 'CPU per round trip with every message traced vs off' });


// The book actor on recorded data, in this process on core 1: a real handler (a depth diff applied
// and the top published), where what a message costs is the work it does.
const btc = sharedDataFile('usdm-btcusdt_20240808.gz');
if (!btc) console.log('SKIPPED obs.book_overhead_pct: ../shared/data/binance/usdm-btcusdt_20240808.gz is absent (recorded data is not in a fresh clone)');
else {
  pinProcess([1]);
  console.log('book actor on usdm-btcusdt with observability off / on, alternating (core 1)...');
  const books = await runAlternating(
    { off: async () => ({ ...(await measureBookApply(btc, 5, 'off')), interference_pct: 0 }), on: async () => ({ ...(await measureBookApply(btc, 5, 'on')), interference_pct: 0 }) },
    rounds,
    (name, round, r) => console.log(`round ${round} book obs ${name}: ${Math.round(r.levels_per_s).toLocaleString('en-US')} levels/s, ${r.diffs.toLocaleString('en-US')} diffs a pass`),
  );
  const bOff = median(books.off.map((r) => r.levels_per_s));
  const bOn = median(books.on.map((r) => r.levels_per_s));
  const diffs = books.on[0].diffs * books.on[0].passes;
  report.add({ name: 'obs.book.levels_per_s_off', value: bOff, unit: 'levels/s', better: 'higher', n: diffs, note: 'one book actor, recorded usdm-btcusdt diffs, no metrics; core 1' });
  report.add({ name: 'obs.book.levels_per_s_on', value: bOn, unit: 'levels/s', better: 'higher', n: diffs, note: 'the same with metrics and SDK tracing (1 in 100)' });
  report.add({ name: 'obs.book_overhead_pct', value: pct(1 / bOn, 1 / bOff), unit: '%', better: 'lower', n: diffs, note: 'time per depth diff handled by the book actor, on vs off' });
}

console.log('in-process ping-pong with observability off / nosdk / metrics / on, alternating...');
const inprocOf = (mode: ObsMode) => async () => ({ ...(await measureInproc('0', mode)), interference_pct: 0 });
const inproc = await runAlternating({ off: inprocOf('off'), nosdk: inprocOf('nosdk'), metrics: inprocOf('metrics'), on: inprocOf('on') }, rounds, (name, round, r) =>
  console.log(`round ${round} inproc obs ${name}: ${Math.round(r.pingpong_rtt_per_s).toLocaleString('en-US')} rtt/s, ${Math.round(r.oneway_msgs_per_s).toLocaleString('en-US')} msg/s one-way`),
);
const rtt = (mode: keyof typeof inproc): number => median(inproc[mode].map((r) => r.pingpong_rtt_per_s));
const pn = inproc.on[0].pingpong_n;
report.add({ name: 'obs.inproc.pingpong.rtt_per_s_off', value: rtt('off'), unit: 'rtt/s', better: 'higher', n: pn, note: 'two actors on one node (core 0), empty handlers, no metrics' });
report.add({ name: 'obs.inproc.pingpong.rtt_per_s_nosdk', value: rtt('nosdk'), unit: 'rtt/s', better: 'higher', n: pn, note: 'the same traced through the API, no SDK registered' });
report.add({ name: 'obs.inproc.pingpong.rtt_per_s_metrics', value: rtt('metrics'), unit: 'rtt/s', better: 'higher', n: pn, note: 'the same with metrics alone' });
report.add({ name: 'obs.inproc.pingpong.rtt_per_s_on', value: rtt('on'), unit: 'rtt/s', better: 'higher', n: pn, note: 'the same with metrics and SDK tracing (1 in 100)' });
report.add({ name: 'obs.inproc.no_sdk_overhead_pct', value: pct(1 / rtt('nosdk'), 1 / rtt('off')), unit: '%', better: 'lower', n: pn, note: 'time per in-process round trip, API tracing with no SDK vs off' });
report.add({ name: 'obs.inproc_overhead_pct', value: pct(1 / rtt('on'), 1 / rtt('off')), unit: '%', better: 'lower', n: pn, note: 'time per in-process round trip, on vs off: empty handlers, where a message costs a fraction of a microsecond and the clock read per message dominates' });
await report.write();
