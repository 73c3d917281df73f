import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BookTop } from '../../actors/book/book-top.ts';
import { BAR_MS, FEATURE_COUNT, FEATURE_NAMES, FeatureState, MAX_GAP_BARS, WARMUP_BARS } from '../../actors/signal/features.ts';
import { Ema } from '../../actors/signal/indicators.ts';
import { rowsFromTops } from '../../actors/signal/train.ts';

const T0 = 1_723_161_000_000; // a bar boundary (multiple of BAR_MS)

function top(eventMs: number, mid: number, more: Partial<BookTop> = {}): BookTop {
  return {
    type: 'book-top',
    symbol: 'BTCUSDT',
    u: 0,
    bid: mid - 0.05,
    bidQty: 1,
    ask: mid + 0.05,
    askQty: 1,
    bidDepth: 5,
    askDepth: 5,
    crossed: false,
    lastTrade: mid,
    buyVolume: 0,
    sellVolume: 0,
    eventMs,
    rxMs: eventMs,
    ...more,
  };
}

const idx = (name: (typeof FEATURE_NAMES)[number]): number => FEATURE_NAMES.indexOf(name);

/** One top per bar, at the start of the bar, with these mids; returns the state and its vector. */
function feed(mids: number[], more: (i: number) => Partial<BookTop> = () => ({})): { s: FeatureState; x: Float32Array } {
  const s = new FeatureState('BTCUSDT');
  mids.forEach((m, i) => s.update(top(T0 + i * BAR_MS, m, more(i))));
  const x = new Float32Array(FEATURE_COUNT);
  s.features(x);
  return { s, x };
}

