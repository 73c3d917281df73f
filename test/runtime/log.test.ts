// Log lines: one JSON object a line with time, level, node, actor, and the trace id of the message
// being handled when there is one.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../runtime/log.ts';
import { activeTrace, formatTraceparent, traceIdOf } from '../../runtime/tracing.ts';

function capture(): { lines: Record<string, unknown>[]; stream: { write(s: string): void } } {
  const lines: Record<string, unknown>[] = [];
  return { lines, stream: { write: (s: string) => void lines.push(...s.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)) } };
}

describe('logs', () => {
  it('carry time, level, node and actor, and the trace id only while a traced message is handled', () => {
    const { lines, stream } = capture();
    const log = createLogger({ node: 'execution', actor: 'risk' }, stream);
    log.info('outside any message');
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    activeTrace.current = { traceparent: formatTraceparent(traceId, '00f067aa0ba902b7', 1) };
    try {
      log.warn({ limit: 'order_rate' }, 'rejected');
    } finally {
      activeTrace.current = undefined;
    }
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 30, node: 'execution', actor: 'risk', msg: 'outside any message' });
    expect(typeof lines[0].time).toBe('number');
    expect(lines[0]).not.toHaveProperty('trace_id');
    expect(lines[1]).toMatchObject({ level: 40, node: 'execution', actor: 'risk', limit: 'order_rate', trace_id: traceId });
  });

  it('read the trace id from a W3C traceparent, and nothing from a malformed one', () => {
    expect(traceIdOf(formatTraceparent('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 1))).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(formatTraceparent('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 0)).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00');
    expect(traceIdOf('garbage')).toBeUndefined();
    expect(traceIdOf(undefined)).toBeUndefined();
  });
});
