import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../runtime/free-port.ts';

const RT = join(import.meta.dirname, '../../bin/rt.mjs');
const dir = mkdtempSync(join(tmpdir(), 'rt-node-'));
chmodSync(dir, 0o755); // as root the embedded server runs as postgres, which must reach its folder
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const topology = (name: string, body: string): string => {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `cluster: ${name}\nhosts:\n  local: { address: 127.0.0.1 }\ntransport: { ipc_dir: ${join(dir, name)} }\n${body}`);
  return file;
};

describe('rt node', () => {
  it('exits 70 and says why when its root supervisor gives up', () => {
    const file = topology(
      'crashy',
      `nodes:
  n1: { host: local, cores: [0], actors: [crasher], supervision: { max_restarts: 2, within_s: 10, backoff_min_ms: 1, backoff_max_ms: 5 } }
actors:
  crasher: { kind: crasher, options: { after_ms: 10 } }
`,
    );
    const r = spawnSync(process.execPath, [RT, 'node', 'n1', '--topology', file], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(70);
    expect(r.stderr).toContain('node n1: root supervisor gave up: supervisor $root/n1 gave up: crasher needed more than 2 restarts within 10000 ms; last error: injected failure (crasher, after_ms 10)');
  });

  it('pins itself to its cores and reports the affinity in force', async () => {
    const file = topology('pin', `nodes:\n  n1: { host: local, cores: [1], actors: [e] }\nactors:\n  e: { kind: echo }\n`);
    const p = spawn(process.execPath, [RT, 'node', 'n1', '--topology', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b) => (err += b));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no start line: ${err}`)), 15_000);
      p.stderr.on('data', () => err.includes('node started') && (clearTimeout(t), resolve()));
    });
    const started = JSON.parse(err.split('\n').find((l) => l.includes('node started')) as string);
    expect(started.cores).toEqual([1]);

    // A second process for the same node refuses to start rather than steal the socket.
    const twin = spawnSync(process.execPath, [RT, 'node', 'n1', '--topology', file], { encoding: 'utf8', timeout: 15_000 });
    expect(twin.status).toBe(78);
    expect(twin.stderr).toMatch(new RegExp(`node n1 is already running as pid ${p.pid}`));

    p.kill('SIGTERM');
    expect(await new Promise((r) => p.on('exit', r))).toBe(0);
  });

  it('refuses a bad topology with the problems listed, exit 1', () => {
    const file = topology('bad', `nodes:\n  n1: { host: nowhere, cores: [0], actors: [e] }\nactors:\n  e: { kind: echo }\n`);
    const r = spawnSync(process.execPath, [RT, 'node', 'n1', '--topology', file], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bad\.yaml:\d+:\d+: nodes\.n1\.host/);
  });

  it('refuses to start when its metrics port is taken, naming the port, and leaves no pid file or socket', async () => {
    const port = await freePort();
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(port, '127.0.0.1', r));
    try {
      const file = topology('busy', `nodes:\n  n1: { host: local, cores: [0], ports: { metrics: ${port} }, actors: [e] }\nactors:\n  e: { kind: echo }\n`);
      const r = spawnSync(process.execPath, [RT, 'node', 'n1', '--topology', file], { encoding: 'utf8', timeout: 15_000 });
      expect(r.status, r.stderr).not.toBe(0);
      expect(r.stderr).toContain(`node n1: could not start: ports.metrics ${port} on 127.0.0.1 is in use: expected a free port for /metrics`);
      expect(readdirSync(join(dir, 'busy'))).toEqual([]);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('refuses an unknown kind at start, naming the actor and the known kinds, exit 78', () => {
    const file = topology('kind', `nodes:\n  n1: { host: local, cores: [0], actors: [e] }\nactors:\n  e: { kind: nope }\n`);
    const r = spawnSync(process.execPath, [RT, 'node', 'n1', '--topology', file], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(78);
    expect(r.stderr).toMatch(/actor e: unknown kind "nope": expected one of [a-z, -]*crasher, echo/);
  });
});

describe('rt up', () => {
  it('gives up on a node that keeps dying, stops the others, and exits 1 saying why', async () => {
    // Its own embedded PostgreSQL: not the repository's .data/pg, not port 5433.
    const file = topology(
      'budget',
      `persistence: { data_dir: ${join(dir, 'budget-pg')}, port: ${await freePort()} }
nodes:
  good: { host: local, cores: [0], actors: [e] }
  bad:  { host: local, cores: [1], actors: [c], supervision: { max_restarts: 0, within_s: 10 }, restart: { max_restarts: 2, within_s: 60, backoff_min_ms: 10, backoff_max_ms: 20 } }
actors:
  e: { kind: echo }
  c: { kind: crasher, options: { after_ms: 50 } }
`,
    );
    const r = spawnSync(process.execPath, [RT, 'up', '--topology', file, '--log-dir', join(dir, 'budget-logs')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/node bad exit 70; restarting in \d+ ms \(restart 1\)/);
    expect(r.stdout).toContain('rt up: node bad died (exit 70) more than 2 times within 60 s; stopping all nodes');
    expect(r.stdout).toMatch(/good +stopped .*last exit 0/);
  });
});
