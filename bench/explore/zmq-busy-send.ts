import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dealer, Router } from 'zeromq';

/**
 * How zeromq.js v6 reports a socket that is still busy with an earlier send() (or receive()), and
 * when an un-awaited send() becomes busy even though the peer is up: the transport has to know
 * whether that is a synchronous throw or a rejected promise, and its exact code and message.
 *
 *   node --import tsx bench/explore/zmq-busy-send.ts
 */

const PAYLOAD = Buffer.alloc(64, 0x5a);
/** Bound for the un-awaited send probe; above both the 512 synchronous-operation limit and the HWM. */
const PROBE_MAX = 5_000;

function describeError(error: unknown): string {
  const e = error as { name?: string; code?: string; errno?: number; message?: string };
  return `${e.name ?? 'Error'} code=${e.code} errno=${e.errno} "${e.message}"`;
}

/** Calls `start` and tells a synchronous throw apart from a returned promise that rejects. */
async function howItFails(start: () => Promise<unknown>): Promise<string> {
  let promise: Promise<unknown>;
  try {
    promise = start();
  } catch (error) {
    return `throws synchronously: ${describeError(error)}`;
  }
  const outcome = await Promise.race([
    promise.then(
      () => 'resolved',
      (error: unknown) => `returns a promise that rejects: ${describeError(error)}`,
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve('pending after 300 ms'), 300)),
  ]);
  return outcome;
}

async function secondSendWhileFirstPending(address: string): Promise<string> {
  // An immediate DEALER with no peer keeps the first send pending (default sendTimeout -1).
  const dealer = new Dealer({ immediate: true, linger: 0 });
  dealer.connect(address);
  const first = dealer.send(PAYLOAD);
  first.catch(() => undefined);
  const second = await howItFails(() => dealer.send(PAYLOAD));
  dealer.close();
  return second;
}

async function secondReceiveWhileFirstPending(address: string): Promise<string> {
  const dealer = new Dealer({ linger: 0 });
  dealer.connect(address);
  const first = dealer.receive();
  first.catch(() => undefined);
  const second = await howItFails(() => dealer.receive());
  dealer.close();
  return second;
}

/**
 * Un-awaited sends to a live, reading peer: zeromq.js completes a send synchronously only 512 times
 * in a row, then defers one to the event loop's check phase so the loop is not starved; the send
 * after that one finds the socket busy.
 */
async function unawaitedSendsToLivePeer(address: string, send_timeout_ms: number): Promise<string> {
  const router = new Router({ linger: 0 });
  await router.bind(address);
  const dealer = new Dealer({ linger: 0, sendTimeout: send_timeout_ms });
  dealer.connect(address);
  await dealer.send(PAYLOAD);
  await router.receive();
  const promises: Promise<void>[] = [];
  let thrown: string | undefined;
  let sent = 0;
  for (; sent < PROBE_MAX; sent++) {
    try {
      const p = dealer.send(PAYLOAD);
      p.catch(() => undefined);
      promises.push(p);
    } catch (error) {
      thrown = describeError(error);
      break;
    }
  }
  const outcomes = await Promise.allSettled(promises);
  const first_rejected = outcomes.findIndex((o) => o.status === 'rejected');
  const rejection = first_rejected < 0 ? 'none' : `#${first_rejected + 1}: ${describeError((outcomes[first_rejected] as PromiseRejectedResult).reason)}`;
  dealer.close();
  router.close();
  return `${sent} send() calls returned a promise; ${thrown ? `call #${sent + 1} threw ${thrown}` : 'none threw'}; first rejected promise ${rejection}`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-busy-'));
  let n = 0;
  const address = (): string => `ipc://${join(dir, `busy-${++n}.sock`)}`;
  try {
    const cases: [string, () => Promise<string>][] = [
      ['send() while an earlier send() is pending', () => secondSendWhileFirstPending(address())],
      ['receive() while an earlier receive() is pending', () => secondReceiveWhileFirstPending(address())],
      ['un-awaited send() loop, live peer, sendTimeout -1', () => unawaitedSendsToLivePeer(address(), -1)],
      ['un-awaited send() loop, live peer, sendTimeout 0', () => unawaitedSendsToLivePeer(address(), 0)],
    ];
    for (const [name, run] of cases) console.log(`${name.padEnd(52)} ${await run()}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
