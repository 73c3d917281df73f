// What rt up reads off the nodes' gauges to say a replay is over, and how many orders are open.
import { describe, expect, it } from 'vitest';
import { openOrders, replayFinished } from '../actors/run-report.ts';

describe('run report', () => {
  it("counts open orders from risk's durable view when there is one (order gauges restart with their node)", () => {
    // After a restart of the execution node: 3 orders submitted by the new process, 5 ended in it
    // (2 of them submitted before the restart); risk, recovered from its journal, holds none open.
    const g = { 'orders.submitted': 3, 'orders.filled': 4, 'orders.expired': 1, 'risk.open_orders': 0 };
    expect(openOrders(g)).toBe(0);
    expect(openOrders({ 'orders.submitted': 3, 'orders.filled': 1 })).toBe(2);
  });

  it('a replay is finished once the feed ended, no order is open and nothing moved for the quiet time', () => {
    let now = 0;
    const done = replayFinished(1000, () => now);
    const g: Record<string, number> = { 'feed.ended': 0, 'orders.submitted': 2, 'orders.filled': 1, 'risk.open_orders': 1 };
    expect(done(g)).toBe(false);
    g['feed.ended'] = 1;
    now = 5000;
    expect(done(g)).toBe(false);
    g['risk.open_orders'] = 0;
    g['orders.filled'] = 2;
    expect(done(g)).toBe(false);
    now = 5500;
    expect(done(g)).toBe(false);
    now = 6100;
    expect(done(g)).toBe(true);
  });
});
