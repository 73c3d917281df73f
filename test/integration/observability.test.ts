// The observability of real node processes under `rt up`: each node's /metrics, /health and /ready
// (ports from the topology), scraped as Prometheus would, with values that move as messages flow;
// Prometheus's own promtool accepts the output. A `stall` actor holds its first message, so its
// mailbox fills: the depth and fill ratio the mailbox-full alert reads.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../runtime/free-port.ts';
import { hasPromtool, promtoolCheckMetrics, seriesValue } from '../support/prometheus-text.ts';

const RT = join(import.meta.dirname, '../../bin/rt.mjs');
if (!hasPromtool) console.warn('SKIPPED promtool checks: promtool is not installed (Debian package prometheus; npm test runs bin/setup.mjs, which installs it as root)');

let dir: string;
let up: ChildProcess;
let out = '';
const ports: Record<string, number> = {};

async function scrape(node: string, path = '/metrics'): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://127.0.0.1:${ports[node]}${path}`);
  return { status: r.status, text: await r.text() };
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n--- rt up ---\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rt-obs-'));
  chmodSync(dir, 0o755);
  for (const n of ['gen', 'relay', 'store']) ports[n] = await freePort();
  const file = join(dir, 'topology.yaml');
  writeFileSync(
    file,
    `cluster: obstest
hosts:
  local: { address: 127.0.0.1 }
transport: { ipc_dir: ${join(dir, 'ipc')} }
nodes:
  gen:   { host: local, cores: [0], ports: { metrics: ${ports.gen} }, actors: [ticker] }
  relay: { host: local, cores: [1], ports: { metrics: ${ports.relay} }, actors: [relay, stuck] }
  store: { host: local, cores: [1], ports: { metrics: ${ports.store} }, actors: [sink] }
actors:
  ticker: { kind: ticker, options: { target: relay, interval_ms: 5, burst: 5 } }
  relay:  { kind: forward, options: { target: sink } }
  sink:   { kind: sink, mailbox: { capacity: 100000, policy: reject } }
  stuck:  { kind: stall, mailbox: { capacity: 50, policy: reject } }
`,
  );
  up = spawn(process.execPath, [RT, 'up', '--topology', file, '--log-dir', join(dir, 'logs')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  up.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  up.stderr?.on('data', (b: Buffer) => (out += b.toString()));
}, 30_000);

afterAll(async () => {
  if (up && up.exitCode === null) {
    up.kill('SIGTERM');
    await new Promise((r) => up.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("a node's /metrics, /health and /ready", () => {
  it('serve /health and /ready once the node runs, and 404 with what exists elsewhere', async () => {
    for (const n of ['gen', 'relay', 'store']) {
      const ready = await until(`${n} /ready`, async () => ((await scrape(n, '/ready')).status === 200 ? true : undefined));
      expect(ready).toBe(true);
      const health = await scrape(n, '/health');
      expect(health.status).toBe(200);
      expect(JSON.parse(health.text)).toMatchObject({ status: 'ok' });
    }
    const missing = await scrape('gen', '/nope');
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('expected /metrics, /health or /ready');
  });

  it('counts what each actor handles and sends, and the counts move as messages flow', async () => {
    const first = await until('sink handling', async () => {
      const v = seriesValue((await scrape('store')).text, 'rt_messages_handled_total{actor="sink",type="tick"}');
      return v !== undefined && v > 20 ? v : undefined;
    });
    await new Promise((r) => setTimeout(r, 500));
    const { text } = await scrape('store');
    expect(seriesValue(text, 'rt_messages_handled_total{actor="sink",type="tick"}')).toBeGreaterThan(first);
    expect(seriesValue(text, 'rt_handle_seconds_count{actor="sink"}')).toBeGreaterThan(first);
    expect(seriesValue(text, 'rt_mailbox_capacity{actor="sink"}')).toBe(100_000);
    const relay = (await scrape('relay')).text;
    expect(seriesValue(relay, 'rt_messages_sent_total{actor="relay",type="tick"}')).toBeGreaterThan(0);
    const gen = (await scrape('gen')).text;
    expect(seriesValue(gen, 'rt_messages_sent_total{actor="ticker",type="tick"}')).toBeGreaterThan(0);
    expect(gen).toContain('# TYPE rt_handle_seconds histogram');
    expect(gen).toMatch(/rt_lease_epoch\{node="gen",cluster="obstest"\} 0/);
  });

  it('shows the depth of a blocked mailbox, and dead letters by reason once it is full', async () => {
    // The test joins the nodes' ipc mesh as a node of its own (`probe`) and sends 80 jobs.
    const { ActorSystem } = await import('../../runtime/actor-system.ts');
    const { IpcTransport } = await import('../../runtime/ipc-transport.ts');
    const probe = new ActorSystem({ node: 'probe', nodeOf: (a) => (a === 'stuck' ? 'relay' : undefined) });
    await IpcTransport.attach(probe, { ipcDir: join(dir, 'ipc'), holdMs: 5000, holdMax: 1000, batchMax: 64 });
    try {
      for (let i = 0; i < 80; i++) probe.tell('stuck', { type: 'job' });
      // One message is in the actor's hands for ever; the others queue up to the capacity, the rest are refused.
      const text = await until('a full mailbox and the refusals', async () => {
        const t = (await scrape('relay')).text;
        const depth = seriesValue(t, 'rt_mailbox_depth{actor="stuck"}') ?? 0;
        const refused = seriesValue(t, 'rt_dead_letters_total{reason="mailbox-full"}') ?? 0;
        return depth >= 49 && depth + refused + 1 === 80 ? t : undefined;
      });
      const depth = seriesValue(text, 'rt_mailbox_depth{actor="stuck"}') as number;
      expect(depth).toBeLessThanOrEqual(50);
      expect(seriesValue(text, 'rt_mailbox_capacity{actor="stuck"}')).toBe(50);
      expect(seriesValue(text, 'rt_mailbox_fill_ratio{actor="stuck"}')).toBeCloseTo(depth / 50, 5);
      expect(seriesValue(text, 'rt_messages_handled_total{actor="stuck",type="job"}')).toBe(1); // the one it holds
    } finally {
      await probe.shutdown();
    }
  });

  it.skipIf(!hasPromtool)('is accepted by promtool check metrics', async () => {
    for (const n of ['gen', 'relay', 'store']) {
      const { text } = await scrape(n);
      const r = promtoolCheckMetrics(text);
      expect(r.status, `${n}: ${r.output}`).toBe(0);
      expect(r.output).toBe('');
    }
  });
});
