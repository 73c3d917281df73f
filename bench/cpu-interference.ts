import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/**
 * How much CPU went to processes other than the measured ones during a window, as a percentage of
 * all cores. On a 2-core machine one busy test runner next to a benchmark moves p99 by milliseconds;
 * a run with high interference should be repeated, not reported.
 *
 * Reads /proc/stat (all CPUs, busy ticks) and /proc/<pid>/stat (utime + stime, all threads of the
 * process). Tick resolution is 10 ms, fine over windows of seconds.
 */
export class CpuInterference {
  readonly #pids: readonly number[];
  #system_busy_ticks = 0;
  #own_ticks = 0;
  #since_ms = 0;

  constructor(pids: readonly number[]) {
    this.#pids = pids;
  }

  start(): void {
    this.#system_busy_ticks = systemBusyTicks();
    this.#own_ticks = this.#ownTicks();
    this.#since_ms = performance.now();
  }

  /** Percent of total CPU capacity used by other processes since start(); 0 when nothing else ran. */
  stop(): number {
    const elapsed_ms = performance.now() - this.#since_ms;
    const foreign_ticks = systemBusyTicks() - this.#system_busy_ticks - (this.#ownTicks() - this.#own_ticks);
    const capacity_ticks = (elapsed_ms / 1000) * TICKS_PER_S * cpus().length;
    return Math.max(0, (foreign_ticks / capacity_ticks) * 100);
  }

  #ownTicks(): number {
    let ticks = 0;
    for (const pid of [process.pid, ...this.#pids]) ticks += processTicks(pid);
    return ticks;
  }
}

/** USER_HZ; 100 on every Linux this runs on (getconf CLK_TCK). */
const TICKS_PER_S = 100;

function systemBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  // cpu user nice system idle iowait irq softirq steal guest guest_nice; idle and iowait are not busy.
  const [user, nice, system, _idle, _iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return user + nice + system + irq + softirq + steal;
}

function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may contain spaces, start at ") ": utime is field 14.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    // The process already exited; its ticks then count as foreign, which errs on the side of a rerun.
    return 0;
  }
}

export interface QuietOptions {
  /** Busy CPU (all processes, % of all cores) below which the machine counts as quiet. */
  busy_pct_max: number;
  window_ms: number;
  /** Give up waiting after this long and measure anyway; the caller sees the returned false. */
  wait_max_ms: number;
}

export const QUIET_DEFAULTS: QuietOptions = { busy_pct_max: 5, window_ms: 1000, wait_max_ms: 120_000 };

/** Waits until one whole window passes with the machine nearly idle; false if that never happened. */
export async function waitForQuiet(options: Partial<QuietOptions> = {}): Promise<boolean> {
  const { busy_pct_max, window_ms, wait_max_ms } = { ...QUIET_DEFAULTS, ...options };
  const give_up_at = performance.now() + wait_max_ms;
  while (performance.now() < give_up_at) {
    const busy_start = systemBusyTicks();
    const since = performance.now();
    await new Promise((resolve) => setTimeout(resolve, window_ms));
    const capacity_ticks = ((performance.now() - since) / 1000) * TICKS_PER_S * cpus().length;
    if (((systemBusyTicks() - busy_start) / capacity_ticks) * 100 <= busy_pct_max) return true;
  }
  return false;
}

/**
 * Runs `measure` until a run reports interference at most `interference_pct_max`, waiting for a quiet
 * machine before each attempt, `attempts_max` times at most; returns the least-disturbed run.
 */
export async function measureUndisturbed<T extends { interference_pct: number }>(
  measure: () => Promise<T>,
  interference_pct_max = 3,
  attempts_max = 4,
): Promise<T> {
  let best: T | undefined;
  for (let attempt = 1; attempt <= attempts_max; attempt++) {
    await waitForQuiet();
    const result = await measure();
    if (best === undefined || result.interference_pct < best.interference_pct) best = result;
    if (result.interference_pct <= interference_pct_max) break;
    process.stderr.write(`other processes used ${result.interference_pct.toFixed(1)}% CPU during the run; measuring again (${attempt}/${attempts_max})\n`);
  }
  return best!;
}
