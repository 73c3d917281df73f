// Replay-to-signal throughput: `rt feed --speed max` in its own process (pinned to one core)
// serves recorded files; in this process (pinned to the other) the feed gateway, one book per
// symbol and the signal actor with the ONNX model take them in, as the edge and strategy nodes
// would, and the order intents land in a counting sink. The figure is stream messages read by the
// gateway per second, from its first message to the server's "replay complete".
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { book, bookOptions } from '../actors/book/book-actor.ts';
import { feedGateway, feedGatewayOptions, type FeedStatus } from '../actors/feed/feed-gateway.ts';
import { signal, signalOptions, type SignalStatus } from '../actors/signal/signal-actor.ts';
import { ActorSystem } from '../runtime/actor-system.ts';
import { sink, type SinkStats } from '../runtime/kinds/sink.ts';

const RT = fileURLToPath(new URL('../bin/rt.mjs', import.meta.url));

export interface ReplayToSignalResult {
  msgs_per_s: number;
  messages: number;
  seconds: number;
  tops: number;
  inferences: number;
  intents: number;
  bad: number;
}

export async function measureReplayToSignal(files: string[], opts: { serverCores: string; cores: string }): Promise<ReplayToSignalResult> {
  const server = spawn('taskset', ['-c', opts.serverCores, process.execPath, RT, 'feed', '--speed', 'max', '--port', '0', ...files.flatMap((f) => ['--file', f])], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /ws (ws:\/\/[^/ ]+)/.exec(out);
        if (m) resolve(m[1]);
      });
      server.once('exit', (code) => reject(new Error(`rt feed exited ${code} before listening: ${out}`)));
    });
    const symbols = files.map((f) => /(?:usdm|spot)-([a-z0-9]+)_/.exec(f)?.[1].toUpperCase() ?? 'BTCUSDT');
    const market = files[0].includes('spot') ? 'spot' : 'usdm';
    const sys = new ActorSystem({ node: 'bench' });
    sys.spawn('risk', sink(), { mailbox: { capacity: 100_000, policy: 'reject' } });
    const sig = signal(signalOptions({ address: 'signal', node: 'bench', options: {} }));
    sys.spawn('signal', sig, { mailbox: { capacity: 1024, policy: 'conflate', conflateKey: 'symbol' } });
    for (const s of symbols) sys.spawn(`book/${s}`, book(bookOptions({ address: `book/${s}`, node: 'bench', options: {} })), { mailbox: { capacity: 65_536, policy: 'backpressure' } });
    // Wait for the model before the replay starts (the server starts its clock on the first client).
    while (!(await sys.ask<SignalStatus>('signal', { type: 'signal-status' }, 5000)).loaded) await new Promise((r) => setTimeout(r, 20));
    const gw = feedGateway(feedGatewayOptions({ address: 'feed', node: 'bench', options: { ws_url: url, rest_url: url.replace('ws:', 'http:'), market, symbols } }));
    sys.spawn('feed', gw, { mailbox: { capacity: 65_536, policy: 'backpressure' } });
    let first = 0;
    let status: FeedStatus;
    for (;;) {
      status = await sys.ask<FeedStatus>('feed', { type: 'feed-status' }, 5000);
      if (first === 0 && status.messages > 0) first = performance.now();
      if (status.ended) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const seconds = (performance.now() - first) / 1000;
    const sigStatus = await sys.ask<SignalStatus>('signal', { type: 'signal-status' }, 5000);
    const risk = await sys.ask<SinkStats>('risk', { type: 'sink-stats' }, 5000);
    await sys.shutdown();
    return {
      msgs_per_s: status.messages / seconds,
      messages: status.messages,
      seconds,
      tops: sigStatus.counters.tops,
      inferences: sigStatus.counters.inferences,
      intents: risk.received,
      bad: Object.values(status.bad).reduce((a, b) => a + b, 0),
    };
  } finally {
    server.kill('SIGTERM');
  }
}
