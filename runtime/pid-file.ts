import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const pidFilePath = (ipcDir: string, node: string): string => join(ipcDir, `${node}.pid`);

/** Whether a process with this pid exists (one of another user's counts). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of the live process holding a node's pid file, if any. */
export function livePid(ipcDir: string, node: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFilePath(ipcDir, node), 'utf8').trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : undefined;
}

/**
 * One process per node name on a host: binding an ipc socket silently takes it over from a live
 * owner, so a node claims `<ipcDir>/<node>.pid` first and refuses to start while another live
 * process holds it. A pid file left by a killed process is simply replaced.
 */
export function claimPidFile(ipcDir: string, node: string): () => void {
  const other = livePid(ipcDir, node);
  if (other !== undefined) throw new Error(`node ${node} is already running as pid ${other} (${pidFilePath(ipcDir, node)})`);
  writeFileSync(pidFilePath(ipcDir, node), `${process.pid}\n`);
  return () => {
    if (livePid(ipcDir, node) === undefined) rmSync(pidFilePath(ipcDir, node), { force: true });
  };
}
