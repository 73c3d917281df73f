import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs: one JSON object a line on stderr (so stdout stays free for command output),
 * with the node name on every line. Level from RT_LOG_LEVEL (default info).
 */
export function createLogger(bindings: Record<string, unknown>): Logger {
  return pino({ level: process.env.RT_LOG_LEVEL ?? 'info', base: { pid: process.pid, ...bindings } }, pino.destination(2));
}
