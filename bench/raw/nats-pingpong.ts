import { connect } from 'nats';
import { pingPongScript, runPingPong, type EchoCounter, type PingPongOptions, type PingPongResult, type PingPongRoleConfig, type RoundTripRun } from './pingpong.ts';

/**
 * Bare nats.js v2 request/reply between two hosts: the client requests on `bench.echo` through its
 * host's nats-server, the route carries it to the echo's server, the echo responds; one request in
 * flight. `noAsyncTraces` on both (as the runtime's connections), so neither pays nats.js's async
 * stack capture. The servers are given as --nats-client and --nats-echo (bench/nats.ts starts them).
 */

export const NATS_FLAGS = { 'nats-client': { type: 'string' }, 'nats-echo': { type: 'string' } } as const;
const SUBJECT = 'bench.echo';
/** Until the echo's interest has crossed the route, a request finds no responder: retry this long. */
const INTEREST_WAIT_MS = 10_000;

export function measureNatsPingPong(options: Partial<PingPongOptions> = {}): Promise<PingPongResult> {
  return runPingPong(new URL(import.meta.url), options);
}

function url(config: PingPongRoleConfig, key: 'nats-client' | 'nats-echo'): string {
  const v = config.extra[key];
  if (typeof v !== 'string') throw new Error(`--${key}: expected a nats:// URL`);
  return v;
}

async function echo(config: PingPongRoleConfig, counter: EchoCounter): Promise<void> {
  const nc = await connect({ servers: url(config, 'nats-echo'), noAsyncTraces: true });
  nc.subscribe(SUBJECT, {
    callback: (_err, m) => {
      counter.onMessage();
      m.respond(m.data);
    },
  });
  await nc.flush();
  counter.ready();
  await new Promise<never>(() => undefined);
}

async function client(config: PingPongRoleConfig, run: RoundTripRun): Promise<void> {
  const nc = await connect({ servers: url(config, 'nats-client'), noAsyncTraces: true });
  const payload = new Uint8Array(config.payload_bytes).fill(0x5a);
  for (const end = Date.now() + INTEREST_WAIT_MS; ; ) {
    try {
      const m = await nc.request(SUBJECT, payload, { timeout: 500 });
      if (m.data.length === payload.length) break;
    } catch (e) {
      if (Date.now() > end) throw new Error(`no echo on ${SUBJECT} within ${INTEREST_WAIT_MS} ms: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await run.ready();
  while (run.next()) {
    const m = await nc.request(SUBJECT, payload, { timeout: 5000 });
    if (m.data.length !== payload.length) throw new Error(`reply of ${m.data.length} bytes, sent ${payload.length}`);
  }
  await nc.close();
}

await pingPongScript(import.meta.url, { echo, client }, 'nats.js raw request/reply', NATS_FLAGS);
