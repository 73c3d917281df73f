#!/usr/bin/env node
// `npm run bench [-- <suite> [options]]`: runs bench/<suite>.ts (every suite when none is named).
// Each suite prints its figures and writes bench/results/<suite>.json (format: ../shared/BENCH.md).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const benchDir = fileURLToPath(new URL('../bench/', import.meta.url));
const SUITES = ['runtime', 'marketdata', 'trading', 'persistence', 'nats', 'observability'];
const [suite, ...rest] = process.argv.slice(2);
if (suite === '--help' || suite === '-h') {
  console.log(`usage: npm run bench [-- <suite> [options]]\nsuites: ${SUITES.join(', ')}`);
  process.exit(0);
}
if (suite !== undefined && !SUITES.includes(suite)) {
  console.error(`bench: unknown suite "${suite}": expected one of ${SUITES.join(', ')} (files in bench/: ${readdirSync(benchDir).filter((f) => f.endsWith('.ts')).join(', ')})`);
  process.exit(2);
}
let failed = 0;
for (const s of suite ? [suite] : SUITES) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${benchDir}${s}.ts`, ...rest], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
