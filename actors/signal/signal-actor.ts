// The signal actor: per-symbol features from the books' tops (features.ts), an ONNX model run
// by onnxruntime-node, and order intents to risk. Its mailbox conflates per symbol, so it always
// works on the newest top; inference runs one batch at a time (every symbol with a new top goes
// into the same run), and decision.ts turns each symbol's (p_up, p_down) into an intent or not (a
// symbol whose book went stale while its inference ran is not acted on).
import { fileURLToPath } from 'node:url';
import type { ActorContext, Behavior } from '../../runtime/actor.ts';
import type { KindContext } from '../../runtime/kind-registry.ts';
import type { BookStale, BookTop } from '../book/book-top.ts';
import { decideIntent, DEFAULT_MIN_INTERVAL_MS, type DecisionRule } from './decision.ts';
import { FEATURE_COUNT, FeatureState } from './features.ts';
import { META } from './onnx-export.ts';
import { OnnxSignalModel, type ModelMetadata } from './onnx-model.ts';
import type { OrderIntent } from './order-intent.ts';

export const DEFAULT_MODEL_FILE = fileURLToPath(new URL('./model.onnx', import.meta.url));

export interface SignalOptions {
  modelFile: string;
  /** where order intents go */
  intentsTo: string;
  /** buy when p_up >= buy_above and p_up > p_down; absent: the model's suggested_buy_above */
  buyAbove: number | undefined;
  /** sell when p_down >= sell_above and p_down > p_up; absent: the model's suggested_sell_above */
  sellAbove: number | undefined;
  /** intent size, in quote currency (USDT), turned into a quantity at the touch */
  orderNotional: number;
  qtyDecimals: number;
  /** at most one intent per symbol per this many ms of exchange time (default 1000) */
  minIntervalMs: number;
  /** most symbols followed (one feature state each) */
  symbolsMax: number;
}

