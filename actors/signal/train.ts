// Training the signal model from recorded market data: `npm run train [-- options]`.
//
// Each file is replayed through the book (replayBookTops: every top after each applied diff),
// into the same FeatureState the signal runs live (--synthetic: the built-in synthetic market's
// symbols, through the same book code). A row is the feature vector at the close of a
// BAR_MS bar (the bar's newest top); it has two labels, from the mid at the close of the bar
// `horizon` later against the mid now: up (strictly above) and down (strictly below); an
// unchanged mid is flat, neither. The model learns P(up) and P(down). Walk-forward split, per
// file and in time order: the first 75% of a file's rows train (the last 15% of those stop the
// training early), the last 25% are held back; rows whose label window reaches into the next
// part are dropped (embargo), and nothing is shuffled across a boundary. The suggested thresholds
// are the held-back rows' 95th percentiles of p_up and p_down, so that intents are rare.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BookTop } from '../book/book-top.ts';
import { replayBookTops } from '../book/replay-tops.ts';
import { sharedDataFile } from '../feed/recorded-file.ts';
import { SYNTHETIC_DEFAULT_SYMBOLS } from '../feed/synthetic-feed.ts';
import { accuracy, auc, majorityBaseline, positiveRate } from './classification-metrics.ts';
import { decideIntent, DEFAULT_MIN_INTERVAL_MS, type DecisionRule } from './decision.ts';
import { BAR_MS, FEATURE_COUNT, FEATURE_NAMES, FeatureState } from './features.ts';
import { column, mlpToJson, predict, trainMlp, type MlpJson, type MlpModel } from './mlp.ts';
import { OUTPUT_COLUMNS, writeOnnx } from './onnx-export.ts';
import { syntheticBookTops } from './synthetic-tops.ts';

/** The recorded files the default training reads from ../shared/data/binance/. */
export const DEFAULT_DATA_FILES = ['usdm-btcusdt_20240808.gz', 'usdm-ethusdt_20240808.gz', 'spot-btcusdt_20240808.gz'] as const;
export const DEFAULT_MODEL_FILE = fileURLToPath(new URL('./model.onnx', import.meta.url));
export const DEFAULT_HORIZON_MS = 1000;
export const DEFAULT_SEED = 1;
/** Share of each file's rows (time-ordered) used for training; the rest is held back. */
export const TRAIN_FRACTION = 0.75;
/** Share of each file's training rows (its last ones) that only decide when to stop. */
export const VALIDATION_FRACTION = 0.15;
export const HIDDEN_UNITS = 16;
/** The suggested thresholds are this quantile of the held-back p_up (buy) and p_down (sell)... */
export const SUGGESTED_QUANTILE = 0.95;
/** ...rounded to this many decimals. */
export const SUGGESTED_DECIMALS = 2;
/** Market time of the synthetic market per symbol by default: as long as a recorded file. */
export const DEFAULT_SYNTHETIC_MS = 360_000;

export interface TrainOptions {
  /** recorded .gz files (default: DEFAULT_DATA_FILES found in ../shared/data/binance/) */
  files?: string[];
  /** train on the built-in synthetic market (SYNTHETIC_DEFAULT_SYMBOLS, seeded by `seed`) instead of files */
  synthetic?: boolean;
  /** synthetic market time per symbol, ms (default DEFAULT_SYNTHETIC_MS) */
  syntheticMs?: number;
  /** read at most this many lines per file (synthetic: feed events per symbol) */
  slice?: number;
  /** the ONNX file to write; the JSON goes next to it with a .json extension */
  out?: string;
  horizonMs?: number;
  seed?: number;
  log?: (line: string) => void;
}

/** Rows of one stream (one symbol), in time order. */
export interface Rows {
  symbol: string;
  tops: number;
  x: Float32Array[];
  /** 1: the mid one horizon later is strictly above the mid at the row */
  up: Uint8Array;
  /** 1: strictly below (neither up nor down: flat) */
  down: Uint8Array;
  /** the bar each row was taken at the close of (exchange time / BAR_MS) */
  bar: Float64Array;
}

