import { connect, type NatsConnection } from 'nats';

/** Between two attempts to reach a NATS server again (nats.js adds up to 100 ms of jitter). */
export const NATS_RECONNECT_WAIT_MS = 250;
/** A server that answers no ping for PING_INTERVAL_MS * MAX_PINGS_OUT is given up for the next. */
const PING_INTERVAL_MS = 2_000;
const MAX_PINGS_OUT = 2;

/**
 * A node's one NATS connection, shared by its transport and its inspection service: reconnects
 * for ever (to any server of the host's list), waits for a server that is not up yet (unless told
 * not to), and skips
 * nats.js's async stack capture on requests (about 15 µs each on this machine).
 */
export function connectNats(servers: readonly string[], name: string, opts: { waitOnFirstConnect?: boolean } = {}): Promise<NatsConnection> {
  return connect({
    servers: [...servers],
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: NATS_RECONNECT_WAIT_MS,
    waitOnFirstConnect: opts.waitOnFirstConnect ?? true,
    pingInterval: PING_INTERVAL_MS,
    maxPingOut: MAX_PINGS_OUT,
    noAsyncTraces: true,
  });
}
