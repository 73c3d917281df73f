// The signal's features for one symbol, updated incrementally from BookTop states.
//
// Why time bars: the signal's mailbox conflates, so live it sees only some of the tops a book
// publishes, while training replays every one. Indicators that step once per update (an EMA of
// every mid) would then differ between live and training. Here every indicator steps once per
// BAR_MS bar of exchange time (eventMs), on the bar's closing mid, and a feature vector reads the
// completed bars plus the newest top as the provisional close of the open bar. Two streams that
// agree on the last top of each bar (conflation keeps the newest) give the same vectors.
//
// Every feature is scale-free (bps of mid, ratios, 0..100), so one model serves BTC and ETH.
import type { BookTop } from '../book/book-top.ts';
import { Ema, Rsi, bollingerPosition } from './indicators.ts';

/** Bar length in exchange time, ms. Part of the model contract (written to its metadata). */
export const BAR_MS = 100;

export const FEATURE_NAMES = [
  'spread_bps',
  'imbalance_top',
  'imbalance_depth',
  'microprice_bps',
  'ret_1s_bps',
  'ret_5s_bps',
  'ret_30s_bps',
  'rv_5s_bps',
  'rsi_14',
  'macd_bps',
  'macd_signal_bps',
  'bollinger_pos',
  'flow_imb_1s',
  'flow_imb_5s',
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];
export const FEATURE_COUNT = FEATURE_NAMES.length;

const BARS_PER_S = 1000 / BAR_MS;
const RET_1S_BARS = 1 * BARS_PER_S;
const RET_5S_BARS = 5 * BARS_PER_S;
const RET_30S_BARS = 30 * BARS_PER_S;
const RV_BARS = 5 * BARS_PER_S;
const RSI_PERIOD = 14;
const MACD_FAST = 12;
const MACD_SLOW = 26;
const MACD_SIGNAL = 9;
const BOLLINGER_BARS = 20;
const FLOW_1S_BARS = 1 * BARS_PER_S;
const FLOW_5S_BARS = 5 * BARS_PER_S;

/** Completed bars needed before every feature is defined (the longest lookback). */
export const WARMUP_BARS = Math.max(RET_30S_BARS, RV_BARS, BOLLINGER_BARS, FLOW_5S_BARS, MACD_SLOW + MACD_SIGNAL, RSI_PERIOD + 1);
/** A silence longer than this (exchange time) is a broken stream, not a quiet market: start over. */
export const MAX_GAP_BARS = 60 * BARS_PER_S;
/** Completed bars kept (a power of two above the longest lookback). */
const RING_BARS = 512;

const BPS = 1e4;

/** Which bar an exchange time falls in. */
export const barOf = (eventMs: number): number => Math.floor(eventMs / BAR_MS);

/** Incremental feature state of one symbol. Pure: no clock, no I/O; the time is the tops' eventMs. */
export class FeatureState {
  // Completed bars: closing mid and cumulative aggressor volumes, in a ring indexed by bar count.
  readonly #close = new Float64Array(RING_BARS);
  readonly #buyCum = new Float64Array(RING_BARS);
  readonly #sellCum = new Float64Array(RING_BARS);
  #bars = 0;

  readonly #emaFast = new Ema(MACD_FAST);
  readonly #emaSlow = new Ema(MACD_SLOW);
  readonly #macdSignal = new Ema(MACD_SIGNAL);
  readonly #rsi = new Rsi(RSI_PERIOD);
  readonly #window = new Float64Array(BOLLINGER_BARS);

  // The open bar: its index and the newest top seen in it.
  #bar = Number.NaN;
  #mid = Number.NaN;
  #bid = 0;
  #ask = 0;
  #bidQty = 0;
  #askQty = 0;
  #bidDepth = 0;
  #askDepth = 0;
  // Aggressor volumes are cumulative since the book synced; a resync restarts them, so they are
  // re-based to stay monotone (deltas over bars stay right across a restart).
  #buy = 0;
  #sell = 0;
  #buyRaw = 0;
  #sellRaw = 0;
  #buyBase = 0;
  #sellBase = 0;

