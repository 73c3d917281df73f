import { dirname } from 'node:path';
import type { Behavior } from '../runtime/actor.ts';
import { ActorSystem } from '../runtime/actor-system.ts';
import { IpcTransport } from '../runtime/ipc-transport.ts';
import { connectNats } from '../runtime/nats-connection.ts';
import { NatsTransport } from '../runtime/nats-transport.ts';
import { TOPOLOGY_DEFAULTS } from '../runtime/topology.ts';
import { NATS_FLAGS } from './raw/nats-pingpong.ts';
import { obsModeOf, observe } from './observed-system.ts';
import {
  pingPongScript,
  runPingPong,
  type EchoCounter,
  type PingPongOptions,
  type PingPongResult,
  type PingPongRoleConfig,
  type RoundTripRun,
} from './raw/pingpong.ts';

/**
 * Ping-pong through the runtime between two node processes, over ZeroMQ ipc (one host) or, given
 * --nats-client and --nats-echo, over NATS between two hosts (each node on its host's server):
 * actor `pinger` on node `ping` tells actor `echo` on node `pong`, which replies to its sender;
 * one message in flight, timed in the pinger. Everything a production message pays is paid:
 * logical-address routing, per-link sequence numbers, msgpack frames (on rt.bench.mail.<address>
 * over NATS), the mailbox and the dispatcher on both ends.
 * Run alone: `node --import tsx bench/runtime-pingpong.ts`.
 */

type Ping = { type: 'ping'; payload: Uint8Array };

const placement: Record<string, string> = { echo: 'pong', pinger: 'ping' };

/** Until the peer's heartbeat is heard over NATS, envelopes are held: wait this long for it. */
const PEER_WAIT_MS = 10_000;

async function node(name: string, config: PingPongRoleConfig): Promise<ActorSystem> {
  const system = new ActorSystem({ node: name, nodeOf: (a) => placement[a] });
  observe(system, obsModeOf(config.extra.obs));
  const server = config.extra[name === 'ping' ? 'nats-client' : 'nats-echo'];
  if (typeof server !== 'string') {
    await IpcTransport.attach(system, { ipcDir: dirname(config.path), ...TOPOLOGY_DEFAULTS.transport });
    return system;
  }
  const nc = await connectNats([server], `bench ${name}`);
  const transport = NatsTransport.attach(system, nc, { cluster: 'bench', keys: [name === 'ping' ? 'pinger' : 'echo'], ...TOPOLOGY_DEFAULTS.transport });
  if (name === 'ping') await transport.untilHeard('pong', PEER_WAIT_MS);
  return system;
}

/** Over ipc; over NATS when options.args give --nats-client and --nats-echo. */
export function measureRuntimePingPong(options: Partial<PingPongOptions> = {}): Promise<PingPongResult> {
  return runPingPong(new URL(import.meta.url), options);
}

async function echo(config: PingPongRoleConfig, counter: EchoCounter): Promise<void> {
  const system = await node('pong', config);
  const behavior: Behavior<Ping, null> = {
    init: () => null,
    receive: (s, msg, ctx) => {
      counter.onMessage();
      ctx.reply(msg);
      return s;
    },
  };
  system.spawn('echo', behavior);
  counter.ready();
  await new Promise<never>(() => undefined);
}

async function client(config: PingPongRoleConfig, run: RoundTripRun): Promise<void> {
  const system = await node('ping', config);
  const ping: Ping = { type: 'ping', payload: new Uint8Array(config.payload_bytes).fill(0x5a) };
  // If the pong node's socket is not connected yet, the first ping waits in the outbox (hold_ms);
  // the warm-up round trips absorb that before timing starts.
  await run.ready();
  await new Promise<void>((resolve, reject) => {
    const behavior: Behavior<Ping, null> = {
      init: (ctx) => (ctx.tell('echo', ping), null),
      receive: (s, msg, ctx) => {
        if (msg.payload.length !== config.payload_bytes) reject(new Error(`reply of ${msg.payload.length} bytes`));
        if (run.next()) {
          ctx.startTrace('ping');
          ctx.tell('echo', ping);
        } else resolve();
        return s;
      },
    };
    // First next() starts the clock of the first round trip.
    run.next();
    system.spawn('pinger', behavior);
  });
}

await pingPongScript(import.meta.url, { echo, client }, 'runtime (pinger core 0, echo core 1)', { ...NATS_FLAGS, obs: { type: 'string' } });
