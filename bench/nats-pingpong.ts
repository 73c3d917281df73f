import type { Behavior } from '../runtime/actor.ts';
import { ActorSystem } from '../runtime/actor-system.ts';
import { connectNats } from '../runtime/nats-connection.ts';
import { NatsTransport } from '../runtime/nats-transport.ts';
import { TOPOLOGY_DEFAULTS } from '../runtime/topology.ts';
import { NATS_FLAGS } from './raw/nats-pingpong.ts';
import { pingPongScript, runPingPong, type EchoCounter, type PingPongOptions, type PingPongResult, type PingPongRoleConfig, type RoundTripRun } from './raw/pingpong.ts';

/**
 * Ping-pong through the runtime between two nodes on two hosts over NATS: actor `pinger` on node
 * `ping` (host a) tells actor `echo` on node `pong` (host b), which replies to its sender; one
 * message in flight. Everything a production envelope pays: logical-address routing, the link's
 * sequence number, the msgpack frame on rt.bench.mail.<address>, the mailbox and the dispatcher
 * on both ends, through both hosts' nats-servers and the route between them.
 */

type Ping = { type: 'ping'; payload: Uint8Array };
const placement: Record<string, string> = { echo: 'pong', pinger: 'ping' };
/** Until the peer's heartbeat is heard, envelopes are held: wait this long for it. */
const PEER_WAIT_MS = 10_000;

export function measureRuntimeNatsPingPong(options: Partial<PingPongOptions> = {}): Promise<PingPongResult> {
  return runPingPong(new URL(import.meta.url), options);
}

async function node(name: string, server: unknown, key: string): Promise<{ system: ActorSystem; transport: NatsTransport }> {
  if (typeof server !== 'string') throw new Error('--nats-client / --nats-echo: expected a nats:// URL');
  const system = new ActorSystem({ node: name, nodeOf: (a) => placement[a] });
  const nc = await connectNats([server], `bench ${name}`);
  const { holdMs, holdMax, batchMax, inboundMax } = TOPOLOGY_DEFAULTS.transport;
  const transport = new NatsTransport(system, nc, { cluster: 'bench', keys: [key], holdMs, holdMax, batchMax, inboundMax });
  system.attachTransport(transport);
  transport.start();
  return { system, transport };
}

async function echo(config: PingPongRoleConfig, counter: EchoCounter): Promise<void> {
  const { system } = await node('pong', config.extra['nats-echo'], 'echo');
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
  const { system, transport } = await node('ping', config.extra['nats-client'], 'pinger');
  for (const end = Date.now() + PEER_WAIT_MS; !transport.canSend('pong'); ) {
    if (Date.now() > end) throw new Error(`node pong not heard over NATS within ${PEER_WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const ping: Ping = { type: 'ping', payload: new Uint8Array(config.payload_bytes).fill(0x5a) };
  await run.ready();
  await new Promise<void>((resolve, reject) => {
    const behavior: Behavior<Ping, null> = {
      init: (ctx) => (ctx.tell('echo', ping), null),
      receive: (s, msg, ctx) => {
        if (msg.payload.length !== config.payload_bytes) reject(new Error(`reply of ${msg.payload.length} bytes`));
        if (run.next()) ctx.tell('echo', ping);
        else resolve();
        return s;
      },
    };
    run.next();
    system.spawn('pinger', behavior);
  });
}

await pingPongScript(import.meta.url, { echo, client }, 'runtime over NATS', NATS_FLAGS);
