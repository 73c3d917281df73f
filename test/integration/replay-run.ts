// `rt up --replay` of the recorded USD-M files as the integration tests run it: the repository's
// topology.yaml isolated under a folder of the test's own, the product as a child process, and
// the venue's log to watch while it runs.
import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type Document, parseDocument } from 'yaml';
import { isolateTopology } from '../../actors/isolated-topology.ts';
import { readVenueLog } from '../../actors/venue/venue-log.ts';
import type { SimulatedHosts } from '../support/simulated-hosts.ts';

const ROOT = join(import.meta.dirname, '../..');
const RT = join(ROOT, 'bin/rt.mjs');

export interface ReplayRun {
  proc: ChildProcess;
  /** what it printed so far (stdout and stderr) */
  out(): string;
  /** its exit code */
  exited: Promise<number | null>;
  ipcDir: string;
  venueLog: string;
  logDir: string;
}

export interface ReplayOptions {
  dir: string;
  cluster: string;
  files: string[];
  speed: string;
  env?: Record<string, string>;
  killAfterMs: number;
  /** the topology to start from, relative to the repository (default topology.yaml) */
  topology?: string;
  /** changes to the isolated topology before it is written */
  patch?: (doc: Document) => void;
}

export async function startReplayRun(o: ReplayOptions): Promise<ReplayRun> {
  const topology = await writeIsolatedTopology(o);
  return spawnRtUp(o, topology, { cwd: o.dir, logDir: join(o.dir, 'logs') });
}

/** The topology of a run, isolated under o.dir and patched: its path. */
async function writeIsolatedTopology(o: ReplayOptions, more?: (doc: Document, marketPort: number) => void): Promise<string> {
  mkdirSync(o.dir, { recursive: true });
  const doc = parseDocument(readFileSync(join(ROOT, o.topology ?? 'topology.yaml'), 'utf8'));
  const marketPort = await isolateTopology(doc, o.dir, o.cluster);
  more?.(doc, marketPort);
  o.patch?.(doc);
  const topology = join(o.dir, 'topology.yaml');
  writeFileSync(topology, doc.toString());
  return topology;
}

function spawnRtUp(
  o: ReplayOptions,
  topology: string,
  where: { cwd: string; logDir: string; host?: string; spawn?: (cmd: string, args: string[], opts: SpawnOptions) => ChildProcess },
): ReplayRun {
  mkdirSync(where.cwd, { recursive: true });
  const replay = o.files.length > 0 ? [...o.files.flatMap((f) => ['--replay', f]), '--speed', o.speed] : [];
  const args = [RT, 'up', '--topology', topology, '--log-dir', where.logDir, ...(where.host ? ['--host', where.host] : []), ...replay];
  const opts: SpawnOptions = { cwd: where.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RT_LOG_LEVEL: 'info', ...o.env } };
  const proc = where.spawn ? where.spawn(process.execPath, args, opts) : spawn(process.execPath, args, opts);
  let out = '';
  proc.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const guard = setTimeout(() => proc.kill('SIGINT'), o.killAfterMs);
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (c) => {
      clearTimeout(guard);
      resolve(c);
    }),
  );
  return { proc, out: () => out, exited, ipcDir: join(o.dir, 'ipc'), venueLog: join(o.dir, 'venue.log'), logDir: where.logDir };
}

/**
 * The same replay on simulated hosts (test/support/simulated-hosts.ts): topology.multihost.yaml
 * (or o.topology) with each host's address and NATS server from the harness, the market data
 * server on the host that runs `market`, and one `rt up --host <h>` per host, in its namespace.
 */
export async function startMultiHostReplay(o: ReplayOptions, sim: SimulatedHosts): Promise<Record<string, ReplayRun>> {
  const topology = await writeIsolatedTopology({ ...o, topology: o.topology ?? 'topology.multihost.yaml' }, (doc, marketPort) => {
    for (const h of sim.hosts) {
      doc.setIn(['hosts', h.name, 'address'], h.address);
      doc.setIn(['hosts', h.name, 'nats'], doc.createNode([h.natsUrl]));
    }
    const nodes = (doc.getIn(['nodes']) as { toJSON(): Record<string, { host: string; actors: string[] }> }).toJSON();
    const marketHost = Object.values(nodes).find((n) => n.actors.includes('market'))?.host;
    const address = sim.hosts.find((h) => h.name === marketHost)?.address ?? '127.0.0.1';
    doc.setIn(['actors', 'market', 'options', 'host'], sim.mode === 'netns' ? '0.0.0.0' : '127.0.0.1');
    doc.setIn(['actors', 'feed', 'options', 'ws_url'], `ws://${address}:${marketPort}`);
    doc.setIn(['actors', 'feed', 'options', 'rest_url'], `http://${address}:${marketPort}`);
  });
  const runs: Record<string, ReplayRun> = {};
  for (const h of sim.hosts) {
    runs[h.name] = spawnRtUp(o, topology, {
      cwd: join(o.dir, h.name),
      logDir: join(o.dir, h.name, 'logs'),
      host: h.name,
      spawn: (cmd, args, opts) => sim.spawn(h.name, cmd, args, opts),
    });
  }
  return runs;
}

/** Orders the venue has accepted so far (its log). */
export const venueOrders = (venueLog: string): number => (existsSync(venueLog) ? readVenueLog(venueLog).filter((r) => r.kind === 'order').length : 0);

/** Waits (polling every 100 ms, at most `ms`) until the venue has accepted `n` orders; false if it did not. */
export async function untilVenueOrders(venueLog: string, n: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (venueOrders(venueLog) >= n) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Waits for the run to end: it must exit 0 having finished the replay. Returns its output and its trading report (also printed). */
export async function finishedRun(run: ReplayRun): Promise<{ out: string; report: string }> {
  const code = await run.exited;
  const out = run.out();
  const report = out.slice(out.indexOf('== trading report'));
  console.log(report);
  expect(code, out).toBe(0);
  expect(out).toContain('rt up: finished; stopping every node');
  return { out, report };
}

/** How often scrapeWhileRunning scrapes each node, and how long one scrape may take. */
const SCRAPE_EVERY_MS = 250;
const SCRAPE_TIMEOUT_MS = 2000;

/**
 * Scrapes every node's /metrics (ports from the run's topology) every SCRAPE_EVERY_MS until stopped: the
 * texts each node answered, in order. A node not up yet, or stopping, is skipped that round.
 */
export function scrapeWhileRunning(topologyFile: string): { stop(): Promise<Record<string, string[]>> } {
  const doc = parseDocument(readFileSync(topologyFile, 'utf8')).toJSON() as { nodes: Record<string, { ports?: { metrics?: number } }> };
  const ports = Object.entries(doc.nodes).flatMap(([n, spec]) => (spec.ports?.metrics ? [[n, spec.ports.metrics] as const] : []));
  const seen: Record<string, string[]> = {};
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const [node, port] of ports) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
          if (r.ok) (seen[node] ??= []).push(await r.text());
        } catch {
          // not listening (yet, or any more)
        }
      }
      await new Promise((r) => setTimeout(r, SCRAPE_EVERY_MS));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}