export interface FileRows extends Rows {
  file: string;
}

/** One output (p_up or p_down) on held-back rows, against its own label. */
export interface SideMetrics {
  /** (p >= 0.5) equals the label */
  accuracy: number;
  auc: number;
  /** the training rows' majority label, and the accuracy of always answering it */
  majority_class: number;
  majority_accuracy: number;
}

export interface HeldBackMetrics {
  rows: number;
  up_rate: number;
  flat_rate: number;
  down_rate: number;
  up: SideMetrics;
  down: SideMetrics;
}

/** The thresholds training suggests, and what they would have done on the held-back rows. */
export interface SuggestedThresholds {
  quantile: number;
  buy_above: number;
  sell_above: number;
  /** the cooldown the intent count assumes (the signal actor's default) */
  min_interval_ms: number;
  /** market time the held-back rows span, summed over the files */
  held_back_minutes: number;
  /** decideIntent on each held-back row (one decision per bar; live decides on every conflated top) */
  intents: { buy: number; sell: number };
  intents_per_minute: number;
}

export interface TrainReport {
  features: readonly string[];
  bar_ms: number;
  horizon_ms: number;
  seed: number;
  trained_on: string[];
  slice_lines: number | null;
  split: string;
  rows: { train: number; validation: number; held_back: number };
  /** the model's output columns, in order */
  outputs: readonly string[];
  train_rates: { up: number; flat: number; down: number };
  best_epoch: number;
  held_back: HeldBackMetrics;
  per_file: Record<string, HeldBackMetrics>;
  suggested: SuggestedThresholds;
  model: MlpJson;
}

export interface TrainResult {
  out: string;
  jsonFile: string;
  model: MlpModel;
  report: TrainReport;
}

export class TrainInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainInputError';
  }
}

/** Feature rows and up/down labels from one stream of tops (one symbol, in time order). */
export async function rowsFromTops(tops: AsyncIterable<BookTop> | Iterable<BookTop>, horizonMs: number): Promise<Rows> {
  const horizonBars = horizonBarsOf(horizonMs);
  let state: FeatureState | undefined;
  const closeBars: number[] = [];
  const closeMids: number[] = [];
  const rows: { x: Float32Array; bar: number; mid: number }[] = [];
  let n = 0;
  for await (const top of tops) {
    state ??= new FeatureState(top.symbol);
    n++;
    if (!Number.isNaN(state.bar) && state.closesBar(top.eventMs)) {
      closeBars.push(state.bar);
      closeMids.push(state.mid);
      if (state.ready) {
        const x = new Float32Array(FEATURE_COUNT);
        state.features(x);
        rows.push({ x, bar: state.bar, mid: state.mid });
      }
    }
    state.update(top);
  }
  if (!state) return { symbol: '', tops: 0, x: [], up: new Uint8Array(0), down: new Uint8Array(0), bar: new Float64Array(0) };
  // The last bar is still open: its newest top is the last mid known, good for labels only.
  closeBars.push(state.bar);
  closeMids.push(state.mid);
  const lastBar = closeBars[closeBars.length - 1];
  const x: Float32Array[] = [];
  const up: number[] = [];
  const down: number[] = [];
  const bar: number[] = [];
  let j = 0;
  for (const row of rows) {
    const target = row.bar + horizonBars;
    if (target > lastBar) break;
    // Bars without a top keep the previous close.
    while (j + 1 < closeBars.length && closeBars[j + 1] <= target) j++;
    x.push(row.x);
    up.push(closeMids[j] > row.mid ? 1 : 0);
    down.push(closeMids[j] < row.mid ? 1 : 0);
    bar.push(row.bar);
  }
  return { symbol: state.symbol, tops: n, x, up: Uint8Array.from(up), down: Uint8Array.from(down), bar: Float64Array.from(bar) };
}

