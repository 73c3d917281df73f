import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActorSystem } from '../../runtime/actor-system.ts';
import { freePort } from '../../runtime/free-port.ts';
import { IpcTransport } from '../../runtime/ipc-transport.ts';
import type { SinkStats } from '../../runtime/kinds/sink.ts';
import { pidFilePath } from '../../runtime/pid-file.ts';
import { nodeOf } from '../../runtime/placement.ts';
import { loadTopology, type Topology } from '../../runtime/topology.ts';

const RT = join(import.meta.dirname, '../../bin/rt.mjs');

/**
 * Three real node processes under `rt up`, over ZeroMQ ipc:
 *   gen (ticker) -> relay (forward) -> store (sink)
 * The test process joins as a fourth node, `probe`, to ask the sink for its counts.
 * `rt up` owns an embedded PostgreSQL of its own (folder and port of the test's), since the store
 * node holds a persistent actor (position); every node is given its URL.
 */
const TOPOLOGY = (ipcDir: string, pgDir: string, pgPort: number) => `
cluster: itest
hosts:
  local: { address: 127.0.0.1 }
transport: { ipc_dir: ${ipcDir}, hold_ms: 10000 }
persistence: { data_dir: ${pgDir}, port: ${pgPort} }
nodes:
  gen:   { host: local, cores: [0], actors: [ticker], restart: { max_restarts: 5, within_s: 60, backoff_min_ms: 50, backoff_max_ms: 500 } }
  relay: { host: local, cores: [1], actors: [relay], restart: { max_restarts: 5, within_s: 60, backoff_min_ms: 50, backoff_max_ms: 500 } }
  store: { host: local, cores: [1], actors: [sink, position] }
actors:
  ticker: { kind: ticker, options: { target: relay, interval_ms: 5, burst: 5 } }
  relay:  { kind: forward, options: { target: sink } }
  sink:   { kind: sink, mailbox: { capacity: 100000, policy: reject } }
  # persists (event-sourced), so rt up opens the database; its venue gateway is absent on purpose
  position: { kind: position, options: { reconcile_every_ms: 600000 } }
`;

let dir: string;
let topology: Topology;
let up: ChildProcess;
let upOut = '';
let upExit: Promise<number | null>;
let probe: ActorSystem;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}\n--- rt up output ---\n${upOut}`);
    await sleep(50);
  }
}

const stats = () => probe.ask<SinkStats>('sink', { type: 'sink-stats' }, 2000);
const pidOf = (node: string): number | undefined => {
  try {
    return Number(readFileSync(pidFilePath(topology.transport.ipcDir, node), 'utf8'));
  } catch {
    return undefined;
  }
};
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rt-up-'));
  chmodSync(dir, 0o755); // as root the embedded server runs as postgres, which must reach its folder
  const file = join(dir, 'topology.yaml');
  writeFileSync(file, TOPOLOGY(join(dir, 'ipc'), join(dir, 'pg'), await freePort()));
  topology = loadTopology(file);
  up = spawn(process.execPath, [RT, 'up', '--topology', file, '--log-dir', join(dir, 'logs')], { stdio: ['ignore', 'pipe', 'pipe'] });
  up.stdout?.on('data', (b) => (upOut += b));
  up.stderr?.on('data', (b) => (upOut += b));
  upExit = new Promise((r) => up.on('exit', (code) => r(code)));
  probe = new ActorSystem({ node: 'probe', nodeOf: (a) => nodeOf(topology, a) });
  await IpcTransport.attach(probe, { ...topology.transport });
});

afterAll(async () => {
  await probe?.shutdown();
  if (up && up.exitCode === null) up.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('rt up with three node processes over ipc', () => {
  it('restarts a node killed with SIGKILL, and messages flow again with nothing delivered twice', async () => {
    const first = await until('ticks reach the sink', async () => {
      const s = await stats().catch(() => undefined);
      return s && s.received > 200 ? s : undefined;
    });
    expect(first.duplicates).toBe(0);

    // Kill the middle node: what it held is lost (a gap), what gen sends meanwhile is held for it.
    const relayPid = pidOf('relay') as number;
    process.kill(relayPid, 'SIGKILL');
    const newRelay = await until('rt up restarts relay', () => {
      const p = pidOf('relay');
      return p && p !== relayPid && alive(p) ? p : undefined;
    });
    expect(newRelay).not.toBe(relayPid);
    const afterRelay = await until('ticks flow again after relay restart', async () => {
      const s = await stats().catch(() => undefined);
      return s && s.received > first.received + 500 ? s : undefined;
    });
    expect(afterRelay.duplicates).toBe(0);

    // Kill the source: its restarted ticker numbers from 1 again under a new origin.
    const genPid = pidOf('gen') as number;
    process.kill(genPid, 'SIGKILL');
    await until('rt up restarts gen', () => {
      const p = pidOf('gen');
      return p && p !== genPid && alive(p) ? p : undefined;
    });
    const end = await until('ticks flow from the new gen', async () => {
      const s = await stats().catch(() => undefined);
      return s && Object.keys(s.origins).length >= 2 && s.received > afterRelay.received + 500 ? s : undefined;
    });
    expect(end.duplicates).toBe(0);
    expect(Object.keys(end.origins)).toHaveLength(2);
    expect(upOut).toMatch(/node relay killed by SIGKILL; restarting in \d+ ms \(restart 1\)/);
    expect(upOut).toMatch(/node gen killed by SIGKILL; restarting in \d+ ms \(restart 1\)/);
  });

  it('gives every node the DATABASE_URL of the embedded server it started', () => {
    const url = `postgres://rt:rt@127.0.0.1:${topology.persistence.port}/rt`;
    expect(upOut).toContain(`rt up: database postgres://rt:***@127.0.0.1:${topology.persistence.port}/rt (embedded, data ${join(dir, 'pg')})`);
    for (const node of ['gen', 'relay', 'store']) {
      const environ = readFileSync(`/proc/${pidOf(node)}/environ`, 'utf8').split('\0');
      expect(environ).toContain(`DATABASE_URL=${url}`);
    }
    expect(existsSync(join(dir, 'pg', 'postmaster.pid'))).toBe(true);
  });

  it('stops every node on SIGTERM, then the embedded server: exit 0, no process left, no socket or pid file left', async () => {
    const pids = ['gen', 'relay', 'store'].map((n) => pidOf(n) as number);
    expect(pids.every(alive)).toBe(true);
    const postgresPid = Number(readFileSync(join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    up.kill('SIGTERM');
    expect(await upExit).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
    expect(alive(postgresPid)).toBe(false);
    expect(existsSync(join(dir, 'pg', 'postmaster.pid'))).toBe(false);
    const left = readdirSync(topology.transport.ipcDir).filter((f) => !f.startsWith('probe'));
    expect(left).toEqual([]);
    expect(existsSync(join(dir, 'logs', 'relay.log'))).toBe(true);
  });
});
