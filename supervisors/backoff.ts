/** Exponential restart backoff: 0 for the first restart in a window, then min, 2*min, ... capped at max. */
export interface BackoffSpec {
  minMs: number;
  maxMs: number;
}

export function backoffDelayMs(spec: BackoffSpec, recentRestarts: number): number {
  if (recentRestarts <= 0 || spec.minMs <= 0) return 0;
  return Math.min(spec.maxMs, spec.minMs * 2 ** Math.min(recentRestarts - 1, 30));
}