/** Trains, evaluates on the held-back rows, writes the ONNX model and its JSON. */
export async function train(options: TrainOptions = {}): Promise<TrainResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const horizonMs = options.horizonMs ?? DEFAULT_HORIZON_MS;
  const seed = options.seed ?? DEFAULT_SEED;
  const out = options.out ?? DEFAULT_MODEL_FILE;
  const horizonBars = horizonBarsOf(horizonMs);
  if (options.slice !== undefined && !(Number.isInteger(options.slice) && options.slice > 0)) throw new TrainInputError(`--slice ${options.slice}: expected a positive integer (lines per file)`);
  if (!Number.isSafeInteger(seed)) throw new TrainInputError(`--seed ${seed}: expected an integer`);
  const sources = options.synthetic ? syntheticSources(seed, options.syntheticMs ?? DEFAULT_SYNTHETIC_MS, options.slice) : fileSources(options.files ?? defaultFiles(), options.slice);

  const perFile: FileRows[] = [];
  for (const source of sources) {
    const started = Date.now();
    const r = await rowsFromTops(source.tops(), horizonMs);
    perFile.push({ file: source.name, ...r });
    log(`${source.name}: ${r.symbol || '?'}, ${r.tops} tops -> ${r.x.length} rows (${BAR_MS} ms bars, horizon ${horizonMs} ms), ${fmtRates(r)}, ${Date.now() - started} ms`);
  }

  const fit = newPart();
  const val = newPart();
  const test = new Map<string, Part>();
  for (const f of perFile) {
    const n = f.x.length;
    const testStart = Math.floor(n * TRAIN_FRACTION);
    const trainEnd = Math.max(0, testStart - horizonBars);
    const valStart = Math.floor(trainEnd * (1 - VALIDATION_FRACTION));
    const fitEnd = Math.max(0, valStart - horizonBars);
    appendRows(fit, f, 0, fitEnd);
    appendRows(val, f, valStart, trainEnd);
    const t = newPart();
    appendRows(t, f, testStart, n);
    if (t.x.length) test.set(f.file, t);
  }
  const allTest = newPart();
  for (const t of test.values()) appendRows(allTest, t, 0, t.x.length);
  if (fit.x.length < 10 || allTest.x.length === 0) {
    throw new TrainInputError(`too little data: ${fit.x.length} training and ${allTest.x.length} held-back rows (warm-up alone takes 30 s of a file; give more lines than --slice ${options.slice ?? 'all'})`);
  }
  log(`split per file, time-ordered: train ${fit.x.length} rows (${fmtRates(fit)}), early-stopping ${val.x.length}, held back ${allTest.x.length} (${fmtRates(allTest)}); embargo ${horizonBars} rows at each boundary`);

  const started = Date.now();
  const validation = val.x.length ? { x: val.x, y: [val.up, val.down] } : undefined;
  const { model, bestEpoch, history } = trainMlp(fit.x, [fit.up, fit.down], { hiddenSize: HIDDEN_UNITS, activation: 'tanh', seed, validation });
  const last = history[history.length - 1];
  log(`mlp ${FEATURE_COUNT}-${HIDDEN_UNITS}-${OUTPUT_COLUMNS.length} tanh, outputs ${OUTPUT_COLUMNS.join(', ')}, loss = sum of their BCEs: ${history.length} epochs, kept epoch ${bestEpoch}, train loss ${last.trainLoss.toFixed(4)}, early-stopping loss ${Number.isNaN(last.validationLoss) ? 'n/a' : last.validationLoss.toFixed(4)}, ${Date.now() - started} ms`);

  const K = OUTPUT_COLUMNS.length;
  const pOf = new Map<Part, { up: Float32Array; down: Float32Array }>();
  for (const t of [allTest, ...test.values()]) {
    const p = predict(model, t.x);
    pOf.set(t, { up: column(p, K, 0), down: column(p, K, 1) });
  }
  const side = (p: Float32Array, labels: number[], trainLabels: number[]): SideMetrics => {
    const base = majorityBaseline(trainLabels, labels);
    return { accuracy: accuracy(p, labels), auc: auc(p, labels), majority_class: base.majorityClass, majority_accuracy: base.accuracy };
  };
  const evaluate = (t: Part): HeldBackMetrics => {
    const p = pOf.get(t)!;
    const r = ratesOf(t);
    return { rows: t.x.length, up_rate: r.up, flat_rate: r.flat, down_rate: r.down, up: side(p.up, t.up, fit.up), down: side(p.down, t.down, fit.down) };
  };
  const heldBack = evaluate(allTest);
  const perFileMetrics: Record<string, HeldBackMetrics> = {};
  for (const [name, t] of test) perFileMetrics[name] = evaluate(t);
  log(`held back: ${describe(heldBack)}`);
  for (const [name, m] of Object.entries(perFileMetrics)) log(`  ${name}: ${describe(m)}`);

  // Thresholds from the held-back distribution, so the intent count below is in-sample for them.
  const pAll = pOf.get(allTest)!;
  const rule: DecisionRule = { buyAbove: suggestedThreshold(pAll.up), sellAbove: suggestedThreshold(pAll.down), minIntervalMs: DEFAULT_MIN_INTERVAL_MS };
  const intents = { buy: 0, sell: 0 };
  let minutes = 0;
  for (const t of test.values()) {
    const n = countIntents(t, pOf.get(t)!, rule);
    intents.buy += n.buy;
    intents.sell += n.sell;
    minutes += ((t.bar[t.bar.length - 1] - t.bar[0] + 1) * BAR_MS) / 60_000;
  }
  const suggested: SuggestedThresholds = {
    quantile: SUGGESTED_QUANTILE,
    buy_above: rule.buyAbove,
    sell_above: rule.sellAbove,
    min_interval_ms: rule.minIntervalMs,
    held_back_minutes: minutes,
    intents,
    intents_per_minute: (intents.buy + intents.sell) / minutes,
  };
  log(
    `suggested thresholds (held-back ${SUGGESTED_QUANTILE * 100}th percentile of p_up and of p_down, to ${SUGGESTED_DECIMALS} decimals): buy_above ${rule.buyAbove}, sell_above ${rule.sellAbove}; ` +
      `on the held-back rows ${intents.buy} buy + ${intents.sell} sell intents in ${minutes.toFixed(1)} min = ${suggested.intents_per_minute.toFixed(2)}/min (one decision per ${BAR_MS} ms bar, at most one intent per symbol per ${rule.minIntervalMs} ms)`,
  );

  const trainedOn = sources.map((s) => s.name);
  const trainRates = ratesOf(fit);
  const report: TrainReport = {
    features: FEATURE_NAMES,
    bar_ms: BAR_MS,
    horizon_ms: horizonMs,
    seed,
    trained_on: trainedOn,
    slice_lines: options.slice ?? null,
    split: `per file, time-ordered: first ${TRAIN_FRACTION * 100}% train (its last ${VALIDATION_FRACTION * 100}% for early stopping), last ${(1 - TRAIN_FRACTION) * 100}% held back; ${horizonBars}-row embargo at each boundary`,
    rows: { train: fit.x.length, validation: val.x.length, held_back: allTest.x.length },
    outputs: OUTPUT_COLUMNS,
    train_rates: trainRates,
    best_epoch: bestEpoch,
    held_back: heldBack,
    per_file: perFileMetrics,
    suggested,
    model: mlpToJson(model),
  };
  await writeOnnx(out, model, {
    featureNames: FEATURE_NAMES,
    barMs: BAR_MS,
    horizonMs,
    trainedOn,
    seed,
    metrics: {
      held_back_rows: heldBack.rows,
      up_rate: heldBack.up_rate,
      flat_rate: heldBack.flat_rate,
      down_rate: heldBack.down_rate,
      up_accuracy: heldBack.up.accuracy,
      up_auc: heldBack.up.auc,
      up_majority_accuracy: heldBack.up.majority_accuracy,
      down_accuracy: heldBack.down.accuracy,
      down_auc: heldBack.down.auc,
      down_majority_accuracy: heldBack.down.majority_accuracy,
      intents_per_minute: suggested.intents_per_minute,
    },
    suggestedBuyAbove: rule.buyAbove,
    suggestedSellAbove: rule.sellAbove,
  });
  const jsonFile = out.replace(/\.onnx$/, '') + '.json';
  await writeFile(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${out} and ${jsonFile}`);
  return { out, jsonFile, model, report };
}

const USAGE = `usage: npm run train -- [--file <recorded .gz>]... | --synthetic [--synthetic-ms <ms>]  [--slice <lines per file>] [--out <model.onnx>] [--horizon-ms <ms>] [--seed <int>]
  --file          recorded Binance file(s) (default: ${DEFAULT_DATA_FILES.join(', ')} in ../shared/data/binance/)
  --synthetic     train on the built-in synthetic market (${SYNTHETIC_DEFAULT_SYMBOLS.join(', ')}, seeded by --seed) instead
  --synthetic-ms  synthetic market time per symbol (default: ${DEFAULT_SYNTHETIC_MS})
  --slice         read only the first N lines of each file (synthetic: N feed events per symbol; default: all)
  --out           ONNX file to write; the report goes next to it as .json (default: actors/signal/model.onnx)
  --horizon-ms    label horizon, a multiple of ${BAR_MS} ms (default: ${DEFAULT_HORIZON_MS})
  --seed          init and shuffle seed (default: ${DEFAULT_SEED})`;

/** The `npm run train` command. Returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        file: { type: 'string', multiple: true },
        synthetic: { type: 'boolean' },
        'synthetic-ms': { type: 'string' },
        slice: { type: 'string' },
        out: { type: 'string' },
        'horizon-ms': { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    console.error(`train: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    await train({
      files: values.file,
      synthetic: values.synthetic,
      syntheticMs: values['synthetic-ms'] === undefined ? undefined : intFlag('--synthetic-ms', values['synthetic-ms']),
      slice: values.slice === undefined ? undefined : intFlag('--slice', values.slice),
      out: values.out,
      horizonMs: values['horizon-ms'] === undefined ? undefined : intFlag('--horizon-ms', values['horizon-ms']),
      seed: values.seed === undefined ? undefined : intFlag('--seed', values.seed),
    });
    return 0;
  } catch (e) {
    if (e instanceof TrainInputError) {
      console.error(`train: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

function intFlag(flag: string, text: string): number {
  if (!/^-?\d+$/.test(text)) throw new TrainInputError(`${flag} ${JSON.stringify(text)}: expected an integer`);
  return Number(text);
}

function horizonBarsOf(horizonMs: number): number {
  if (!Number.isInteger(horizonMs) || horizonMs < BAR_MS || horizonMs % BAR_MS !== 0) {
    throw new TrainInputError(`--horizon-ms ${horizonMs}: expected a positive multiple of the ${BAR_MS} ms bar`);
  }
  return horizonMs / BAR_MS;
}

interface TopsSource {
  /** names the source in the log, the report and the model's metadata */
  name: string;
  tops: () => AsyncIterable<BookTop>;
}

function fileSources(files: string[], slice: number | undefined): TopsSource[] {
  if (files.length === 0) throw new TrainInputError(noDataMessage());
  for (const f of files) if (!existsSync(f)) throw new TrainInputError(`--file ${f}: no such file (expected a recorded .gz, see ../shared/data/README.md)`);
  return files.map((file) => ({ name: basename(file), tops: () => replayBookTops(file, { maxLines: slice }) }));
}

function syntheticSources(seed: number, durationMs: number, slice: number | undefined): TopsSource[] {
  if (!Number.isInteger(durationMs) || durationMs <= 0) throw new TrainInputError(`--synthetic-ms ${durationMs}: expected a positive integer`);
  return SYNTHETIC_DEFAULT_SYMBOLS.map((symbol) => ({
    name: `synthetic:${symbol}:seed=${seed}:${durationMs}ms`,
    tops: () => syntheticBookTops({ symbol, seed, durationMs, maxEvents: slice }),
  }));
}

function defaultFiles(): string[] {
  return DEFAULT_DATA_FILES.map((f) => sharedDataFile(f)).filter((f): f is string => f !== undefined);
}

function noDataMessage(): string {
  return `no recorded data: training needs ${DEFAULT_DATA_FILES.join(', ')} in ../shared/data/binance/ (see ../shared/data/README.md), or --file <recorded .gz>; --synthetic trains on the built-in synthetic market instead`;
}

/** Rows of one part of the split (or of several files' same part), in time order per file. */
interface Part {
  x: Float32Array[];
  up: number[];
  down: number[];
  bar: number[];
}

function newPart(): Part {
  return { x: [], up: [], down: [], bar: [] };
}

function appendRows(to: Part, from: { x: readonly Float32Array[]; up: ArrayLike<number>; down: ArrayLike<number>; bar: ArrayLike<number> }, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    to.x.push(from.x[i]);
    to.up.push(from.up[i]);
    to.down.push(from.down[i]);
    to.bar.push(from.bar[i]);
  }
}

function ratesOf(rows: { up: ArrayLike<number>; down: ArrayLike<number> }): { up: number; flat: number; down: number } {
  const up = positiveRate(rows.up);
  const down = positiveRate(rows.down);
  return { up, flat: 1 - up - down, down };
}

/** SUGGESTED_QUANTILE of `p` (nearest rank), rounded to SUGGESTED_DECIMALS and kept inside (0, 1). */
function suggestedThreshold(p: Float32Array): number {
  const sorted = Float64Array.from(p).sort();
  const q = sorted[Math.max(0, Math.ceil(SUGGESTED_QUANTILE * sorted.length) - 1)];
  const f = 10 ** SUGGESTED_DECIMALS;
  return Math.min(f - 1, Math.max(1, Math.round(q * f))) / f;
}

/** Intents decideIntent gives on one file's rows (one symbol, time order), one decision per row. */
function countIntents(t: Part, p: { up: Float32Array; down: Float32Array }, rule: DecisionRule): { buy: number; sell: number } {
  const n = { buy: 0, sell: 0 };
  let lastIntentMs = -Infinity;
  for (let i = 0; i < t.x.length; i++) {
    const eventMs = t.bar[i] * BAR_MS;
    const d = decideIntent({ pUp: p.up[i], pDown: p.down[i], stale: false, eventMs, lastIntentMs }, rule);
    if (d.type !== 'intent') continue;
    n[d.side]++;
    lastIntentMs = eventMs;
  }
  return n;
}

function fmtPct(x: number): string {
  return Number.isNaN(x) ? 'n/a' : `${(x * 100).toFixed(1)}%`;
}

function fmtRates(rows: { up: ArrayLike<number>; down: ArrayLike<number> }): string {
  const r = ratesOf(rows);
  return `up ${fmtPct(r.up)}, flat ${fmtPct(r.flat)}, down ${fmtPct(r.down)}`;
}

function describe(m: HeldBackMetrics): string {
  const side = (name: string, s: SideMetrics): string =>
    `${name}: accuracy ${fmtPct(s.accuracy)} vs majority-class (${s.majority_class}) baseline ${fmtPct(s.majority_accuracy)}, AUC ${Number.isNaN(s.auc) ? 'n/a' : s.auc.toFixed(3)}`;
  return `${m.rows} rows (up ${fmtPct(m.up_rate)}, flat ${fmtPct(m.flat_rate)}, down ${fmtPct(m.down_rate)}); ${side('p_up', m.up)}; ${side('p_down', m.down)}`;
}
