import { runAlternating } from './alternating-rounds.ts';
import { measureInproc } from './inproc.ts';
import { addPingPongFigures, describePingPong, medianPingPong, PINGPONG_DEFAULTS } from './raw/pingpong.ts';
import { BenchReport } from './report.ts';
import { measureRuntimePingPong } from './runtime-pingpong.ts';
import { roundTripArgs } from './suite-args.ts';

/**
 * Suite `observability` (BENCH.md): what metrics and tracing cost a message. Round trips between
 * two node processes over ZeroMQ ipc (the path every message between nodes takes), alternating in
 * the same run: observability off; on (every message counted and timed into a histogram, spans
 * through the OpenTelemetry SDK for one trace in 100, the product's default); and `all` (every
 * message traced). The cost is CPU per round trip of both processes, and latency; the same for
 * two actors in one process, where nothing else hides it.
 *
 *   npm run bench -- observability [--rounds 3] [--round-trips 100000]
 */

const { rounds, round_trips } = roundTripArgs();
const report = new BenchReport('observability', 'npm run bench -- observability', { pinned: true });
const pct = (on: number, off: number): number => ((on - off) / off) * 100;

console.log(`ipc round trips with observability off / on / all, ${rounds} alternating rounds...`);
// Traced round trips are slower (about 0.4 ms here): give a run time enough.
const opts = (obs: string) => ({ round_trips, args: ['--obs', obs], deadline_ms: 300_000 });
const pings = await runAlternating(
  { off: () => measureRuntimePingPong(opts('off')), on: () => measureRuntimePingPong(opts('on')), all: () => measureRuntimePingPong(opts('all')) },
  rounds,
  (name, round, r) => console.log(describePingPong(`round ${round} obs ${name}`, r)),
);
const pinning = `client taskset -c ${PINGPONG_DEFAULTS.client_cores}, echo taskset -c ${PINGPONG_DEFAULTS.echo_cores}; ${PINGPONG_DEFAULTS.payload_bytes}-byte payload`;
addPingPongFigures(report, 'obs_off', pings.off, `runtime ping-pong over ipc, no metrics, no tracing; ${pinning}`);
addPingPongFigures(report, 'obs_on', pings.on, `the same with metrics (counts, handle-time histogram) and SDK tracing, 1 trace in 100; ${pinning}`);
addPingPongFigures(report, 'obs_all', pings.all, `the same with every round trip traced (4 spans each); ${pinning}`);
const [off, on, all] = [medianPingPong(pings.off), medianPingPong(pings.on), medianPingPong(pings.all)];
const cpu = (r: typeof off): number => r.client.cpu_us + r.echo.cpu_us;
const n = on.latency.n;
report.add({ name: 'obs.overhead_pct', value: pct(cpu(on), cpu(off)), unit: '%', better: 'lower', n, note: 'CPU per round trip (both processes), metrics and tracing on (1 trace in 100) vs off, medians of the alternating rounds' });
report.add({ name: 'obs.rtt_p50_overhead_pct', value: pct(on.latency.p50_us, off.latency.p50_us), unit: '%', better: 'lower', n, note: 'round-trip p50, on vs off' });
report.add({ name: 'obs.rtt_p99_overhead_pct', value: pct(on.latency.p99_us, off.latency.p99_us), unit: '%', better: 'lower', n, note: 'round-trip p99, on vs off' });
report.add({ name: 'obs.trace_all_overhead_pct', value: pct(cpu(all), cpu(off)), unit: '%', better: 'lower', n, note: 'CPU per round trip with every message traced vs off' });

console.log('in-process ping-pong with observability off / on, alternating...');
const inproc = await runAlternating(
  { off: async () => ({ ...(await measureInproc('0', 'off')), interference_pct: 0 }), on: async () => ({ ...(await measureInproc('0', 'on')), interference_pct: 0 }) },
  rounds,
  (name, round, r) => console.log(`round ${round} inproc obs ${name}: ${Math.round(r.pingpong_rtt_per_s).toLocaleString('en-US')} rtt/s, ${Math.round(r.oneway_msgs_per_s).toLocaleString('en-US')} msg/s one-way`),
);
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const inOff = med(inproc.off.map((r) => r.pingpong_rtt_per_s));
const inOn = med(inproc.on.map((r) => r.pingpong_rtt_per_s));
report.add({ name: 'obs.inproc.pingpong.rtt_per_s_off', value: inOff, unit: 'rtt/s', better: 'higher', n: inproc.off[0].pingpong_n, note: 'two actors on one node (core 0), no metrics' });
report.add({ name: 'obs.inproc.pingpong.rtt_per_s_on', value: inOn, unit: 'rtt/s', better: 'higher', n: inproc.on[0].pingpong_n, note: 'the same with metrics and tracing (1 in 100)' });
report.add({ name: 'obs.inproc_overhead_pct', value: pct(1 / inOn, 1 / inOff), unit: '%', better: 'lower', n: inproc.on[0].pingpong_n, note: 'time per in-process round trip, on vs off: the bare dispatch path, where a message costs well under a microsecond' });
await report.write();
