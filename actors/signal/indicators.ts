// Recursive technical indicators over a series of bar closes. Each one has `push` (a bar closed:
// the value becomes part of the state) and `peek` (what the indicator would read if the bar
// still open closed at this value, without changing the state). The signal reads `peek` on the
// newest top, so a feature vector depends only on the completed bars and the newest top, never
// on how many tops the conflating mailbox let through in between.

/** Exponential moving average, alpha = 2 / (period + 1), seeded with the first value. */
export class Ema {
  readonly alpha: number;
  #value = Number.NaN;

  constructor(readonly period: number) {
    if (!Number.isInteger(period) || period < 1) throw new RangeError(`Ema period ${period}: expected an integer >= 1`);
    this.alpha = 2 / (period + 1);
  }

  /** NaN until the first push. */
  get value(): number {
    return this.#value;
  }

  push(x: number): number {
    this.#value = this.peek(x);
    return this.#value;
  }

  peek(x: number): number {
    const v = this.#value;
    return Number.isNaN(v) ? x : v + this.alpha * (x - v);
  }

  reset(): void {
    this.#value = Number.NaN;
  }
}

/**
 * Wilder's relative strength index on closes: the first average gain/loss is the simple mean of
 * the first `period` changes, then avg = (avg * (period - 1) + change) / period. A flat series
 * (no gain, no loss) reads 50, so the output is never NaN.
 */
export class Rsi {
  #prev = Number.NaN;
  #changes = 0;
  #gain = 0;
  #loss = 0;

  constructor(readonly period: number) {
    if (!Number.isInteger(period) || period < 1) throw new RangeError(`Rsi period ${period}: expected an integer >= 1`);
  }

  /** True once `period` changes (period + 1 closes) have been pushed. */
  get ready(): boolean {
    return this.#changes >= this.period;
  }

  push(close: number): number {
    if (Number.isNaN(this.#prev)) {
      this.#prev = close;
      return 50;
    }
    const [gain, loss] = this.#step(close);
    this.#gain = gain;
    this.#loss = loss;
    this.#changes++;
    this.#prev = close;
    return this.ready ? rsiOf(gain, loss) : 50;
  }

  /** The RSI if the next close were `close`; 50 while fewer than `period` changes are known. */
  peek(close: number): number {
    if (Number.isNaN(this.#prev) || this.#changes + 1 < this.period) return 50;
    const [gain, loss] = this.#step(close);
    return rsiOf(gain, loss);
  }

  reset(): void {
    this.#prev = Number.NaN;
    this.#changes = 0;
    this.#gain = 0;
    this.#loss = 0;
  }

  /** Average gain and loss after one more change (sums while still in the first `period`). */
  #step(close: number): [number, number] {
    const d = close - this.#prev;
    const up = d > 0 ? d : 0;
    const down = d < 0 ? -d : 0;
    const n = this.period;
    const k = this.#changes;
    if (k + 1 < n) return [this.#gain + up, this.#loss + down];
    if (k + 1 === n) return [(this.#gain + up) / n, (this.#loss + down) / n];
    return [(this.#gain * (n - 1) + up) / n, (this.#loss * (n - 1) + down) / n];
  }
}

function rsiOf(gain: number, loss: number): number {
  const s = gain + loss;
  return s > 0 ? (100 * gain) / s : 50;
}

/**
 * Position in the Bollinger band, (x - mean) / (2 * std), over `values` (population std).
 * 0 when the window is flat. Callers pass the window with the newest value last.
 */
export function bollingerPosition(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  const std = Math.sqrt(ss / n);
  // A spread of exactly equal closes gives ss ~ 1e-20 from rounding: treat as flat.
  return std > 1e-12 * Math.abs(mean) && std > 0 ? (values[n - 1] - mean) / (2 * std) : 0;
}
