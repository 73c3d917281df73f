// The trading actors' Prometheus metrics, read at scrape time from the gauges they already keep
// (runtime/gauges.ts), plus the tick-to-order histogram the venue gateway feeds. A node exports
// the families whose gauges its own actors set: orders where the order actors run, P&L where the
// position actor runs, and so on; Prometheus joins them by metric name across nodes.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { ActorSystem } from '../runtime/actor-system.ts';
import type { GaugeValue } from '../runtime/gauges.ts';
import { type NodeMetrics, registerValue } from '../runtime/metrics.ts';
import { TERMINAL_ORDER_STATES } from './order/order-protocol.ts';

/** Tick-to-order buckets, seconds: 100 µs .. 10 s. */
export const TICK_TO_ORDER_BUCKETS = [1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 10];
/** The breaker's states, one series each (1 for the current one). */
export const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;

const tickToOrder = new WeakMap<ActorSystem, Histogram>();

/** Records one tick-to-order time (the venue gateway, as an order leaves). */
export function observeTickToOrder(system: ActorSystem, ms: number): void {
  tickToOrder.get(system)?.observe(ms / 1000);
}

export function tradingMetrics(metrics: NodeMetrics, system: ActorSystem): void {
  const registers = [metrics.registry];
  const g = (name: string): GaugeValue | undefined => system.gauges.get(name);
  const num = (name: string): number | undefined => {
    const v = g(name);
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  };
  /** A gauge family with no labels, from one app gauge (absent: no series, on a node whose actors do not set it). */
  const single = (name: string, help: string, from: string, scale = 1, kind: 'gauge' | 'counter' = 'gauge'): void => {
    registerValue(metrics.registry, name, help, kind, () => {
      const v = num(from);
      return v === undefined ? undefined : v * scale;
    });
  };
  /** A labelled family from the app gauges `<prefix><label value><suffix>`. */
  const family = (name: string, help: string, label: string, re: RegExp, kind: 'gauge' | 'counter' = 'gauge'): void => {
    const collect = function (this: Gauge<string> | Counter<string>): void {
      this.reset();
      for (const [k, v] of Object.entries(system.gauges.snapshot())) {
        const m = re.exec(k);
        if (!m || typeof v !== 'number' || !Number.isFinite(v)) continue;
        if (this instanceof Counter) this.inc({ [label]: m[1] }, v);
        else (this as Gauge<string>).set({ [label]: m[1] }, v);
      }
    };
    if (kind === 'counter') new Counter({ name, help, labelNames: [label], registers, collect });
    else new Gauge({ name, help, labelNames: [label], registers, collect });
  };

  // Orders: submitted and how they ended (order actors), open (risk).
  single('rt_orders_submitted_total', 'Orders risk approved and sent to their order actors.', 'orders.submitted', 1, 'counter');
  new Counter({
    name: 'rt_orders_total',
    help: 'Orders that ended, by final state.',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      for (const st of TERMINAL_ORDER_STATES) {
        const v = num(`orders.${st}`);
        if (v !== undefined) this.inc({ state: st }, v);
      }
    },
  });
  single('rt_orders_open', 'Orders open at the venue or on their way, as risk counts them.', 'risk.open_orders');
  single('rt_fills_total', 'Fills applied to positions.', 'position.fills', 1, 'counter');
  single('rt_venue_fills_total', 'Fills the venue gateway received.', 'venue.fills', 1, 'counter');
  // Risk: approvals, rejections by the limit that refused, breaker and kill switch.
  single('rt_risk_approved_total', 'Orders risk approved.', 'risk.approved', 1, 'counter');
  family('rt_risk_rejections_total', 'Orders risk refused, by the limit that refused them.', 'limit', /^risk\.rejected\.([a-z0-9_]+)$/, 'counter');
  new Gauge({
    name: 'rt_breaker_state',
    help: 'The circuit breaker: 1 for its current state (closed, open, half_open), 0 for the others.',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      const cur = g('risk.breaker');
      if (typeof cur !== 'string') return;
      for (const st of BREAKER_STATES) this.set({ state: st }, cur.replace('-', '_') === st ? 1 : 0);
    },
  });
  single('rt_kill_switch', '1 while the kill switch is on.', 'risk.kill_switch');
  // Positions and P&L (position actor), in the quote currency.
  family('rt_position', 'Net position per symbol, in the base asset.', 'symbol', /^position\.([A-Z0-9]+)\.qty$/);
  family('rt_position_notional_quote', 'Position per symbol at its mark price, in the quote currency.', 'symbol', /^position\.([A-Z0-9]+)\.notional$/);
  single('rt_pnl_realized_quote', 'Realized P&L, quote currency.', 'pnl.realized');
  single('rt_pnl_unrealized_quote', 'Unrealized P&L at the marks, quote currency.', 'pnl.unrealized');
  single('rt_pnl_total_quote', 'Total P&L, quote currency.', 'pnl.total');
  single('rt_pnl_daily_quote', 'P&L of the current UTC day, quote currency.', 'pnl.daily');
  single('rt_drawdown_ratio', 'Drawdown from the P&L peak, as a share of capital plus peak P&L (0..1).', 'pnl.drawdown_pct', 0.01);
  single('rt_drawdown_max_ratio', 'Largest drawdown so far (0..1).', 'pnl.max_drawdown_pct', 0.01);
  single('rt_drawdown_limit_ratio', 'The drawdown alert level (max_drawdown_pct / 100).', 'pnl.drawdown_limit_pct', 0.01);
  single('rt_reconcile_breaks_total', 'Reconciliations with the venue that found a difference.', 'reconcile.breaks', 1, 'counter');
  single('rt_reconcile_matches_total', 'Reconciliations with the venue that matched.', 'reconcile.matches', 1, 'counter');
  // Market data and the venue connection.
  single('rt_feed_messages_total', 'Market data messages read by the feed gateway.', 'feed.messages', 1, 'counter');
  single('rt_feed_bad_messages_total', 'Malformed market data messages counted and skipped.', 'feed.bad', 1, 'counter');
  single('rt_venue_connected', '1 while the venue gateway is connected to the venue.', 'venue.connected');
  tickToOrder.set(system, new Histogram({ name: 'rt_tick_to_order_seconds', help: 'From the tick read off the feed socket to its order leaving for the venue.', buckets: TICK_TO_ORDER_BUCKETS, registers }));
}
