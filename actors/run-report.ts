// What `rt up` shows of the trading pipeline while it runs, when a replay has been fully traded,
// and the report it prints at the end, all read from the nodes' gauges (runtime/gauges.ts).
type G = Record<string, number | string>;

const num = (g: G, k: string): number => (typeof g[k] === 'number' ? (g[k] as number) : 0);
const fmt = (v: number, digits = 0): string => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const money = (v: number): string => `${v >= 0 ? '+' : ''}${fmt(v, 2)}`;

/** Order states an order actor reports when it ends (gauges `orders.<state>`). */
const TERMINAL = ['filled', 'cancelled', 'rejected', 'expired'];

/**
 * Orders open: risk's count when risk reports one (it is durable: after a restart of its node,
 * order actors that end count in the new process's `orders.<state>` gauges but were submitted in
 * the old one's), else what the order actors' gauges say.
 */
export function openOrders(g: G): number {
  if (typeof g['risk.open_orders'] === 'number') return g['risk.open_orders'];
  return num(g, 'orders.submitted') - TERMINAL.reduce((s, t) => s + num(g, `orders.${t}`), 0);
}

/** The nodes' journals (gauges `journal.<node>.*`): summed, and down if any is. */
function journals(g: G): { nodes: number; down: number; events: number; pending: number; batches: number; maxCommitMs: number } {
  const r = { nodes: 0, down: 0, events: 0, pending: 0, batches: 0, maxCommitMs: 0 };
  for (const k of Object.keys(g)) {
    const m = /^journal\.(.+)\.available$/.exec(k);
    if (!m) continue;
    r.nodes++;
    if (num(g, k) !== 1) r.down++;
    r.events += num(g, `journal.${m[1]}.events`);
    r.pending += num(g, `journal.${m[1]}.pending`);
    r.batches += num(g, `journal.${m[1]}.batches`);
    r.maxCommitMs = Math.max(r.maxCommitMs, num(g, `journal.${m[1]}.max_commit_ms`));
  }
  return r;
}

export function tradingProgress(g: G): string[] {
  const j = journals(g);
  const journal = j.nodes === 0 ? '' : j.down > 0 ? `  JOURNAL DOWN (${fmt(j.pending)} waiting)` : `  journal ok`;
  const breaker = typeof g['risk.breaker'] === 'string' ? g['risk.breaker'] : '?';
  const kill = num(g, 'risk.kill_switch') ? '  KILL SWITCH ON' : '';
  return [
    `ticks ${fmt(num(g, 'feed.messages'))}  intents ${fmt(num(g, 'signal.intents'))}  approved ${fmt(num(g, 'risk.approved'))}  rejected ${fmt(num(g, 'risk.rejected'))}  ` +
      `orders ${fmt(num(g, 'orders.submitted'))} (open ${fmt(openOrders(g))})  fills ${fmt(num(g, 'position.fills'))}  ` +
      `P&L ${money(num(g, 'pnl.total'))} (realized ${money(num(g, 'pnl.realized'))})  breaker ${breaker}${kill}${journal}`,
  ];
}

/**
 * A replay is over when the feed has ended and nothing has moved for `quietMs`: no order open,
 * and the order and fill counts unchanged (fills still on their way keep it running).
 */
export function replayFinished(quietMs = 2000, now: () => number = () => performance.now()): (g: G) => boolean {
  let last = '';
  let since = now();
  return (g) => {
    const key = `${num(g, 'orders.submitted')}/${num(g, 'position.fills')}/${num(g, 'venue.fills')}/${num(g, 'signal.intents')}/${openOrders(g)}`;
    if (key !== last) {
      last = key;
      since = now();
    }
    return num(g, 'feed.ended') === 1 && openOrders(g) === 0 && now() - since >= quietMs;
  };
}

export function tradingReport(g: G): string {
  const lines: string[] = ['', '== trading report'];
  lines.push(`ticks read        ${fmt(num(g, 'feed.messages'))} (bad ${fmt(num(g, 'feed.bad'))})`);
  lines.push(`intents           ${fmt(num(g, 'signal.intents'))} from ${fmt(num(g, 'signal.inferences'))} inferences`);
  lines.push(`risk              approved ${fmt(num(g, 'risk.approved'))}, rejected ${fmt(num(g, 'risk.rejected'))}; breaker ${g['risk.breaker'] ?? '?'}, kill switch ${num(g, 'risk.kill_switch') ? 'on' : 'off'}`);
  const reasons = Object.keys(g)
    .filter((k) => k.startsWith('risk.rejected.'))
    .sort((a, b) => num(g, b) - num(g, a));
  for (const k of reasons) lines.push(`  rejected by ${k.slice('risk.rejected.'.length).padEnd(22)} ${fmt(num(g, k))}`);
  lines.push(`orders            submitted ${fmt(num(g, 'orders.submitted'))}: ${TERMINAL.map((t) => `${t} ${fmt(num(g, `orders.${t}`))}`).join(', ')}; open ${fmt(openOrders(g))}`);
  lines.push(`fills             ${fmt(num(g, 'position.fills'))} applied to positions, ${fmt(num(g, 'venue.fills'))} received from the venue, ${fmt(num(g, 'exchange.fills'))} made by the venue`);
  lines.push(`P&L               total ${money(num(g, 'pnl.total'))}, realized ${money(num(g, 'pnl.realized'))}, unrealized ${money(num(g, 'pnl.unrealized'))}; max drawdown ${fmt(num(g, 'pnl.max_drawdown_pct'), 3)}%`);
  const symbols = [...new Set(Object.keys(g).flatMap((k) => /^(?:position|exchange\.position)\.([A-Z0-9]+)(?:\.qty)?$/.exec(k)?.[1] ?? []))].sort();
  for (const sym of symbols) {
    const ours = num(g, `position.${sym}.qty`);
    const venue = num(g, `exchange.position.${sym}`);
    const ok = Math.abs(ours - venue) <= 1e-9 * Math.max(1, Math.abs(ours), Math.abs(venue));
    lines.push(`  position ${sym.padEnd(10)} ${fmt(ours, 6)} here, ${fmt(venue, 6)} at the venue ${ok ? '(equal)' : '(BREAK)'}`);
  }
  lines.push(`reconciliation    ${fmt(num(g, 'reconcile.matches'))} matches, ${fmt(num(g, 'reconcile.breaks'))} breaks`);
  const j = journals(g);
  if (j.nodes > 0) lines.push(`journal           ${fmt(j.events)} events in ${fmt(j.batches)} batches, slowest commit ${fmt(j.maxCommitMs, 1)} ms${j.down > 0 ? `; UNAVAILABLE on ${j.down} node(s), ${fmt(j.pending)} waiting` : ''}`);
  if (num(g, 't2o.n') > 0) {
    lines.push(`tick-to-order     p50 ${fmt(num(g, 't2o.p50_us'), 1)} us, p99 ${fmt(num(g, 't2o.p99_us'), 1)} us, p99.9 ${fmt(num(g, 't2o.p999_us'), 1)} us (${fmt(num(g, 't2o.n'))} orders)`);
  } else lines.push('tick-to-order     no order sent');
  return lines.join('\n');
}
