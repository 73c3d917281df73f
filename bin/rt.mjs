#!/usr/bin/env node
// Entry point of the `rt` command. The sources are TypeScript run through tsx, so the same
// files serve the CLI, the node processes, the tests and the benchmarks (no stale build).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../actors/rt.ts');
process.exitCode = await main(process.argv.slice(2));