  /** Tops ignored because a price was not a positive finite number or the symbol differed. */
  rejected = 0;
  /** Times the state started over after a gap longer than MAX_GAP_BARS. */
  gapResets = 0;

  constructor(readonly symbol: string) {}

  /** True once WARMUP_BARS bars have completed: every feature then has its full lookback. */
  get ready(): boolean {
    return this.#bars >= WARMUP_BARS;
  }

  /** Completed bars since the start (or the last reset). */
  get bars(): number {
    return this.#bars;
  }

  /** Mid of the newest top (NaN before the first): a price, so not a model feature. */
  get mid(): number {
    return this.#mid;
  }

  /** Index of the open bar (NaN before the first top). */
  get bar(): number {
    return this.#bar;
  }

  /** True when a top at `eventMs` would close the open bar (training samples rows there). */
  closesBar(eventMs: number): boolean {
    return barOf(eventMs) > this.#bar;
  }

  /** Takes a top. Returns false (and counts it) when the top is unusable. */
  update(top: BookTop): boolean {
    const { bid, ask } = top;
    if (top.symbol !== this.symbol || !(bid > 0) || !(ask > 0) || !Number.isFinite(bid) || !Number.isFinite(ask)) {
      this.rejected++;
      return false;
    }
    const b = barOf(top.eventMs);
    if (Number.isNaN(this.#bar)) this.#bar = b;
    else if (b > this.#bar) {
      const closed = b - this.#bar;
      if (closed > MAX_GAP_BARS) {
        this.reset();
        this.gapResets++;
      } else {
        // The open bar closes on its newest top; bars with no top repeat that close.
        for (let i = 0; i < closed; i++) this.#closeBar();
      }
      this.#bar = b;
    }
    // A top older than the open bar (never expected) counts in the open bar: time never goes back.
    this.#mid = (bid + ask) / 2;
    this.#bid = bid;
    this.#ask = ask;
    this.#bidQty = nonNegative(top.bidQty);
    this.#askQty = nonNegative(top.askQty);
    this.#bidDepth = nonNegative(top.bidDepth);
    this.#askDepth = nonNegative(top.askDepth);
    const buy = nonNegative(top.buyVolume);
    const sell = nonNegative(top.sellVolume);
    if (buy < this.#buyRaw) this.#buyBase += this.#buyRaw;
    if (sell < this.#sellRaw) this.#sellBase += this.#sellRaw;
    this.#buyRaw = buy;
    this.#sellRaw = sell;
    this.#buy = this.#buyBase + buy;
    this.#sell = this.#sellBase + sell;
    return true;
  }

  /** Forgets everything (after a stale book or a long gap): not ready until warmed up again. */
  reset(): void {
    this.#bars = 0;
    this.#emaFast.reset();
    this.#emaSlow.reset();
    this.#macdSignal.reset();
    this.#rsi.reset();
    this.#bar = Number.NaN;
    this.#mid = Number.NaN;
    this.#buy = this.#sell = this.#buyRaw = this.#sellRaw = this.#buyBase = this.#sellBase = 0;
  }

  /**
   * Writes the feature vector (FEATURE_NAMES order) as of the newest top into `out` and returns
   * `ready`. Always finite: a feature without enough history reads 0 (RSI 50).
   */
  features(out: Float32Array): boolean {
    if (out.length !== FEATURE_COUNT) throw new RangeError(`features: out has length ${out.length}, expected ${FEATURE_COUNT}`);
    const mid = this.#mid;
    if (Number.isNaN(mid)) {
      out.fill(0);
      out[8] = 50;
      return false;
    }
    const n = this.#bars;
    const bid = this.#bid;
    const ask = this.#ask;
    const qs = this.#bidQty + this.#askQty;
    const ds = this.#bidDepth + this.#askDepth;
    out[0] = ((ask - bid) / mid) * BPS;
    out[1] = qs > 0 ? (this.#bidQty - this.#askQty) / qs : 0;
    out[2] = ds > 0 ? (this.#bidDepth - this.#askDepth) / ds : 0;
    // Microprice weighs each side's price by the other side's size.
    out[3] = qs > 0 ? (((bid * this.#askQty + ask * this.#bidQty) / qs - mid) / mid) * BPS : 0;
    out[4] = this.#logReturn(RET_1S_BARS) * BPS;
    out[5] = this.#logReturn(RET_5S_BARS) * BPS;
    out[6] = this.#logReturn(RET_30S_BARS) * BPS;
    out[7] = this.#realisedVol(RV_BARS) * BPS;
    out[8] = this.#rsi.peek(mid);
    const macd = n > 0 ? this.#emaFast.peek(mid) - this.#emaSlow.peek(mid) : 0;
    out[9] = (macd / mid) * BPS;
    out[10] = n > 0 ? (this.#macdSignal.peek(macd) / mid) * BPS : 0;
    out[11] = this.#bollinger();
    out[12] = this.#flowImbalance(FLOW_1S_BARS);
    out[13] = this.#flowImbalance(FLOW_5S_BARS);
    for (let i = 0; i < FEATURE_COUNT; i++) if (!Number.isFinite(out[i])) out[i] = i === 8 ? 50 : 0;
    return this.ready;
  }

  #closeBar(): void {
    const mid = this.#mid;
    const slot = this.#bars & (RING_BARS - 1);
    this.#close[slot] = mid;
    this.#buyCum[slot] = this.#buy;
    this.#sellCum[slot] = this.#sell;
    this.#bars++;
    this.#emaFast.push(mid);
    this.#emaSlow.push(mid);
    this.#macdSignal.push(this.#emaFast.value - this.#emaSlow.value);
    this.#rsi.push(mid);
  }

  /** Close of completed bar `i` (0 = first since reset); callers keep i within the ring. */
  #closeAt(i: number): number {
    return this.#close[i & (RING_BARS - 1)];
  }

  /** log(mid / close `k` bars before the open bar); 0 without that much history. */
  #logReturn(k: number): number {
    const n = this.#bars;
    return n >= k ? Math.log(this.#mid / this.#closeAt(n - k)) : 0;
  }

  /** Root of summed squared one-bar log returns over the last `k` bar steps (open bar included). */
  #realisedVol(k: number): number {
    const n = this.#bars;
    if (n === 0) return 0;
    const first = Math.max(0, n - k);
    let ss = 0;
    let prev = this.#closeAt(first);
    for (let i = first + 1; i <= n; i++) {
      const c = i === n ? this.#mid : this.#closeAt(i);
      const r = Math.log(c / prev);
      ss += r * r;
      prev = c;
    }
    return Math.sqrt(ss);
  }

  /** Bollinger position of the mid over the last BOLLINGER_BARS - 1 closes and the mid. */
  #bollinger(): number {
    const n = this.#bars;
    const take = Math.min(n, BOLLINGER_BARS - 1);
    const w = this.#window;
    for (let j = 0; j < take; j++) w[j] = this.#closeAt(n - take + j);
    w[take] = this.#mid;
    return bollingerPosition(w.subarray(0, take + 1));
  }

  /** (buy - sell) / (buy + sell) of the aggressor volume over the last `k` bars; 0 when none traded. */
  #flowImbalance(k: number): number {
    const n = this.#bars;
    if (n === 0) return 0;
    const from = Math.max(0, n - k) & (RING_BARS - 1);
    const buy = this.#buy - this.#buyCum[from];
    const sell = this.#sell - this.#sellCum[from];
    const s = buy + sell;
    return s > 0 ? (buy - sell) / s : 0;
  }
}

function nonNegative(x: number): number {
  return x > 0 && Number.isFinite(x) ? x : 0;
}
