import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dealer, Pair, Push, Router } from 'zeromq';

/**
 * What zeromq.js v6 send() does when the peer is not there, for the runtime's transport: does it
 * wait, fail (with which error) or queue, and is a queued message delivered once the peer binds?
 * One process, ipc:// in a temp dir, every wait bounded.
 *
 *   node --import tsx bench/explore/zmq-peer-down.ts
 */

const PAYLOAD = Buffer.alloc(64, 0x5a);
const PENDING_CHECK_MS = 300;
const SETTLE_MAX_MS = 2_000;
/** Bound for "how many sends queue before EAGAIN"; far above any default high-water mark. */
const QUEUE_PROBE_MAX = 100_000;

interface Outcome {
  state: 'resolved' | 'rejected' | 'pending';
  after_ms: number;
  error?: string;
}

function describeError(error: unknown): string {
  const e = error as { name?: string; code?: string; errno?: number; message?: string };
  return `${e.name ?? 'Error'} code=${e.code} errno=${e.errno} "${e.message}"`;
}

/** Where `promise` stands after `wait_ms` (or as soon as it settles), without leaving a rejection unhandled. */
async function settleWithin(promise: Promise<unknown>, wait_ms: number): Promise<Outcome> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ state: 'pending', after_ms: wait_ms }), wait_ms);
  });
  const settled = promise.then(
    (): Outcome => ({ state: 'resolved', after_ms: performance.now() - start }),
    (error: unknown): Outcome => ({ state: 'rejected', after_ms: performance.now() - start, error: describeError(error) }),
  );
  const outcome = await Promise.race([settled, pending]);
  clearTimeout(timer);
  return outcome;
}

function show(outcome: Outcome): string {
  return `${outcome.state} after ${outcome.after_ms.toFixed(1)} ms${outcome.error ? ` (${outcome.error})` : ''}`;
}

/** Receives until nothing arrives for a while; returns how many messages came. */
async function drain(router: Router, quiet_ms = 300): Promise<number> {
  let received = 0;
  router.receiveTimeout = quiet_ms;
  for (;;) {
    try {
      await router.receive();
      received++;
    } catch {
      return received;
    }
  }
}

async function immediateNoPeer(address: string, kind: 'dealer' | 'push' | 'pair', send_timeout_ms: number): Promise<string> {
  const options = { immediate: true, linger: 0, sendTimeout: send_timeout_ms };
  const socket = kind === 'dealer' ? new Dealer(options) : kind === 'push' ? new Push(options) : new Pair(options);
  socket.connect(address);
  const outcome = await settleWithin(socket.send(PAYLOAD), send_timeout_ms < 0 ? PENDING_CHECK_MS : SETTLE_MAX_MS);
  socket.close();
  return show(outcome);
}

/** With the default timeout a send to a missing peer waits; does it complete once the peer binds? */
async function immediateNoPeerThenPeerBinds(address: string): Promise<string> {
  const dealer = new Dealer({ immediate: true, linger: 0 });
  dealer.connect(address);
  const send = dealer.send(PAYLOAD);
  const before = await settleWithin(send, PENDING_CHECK_MS);
  const router = new Router({ linger: 0 });
  await router.bind(address);
  const after = await settleWithin(send, SETTLE_MAX_MS);
  const delivered = await drain(router);
  dealer.close();
  router.close();
  return `before bind: ${show(before)}; after bind: ${show(after)}; delivered ${delivered}`;
}

/** Without `immediate`, how many sends queue for a peer that is not there, and are they delivered later? */
async function queuedWithoutImmediate(address: string): Promise<string> {
  const dealer = new Dealer({ immediate: false, linger: 0, sendTimeout: 0 });
  dealer.connect(address);
  let queued = 0;
  let stop: string | undefined;
  while (queued < QUEUE_PROBE_MAX && stop === undefined) {
    const outcome = await settleWithin(dealer.send(PAYLOAD), SETTLE_MAX_MS);
    if (outcome.state === 'resolved') queued++;
    else stop = show(outcome);
  }
  const router = new Router({ linger: 0 });
  await router.bind(address);
  const delivered = await drain(router);
  dealer.close();
  router.close();
  return `queued ${queued} (sendHighWaterMark ${1000}) then ${stop ?? 'no refusal'}; peer bound later received ${delivered}`;
}

