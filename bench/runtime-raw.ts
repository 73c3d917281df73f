import { parseArgs } from 'node:util';
import { runAlternating } from './alternating-rounds.ts';
import { PINGPONG_DEFAULTS, addPingPongFigures, describePingPong } from './raw/pingpong.ts';
import { measureUdsPingPong } from './raw/uds-pingpong.ts';
import { measureZmqPingPong } from './raw/zmq-pingpong.ts';
import { BenchReport } from './report.ts';

/**
 * The bare baselines of suite `runtime`: zeromq.js DEALER/ROUTER over ipc:// and Node `net` over a
 * Unix socket, 64-byte payload, client `taskset -c 0`, echo `taskset -c 1`, rounds alternating.
 * Writes bench/results/runtime-raw.json. bench/runtime.ts runs the same measurements alternating
 * with the runtime's own ping-pong.
 *
 *   node --import tsx bench/runtime-raw.ts [--rounds 3] [--round-trips 100000]
 */

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    'round-trips': { type: 'string', default: String(PINGPONG_DEFAULTS.round_trips) },
  },
});
const rounds = Number(values.rounds);
const round_trips = Number(values['round-trips']);
const options = { round_trips };

const results = await runAlternating(
  {
    zmq_raw: () => measureZmqPingPong(options),
    uds_raw: () => measureUdsPingPong(options),
  },
  rounds,
  (name, round, result) => console.log(describePingPong(`round ${round} ${name}`, result)),
);

const pinning = `client taskset -c ${PINGPONG_DEFAULTS.client_cores}, echo taskset -c ${PINGPONG_DEFAULTS.echo_cores}`;
const payload = `${PINGPONG_DEFAULTS.payload_bytes}-byte payload, ${PINGPONG_DEFAULTS.warmup} warm-up round trips`;
const report = new BenchReport('runtime', 'node --import tsx bench/runtime-raw.ts', { pinned: true, file: 'runtime-raw' });
const zmq = addPingPongFigures(report, 'zmq_raw', results.zmq_raw, `zeromq.js DEALER/ROUTER ipc://; ${pinning}; ${payload}`);
const uds = addPingPongFigures(report, 'uds_raw', results.uds_raw, `node net Unix socket, u32 length prefix; ${pinning}; ${payload}`);
report.add({
  name: 'zmq_raw.rtt.p99_ratio_vs_uds',
  value: zmq.latency.p99_us / uds.latency.p99_us,
  unit: 'ratio',
  better: 'lower',
  n: zmq.latency.n,
  note: 'bare zeromq / bare Unix socket, medians of the alternating rounds',
});
await report.write();
