// Reading Prometheus text as the tests scrape it from a node's /metrics.
import { spawnSync } from 'node:child_process';

/** The value of the series `name{labels}` whose labels include the given ones (any order), or undefined. */
export function seriesValue(text: string, series: string): number | undefined {
  const m = /^([a-z_:]+)(?:\{(.*)\})?$/.exec(series);
  if (!m) throw new Error(`test bug: series ${series}`);
  const want = (m[2] ?? '').split(',').filter(Boolean);
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const l = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!l || l[1] !== m[1]) continue;
    const have = new Set((l[2] ?? '').split(','));
    if (want.every((w) => have.has(w))) return Number(l[3]);
  }
  return undefined;
}

/** Whether promtool is on the PATH (Debian package prometheus; bin/setup.mjs installs it as root). */
export const hasPromtool = spawnSync('sh', ['-c', 'command -v promtool'], { stdio: 'ignore' }).status === 0;

/** `promtool check metrics` of a scrape: its exit status and what it said. */
export function promtoolCheckMetrics(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}
