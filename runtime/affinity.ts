import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Parses a kernel CPU list such as `0-2,5` into [0, 1, 2, 5]. */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map(Number);
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** The cores this process may run on, as the kernel reports them. */
export function affinityInForce(pid: number | 'self' = 'self'): number[] {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = status.split('\n').find((l) => l.startsWith('Cpus_allowed_list:'));
  return line ? parseCpuList(line.slice('Cpus_allowed_list:'.length)) : [];
}

/**
 * Pins every thread of this process (the JS thread, libuv's pool, V8's workers, libzmq's I/O
 * thread) to `cores` with taskset -a, and returns the affinity the kernel then reports. Threads
 * started later inherit it. Returns the affinity in force even when pinning fails (with the reason).
 */
export function pinProcess(cores: readonly number[]): { cores: number[]; error?: string } {
  const want = [...cores].sort((a, b) => a - b);
  const now = affinityInForce();
  if (now.length === want.length && now.every((c, i) => c === want[i])) return { cores: now };
  try {
    execFileSync('taskset', ['-a', '-p', '-c', want.join(','), String(process.pid)], { stdio: 'ignore' });
  } catch (e) {
    return { cores: affinityInForce(), error: `taskset failed: ${(e as Error).message}` };
  }
  return { cores: affinityInForce() };
}
