import { z } from 'zod';
import type { Behavior } from '../runtime/actor.ts';
import type { ActorRef } from '../runtime/actor-ref.ts';
import { ActorSystem } from '../runtime/actor-system.ts';
import { median } from './median.ts';
import { type ObsMode, obsModeOf, observe } from './observed-system.ts';
import { announceReady, announceResult, awaitSignal, isEntryScript, PinnedProcess, runPinnedChild } from './pinned-process.ts';

/**
 * In-process figures of one node on one pinned core: one-way throughput from a producer actor to a
 * consumer actor (the consumer grants credit every BATCH messages, so the mailbox stays bounded and
 * the producer never outruns it), and ping-pong round trips between two actors. Messages are small
 * objects of a typed union, sent with ctx.tell through refs, as actors do.
 */

const ONEWAY_MESSAGES = 20_000_000;
const PINGPONG_ROUND_TRIPS = 5_000_000;
const BATCH = 1000;

type Item = { type: 'item'; n: number };
type Credit = { type: 'credit' };
type Ball = { type: 'ball'; n: number };

export interface InprocResult {
  oneway_msgs_per_s: number;
  pingpong_rtt_per_s: number;
  oneway_n: number;
  pingpong_n: number;
}

const inprocResult = z.object({ oneway_msgs_per_s: z.number(), pingpong_rtt_per_s: z.number(), oneway_n: z.number(), pingpong_n: z.number() });

function oneway(system: ActorSystem, total: number): Promise<number> {
  return new Promise((resolve) => {
    const producerRef: { ref?: ActorRef<Credit> } = {};
    let start = 0;
    const item: Item = { type: 'item', n: 1 };
    const consumer = system.spawn<Item, number>(
      'consumer',
      {
        init: () => 0,
        receive: (n, _msg, ctx) => {
          n++;
          if (n === total) resolve((total / (performance.now() - start)) * 1000);
          else if (n % BATCH === 0) ctx.tell(producerRef.ref as ActorRef<Credit>, { type: 'credit' });
          return n;
        },
      },
      { mailbox: { capacity: 4 * BATCH, policy: 'reject' } },
    );
    const produce: Behavior<Credit, number> = {
      init: () => 0,
      receive: (sent, _msg, ctx) => {
        if (sent >= total) return sent;
        for (let i = 0; i < BATCH; i++) ctx.tell(consumer, item);
        return sent + BATCH;
      },
    };
    const producer = system.spawn('producer', produce, { mailbox: { capacity: 16, policy: 'reject' } });
    producerRef.ref = producer;
    start = performance.now();
    // Two batches of credit up front: one in the consumer's mailbox while the other is produced.
    producer.tell({ type: 'credit' });
    producer.tell({ type: 'credit' });
  });
}

function pingpong(system: ActorSystem, roundTrips: number): Promise<number> {
  return new Promise((resolve) => {
    let start = 0;
    const pong = system.spawn<Ball, null>('pong', { init: () => null, receive: (s, msg, ctx) => (ctx.reply(msg), s) });
    const ping = system.spawn<Ball, null>('ping', {
      init: () => null,
      receive: (s, msg, ctx) => {
        if (msg.n === roundTrips) resolve((roundTrips / (performance.now() - start)) * 1000);
        else {
          // Where a trace starts when the node traces (one round trip in its sample rate).
          ctx.startTrace('ping');
          ctx.tell(pong, { type: 'ball', n: msg.n + 1 });
        }
        return s;
      },
    });
    start = performance.now();
    pong.tell({ type: 'ball', n: 1 }, ping);
  });
}

/** Runs the child pinned to `core` and returns its figures (best of `rounds` runs in the child). */
export async function measureInproc(core = '0', obs: ObsMode = 'off'): Promise<InprocResult> {
  const child = PinnedProcess.start({ file: new URL(import.meta.url), cores: core, args: ['--child', '--obs', obs], label: `inproc (obs ${obs})` });
  try {
    await child.ready(() => null);
    child.signal('go');
    return await child.result((d) => inprocResult.parse(d));
  } finally {
    await child.stop();
  }
}

async function childMain(): Promise<void> {
  const mode = obsModeOf(process.argv.includes('--obs') ? process.argv[process.argv.indexOf('--obs') + 1] : undefined);
  const newSystem = (): ActorSystem => {
    const s = new ActorSystem();
    observe(s, mode);
    return s;
  };
  announceReady();
  await awaitSignal('go');
  // Warm-up runs let V8 optimise the dispatcher and mailbox before the timed ones.
  await oneway(newSystem(), 2_000_000);
  await pingpong(newSystem(), 500_000);
  const onewayRates: number[] = [];
  const pingRates: number[] = [];
  for (let i = 0; i < 3; i++) {
    onewayRates.push(await oneway(newSystem(), ONEWAY_MESSAGES));
    pingRates.push(await pingpong(newSystem(), PINGPONG_ROUND_TRIPS));
  }
  announceResult({ oneway_msgs_per_s: median(onewayRates), pingpong_rtt_per_s: median(pingRates), oneway_n: ONEWAY_MESSAGES, pingpong_n: PINGPONG_ROUND_TRIPS });
}

if (isEntryScript(import.meta.url)) {
  if (process.argv.includes('--child')) runPinnedChild(childMain);
  else console.log(await measureInproc());
}
