#!/usr/bin/env node
// Installs the system tools the product and its tests use, when they are missing and we are
// allowed to (root with apt-get); otherwise says what to install. Idempotent and quick when all
// is present.
import { execFileSync, spawnSync } from 'node:child_process';

/** command -> Debian package that provides it */
const NEEDED = [
  { cmd: 'taskset', pkg: 'util-linux', why: 'pins node processes to their cores' },
  { cmd: 'nats-server', pkg: 'nats-server', why: 'carries envelopes between hosts and the inspection service; the tests start their own' },
  { cmd: 'promtool', pkg: 'prometheus', why: 'checks the metrics output and the alert rules in the tests' },
  { cmd: 'ip', pkg: 'iproute2', why: 'builds the simulated hosts (network namespaces) of the multi-host tests' },
];

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = NEEDED.filter((n) => !has(n.cmd));
if (missing.length === 0) {
  console.log(`setup: ok (${NEEDED.map((n) => n.cmd).join(', ')} present)`);
  process.exit(0);
}
const pkgs = [...new Set(missing.map((n) => n.pkg))];
const root = process.getuid?.() === 0;
if (!root || !has('apt-get')) {
  for (const m of missing) console.error(`setup: missing ${m.cmd} (${m.why}): install the ${m.pkg} package`);
  process.exit(1);
}
console.log(`setup: installing ${pkgs.join(' ')} with apt-get`);
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
execFileSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