export function signalOptions(ctx: KindContext): SignalOptions {
  const o = ctx.options as Record<string, unknown>;
  const where = `actor ${ctx.address}: options`;
  const num = (k: string, dflt: number, ok: (v: number) => boolean, what: string): number => {
    const v = o[k] ?? dflt;
    if (typeof v !== 'number' || !ok(v)) throw new TypeError(`${where}.${k}: expected ${what}, got ${JSON.stringify(v)}`);
    return v;
  };
  const probability = (k: string): number | undefined => (o[k] === undefined ? undefined : num(k, Number.NaN, (v) => v > 0 && v < 1, 'a probability in (0, 1)'));
  // The one-sided model's option: silently ignoring it would trade on the model's defaults instead.
  if (o.sell_below !== undefined) {
    throw new TypeError(`${where}.sell_below: no longer an option (the model gives p_down now); expected sell_above (sell when p_down >= sell_above and p_down > p_up), got sell_below ${JSON.stringify(o.sell_below)}`);
  }
  const modelFile = o.model ?? DEFAULT_MODEL_FILE;
  if (typeof modelFile !== 'string' || modelFile === '') throw new TypeError(`${where}.model: expected a path to an ONNX file, got ${JSON.stringify(modelFile)}`);
  const intentsTo = o.intents_to ?? 'risk';
  if (typeof intentsTo !== 'string' || intentsTo === '') throw new TypeError(`${where}.intents_to: expected an actor address, got ${JSON.stringify(intentsTo)}`);
  return {
    modelFile,
    intentsTo,
    buyAbove: probability('buy_above'),
    sellAbove: probability('sell_above'),
    orderNotional: num('order_notional', 1000, (v) => v > 0 && Number.isFinite(v), 'a positive amount of quote currency'),
    qtyDecimals: num('qty_decimals', 3, (v) => Number.isInteger(v) && v >= 0 && v <= 12, 'an integer in 0..12'),
    minIntervalMs: num('min_interval_ms', DEFAULT_MIN_INTERVAL_MS, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0'),
    symbolsMax: num('symbols_max', 256, (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1'),
  };
}

/**
 * The decision rule from the options, a threshold the options leave out taken from the model's
 * suggestion. `where` names the actor in the error when neither gives a usable threshold.
 */
export function decisionRuleFor(opts: SignalOptions, model: ModelMetadata, where: string): DecisionRule {
  const pick = (option: string, given: number | undefined, key: string, suggested: number): number => {
    if (given !== undefined) return given;
    if (suggested > 0 && suggested < 1) return suggested;
    throw new TypeError(`${where}.${option}: not set, and model ${opts.modelFile} has no usable ${key} (got ${String(suggested)}); expected a probability in (0, 1) in the option, or retrain the model (npm run train)`);
  };
  return {
    buyAbove: pick('buy_above', opts.buyAbove, META.suggestedBuyAbove, model.suggestedBuyAbove),
    sellAbove: pick('sell_above', opts.sellAbove, META.suggestedSellAbove, model.suggestedSellAbove),
    minIntervalMs: opts.minIntervalMs,
  };
}

export type SignalStatusRequest = { type: 'signal-status' };
type Inferred = { type: 'inferred'; symbols: string[]; tops: BookTop[]; p: Float32Array };
type InferFailed = { type: 'infer-failed'; error: Error };
export type SignalMsg = BookTop | BookStale | SignalStatusRequest | Inferred | InferFailed;

interface SymbolState {
  features: FeatureState;
  stale: boolean;
  /** newest top not yet run through the model */
  dirty: BookTop | undefined;
  lastIntentMs: number;
  lastPUp: number;
  lastPDown: number;
}

export interface SignalCounters {
  tops: number;
  staleNotices: number;
  crossedSkipped: number;
  notReady: number;
  batches: number;
  inferences: number;
  /** decisions dropped because the book went stale while the model ran */
  staleAtDecision: number;
  intents: { buy: number; sell: number };
  cooldownSkipped: number;
  /** intents not sent because order_notional at the touch is less than one lot */
  belowLotSkipped: number;
  unknownSymbolsRefused: number;
}

interface State {
  model: OnnxSignalModel | undefined;
  /** set with the model: the thresholds may come from its metadata */
  rule: DecisionRule | undefined;
  symbols: Map<string, SymbolState>;
  inflight: boolean;
  counters: SignalCounters;
  batch: Float32Array;
  vec: Float32Array;
}

export type SignalStatus = {
  type: 'signal-status-reply';
  model: string;
  loaded: boolean;
  /** 'sync' (native run inside the turn) or 'async' (InferenceSession.run), with why not sync */
  inference: string;
  counters: SignalCounters;
  /** the thresholds in use (undefined until the model is loaded) */
  rule: DecisionRule | undefined;
  symbols: Record<string, { ready: boolean; stale: boolean; bars: number; pUp: number; pDown: number }>;
};

/** Rounds a quantity down to the lot precision (never more than the notional asked for). */
const lot = (qty: number, decimals: number): number => {
  const f = 10 ** decimals;
  return Math.floor(qty * f) / f;
};

export const signal = (opts: SignalOptions): Behavior<SignalMsg, State> => {
  const symbolOf = (s: State, symbol: string): SymbolState | undefined => {
    let st = s.symbols.get(symbol);
    if (!st) {
      if (s.symbols.size >= opts.symbolsMax) return undefined;
      st = { features: new FeatureState(symbol), stale: true, dirty: undefined, lastIntentMs: -Infinity, lastPUp: NaN, lastPDown: NaN };
      s.symbols.set(symbol, st);
    }
    return st;
  };

  const runBatch = (s: State, ctx: ActorContext<SignalMsg>): void => {
    if (s.inflight || !s.model || !s.rule) return;
    const symbols: string[] = [];
    const tops: BookTop[] = [];
    for (const [sym, st] of s.symbols) {
      if (!st.dirty) continue;
      const top = st.dirty;
      st.dirty = undefined;
      if (st.stale) continue;
      if (!st.features.features(s.vec)) {
        s.counters.notReady++;
        continue;
      }
      if (s.batch.length < (symbols.length + 1) * FEATURE_COUNT) {
        const grown = new Float32Array(s.batch.length * 2);
        grown.set(s.batch);
        s.batch = grown;
      }
      s.batch.set(s.vec, symbols.length * FEATURE_COUNT);
      symbols.push(sym);
      tops.push(top);
    }
    if (symbols.length === 0) return;
    s.counters.batches++;
    if (s.model.synchronous) {
      // Inference inside this turn: the decision is made on exactly the top that was just read.
      decideBatch(s, ctx, s.rule, symbols, tops, s.model.runNow(s.batch, symbols.length));
      return;
    }
    s.inflight = true;
    const self = ctx.self;
    s.model.run(s.batch, symbols.length).then(
      (p) => self.tell({ type: 'inferred', symbols, tops, p }),
      (e: unknown) => self.tell({ type: 'infer-failed', error: e instanceof Error ? e : new Error(String(e)) }),
    );
  };

  /** p is row-major [p_up, p_down] per symbol (OUTPUT_COLUMNS). */
  const decideBatch = (s: State, ctx: ActorContext<SignalMsg>, rule: DecisionRule, symbols: string[], tops: BookTop[], p: Float32Array): void => {
    for (let i = 0; i < symbols.length; i++) decide(s, ctx, rule, symbols[i], tops[i], p[2 * i], p[2 * i + 1]);
  };

  const decide = (s: State, ctx: ActorContext<SignalMsg>, rule: DecisionRule, sym: string, top: BookTop, pUp: number, pDown: number): void => {
    const st = s.symbols.get(sym);
    if (!st) return;
    st.lastPUp = pUp;
    st.lastPDown = pDown;
    s.counters.inferences++;
    ctx.system.gauges.set('signal.inferences', s.counters.inferences);
    const d = decideIntent({ pUp, pDown, stale: st.stale, eventMs: top.eventMs, lastIntentMs: st.lastIntentMs }, rule);
    if (d.type === 'skip') {
      if (d.reason === 'stale-at-decision') s.counters.staleAtDecision++;
      else if (d.reason === 'cooldown') s.counters.cooldownSkipped++;
      return;
    }
    const { side } = d;
    const limitPrice = side === 'buy' ? top.ask : top.bid;
    const qty = lot(opts.orderNotional / limitPrice, opts.qtyDecimals);
    if (!(qty > 0)) {
      s.counters.belowLotSkipped++;
      return;
    }
    st.lastIntentMs = top.eventMs;
    s.counters.intents[side]++;
    ctx.system.gauges.add('signal.intents');
    ctx.tell<OrderIntent>(opts.intentsTo, {
      type: 'order-intent',
      id: `${sym}-${top.u}-${side}`,
      symbol: sym,
      side,
      qty,
      limitPrice,
      confidence: d.confidence,
      pUp,
      pDown,
      bookU: top.u,
      rxMs: top.rxMs,
    });
  };

  return {
    init(ctx) {
      // No top is handled before the model is loaded: they wait in the mailbox (conflated or
      // back-pressured by its policy), so what is decided on which top does not depend on how
      // long loading took. Without a model there is no signal: a failed load fails the actor, so
      // the supervisor (and the operator) knows.
      const loading = OnnxSignalModel.load(opts.modelFile).catch((e: unknown) => {
        throw new Error(`signal model ${opts.modelFile} could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
      });
      ctx.suspendUntil(loading, (st: State, model: OnnxSignalModel) => {
        st.model = model;
        // Throws (the actor fails) when neither the options nor the model give a threshold.
        st.rule = decisionRuleFor(opts, model.metadata, `actor ${ctx.self.address}: options`);
        return st;
      });
      return {
        model: undefined,
        rule: undefined,
        symbols: new Map(),
        inflight: false,
        counters: { tops: 0, staleNotices: 0, crossedSkipped: 0, notReady: 0, batches: 0, inferences: 0, staleAtDecision: 0, intents: { buy: 0, sell: 0 }, cooldownSkipped: 0, belowLotSkipped: 0, unknownSymbolsRefused: 0 },
        batch: new Float32Array(FEATURE_COUNT * 8),
        vec: new Float32Array(FEATURE_COUNT),
      };
    },

    receive(s, msg, ctx) {
      switch (msg.type) {
        case 'book-top': {
          s.counters.tops++;
          const st = symbolOf(s, msg.symbol);
          if (!st) {
            s.counters.unknownSymbolsRefused++;
            return s;
          }
          if (msg.crossed) {
            s.counters.crossedSkipped++;
            return s;
          }
          st.stale = false;
          st.features.update(msg);
          st.dirty = msg;
          runBatch(s, ctx);
          return s;
        }
        case 'book-stale': {
          s.counters.staleNotices++;
          const st = symbolOf(s, msg.symbol);
          if (st) {
            st.stale = true;
            st.dirty = undefined;
          }
          return s;
        }
        case 'inferred': {
          s.inflight = false;
          const rule = s.rule;
          if (!rule) return s; // never: a batch only runs once the model, and so the rule, is set
          decideBatch(s, ctx, rule, msg.symbols, msg.tops, msg.p);
          runBatch(s, ctx);
          return s;
        }
        case 'infer-failed':
          throw new Error(`signal model ${opts.modelFile}: inference failed: ${msg.error.message}`);
        case 'signal-status':
          ctx.reply<SignalStatus>(statusOf(s, opts));
          return s;
      }
    },

    stop(s) {
      return s.model?.release();
    },

    summary: (s) => statusOf(s, opts),
  };
};

function statusOf(s: State, opts: SignalOptions): SignalStatus {
  const symbols: SignalStatus['symbols'] = {};
  for (const [sym, st] of s.symbols) symbols[sym] = { ready: st.features.ready, stale: st.stale, bars: st.features.bars, pUp: st.lastPUp, pDown: st.lastPDown };
  return { type: 'signal-status-reply', model: opts.modelFile, loaded: s.model !== undefined, inference: !s.model ? 'none' : s.model.synchronous ? 'sync' : `async (${s.model.syncUnavailable ?? 'unknown'})`, rule: s.rule, counters: { ...s.counters, intents: { ...s.counters.intents } }, symbols };
}
