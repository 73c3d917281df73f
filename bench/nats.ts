import { simulateHosts } from '../test/support/simulated-hosts.ts';
import { runAlternating } from './alternating-rounds.ts';
import { measureRuntimePingPong } from './runtime-pingpong.ts';
import { measureNatsPingPong } from './raw/nats-pingpong.ts';
import { PINGPONG_DEFAULTS, addPingPongFigures, describePingPong } from './raw/pingpong.ts';
import { BenchReport } from './report.ts';
import { roundTripArgs } from './suite-args.ts';
import { addOnewayFigure, measureRuntimeOneway } from './runtime-oneway.ts';

/**
 * Suite `nats` (BENCH.md): round trips between two hosts through the runtime over NATS, alternating
 * in the same run with bare nats.js request/reply over the same two servers; one-way throughput
 * between the hosts. The hosts are simulated (test/support/simulated-hosts.ts): network
 * namespaces joined by veth pairs on a bridge when run as root, else loopback; one nats-server
 * (2.9, GOMAXPROCS=1) per host, clustered by routes, so every message crosses both servers and
 * the route. Host a (client, its server) is pinned to core 0, host b (echo, its server) to core 1.
 *
 *   npm run bench -- nats [--rounds 3] [--round-trips 100000]
 */

const { rounds, round_trips } = roundTripArgs();

const sim = await simulateHosts(['a', 'b'], { cores: { a: '0', b: '1' } });
const [a, b] = [sim.host('a'), sim.host('b')];
console.log(`simulated hosts (${sim.mode}): a ${a.address} ${a.natsUrl}, b ${b.address} ${b.natsUrl}`);
try {
  const report = new BenchReport('nats', 'npm run bench -- nats', {
    pinned: true,
    machine_extra: { hosts: sim.mode, nats_server: 'nats-server 2.9 (Debian), GOMAXPROCS=1, one per host, clustered by routes', nats_client: 'nats.js 2.x, noAsyncTraces' },
  });
  const serverPids = sim.hosts.map((h) => h.nats.pid).filter((p): p is number => p !== undefined);
  const pingOptions = {
    round_trips,
    client_netns: a.netns,
    echo_netns: b.netns,
    args: ['--nats-client', a.natsUrl, '--nats-echo', b.natsUrl],
    path_pids: serverPids,
    // Two servers and a route per leg: ~0.5 ms a round trip, so 120,000 take about a minute.
    deadline_ms: 300_000,
  };
  console.log(`round trips across hosts: runtime vs bare nats.js request/reply, ${rounds} alternating rounds...`);
  const pings = await runAlternating(
    { nats: () => measureRuntimePingPong(pingOptions), nats_raw: () => measureNatsPingPong(pingOptions) },
    rounds,
    (name, round, result) => console.log(describePingPong(`round ${round} ${name}`, result)),
  );
  const pinning = `host a: client and its nats-server taskset -c ${PINGPONG_DEFAULTS.client_cores}; host b: echo and its nats-server taskset -c ${PINGPONG_DEFAULTS.echo_cores}; hosts ${sim.mode}`;
  const payload = `${PINGPONG_DEFAULTS.payload_bytes}-byte payload, ${PINGPONG_DEFAULTS.warmup} warm-up round trips`;
  const ours = addPingPongFigures(report, 'nats', pings.nats, `runtime actors on two nodes of two hosts, NatsTransport (msgpack frame on rt.bench.mail.<address>); ${pinning}; ${payload} in the message body`);
  const raw = addPingPongFigures(report, 'nats_raw', pings.nats_raw, `bare nats.js request/reply through the same two servers; ${pinning}; ${payload}`);
  const n = ours.latency.n;
  report.add({ name: 'nats.rtt.p99_ratio', value: ours.latency.p99_us / raw.latency.p99_us, unit: 'ratio', better: 'lower', n, note: 'runtime / bare nats.js, medians of the alternating rounds' });
  report.add({ name: 'nats.rtt.p50_ratio', value: ours.latency.p50_us / raw.latency.p50_us, unit: 'ratio', better: 'lower', n, note: 'runtime / bare nats.js' });

  const ONEWAY_ROUNDS = Math.max(3, rounds);
  console.log(`one-way throughput across hosts, ${ONEWAY_ROUNDS} rounds...`);
  const over = { producer: { url: a.natsUrl, netns: a.netns }, consumer: { url: b.natsUrl, netns: b.netns }, serverPids };
  await addOnewayFigure(report, 'nats', ONEWAY_ROUNDS, () => measureRuntimeOneway(over), `producer actor (host a, core 0) -> consumer actor (host b, core 1) over NATS; envelopes to one receiver told in one turn share a NATS message (<= batch_max 512); ${pinning}`);
  await report.write();
} finally {
  await sim.close();
}
