import { type DestinationStream, pino, type Logger } from 'pino';
import { activeTrace, traceIdOf } from './tracing.ts';

export type { Logger };

/**
 * Structured logs: one JSON object a line on stderr (so stdout stays free for command output),
 * with the node name on every line, and the trace id of the message being handled, if it has one.
 * Level from RT_LOG_LEVEL (default info).
 */
export function createLogger(bindings: Record<string, unknown>, destination: DestinationStream = pino.destination(2)): Logger {
  return pino(
    {
      level: process.env.RT_LOG_LEVEL ?? 'info',
      base: { pid: process.pid, ...bindings },
      // The trace of the message being handled when the line is written (W3C trace id).
      mixin: () => {
        const id = traceIdOf(activeTrace.current?.traceparent);
        return id === undefined ? {} : { trace_id: id };
      },
    },
    destination,
  );
}
