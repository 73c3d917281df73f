import { readFileSync } from 'node:fs';

/** USER_HZ; 100 on every Linux this runs on (getconf CLK_TCK). */
const TICKS_PER_S = 100;

/**
 * CPU time (user + system, all threads) used so far by a process and its children, including
 * children that have exited (the kernel adds a reaped child's time to its parent's cutime and
 * cstime), in ms, from /proc/<pid>/stat. Tick resolution is 10 ms: read it over windows of seconds.
 * Used to see which side of a client/server pair is the busy one.
 */
export function processTreeCpuMs(parent: number, children: readonly number[]): number {
  let ticks = statTicks(parent);
  for (const pid of children) ticks += statTicks(pid);
  return (ticks / TICKS_PER_S) * 1000;
}

function statTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at ") ": utime is field 14,
    // stime 15, cutime 16, cstime 17.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return 0; // exited: its time is now in its parent's cutime
  }
}
