// Training the signal model from recorded market data: `npm run train [-- options]`.
//
// Each file is replayed through the book (replayBookTops: every top after each applied diff),
// into the same FeatureState the signal runs live (--synthetic: the built-in synthetic market's
// symbols, through the same book code). A row is the feature vector at the close of a
// BAR_MS bar (the bar's newest top); its label is 1 when the mid at the close of the bar
// `horizon` later is strictly above the mid now (an unchanged mid is 0). Walk-forward split, per
// file and in time order: the first 75% of a file's rows train (the last 15% of those stop the
// training early), the last 25% are held back; rows whose label window reaches into the next
// part are dropped (embargo), and nothing is shuffled across a boundary.
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
import { BAR_MS, FEATURE_COUNT, FEATURE_NAMES, FeatureState } from './features.ts';
import { mlpToJson, predict, trainMlp, type MlpJson, type MlpModel } from './mlp.ts';
import { writeOnnx } from './onnx-export.ts';
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

/** Rows of one file, in time order. */
export interface FileRows {
  file: string;
  symbol: string;
  tops: number;
  x: Float32Array[];
  y: Uint8Array;
}

export interface HeldBackMetrics {
  rows: number;
  positive_rate: number;
  accuracy: number;
  auc: number;
  majority_class: number;
  majority_accuracy: number;
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
  train_positive_rate: number;
  best_epoch: number;
  held_back: HeldBackMetrics;
  per_file: Record<string, HeldBackMetrics>;
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

/** Feature rows and labels from one stream of tops (one symbol, in time order). */
export async function rowsFromTops(tops: AsyncIterable<BookTop> | Iterable<BookTop>, horizonMs: number): Promise<{ symbol: string; tops: number; x: Float32Array[]; y: Uint8Array }> {
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
  if (!state) return { symbol: '', tops: 0, x: [], y: new Uint8Array(0) };
  // The last bar is still open: its newest top is the last mid known, good for labels only.
  closeBars.push(state.bar);
  closeMids.push(state.mid);
  const lastBar = closeBars[closeBars.length - 1];
  const x: Float32Array[] = [];
  const y: number[] = [];
  let j = 0;
  for (const row of rows) {
    const target = row.bar + horizonBars;
    if (target > lastBar) break;
    // Bars without a top keep the previous close.
    while (j + 1 < closeBars.length && closeBars[j + 1] <= target) j++;
    x.push(row.x);
    y.push(closeMids[j] > row.mid ? 1 : 0);
  }
  return { symbol: state.symbol, tops: n, x, y: Uint8Array.from(y) };
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
    log(`${source.name}: ${r.symbol || '?'}, ${r.tops} tops -> ${r.x.length} rows (${BAR_MS} ms bars, horizon ${horizonMs} ms), ${fmtPct(positiveRate(r.y))} up, ${Date.now() - started} ms`);
  }

  const fit = { x: [] as Float32Array[], y: [] as number[] };
  const val = { x: [] as Float32Array[], y: [] as number[] };
  const test = new Map<string, { x: Float32Array[]; y: number[] }>();
  for (const f of perFile) {
    const n = f.x.length;
    const testStart = Math.floor(n * TRAIN_FRACTION);
    const trainEnd = Math.max(0, testStart - horizonBars);
    const valStart = Math.floor(trainEnd * (1 - VALIDATION_FRACTION));
    const fitEnd = Math.max(0, valStart - horizonBars);
    for (let i = 0; i < fitEnd; i++) push(fit, f.x[i], f.y[i]);
    for (let i = valStart; i < trainEnd; i++) push(val, f.x[i], f.y[i]);
    const t = { x: [] as Float32Array[], y: [] as number[] };
    for (let i = testStart; i < n; i++) push(t, f.x[i], f.y[i]);
    test.set(f.file, t);
  }
  const allTest = { x: [...test.values()].flatMap((t) => t.x), y: [...test.values()].flatMap((t) => t.y) };
  if (fit.x.length < 10 || allTest.x.length === 0) {
    throw new TrainInputError(`too little data: ${fit.x.length} training and ${allTest.x.length} held-back rows (warm-up alone takes 30 s of a file; give more lines than --slice ${options.slice ?? 'all'})`);
  }
  log(`split per file, time-ordered: train ${fit.x.length} rows (${fmtPct(positiveRate(fit.y))} up), early-stopping ${val.x.length}, held back ${allTest.x.length} (${fmtPct(positiveRate(allTest.y))} up); embargo ${horizonBars} rows at each boundary`);

