import { Dealer, Router } from 'zeromq';
import {
  pingPongScript,
  runPingPong,
  type EchoCounter,
  type PingPongOptions,
  type PingPongResult,
  type PingPongRoleConfig,
  type RoundTripRun,
} from './pingpong.ts';

/**
 * Bare zeromq.js v6 over `ipc://`: a DEALER client and a ROUTER echo, the pair a request/reply
 * runtime needs, one message part of payload (the ROUTER adds its routing-id part). Each process is
 * pinned whole, so its libzmq I/O thread shares the JS thread's core. Run alone:
 * `node --import tsx bench/raw/zmq-pingpong.ts`.
 */

export function measureZmqPingPong(options: Partial<PingPongOptions> = {}): Promise<PingPongResult> {
  return runPingPong(new URL(import.meta.url), options);
}

async function echo(config: PingPongRoleConfig, counter: EchoCounter): Promise<void> {
  const router = new Router({ linger: 0 });
  await router.bind(`ipc://${config.path}`);
  counter.ready();
  for await (const [routing_id, payload] of router) {
    counter.onMessage();
    await router.send([routing_id, payload]);
  }
}

async function client(config: PingPongRoleConfig, run: RoundTripRun): Promise<void> {
  const dealer = new Dealer({ linger: 0 });
  dealer.connect(`ipc://${config.path}`);
  await run.ready();
  const payload = Buffer.alloc(config.payload_bytes, 0x5a);
  try {
    while (run.next()) {
      await dealer.send(payload);
      const [reply] = await dealer.receive();
      if (reply.length !== payload.length) throw new Error(`reply of ${reply.length} bytes, sent ${payload.length}`);
    }
  } finally {
    dealer.close();
  }
}

await pingPongScript(import.meta.url, { echo, client }, 'zmq raw DEALER/ROUTER (client core 0, echo core 1)');
