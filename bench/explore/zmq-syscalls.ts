import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runPingPong } from '../raw/pingpong.ts';

/**
 * Where a zeromq.js round trip goes, in syscalls: attaches `strace -c -f` to the echo process (all
 * threads) for a few seconds in the middle of a ping-pong and prints syscalls per echoed message,
 * next to the same for the bare Unix-socket echo. strace slows the process several-fold, so read
 * the counts, not the times.
 *
 *   node --import tsx bench/explore/zmq-syscalls.ts
 */

const execFileAsync = promisify(execFile);
/** Attach after warm-up and process start-up are over. */
const ATTACH_AFTER_MS = 3_000;
const TRACE_MS = 2_000;
const ROUND_TRIPS = 300_000;

interface Transport {
  name: string;
  script: URL;
  /** A syscall the echo makes exactly once per reply, to turn counts into per-message figures. */
  per_message: string;
}

const TRANSPORTS: Transport[] = [
  { name: 'zeromq.js DEALER/ROUTER ipc://', script: new URL('../raw/zmq-pingpong.ts', import.meta.url), per_message: 'sendto' },
  { name: 'node net Unix socket', script: new URL('../raw/uds-pingpong.ts', import.meta.url), per_message: 'write' },
];

interface SyscallCount {
  name: string;
  calls: number;
  errors: number;
}

/** Parses the `strace -c` summary table: `% time seconds usecs/call calls [errors] syscall`. */
function parseSummary(text: string): SyscallCount[] {
  const counts: SyscallCount[] = [];
  for (const line of text.split('\n')) {
    const cells = line.trim().split(/\s+/);
    if (cells.length < 5 || !/^\d/.test(cells[0]) || cells.at(-1) === 'total') continue;
    counts.push({ name: cells.at(-1)!, calls: Number(cells[3]), errors: cells.length === 6 ? Number(cells[4]) : 0 });
  }
  return counts;
}

async function traceEcho(pid: number, dir: string): Promise<SyscallCount[]> {
  await new Promise((resolve) => setTimeout(resolve, ATTACH_AFTER_MS));
  const out = join(dir, `strace-${pid}.txt`);
  // strace prints its -c summary when interrupted; `timeout` bounds the attach.
  await execFileAsync('timeout', ['-s', 'INT', String(TRACE_MS / 1000), 'strace', '-c', '-f', '-p', String(pid), '-o', out]).catch(() => undefined);
  return parseSummary(await readFile(out, 'utf8'));
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-syscalls-'));
  try {
    for (const transport of TRANSPORTS) {
      let trace: Promise<SyscallCount[]> | undefined;
      await runPingPong(transport.script, {
        round_trips: ROUND_TRIPS,
        on_started: ({ echo }) => {
          trace = traceEcho(echo, dir);
        },
      });
      const counts = await trace!;
      const messages = counts.find((c) => c.name === transport.per_message)?.calls ?? 0;
      if (messages === 0) throw new Error(`${transport.name}: no ${transport.per_message} calls traced; cannot normalise`);
      const total = counts.reduce((sum, c) => sum + c.calls, 0);
      console.log(`\n${transport.name}: echo process, ${messages} messages traced, ${(total / messages).toFixed(1)} syscalls per message`);
      for (const c of counts.sort((a, b) => b.calls - a.calls)) {
        if (c.calls / messages < 0.05) continue;
        const errors = c.errors > 0 ? `  (${(c.errors / messages).toFixed(2)} failing)` : '';
        console.log(`  ${c.name.padEnd(14)} ${(c.calls / messages).toFixed(2).padStart(6)} per message${errors}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