  const started = Date.now();
  const { model, bestEpoch, history } = trainMlp(fit.x, fit.y, { hiddenSize: HIDDEN_UNITS, activation: 'tanh', seed, validation: val.x.length ? val : undefined });
  const last = history[history.length - 1];
  log(`mlp ${FEATURE_COUNT}-${HIDDEN_UNITS}-1 tanh: ${history.length} epochs, kept epoch ${bestEpoch}, train loss ${last.trainLoss.toFixed(4)}, early-stopping loss ${Number.isNaN(last.validationLoss) ? 'n/a' : last.validationLoss.toFixed(4)}, ${Date.now() - started} ms`);

  const evaluate = (t: { x: Float32Array[]; y: number[] }): HeldBackMetrics => {
    const p = predict(model, t.x);
    const base = majorityBaseline(fit.y, t.y);
    return { rows: t.y.length, positive_rate: positiveRate(t.y), accuracy: accuracy(p, t.y), auc: auc(p, t.y), majority_class: base.majorityClass, majority_accuracy: base.accuracy };
  };
  const heldBack = evaluate(allTest);
  const perFileMetrics: Record<string, HeldBackMetrics> = {};
  for (const [name, t] of test) if (t.y.length) perFileMetrics[name] = evaluate(t);
  log(`held back: ${describe(heldBack)}`);
  for (const [name, m] of Object.entries(perFileMetrics)) log(`  ${name}: ${describe(m)}`);

  const trainedOn = sources.map((s) => s.name);
  const report: TrainReport = {
    features: FEATURE_NAMES,
    bar_ms: BAR_MS,
    horizon_ms: horizonMs,
    seed,
    trained_on: trainedOn,
    slice_lines: options.slice ?? null,
    split: `per file, time-ordered: first ${TRAIN_FRACTION * 100}% train (its last ${VALIDATION_FRACTION * 100}% for early stopping), last ${(1 - TRAIN_FRACTION) * 100}% held back; ${horizonBars}-row embargo at each boundary`,
    rows: { train: fit.x.length, validation: val.x.length, held_back: allTest.x.length },
    train_positive_rate: positiveRate(fit.y),
    best_epoch: bestEpoch,
    held_back: heldBack,
    per_file: perFileMetrics,
    model: mlpToJson(model),
  };
  await writeOnnx(out, model, {
    featureNames: FEATURE_NAMES,
    barMs: BAR_MS,
    horizonMs,
    trainedOn,
    seed,
    metrics: { held_back_rows: heldBack.rows, accuracy: heldBack.accuracy, auc: heldBack.auc, majority_accuracy: heldBack.majority_accuracy, positive_rate: heldBack.positive_rate },
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

function push(set: { x: Float32Array[]; y: number[] }, x: Float32Array, y: number): void {
  set.x.push(x);
  set.y.push(y);
}

function fmtPct(x: number): string {
  return Number.isNaN(x) ? 'n/a' : `${(x * 100).toFixed(1)}%`;
}

function describe(m: HeldBackMetrics): string {
  return `${m.rows} rows, ${fmtPct(m.positive_rate)} up; accuracy ${fmtPct(m.accuracy)} vs majority-class (${m.majority_class}) baseline ${fmtPct(m.majority_accuracy)}; AUC ${Number.isNaN(m.auc) ? 'n/a' : m.auc.toFixed(3)}`;
}