describe('FeatureState', () => {
  it('names every feature once, in the order of the vector', () => {
    expect(new Set(FEATURE_NAMES).size).toBe(FEATURE_COUNT);
    expect(FEATURE_COUNT).toBe(14);
  });

  it('computes the top-of-book features in bps of mid and as ratios (hand-computed)', () => {
    const s = new FeatureState('BTCUSDT');
    s.update(top(T0, 0, { bid: 100, ask: 100.02, bidQty: 3, askQty: 1, bidDepth: 10, askDepth: 30 }));
    const x = new Float32Array(FEATURE_COUNT);
    expect(s.features(x)).toBe(false);
    expect(s.mid).toBeCloseTo(100.01, 12);
    expect(x[idx('spread_bps')]).toBeCloseTo((0.02 / 100.01) * 1e4, 5);
    expect(x[idx('imbalance_top')]).toBeCloseTo(0.5, 7);
    expect(x[idx('imbalance_depth')]).toBeCloseTo(-0.5, 7);
    // microprice (100 * 1 + 100.02 * 3) / 4 = 100.015
    expect(x[idx('microprice_bps')]).toBeCloseTo((0.005 / 100.01) * 1e4, 5);
  });

  it('is not ready before WARMUP_BARS completed bars, and every output is finite meanwhile', () => {
    const s = new FeatureState('BTCUSDT');
    const x = new Float32Array(FEATURE_COUNT);
    expect(s.features(x)).toBe(false);
    expect(x.every(Number.isFinite)).toBe(true);
    for (let i = 0; i <= WARMUP_BARS; i++) {
      s.update(top(T0 + i * BAR_MS, 100, { bidQty: 0, askQty: 0, bidDepth: 0, askDepth: 0 }));
      expect(s.features(x)).toBe(i >= WARMUP_BARS);
      expect(x.every(Number.isFinite)).toBe(true);
    }
    expect(WARMUP_BARS).toBe(300);
  });

  it('log returns over 1 s, 5 s and 30 s and 5 s realised volatility, in bps (geometric series, 1 bps a bar)', () => {
    const mids = Array.from({ length: 400 }, (_, i) => 100 * Math.exp(i * 1e-4));
    const { x } = feed(mids);
    expect(x[idx('ret_1s_bps')]).toBeCloseTo(10, 3);
    expect(x[idx('ret_5s_bps')]).toBeCloseTo(50, 3);
    expect(x[idx('ret_30s_bps')]).toBeCloseTo(300, 2);
    expect(x[idx('rv_5s_bps')]).toBeCloseTo(Math.sqrt(50), 4);
  });

  it('RSI(14) on bar closes: 53.57 after alternating moves and one more up-move (hand-computed)', () => {
    // bars: 100, 101, 100, 101, ... (14 changes), then the newest top one up
    const mids: number[] = Array.from({ length: 15 }, (_, i) => (i % 2 === 0 ? 100 : 101));
    mids.push(mids[14] + 1);
    const { x } = feed(mids);
    expect(x[idx('rsi_14')]).toBeCloseTo((100 * 7.5) / 14, 4);
  });

  it('MACD and its signal are EMA(12) - EMA(26) of the bar closes and EMA(9) of that, in bps of mid', () => {
    const mids = Array.from({ length: 60 }, (_, i) => 100 + Math.sin(i / 5) + i * 0.01);
    const { x } = feed(mids);
    const [fast, slow, signal] = [new Ema(12), new Ema(26), new Ema(9)];
    for (const m of mids.slice(0, -1)) signal.push(fast.push(m) - slow.push(m));
    const mid = mids[mids.length - 1];
    const macd = fast.peek(mid) - slow.peek(mid);
    expect(x[idx('macd_bps')]).toBeCloseTo((macd / mid) * 1e4, 3);
    expect(x[idx('macd_signal_bps')]).toBeCloseTo((signal.peek(macd) / mid) * 1e4, 3);
  });

  it('Bollinger position over the last 20 bars: 0.8238 for closes 1..19 and a mid of 20 (hand-computed)', () => {
    const mids = Array.from({ length: 20 }, (_, i) => 100 + i + 1);
    const { x } = feed(mids);
    expect(x[idx('bollinger_pos')]).toBeCloseTo(9.5 / (2 * Math.sqrt(33.25)), 5);
  });

  it('trade flow imbalance from the aggressor volume bought and sold over 1 s and 5 s', () => {
    // 60 bars: buys 1 a bar throughout, sells 3 a bar in the last 10 bars only
    const { x } = feed(
      Array.from({ length: 60 }, () => 100),
      (i) => ({ buyVolume: i + 1, sellVolume: 3 * Math.max(0, i - 49) }),
    );
    expect(x[idx('flow_imb_1s')]).toBeCloseTo((10 - 30) / 40, 6);
    expect(x[idx('flow_imb_5s')]).toBeCloseTo((50 - 30) / 80, 6);
  });

  it('re-bases the cumulative volumes when the book resyncs and they restart from zero', () => {
    const { x } = feed(
      Array.from({ length: 60 }, () => 100),
      (i) => (i < 55 ? { buyVolume: 1000 + i, sellVolume: 500 } : { buyVolume: i - 54, sellVolume: 0 }),
    );
    // the last 10 bars: 5 buys before the restart, 5 after; nothing sold
    expect(x[idx('flow_imb_1s')]).toBeCloseTo(1, 6);
  });

  it('steps once per bar: bars with no top repeat the last close', () => {
    const s = new FeatureState('BTCUSDT');
    s.update(top(T0, 100));
    s.update(top(T0 + 50, 101)); // same bar
    expect(s.bars).toBe(0);
    s.update(top(T0 + 6 * BAR_MS + 10, 102)); // closes bar 0 and five empty bars
    expect(s.bars).toBe(6);
    expect(s.mid).toBe(102);
  });

  it('starts over after a silence longer than MAX_GAP_BARS', () => {
    const s = new FeatureState('BTCUSDT');
    for (let i = 0; i <= WARMUP_BARS; i++) s.update(top(T0 + i * BAR_MS, 100));
    expect(s.ready).toBe(true);
    s.update(top(T0 + (WARMUP_BARS + MAX_GAP_BARS + 2) * BAR_MS, 100));
    expect(s.ready).toBe(false);
    expect(s.bars).toBe(0);
    expect(s.gapResets).toBe(1);
  });

  it('rejects and counts a top of another symbol or with a price that is not a positive number', () => {
    const s = new FeatureState('BTCUSDT');
    expect(s.update(top(T0, 100, { symbol: 'ETHUSDT' }))).toBe(false);
    expect(s.update(top(T0, 100, { bid: Number.NaN }))).toBe(false);
    expect(s.update(top(T0, 100, { ask: 0 }))).toBe(false);
    expect(s.rejected).toBe(3);
    expect(s.mid).toBeNaN();
  });

  it('conflation does not change the features: any subset of tops that keeps the newest of each bar gives the same vectors (property)', () => {
    const stream = fc.array(fc.record({ dtMs: fc.integer({ min: 0, max: 250 }), dMid: fc.integer({ min: -3, max: 3 }), qty: fc.integer({ min: 0, max: 9 }), keep: fc.boolean() }), { minLength: 50, maxLength: 600 });
    fc.assert(
      fc.property(stream, (steps) => {
        let t = T0;
        let mid = 1000;
        let buy = 0;
        const tops = steps.map((st) => {
          t += st.dtMs;
          mid += st.dMid * 0.1;
          buy += st.qty;
          return top(t, mid, { bidQty: st.qty + 1, buyVolume: buy, sellVolume: buy / 2 });
        });
        const all = new FeatureState('BTCUSDT');
        const conflated = new FeatureState('BTCUSDT');
        const a = new Float32Array(FEATURE_COUNT);
        const b = new Float32Array(FEATURE_COUNT);
        tops.forEach((tp, i) => {
          const lastOfBar = i === tops.length - 1 || Math.floor(tops[i + 1].eventMs / BAR_MS) !== Math.floor(tp.eventMs / BAR_MS);
          all.update(tp);
          if (steps[i].keep || lastOfBar) conflated.update(tp);
          if (lastOfBar) {
            all.features(a);
            conflated.features(b);
            expect(Array.from(b)).toEqual(Array.from(a));
          }
        });
      }),
      { numRuns: 60 },
    );
  });
});

describe('training rows', () => {
  it('one row per completed bar after warm-up, labelled by the mid one horizon later: up = strictly higher, down = strictly lower, flat = neither', async () => {
    const rising = Array.from({ length: 400 }, (_, i) => top(T0 + i * BAR_MS, 100 + i * 0.1));
    const r = await rowsFromTops(rising, 1000);
    // rows for bars 300..389: bar 399 is still open, and bars past 389 have no mid 1 s later
    expect(r.x.length).toBe(90);
    expect(Array.from(r.up).every((v) => v === 1)).toBe(true);
    expect(Array.from(r.down).every((v) => v === 0)).toBe(true);
    expect(Array.from(r.bar)).toEqual(Array.from({ length: 90 }, (_, i) => Math.floor(T0 / BAR_MS) + 300 + i));
    const falling = await rowsFromTops(Array.from({ length: 400 }, (_, i) => top(T0 + i * BAR_MS, 200 - i * 0.1)), 1000);
    expect(Array.from(falling.up).every((v) => v === 0)).toBe(true);
    expect(Array.from(falling.down).every((v) => v === 1)).toBe(true);
    const flat = await rowsFromTops(Array.from({ length: 400 }, (_, i) => top(T0 + i * BAR_MS, 100)), 1000);
    expect(flat.x.length).toBe(90);
    expect(Array.from(flat.up).every((v) => v === 0)).toBe(true);
    expect(Array.from(flat.down).every((v) => v === 0)).toBe(true);
  });
});
