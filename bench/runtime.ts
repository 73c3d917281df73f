import { runAlternating } from './alternating-rounds.ts';
import { measureInproc } from './inproc.ts';
import { PINGPONG_DEFAULTS, addPingPongFigures, describePingPong } from './raw/pingpong.ts';
import { measureUdsPingPong } from './raw/uds-pingpong.ts';
import { measureZmqPingPong } from './raw/zmq-pingpong.ts';
import { BenchReport } from './report.ts';
import { roundTripArgs } from './suite-args.ts';
import { addOnewayFigure, measureRuntimeOneway } from './runtime-oneway.ts';
import { measureRuntimePingPong } from './runtime-pingpong.ts';

/**
 * Suite `runtime` (BENCH.md): in-process throughput on one pinned core; cross-node round trips
 * through the runtime over ZeroMQ ipc, alternating in the same run with bare zeromq.js
 * DEALER/ROUTER and bare Node Unix sockets between the same two pinned processes; one-way
 * throughput between two nodes over ipc.
 *
 *   npm run bench -- runtime [--rounds 3] [--round-trips 100000]
 */

const { rounds, round_trips } = roundTripArgs();
const pingOptions = { round_trips };

const report = new BenchReport('runtime', 'npm run bench -- runtime', { pinned: true });

console.log('in-process (taskset -c 0)...');
const inproc = await measureInproc('0');
report.add({ name: 'inproc.oneway.msgs_per_s', value: inproc.oneway_msgs_per_s, unit: 'msg/s', better: 'higher', n: inproc.oneway_n, note: 'producer -> consumer actor, ctx.tell, credit every 1000; one node pinned to core 0; median of 3' });
report.add({ name: 'inproc.pingpong.rtt_per_s', value: inproc.pingpong_rtt_per_s, unit: 'rtt/s', better: 'higher', n: inproc.pingpong_n, note: 'two actors, one message in flight; one node pinned to core 0; median of 3' });

console.log(`ipc round trips: runtime vs bare zeromq vs bare unix socket, ${rounds} alternating rounds...`);
const pings = await runAlternating(
  {
    ipc: () => measureRuntimePingPong(pingOptions),
    zmq_raw: () => measureZmqPingPong(pingOptions),
    uds_raw: () => measureUdsPingPong(pingOptions),
  },
  rounds,
  (name, round, result) => console.log(describePingPong(`round ${round} ${name}`, result)),
);
const pinning = `client taskset -c ${PINGPONG_DEFAULTS.client_cores}, echo taskset -c ${PINGPONG_DEFAULTS.echo_cores}`;
const payload = `${PINGPONG_DEFAULTS.payload_bytes}-byte payload, ${PINGPONG_DEFAULTS.warmup} warm-up round trips`;
const ours = addPingPongFigures(report, 'ipc', pings.ipc, `runtime actors on two nodes, ZeroMQ ipc PUSH/PULL, msgpack frame; ${pinning}; ${payload} in the message body`);
const zmq = addPingPongFigures(report, 'zmq_raw', pings.zmq_raw, `bare zeromq.js DEALER/ROUTER ipc://; ${pinning}; ${payload}`);
const uds = addPingPongFigures(report, 'uds_raw', pings.uds_raw, `bare node net Unix socket, u32 length prefix; ${pinning}; ${payload}`);
const n = ours.latency.n;
report.add({ name: 'ipc.rtt.p99_ratio', value: ours.latency.p99_us / zmq.latency.p99_us, unit: 'ratio', better: 'lower', n, note: 'runtime / bare zeromq, medians of the alternating rounds' });
report.add({ name: 'ipc.rtt.p50_ratio', value: ours.latency.p50_us / zmq.latency.p50_us, unit: 'ratio', better: 'lower', n, note: 'runtime / bare zeromq' });
report.add({ name: 'ipc.rtt.p50_ratio_vs_uds', value: ours.latency.p50_us / uds.latency.p50_us, unit: 'ratio', better: 'lower', n, note: 'runtime / bare Unix socket (the floor for a Node process hop)' });

// zeromq.js copies a message of up to 128 bytes but hands a larger one over zero-copy (and must
// release it on the JS thread); the receiver gets it as an external buffer. A message of 256 bytes
// shows what that step costs, bare and through the runtime, in the same alternating run.
const LARGE_PAYLOAD_BYTES = 256;
console.log(`ipc round trips with a ${LARGE_PAYLOAD_BYTES}-byte payload, ${rounds} alternating rounds...`);
const largeOptions = { round_trips, payload_bytes: LARGE_PAYLOAD_BYTES };
const large = await runAlternating(
  {
    ipc_256b: () => measureRuntimePingPong(largeOptions),
    zmq_raw_256b: () => measureZmqPingPong(largeOptions),
  },
  rounds,
  (name, round, result) => console.log(describePingPong(`round ${round} ${name}`, result)),
);
const large_payload = `${LARGE_PAYLOAD_BYTES}-byte payload, ${PINGPONG_DEFAULTS.warmup} warm-up round trips`;
const oursLarge = addPingPongFigures(report, 'ipc_256b', large.ipc_256b, `as ipc, ${large_payload}; ${pinning}`);
const zmqLarge = addPingPongFigures(report, 'zmq_raw_256b', large.zmq_raw_256b, `as zmq_raw, ${large_payload}; ${pinning}`);
report.add({ name: 'ipc_256b.rtt.p99_ratio', value: oursLarge.latency.p99_us / zmqLarge.latency.p99_us, unit: 'ratio', better: 'lower', n: oursLarge.latency.n, note: 'runtime / bare zeromq, 256-byte payload' });

const ONEWAY_ROUNDS = Math.max(5, rounds);
console.log(`ipc one-way throughput, ${ONEWAY_ROUNDS} rounds...`);
await addOnewayFigure(report, 'ipc', ONEWAY_ROUNDS, () => measureRuntimeOneway(), 'producer actor (core 0) -> consumer actor (core 1); envelopes told in one dispatcher turn share a frame (<= batch_max 512)');
await report.write();
