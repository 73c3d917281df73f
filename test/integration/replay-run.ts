// `rt up --replay` of the recorded USD-M files as the integration tests run it: the repository's
// topology.yaml isolated under a folder of the test's own, the product as a child process, and
// the venue's log to watch while it runs.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type Document, parseDocument } from 'yaml';
import { isolateTopology } from '../../actors/isolated-topology.ts';
import { readVenueLog } from '../../actors/venue/venue-log.ts';

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

export async function startReplayRun(o: { dir: string; cluster: string; files: string[]; speed: string; env?: Record<string, string>; killAfterMs: number; topology?: string; patch?: (doc: Document) => void }): Promise<ReplayRun> {
  const doc = parseDocument(readFileSync(join(ROOT, o.topology ?? 'topology.yaml'), 'utf8'));
  await isolateTopology(doc, o.dir, o.cluster);
  o.patch?.(doc);
  const topology = join(o.dir, 'topology.yaml');
  writeFileSync(topology, doc.toString());
  const logDir = join(o.dir, 'logs');
  const args = [RT, 'up', '--topology', topology, '--log-dir', logDir, ...o.files.flatMap((f) => ['--replay', f]), '--speed', o.speed];
  const proc = spawn(process.execPath, args, { cwd: o.dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RT_LOG_LEVEL: 'info', ...o.env } });
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
  return { proc, out: () => out, exited, ipcDir: join(o.dir, 'ipc'), venueLog: join(o.dir, 'venue.log'), logDir };
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
