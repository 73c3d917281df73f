// The monitoring files: Prometheus's promtool accepts the alert rules and their unit tests (the
// breaker-open and mailbox-full alerts fire on sample series), the scrape config `rt monitoring`
// writes for a topology, and every metric the alerts and the dashboard query is one the code exports.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dashboardExprs, grafanaDashboard, MONITORING_DIR, unscrapableNodes, writeMonitoring } from '../actors/monitoring-files.ts';
import { tradingMetrics } from '../actors/trading-metrics.ts';
import { ActorSystem } from '../runtime/actor-system.ts';
import { NodeMetrics } from '../runtime/metrics.ts';
import { loadTopology } from '../runtime/topology.ts';
import { hasPromtool } from './support/prometheus-text.ts';

if (!hasPromtool) console.warn('SKIPPED promtool checks: promtool is not installed (Debian package prometheus; npm test runs bin/setup.mjs, which installs it as root)');
const run = (args: string[], cwd = MONITORING_DIR) => spawnSync('promtool', args, { cwd, encoding: 'utf8' });

const dir = mkdtempSync(join(tmpdir(), 'rt-monitoring-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('monitoring files', () => {
  it.skipIf(!hasPromtool)('promtool checks the alert rules and runs their unit tests: breaker open, mailbox full, kill switch, node down fire', () => {
    const check = run(['check', 'rules', 'alerts.yml']);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain('SUCCESS: 10 rules found');
    const test = run(['test', 'rules', 'alerts.test.yml']);
    expect(test.status, test.stdout + test.stderr).toBe(0);
    expect(test.stdout).toContain('SUCCESS');
  });

  it.skipIf(!hasPromtool)('rt monitoring writes a scrape config promtool accepts: one target per node at its host address and metrics port', () => {
    const file = join(import.meta.dirname, '../topology.multihost.yaml');
    const files = writeMonitoring(loadTopology(file, { currentHost: 'a' }), 'topology.multihost.yaml', dir);
    expect(files.map((f) => f.slice(dir.length + 1)).sort()).toEqual(['alerts.yml', 'grafana-dashboard.json', 'prometheus.yml']);
    const r = run(['check', 'config', 'prometheus.yml'], dir);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const config = parse(readFileSync(join(dir, 'prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string; static_configs: { targets: string[]; labels: Record<string, string> }[] }[] };
    expect(config.scrape_configs[0].job_name).toBe('rt-demo');
    expect(config.scrape_configs[0].static_configs).toEqual([
      { targets: ['10.0.0.1:9101'], labels: { node: 'edge', host: 'a' } },
      { targets: ['10.0.0.1:9102'], labels: { node: 'strategy', host: 'a' } },
      { targets: ['10.0.0.2:9104'], labels: { node: 'exchange', host: 'b' } },
      { targets: ['10.0.0.2:9103'], labels: { node: 'execution', host: 'b' } },
    ]);
  });

  it('rt monitoring warns about every node that serves /metrics on loopback while its target is the host address', () => {
    const multi = join(import.meta.dirname, '../topology.multihost.yaml');
    expect(unscrapableNodes(loadTopology(multi, { currentHost: 'a' }))).toEqual([]);
    const loopbackOnly = join(dir, 'loopback-binds.yaml');
    writeFileSync(loopbackOnly, readFileSync(multi, 'utf8').replace(/^ {4}metrics_bind: .*$/gm, ''));
    const warnings = unscrapableNodes(loadTopology(loopbackOnly, { currentHost: 'a' }));
    expect(warnings).toHaveLength(4);
    expect(warnings).toContain(
      'node edge serves /metrics on 127.0.0.1 (metrics_bind) but its target is 10.0.0.1:9101: a Prometheus on another machine cannot scrape it; set nodes.edge.metrics_bind to 10.0.0.1 or 0.0.0.0',
    );
    expect(unscrapableNodes(loadTopology(join(import.meta.dirname, '../topology.yaml')))).toEqual([]);
  });

  it('queries only metrics the code exports, in the alerts and in the dashboard', () => {
    const system = new ActorSystem({ node: 'n' });
    const metrics = new NodeMetrics(system, { node: 'n', cluster: 'c', keyOf: (a) => a, transports: () => ({}) });
    tradingMetrics(metrics, system);
    const exported = new Set([...metrics.registry.getMetricsAsArray().map((m) => m.name), 'rt_ready', 'up']);
    const alerts = parse(readFileSync(join(MONITORING_DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: { expr: string }[] }[] };
    const exprs = [...alerts.groups.flatMap((g) => g.rules.map((r) => r.expr)), ...dashboardExprs()];
    const named = new Set(exprs.flatMap((e) => e.match(/\b(rt_[a-z_]+|up)\b/g) ?? []).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    expect([...named].filter((n) => !exported.has(n))).toEqual([]);
    expect(named.size).toBeGreaterThan(20);
    const dash = grafanaDashboard('demo') as { panels: { targets: unknown[] }[]; uid: string };
    expect(dash.uid).toBe('rt-demo');
    expect(dash.panels.every((p) => p.targets.length > 0)).toBe(true);
    // The committed dashboard is the generated one (rt monitoring writes it).
    expect(JSON.parse(readFileSync(join(MONITORING_DIR, 'grafana-dashboard.json'), 'utf8'))).toEqual(dash);
  });
});
