import { describe, expect, it } from 'vitest';
import { backoffDelayMs, jitteredBackoffMs } from '../../supervisors/backoff.ts';

describe('backoff', () => {
  const spec = { minMs: 100, maxMs: 1000 };
  it('doubles from min per attempt and caps at max', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(spec, n))).toEqual([100, 200, 400, 800, 1000]);
  });
  it('jittered: between half and all of the plain delay', () => {
    expect(jitteredBackoffMs(spec, 3, () => 0)).toBe(200);
    expect(jitteredBackoffMs(spec, 3, () => 1)).toBe(400);
    expect(jitteredBackoffMs(spec, 9, () => 0.5)).toBe(750);
  });
});
