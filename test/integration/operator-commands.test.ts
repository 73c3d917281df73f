// `rt kill-switch on|off` and `rt flatten` against a real node process running the risk actor:
// the command joins the host's IPC mesh as a transient node, asks risk, and prints its answer.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askRunning } from '../../actors/operator-command.ts';
import type { RiskStatus } from '../../actors/risk/risk-actor.ts';
import { loadTopology } from '../../runtime/topology.ts';

const RT = join(import.meta.dirname, '../../bin/rt.mjs');
const dir = mkdtempSync(join(tmpdir(), 'rt-operator-'));
const file = join(dir, 'topology.yaml');
writeFileSync(
  file,
  `
cluster: optest
hosts: { local: { address: 127.0.0.1 } }
transport: { ipc_dir: ${join(dir, 'ipc')} }
nodes:
  exec: { host: local, cores: [0], actors: [risk, order/*, position] }
actors:
  risk: { kind: risk, mailbox: { capacity: 1000, policy: backpressure } }
  order/*: { kind: sink }
  position: { kind: sink }
`,
);
let node: ChildProcess;

beforeAll(async () => {
  node = spawn(process.execPath, [RT, 'node', 'exec', '--topology', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  node.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const end = Date.now() + 15_000;
  while (!err.includes('node started')) {
    if (Date.now() > end) throw new Error(`node did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}, 20_000);

afterAll(async () => {
  node.kill('SIGTERM');
  await new Promise((r) => node.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
});

const rt = (...args: string[]) => spawnSync(process.execPath, [RT, ...args, '--topology', file], { encoding: 'utf8', timeout: 20_000 });
const status = () => askRunning<RiskStatus>(loadTopology(file), 'risk', { type: 'risk-status' });

describe('operator commands', () => {
  it('rt kill-switch on holds the breaker open; only rt kill-switch off releases it', async () => {
    const on = rt('kill-switch', 'on');
    expect(on.stderr).toBe('');
    expect(on.status).toBe(0);
    expect(on.stdout).toMatch(/^kill switch on: breaker held open, 0 open orders cancelled \(breaker open\)/);
    expect((await status()).killSwitch).toMatchObject({ on: true });
    const off = rt('kill-switch', 'off');
    expect(off.status).toBe(0);
    expect(off.stdout).toMatch(/^kill switch off/);
    expect((await status()).killSwitch).toMatchObject({ on: false });
  }, 30_000);

  it('rt flatten on a symbol with no position is refused with the reason; bad arguments are usage errors', () => {
    const r = rt('flatten', 'BTCUSDT');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/flatten BTCUSDT rejected: /);
    expect(rt('kill-switch', 'maybe')).toMatchObject({ status: 2 });
    expect(rt('kill-switch', 'maybe').stderr).toContain('"maybe": expected on or off');
    expect(rt('flatten', 'btc').stderr).toContain('symbol "btc": expected upper-case letters and digits');
  }, 30_000);
});
