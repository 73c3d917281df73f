/** Exponential restart backoff: 0 for the first restart in a window, then min, 2*min, ... capped at max. */
export interface BackoffSpec {
  minMs: number;
  maxMs: number;
}

export function backoffDelayMs(spec: BackoffSpec, recentRestarts: number): number {
  if (recentRestarts <= 0 || spec.minMs <= 0) return 0;
  return Math.min(spec.maxMs, spec.minMs * 2 ** Math.min(recentRestarts - 1, 30));
}

/**
 * backoffDelayMs with jitter: a delay between half and all of it, so many clients that lost the
 * same server do not come back in step (reconnects of the gateways).
 */
export function jitteredBackoffMs(spec: BackoffSpec, attempt: number, random: () => number = Math.random): number {
  const base = backoffDelayMs(spec, attempt);
  return Math.round(base / 2 + (random() * base) / 2);
}
