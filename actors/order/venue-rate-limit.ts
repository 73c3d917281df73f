// The venue's order rate limit (default 180 orders in any 60 s window), kept on our side so a
// burst of orders is spread out (each waits for its slot) instead of being refused by the venue.
//
// Pure: time is an argument, nothing here arms a timer. The order actor asks for a slot, and when
// the slot is in the future it waits for it with its own timer (order-actor.ts).
//
// Sharing: every order actor of a node (one process) uses the same limit per venue, through one
// VenueRateLimits: by default the module-level `nodeVenueRateLimits` (a module is loaded once per
// process, so all order/* actors of the node see the same instance); tests and embedders inject
// their own through the order options. The key is the venue gateway's address: one gateway, one
// venue session, one limit. The limit holds per node: order/* must live on one node (as the
// default topology places it) for it to hold at the venue.

export const DEFAULT_RATE_ORDERS_MAX = 180;
export const DEFAULT_RATE_WINDOW_MS = 60_000;

export type RateDecision =
  /** a slot is booked at `atMs` (= now + waitMs; waitMs 0: send now) */
  | { ok: true; atMs: number; waitMs: number }
  /** the first free slot is further than the wait bound: nothing was booked */
  | { ok: false; waitMs: number };

/**
 * A sliding window over send times: at any time t, at most `ordersMax` sends in (t - windowMs, t].
 * Slots are granted in request order (a burst is served first come, first served), so booked
 * times never decrease; that is what keeps every window, including future ones, within the limit.
 */
export class SlidingWindowLimit {
  /** booked send times, ascending: past ones still inside the window, then future reservations */
  private readonly times: number[] = [];
  /** sends refused because their slot was too far away */
  refused = 0;

  constructor(
    readonly ordersMax: number,
    readonly windowMs: number,
  ) {
    if (!Number.isInteger(ordersMax) || ordersMax < 1) throw new RangeError(`rate limit: orders max ${ordersMax}, expected an integer >= 1`);
    if (!Number.isFinite(windowMs) || windowMs <= 0) throw new RangeError(`rate limit: window ${windowMs} ms, expected > 0`);
  }

  /** The earliest time >= nowMs at which one more send keeps every window within the limit. */
  earliest(nowMs: number): number {
    this.prune(nowMs);
    const t = this.times;
    let at = Math.max(nowMs, t.length > 0 ? t[t.length - 1] : nowMs);
    // The ordersMax-th newest booking must have left the window: it counts in (x - w, x], so not at x + w.
    if (t.length >= this.ordersMax) at = Math.max(at, t[t.length - this.ordersMax] + this.windowMs);
    return at;
  }

  /** Books the earliest slot if it is at most waitMaxMs away. */
  reserve(nowMs: number, waitMaxMs: number): RateDecision {
    const at = this.earliest(nowMs);
    const waitMs = at - nowMs;
    if (waitMs > waitMaxMs) {
      this.refused++;
      return { ok: false, waitMs };
    }
    this.times.push(at);
    return { ok: true, atMs: at, waitMs };
  }

  /**
   * Gives back a booked slot that was not used (the order was cancelled while it waited). Only a
   * future slot can be given back: one at or before now may have been used. Later bookings stay
   * valid: removing a send only lowers every window's count.
   */
  release(atMs: number, nowMs: number): boolean {
    if (atMs <= nowMs) return false;
    const i = this.times.lastIndexOf(atMs);
    if (i < 0) return false;
    this.times.splice(i, 1);
    return true;
  }

  /** Sends in the window ending at nowMs. */
  inWindow(nowMs: number): number {
    this.prune(nowMs);
    return this.times.filter((x) => x <= nowMs).length;
  }

  /** Slots booked after nowMs (orders waiting for their turn). */
  waiting(nowMs: number): number {
    this.prune(nowMs);
    return this.times.filter((x) => x > nowMs).length;
  }

  private prune(nowMs: number): void {
    let n = 0;
    while (n < this.times.length && this.times[n] <= nowMs - this.windowMs) n++;
    if (n > 0) this.times.splice(0, n);
  }
}

/** One SlidingWindowLimit per venue (by venue gateway address), shared by the order actors of a node. */
export class VenueRateLimits {
  private readonly limits = new Map<string, SlidingWindowLimit>();

  /** The venue's limit, created on first use; the same venue asked with other settings is a configuration error. */
  of(venue: string, ordersMax: number, windowMs: number): SlidingWindowLimit {
    const l = this.limits.get(venue);
    if (!l) {
      const created = new SlidingWindowLimit(ordersMax, windowMs);
      this.limits.set(venue, created);
      return created;
    }
    if (l.ordersMax !== ordersMax || l.windowMs !== windowMs) {
      throw new RangeError(`venue ${venue}: rate limit ${ordersMax} orders / ${windowMs} ms, but this node already limits it to ${l.ordersMax} / ${l.windowMs} ms: expected one setting per venue`);
    }
    return l;
  }

  venues(): string[] {
    return [...this.limits.keys()];
  }
}

/** The limits shared by every order actor of this node (process). */
export const nodeVenueRateLimits = new VenueRateLimits();
