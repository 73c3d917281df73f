// A node's metrics in one process: what each actor handles and sends is counted by type, with the
// label values bounded (past TYPES_PER_KEY_MAX types the rest count as "other"); handle times go
// into the per-key histogram; the text is Prometheus's.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ActorSystem } from '../../runtime/actor-system.ts';
import type { Message } from '../../runtime/message.ts';
import { tradingMetrics } from '../../actors/trading-metrics.ts';
import { NodeMetrics, TYPES_PER_KEY_MAX, TypeCounts } from '../../runtime/metrics.ts';
import { seriesValue } from '../support/prometheus-text.ts';

describe('type counts', () => {
  it('property: every message is counted once, and at most TYPES_PER_KEY_MAX types plus "other" are labels', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 * TYPES_PER_KEY_MAX }).map((n) => `t${n}`), { maxLength: 2000 }), (types) => {
        const c = new TypeCounts();
        for (const t of types) c.add(t);
        const entries = [...c.entries()];
        expect(entries.reduce((n, [, v]) => n + v, 0)).toBe(types.length);
        expect(entries.length).toBeLessThanOrEqual(TYPES_PER_KEY_MAX + 1);
        // The first TYPES_PER_KEY_MAX distinct types keep their own label and their exact count.
        const firsts = [...new Set(types)].slice(0, TYPES_PER_KEY_MAX);
        for (const t of firsts) expect(entries.find(([k]) => k === t)?.[1]).toBe(types.filter((x) => x === t).length);
      }),
    );
  });
});

describe('node metrics', () => {
  it('count what actors handle and send by key and type, and time each message handled', async () => {
    const system = new ActorSystem({ node: 'n' });
    const metrics = new NodeMetrics(system, { node: 'n', cluster: 'c', keyOf: (a) => (a.startsWith('order/') ? 'order/*' : a.startsWith('$') ? undefined : a) });
    system.metrics = metrics;
    let handled = 0;
    const done = new Promise<void>((resolve) => {
      system.spawn<Message, null>('sink', {
        init: () => null,
        receive: (s) => {
          if (++handled === 30) resolve();
          return s;
        },
      });
    });
    for (const id of ['order/a', 'order/b', 'order/c'])
      system.spawn<Message, null>(id, {
        init: () => null,
        receive: (s, m, ctx) => {
          for (let i = 0; i < 5; i++) ctx.tell('sink', { type: m.type === 'go' ? 'fill' : 'ack' });
          return s;
        },
      });
    for (const id of ['order/a', 'order/b', 'order/c']) {
      system.tell(id, { type: 'go' });
      system.tell(id, { type: 'stop-not' });
    }
    await done;
    const text = await metrics.text();
    expect(seriesValue(text, 'rt_messages_handled_total{actor="order/*",type="go"}')).toBe(3);
    expect(seriesValue(text, 'rt_messages_handled_total{actor="order/*",type="stop-not"}')).toBe(3);
    expect(seriesValue(text, 'rt_messages_sent_total{actor="order/*",type="fill"}')).toBe(15);
    expect(seriesValue(text, 'rt_messages_sent_total{actor="order/*",type="ack"}')).toBe(15);
    expect(seriesValue(text, 'rt_messages_handled_total{actor="sink",type="fill"}')).toBe(15);
    expect(seriesValue(text, 'rt_handle_seconds_count{actor="sink"}')).toBe(30);
    expect(seriesValue(text, 'rt_handle_seconds_bucket{actor="sink",le="+Inf"}')).toBe(30);
    expect(seriesValue(text, 'rt_actors{actor="order/*"}')).toBe(3);
    expect(text).toContain('node="n",cluster="c"');
    await system.shutdown();
  });

  it('export no series for a gauge no actor of the node sets (not a 0, which would read as "off"), and its value once one does', async () => {
    const system = new ActorSystem({ node: 'edge' });
    const metrics = new NodeMetrics(system, { node: 'edge', cluster: 'c', keyOf: (a) => a, transports: () => ({ ipc_links_down: 0, envelopes_lost: 0 }) });
    tradingMetrics(metrics, system);
    let text = await metrics.text();
    for (const name of ['rt_kill_switch', 'rt_pnl_total_quote', 'rt_orders_open', 'rt_venue_connected', 'rt_nats_connected', 'rt_nats_disconnects_total']) {
      expect(seriesValue(text, name), name).toBeUndefined();
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(seriesValue(text, 'rt_ipc_links_down')).toBe(0);
    system.gauges.set('risk.kill_switch', 1);
    system.gauges.set('pnl.drawdown_pct', 2.5);
    text = await metrics.text();
    expect(seriesValue(text, 'rt_kill_switch')).toBe(1);
    expect(seriesValue(text, 'rt_drawdown_ratio')).toBeCloseTo(0.025, 10);
  });
});
