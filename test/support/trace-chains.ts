// Reading the spans node processes wrote under RT_TRACE_FILE (runtime/trace-capture.ts): traces
// by id, and the chain of parents from one span back to its trace's root.
import { existsSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { CapturedSpan } from '../../runtime/trace-capture.ts';

/** Every span the nodes wrote to `<prefix>.<node>.json`; each file must exist. */
export function readCapturedSpans(prefix: string, nodes: string[]): CapturedSpan[] {
  const spans: CapturedSpan[] = [];
  for (const node of nodes) {
    const f = `${prefix}.${node}.json`;
    expect(existsSync(f), f).toBe(true);
    spans.push(...(JSON.parse(readFileSync(f, 'utf8')) as CapturedSpan[]));
  }
  return spans;
}

export function tracesById(spans: CapturedSpan[]): Map<string, CapturedSpan[]> {
  const traces = new Map<string, CapturedSpan[]>();
  for (const s of spans) traces.set(s.traceId, [...(traces.get(s.traceId) ?? []), s]);
  return traces;
}

/**
 * Checks one trace: a single root, every other span's parent in the same trace and started no
 * later; returns the chain from the root to the span named `last`, as "<node> <actor> <type>".
 */
export function chainTo(trace: CapturedSpan[], last: string): string[] {
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  expect(trace.filter((s) => s.parentSpanId === undefined)).toHaveLength(1);
  for (const s of trace) {
    if (s.parentSpanId === undefined) continue;
    const parent = byId.get(s.parentSpanId);
    expect(parent, `${s.node} ${s.name}: parent ${s.parentSpanId} not in trace ${s.traceId}`).toBeDefined();
    expect((parent as CapturedSpan).startUs).toBeLessThanOrEqual(s.startUs);
  }
  const chain: CapturedSpan[] = [];
  for (let s: CapturedSpan | undefined = trace.find((x) => x.name === last); s; s = s.parentSpanId ? byId.get(s.parentSpanId) : undefined) chain.unshift(s);
  return chain.map((s) => `${s.node} ${s.name.split(' ').slice(0, 2).join(' ')}`);
}

/** The chain every traced order follows: tick and book on edge, signal on strategy, then execution. */
export const ORDER_CHAIN = ['edge tick depth', 'edge book/* depth', 'strategy signal book-top', 'execution risk order-intent', 'execution order/* submit-order', 'execution venue-gw venue-place'];
export const ORDER_SPAN = 'venue-gw venue-place';
