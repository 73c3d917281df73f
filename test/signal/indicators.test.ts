import { describe, expect, it } from 'vitest';
import { Ema, Rsi, bollingerPosition } from '../../actors/signal/indicators.ts';

describe('Ema', () => {
  it('seeds with the first value, then steps by alpha = 2 / (period + 1) (hand-computed, period 3)', () => {
    const ema = new Ema(3);
    expect(ema.alpha).toBe(0.5);
    expect([1, 2, 3, 4, 5].map((x) => ema.push(x))).toEqual([1, 1.5, 2.25, 3.125, 4.0625]);
  });

  it('peek reads the next value without changing the state', () => {
    const ema = new Ema(3);
    ema.push(1);
    expect(ema.peek(3)).toBe(2);
    expect(ema.peek(3)).toBe(2);
    expect(ema.value).toBe(1);
  });

  it('is NaN before the first value and after reset', () => {
    const ema = new Ema(12);
    expect(ema.value).toBeNaN();
    ema.push(5);
    ema.reset();
    expect(ema.value).toBeNaN();
  });
});

describe('Rsi (Wilder)', () => {
  it('averages the first `period` changes, then smooths by (period - 1) / period (hand-computed, period 3)', () => {
    const rsi = new Rsi(3);
    // changes +1 +1 -1: gain 2/3, loss 1/3 -> 66.67; +1: gain 7/9, loss 2/9 -> 77.78; +1: 23/27, 4/27 -> 85.19
    const out = [1, 2, 3, 2, 3, 4].map((c) => rsi.push(c));
    expect(out.slice(0, 3)).toEqual([50, 50, 50]);
    expect(out[3]).toBeCloseTo(200 / 3, 10);
    expect(out[4]).toBeCloseTo(700 / 9, 10);
    expect(out[5]).toBeCloseTo(2300 / 27, 10);
  });

  it('peek equals what push would return, and leaves the state alone', () => {
    const rsi = new Rsi(3);
    for (const c of [1, 2, 3]) rsi.push(c);
    expect(rsi.peek(2)).toBeCloseTo(200 / 3, 10);
    expect(rsi.peek(2)).toBeCloseTo(200 / 3, 10);
    expect(rsi.push(2)).toBeCloseTo(200 / 3, 10);
  });

  it('reads 100 on a rising series, 0 on a falling one and 50 on a flat one (never NaN)', () => {
    const up = new Rsi(14);
    const down = new Rsi(14);
    const flat = new Rsi(14);
    for (let i = 0; i < 20; i++) {
      up.push(100 + i);
      down.push(100 - i);
      flat.push(100);
    }
    expect(up.peek(200)).toBe(100);
    expect(down.peek(0)).toBe(0);
    expect(flat.peek(100)).toBe(50);
  });

  it('alternating +1/-1 reads 50, and one more up-move 53.57 (hand-computed, period 14)', () => {
    const rsi = new Rsi(14);
    let c = 100;
    rsi.push(c);
    for (let i = 0; i < 14; i++) rsi.push((c += i % 2 === 0 ? 1 : -1));
    expect(rsi.ready).toBe(true);
    // avg gain = avg loss = 7/14; next +1: gain (0.5*13+1)/14, loss 0.5*13/14 -> 7.5/14
    expect(rsi.peek(c + 1)).toBeCloseTo((100 * 7.5) / 14, 10);
  });
});

describe('bollingerPosition', () => {
  it('is (x - mean) / (2 * population std) of the newest value (hand-computed)', () => {
    expect(bollingerPosition([1, 2, 3])).toBeCloseTo(1 / (2 * Math.sqrt(2 / 3)), 12);
    const ramp = Array.from({ length: 20 }, (_, i) => i + 1);
    // mean 10.5, std sqrt((20^2 - 1) / 12) = sqrt(33.25)
    expect(bollingerPosition(ramp)).toBeCloseTo(9.5 / (2 * Math.sqrt(33.25)), 12);
  });

  it('is 0 for a flat window and an empty one', () => {
    expect(bollingerPosition([61000.1, 61000.1, 61000.1])).toBe(0);
    expect(bollingerPosition([])).toBe(0);
  });
});
