// Tick-to-order latency through the whole product: `rt up` on a generated topology, the synthetic
// market paced by the exchange node, and a signal set to want an order on every top it sees (the
// model still runs; thresholds at 0.01 and no cooldown), so every top that reaches the signal
// becomes an intent, and every approved intent an order. Tick-to-order is measured by the venue
// gateway: from the moment the feed gateway read the tick off its socket (rxMs) to the moment the
// order request is written to the venue's socket. The run stops once `samples` orders were sent
// (or after `max_s`), and the figures come from `rt up`'s closing report.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { isolateTopology } from '../actors/isolated-topology.ts';
import { WIDE_RISK_LIMITS } from './wide-risk-limits.ts';

const RT = fileURLToPath(new URL('../bin/rt.mjs', import.meta.url));
const TOPOLOGY = fileURLToPath(new URL('../topology.yaml', import.meta.url));

export type Layout = 'one_node' | 'three_nodes';

export interface T2oOptions {
  layout: Layout;
  samples: number;
  max_s: number;
  /** synthetic diffs per second per symbol, in market time */
  diffs_per_s: number;
  /** replay clock speed (so the signal's 30 s warm-up passes in 30 / speed s) */
  speed: number;
}

export interface T2oResult {
  p50_us: number;
  p99_us: number;
  p999_us: number;
  n: number;
  seconds: number;
  layout: string;
}

const LAYOUTS: Record<Layout, { nodes: Record<string, { cores: number[]; actors: string[] }>; describe: string }> = {
  one_node: {
    nodes: { exchange: { cores: [0], actors: ['market'] }, trading: { cores: [1], actors: ['feed', 'book/*', 'signal', 'risk', 'order/*', 'position', 'venue-gw'] } },
    describe: 'all trading actors in one node (taskset -c 1); the exchange (market data + venue) in its own node (-c 0)',
  },
  three_nodes: {
    nodes: {
      exchange: { cores: [0], actors: ['market'] },
      books: { cores: [1], actors: ['feed', 'book/*'] },
      strategy: { cores: [0], actors: ['signal'] },
      execution: { cores: [1], actors: ['risk', 'order/*', 'position', 'venue-gw'] },
    },
    describe: 'books (feed + books, -c 1), signal (-c 0) and risk + orders (+ position, venue gateway, -c 1) on three nodes over ZeroMQ IPC; the exchange in its own node (-c 0)',
  },
};

async function topologyFor(o: T2oOptions, dir: string): Promise<string> {
  const doc = parseDocument(readFileSync(TOPOLOGY, 'utf8'));
  const nodes: Record<string, unknown> = {};
  for (const [name, n] of Object.entries(LAYOUTS[o.layout].nodes)) nodes[name] = { host: 'local', cores: n.cores, actors: n.actors };
  doc.set('nodes', doc.createNode(nodes));
  await isolateTopology(doc, dir, `bench-${o.layout.replace('_', '-')}`);
  const set = (path: string[], v: unknown): void => doc.setIn(['actors', ...path], v);
  set(['market', 'options', 'diffs_per_s'], o.diffs_per_s);
  set(['market', 'options', 'speed'], o.speed);
  set(['signal', 'options'], doc.createNode({ intents_to: 'risk', order_notional: 100, min_interval_ms: 0, buy_above: 0.01, sell_above: 0.01 }));
  set(['risk', 'options', 'limits'], doc.createNode(WIDE_RISK_LIMITS));
  set(['order/*', 'options', 'rate_orders_max'], 1_000_000);
  set(['order/*', 'options', 'rate_window_ms'], 1000);
  const file = join(dir, 'topology.yaml');
  writeFileSync(file, doc.toString());
  return file;
}

export function describeLayout(layout: Layout): string {
  return LAYOUTS[layout].describe;
}

export async function measureT2o(o: T2oOptions): Promise<T2oResult> {
  const dir = mkdtempSync(join(tmpdir(), 'rt-t2o-'));
  try {
    const file = await topologyFor(o, dir);
    const t0 = performance.now();
    const proc = spawn(process.execPath, [RT, 'up', '--topology', file, '--log-dir', join(dir, 'logs')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stopped = false;
    const stop = (): void => {
      if (!stopped) proc.kill('SIGINT');
      stopped = true;
    };
    proc.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const orders = [...out.matchAll(/orders ([\d,]+) \(open/g)].at(-1)?.[1];
      if (orders && Number(orders.replace(/,/g, '')) >= o.samples) stop();
    });
    proc.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(stop, o.max_s * 1000);
    const code = await new Promise<number | null>((r) => proc.on('exit', r));
    clearTimeout(timer);
    const m = /tick-to-order +p50 ([\d,.]+) us, p99 ([\d,.]+) us, p99\.9 ([\d,.]+) us \(([\d,]+) orders\)/.exec(out);
    if (code !== 0 || !m) throw new Error(`rt up (${o.layout}) exited ${code} without tick-to-order figures:\n${out.slice(-3000)}`);
    const n = (s: string): number => Number(s.replace(/,/g, ''));
    return { p50_us: n(m[1]), p99_us: n(m[2]), p999_us: n(m[3]), n: n(m[4]), seconds: (performance.now() - t0) / 1000, layout: describeLayout(o.layout) };
  } finally {
    if (process.env.BENCH_KEEP) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
