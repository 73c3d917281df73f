// The venue rate limit: whatever the arrival times, no window of `windowMs` ever holds more than
// `ordersMax` booked sends; slots are granted first come, first served; an order is refused only
// when its slot is further than the wait bound, and then it books nothing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlidingWindowLimit, VenueRateLimits } from '../../actors/order/venue-rate-limit.ts';

describe('venue rate limit (property)', () => {
  it('no window holds more than the limit; slots are FIFO; a refusal books nothing; the earliest slot is taken', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 10, max: 500 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 120 }), release: fc.boolean() }), { maxLength: 80 }),
        (max, windowMs, waitMaxMs, reqs) => {
          const l = new SlidingWindowLimit(max, windowMs);
          let now = 0;
          const booked: number[] = [];
          let refused = 0;
          for (const r of reqs) {
            now += r.gap;
            const earliest = l.earliest(now);
            const d = l.reserve(now, waitMaxMs);
            if (!d.ok) {
              refused++;
              expect(d.waitMs).toBeGreaterThan(waitMaxMs);
              expect(l.earliest(now)).toBe(earliest);
              continue;
            }
            expect(d.atMs).toBe(earliest);
            expect(d.atMs).toBeGreaterThanOrEqual(now);
            expect(d.waitMs).toBeLessThanOrEqual(waitMaxMs);
            if (booked.length > 0) expect(d.atMs).toBeGreaterThanOrEqual(booked[booked.length - 1]);
            // an order cancelled while it waits gives its future slot back
            if (r.release && d.atMs > now) expect(l.release(d.atMs, now)).toBe(true);
            else booked.push(d.atMs);
          }
          expect(l.refused).toBe(refused);
          // every window (x - windowMs, x], checked at each send time, holds at most `max`
          for (const x of booked) expect(booked.filter((y) => y > x - windowMs && y <= x).length).toBeLessThanOrEqual(max);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('venue rate limit', () => {
  it('a burst: the first `max` go now, the rest a window later, in order', () => {
    const l = new SlidingWindowLimit(2, 100);
    expect([0, 0, 0, 0, 0].map(() => l.reserve(0, 1000))).toEqual([
      { ok: true, atMs: 0, waitMs: 0 },
      { ok: true, atMs: 0, waitMs: 0 },
      { ok: true, atMs: 100, waitMs: 100 },
      { ok: true, atMs: 100, waitMs: 100 },
      { ok: true, atMs: 200, waitMs: 200 },
    ]);
    expect(l.inWindow(0)).toBe(2);
    expect(l.waiting(0)).toBe(3);
    expect(l.reserve(0, 250)).toEqual({ ok: true, atMs: 200, waitMs: 200 });
    expect(l.reserve(0, 250)).toEqual({ ok: false, waitMs: 300 });
    expect(l.waiting(0)).toBe(4);
    // a past slot cannot be given back (it may have been used)
    expect(l.release(0, 50)).toBe(false);
  });

  it('one limit per venue on a node; the same venue with other settings is refused, naming both', () => {
    const limits = new VenueRateLimits();
    expect(limits.of('venue-gw', 180, 60_000)).toBe(limits.of('venue-gw', 180, 60_000));
    expect(limits.of('venue-b', 10, 1000)).not.toBe(limits.of('venue-gw', 180, 60_000));
    expect(() => limits.of('venue-gw', 100, 60_000)).toThrow('venue venue-gw: rate limit 100 orders / 60000 ms, but this node already limits it to 180 / 60000 ms: expected one setting per venue');
    expect(() => new SlidingWindowLimit(0, 1000)).toThrow(/expected an integer >= 1/);
  });
});