/** The peer was connected and went away: what does the next send do, with and without `immediate`? */
async function peerLost(address: string, immediate: boolean): Promise<string> {
  const router = new Router({ linger: 0 });
  await router.bind(address);
  const dealer = new Dealer({ immediate, linger: 0, sendTimeout: 0 });
  // The observer is not an EventEmitter, so events.once() does not apply.
  const disconnected = new Promise<void>((resolve) => dealer.events.on('disconnect', () => resolve()));
  dealer.connect(address);
  await dealer.send(PAYLOAD);
  await settleWithin(router.receive(), SETTLE_MAX_MS);
  router.close();
  const lost = await settleWithin(disconnected, SETTLE_MAX_MS);
  const send = await settleWithin(dealer.send(PAYLOAD), SETTLE_MAX_MS);
  // libzmq tears the pipe down asynchronously after the disconnect event; look again once it has.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const later = await settleWithin(dealer.send(PAYLOAD), SETTLE_MAX_MS);
  const back = new Router({ linger: 0 });
  await back.bind(address);
  const delivered = await drain(back);
  dealer.close();
  back.close();
  return `disconnect seen: ${show(lost)}; send right after: ${show(send)}; send 100 ms later: ${show(later)}; peer back, received ${delivered}`;
}

async function routerToUnknownPeer(address: string, mandatory: boolean, send_timeout_ms: number): Promise<string> {
  const router = new Router({ linger: 0, mandatory, sendTimeout: send_timeout_ms });
  await router.bind(address);
  const outcome = await settleWithin(router.send(['nobody', PAYLOAD]), SETTLE_MAX_MS);
  router.close();
  return show(outcome);
}

/** With one live peer POLLOUT is set, so a send to an unknown id reaches libzmq's own check. */
async function routerUnknownIdWithPeer(address: string): Promise<string> {
  const router = new Router({ linger: 0, mandatory: true });
  await router.bind(address);
  const dealer = new Dealer({ linger: 0, routingId: 'known' });
  dealer.connect(address);
  await dealer.send(PAYLOAD);
  await router.receive();
  let outcome: Outcome;
  try {
    outcome = await settleWithin(router.send(['nobody', PAYLOAD]), SETTLE_MAX_MS);
  } catch (error) {
    outcome = { state: 'rejected', after_ms: 0, error: `thrown synchronously: ${describeError(error)}` };
  }
  dealer.close();
  router.close();
  return show(outcome);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-peer-down-'));
  let n = 0;
  const address = (): string => `ipc://${join(dir, `peer-${++n}.sock`)}`;
  try {
    const cases: [string, () => Promise<string>][] = [
      ['DEALER immediate, no peer, sendTimeout -1 (default)', () => immediateNoPeer(address(), 'dealer', -1)],
      ['DEALER immediate, no peer, sendTimeout 0', () => immediateNoPeer(address(), 'dealer', 0)],
      ['DEALER immediate, no peer, sendTimeout 50', () => immediateNoPeer(address(), 'dealer', 50)],
      ['PUSH immediate, no peer, sendTimeout 0', () => immediateNoPeer(address(), 'push', 0)],
      ['PAIR immediate, no peer, sendTimeout 0', () => immediateNoPeer(address(), 'pair', 0)],
      ['DEALER immediate, no peer, default timeout, then peer binds', () => immediateNoPeerThenPeerBinds(address())],
      ['DEALER not immediate, no peer, sendTimeout 0', () => queuedWithoutImmediate(address())],
      ['DEALER immediate, peer lost, sendTimeout 0', () => peerLost(address(), true)],
      ['DEALER not immediate, peer lost, sendTimeout 0', () => peerLost(address(), false)],
      ['ROUTER mandatory, no peers, sendTimeout -1', () => routerToUnknownPeer(address(), true, -1)],
      ['ROUTER mandatory, no peers, sendTimeout 0', () => routerToUnknownPeer(address(), true, 0)],
      ['ROUTER mandatory, other peer connected, sendTimeout -1', () => routerUnknownIdWithPeer(address())],
      ['ROUTER not mandatory, unknown routing id', () => routerToUnknownPeer(address(), false, -1)],
    ];
    for (const [name, run] of cases) console.log(`${name.padEnd(62)} ${await run()}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
