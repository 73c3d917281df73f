// Runs the signal's ONNX model with onnxruntime-node, after checking that the model was trained on
// the features this build computes (names, order, bar length) and gives the output columns it
// reads (p_up, p_down). onnxruntime-node does not expose a
// model's metadata_props, so they are read from the file with the same schema the exporter uses.
import { readFile } from 'node:fs/promises';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { BAR_MS, FEATURE_NAMES } from './features.ts';
import { INPUT_NAME, META, OUTPUT_COLUMNS, OUTPUT_NAME } from './onnx-export.ts';
import { decodeModel } from './onnx-proto.ts';
import { openSyncSession, type SyncSession } from './onnx-sync-session.ts';

/** What a signal model file says about itself. */
export interface ModelMetadata {
  featureNames: string[];
  barMs: number;
  horizonMs: number;
  trainedOn: string[];
  metrics: Record<string, number | string>;
  seed: number;
  /** the output's column names in order (empty: a model from before they were written) */
  outputs: string[];
  /** the thresholds training suggests (NaN when the file has none) */
  suggestedBuyAbove: number;
  suggestedSellAbove: number;
  irVersion: number;
  opset: number;
  producer: string;
  /** every metadata_props entry, as written */
  props: Record<string, string>;
}

/** The file is not a usable signal model, or not one for the features this build computes. */
export class ModelContractError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'ModelContractError';
  }
}

/** One thread, sequential: the signal runs one small vector at a time, and threads only add wake-ups. */
export const SESSION_OPTIONS: InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

export interface LoadModelOptions {
  /** the feature names the caller computes (default FEATURE_NAMES) */
  expectFeatures?: readonly string[];
  /** the caller's bar length, ms (default BAR_MS) */
  expectBarMs?: number;
  /** merged over SESSION_OPTIONS */
  session?: InferenceSession.SessionOptions;
}

/** Metadata of a model file's bytes. `file` only names it in errors. */
export function parseModelMetadata(bytes: Uint8Array, file: string): ModelMetadata {
  let model: Record<string, unknown>;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    throw new ModelContractError(file, `not an ONNX model (${(e as Error).message})`);
  }
  const props: Record<string, string> = {};
  for (const entry of (model.metadata_props ?? []) as { key?: string; value?: string }[]) {
    if (entry.key !== undefined) props[entry.key] = entry.value ?? '';
  }
  const json = (key: string, fallback: unknown): unknown => {
    const text = props[key];
    if (text === undefined) return fallback;
    try {
      return JSON.parse(text);
    } catch {
      throw new ModelContractError(file, `metadata ${key}=${JSON.stringify(text.slice(0, 80))}: expected JSON`);
    }
  };
  const featureNames = json(META.featureNames, undefined);
  if (!Array.isArray(featureNames) || !featureNames.every((n) => typeof n === 'string')) {
    throw new ModelContractError(file, `metadata ${META.featureNames} missing or not a JSON array of strings: not a signal model written by onnx-export.ts`);
  }
  const outputs = json(META.outputs, []);
  if (!Array.isArray(outputs) || !outputs.every((n) => typeof n === 'string')) {
    throw new ModelContractError(file, `metadata ${META.outputs}=${JSON.stringify(props[META.outputs])}: expected a JSON array of column names`);
  }
  const opsets = (model.opset_import ?? []) as { domain?: string; version?: number }[];
  return {
    featureNames,
    barMs: Number(props[META.barMs] ?? Number.NaN),
    horizonMs: Number(props[META.horizonMs] ?? Number.NaN),
    trainedOn: json(META.trainedOn, []) as string[],
    metrics: json(META.metrics, {}) as Record<string, number | string>,
    seed: Number(props[META.seed] ?? Number.NaN),
    outputs,
    suggestedBuyAbove: Number(props[META.suggestedBuyAbove] ?? Number.NaN),
    suggestedSellAbove: Number(props[META.suggestedSellAbove] ?? Number.NaN),
    irVersion: Number(model.ir_version ?? 0),
    opset: Number(opsets.find((o) => !o.domain)?.version ?? 0),
    producer: String(model.producer_name ?? ''),
    props,
  };
}

/** Reads a model file's metadata (feature list, horizon, training files, metrics). */
export async function loadModelMetadata(file: string): Promise<ModelMetadata> {
  return parseModelMetadata(await readFile(file), file);
}

/** Null when `actual` (the model's) equals `expected` (the code's); otherwise what differs. */
export function describeFeatureMismatch(actual: readonly string[], expected: readonly string[]): string | null {
  if (actual.length === expected.length && actual.every((n, i) => n === expected[i])) return null;
  const missing = expected.filter((n) => !actual.includes(n));
  const extra = actual.filter((n) => !expected.includes(n));
  const parts: string[] = [];
  if (missing.length) parts.push(`computed here but not in the model: ${missing.join(', ')}`);
  if (extra.length) parts.push(`in the model but not computed here: ${extra.join(', ')}`);
  if (!parts.length) {
    const i = actual.findIndex((n, k) => n !== expected[k]);
    parts.push(`same names in another order: at index ${i} the model has ${actual[i]}, this build ${expected[i]}`);
  }
  return `the model takes ${actual.length} features [${actual.join(', ')}], this build computes ${expected.length} [${expected.join(', ')}]; ${parts.join('; ')}`;
}

interface BatchSlot {
  input: Float32Array;
  feed: InferenceSession.FeedsType;
  fetch: InferenceSession.NullableOnnxValueMapType;
  output: Float32Array;
}

/** Batches kept with their tensors ready (n = 1 is the live case; a few more for batched replay). */
const SLOTS_MAX = 8;

/** A loaded signal model. Not for concurrent use from many callers: it reuses its tensors. */
export class OnnxSignalModel {
  readonly #slots = new Map<number, BatchSlot>();
  #busy = false;

  /** the synchronous native session (onnx-sync-session.ts), when usable */
  #sync: SyncSession | undefined;
  /** why there is no synchronous path, if there is none */
  readonly syncUnavailable: string | undefined;

  private constructor(
    readonly file: string,
    readonly metadata: ModelMetadata,
    readonly session: InferenceSession,
    sync: { session?: SyncSession; unavailable?: string },
  ) {
    this.#sync = sync.session;
    this.syncUnavailable = sync.unavailable;
  }

  /** True when runNow() is available: inference inside the caller's turn, no event-loop hop. */
  get synchronous(): boolean {
    return this.#sync !== undefined;
  }

  get featureCount(): number {
    return this.metadata.featureNames.length;
  }

  /** Values per row of run()'s result: OUTPUT_COLUMNS (p_up, p_down). */
  get outputCount(): number {
    return OUTPUT_COLUMNS.length;
  }

  /** Loads and checks a model file: feature names and order, bar length, output columns, input and output. */
  static async load(file: string, options: LoadModelOptions = {}): Promise<OnnxSignalModel> {
    const bytes = await readFile(file);
    const metadata = parseModelMetadata(bytes, file);
    const mismatch = describeFeatureMismatch(metadata.featureNames, options.expectFeatures ?? FEATURE_NAMES);
    if (mismatch) throw new ModelContractError(file, `${mismatch}. Retrain it (npm run train) or use a build that matches.`);
    const barMs = options.expectBarMs ?? BAR_MS;
    if (Number.isNaN(metadata.barMs)) throw new ModelContractError(file, `metadata ${META.barMs} missing: the bar length its features were computed on is unknown`);
    if (metadata.barMs !== barMs) throw new ModelContractError(file, `features on ${metadata.barMs} ms bars, this build uses ${barMs} ms bars. Retrain it (npm run train).`);
    const columns = `output ${OUTPUT_NAME} with columns [${OUTPUT_COLUMNS.join(', ')}]`;
    if (metadata.outputs.length === 0) {
      throw new ModelContractError(file, `metadata ${META.outputs} missing: a one-output model (p_up only, from before the two-sided signal); this build reads ${columns}. Retrain it (npm run train).`);
    }
    if (metadata.outputs.length !== OUTPUT_COLUMNS.length || metadata.outputs.some((n, i) => n !== OUTPUT_COLUMNS[i])) {
      throw new ModelContractError(file, `metadata ${META.outputs} names columns [${metadata.outputs.join(', ')}], this build reads ${columns}. Retrain it (npm run train).`);
    }
    const session = await InferenceSession.create(bytes, { ...SESSION_OPTIONS, ...options.session });
    if (!session.inputNames.includes(INPUT_NAME) || !session.outputNames.includes(OUTPUT_NAME)) {
      await session.release();
      throw new ModelContractError(file, `inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]: expected input ${INPUT_NAME} and output ${OUTPUT_NAME}`);
    }
    const input = session.inputMetadata[session.inputNames.indexOf(INPUT_NAME)];
    const width = input.isTensor ? input.shape[1] : undefined;
    if (width !== metadata.featureNames.length) {
      await session.release();
      throw new ModelContractError(file, `input ${INPUT_NAME} has width ${String(width)}, its metadata names ${metadata.featureNames.length} features`);
    }
    const output = session.outputMetadata[session.outputNames.indexOf(OUTPUT_NAME)];
    const outWidth = output.isTensor ? output.shape[1] : undefined;
    if (outWidth !== OUTPUT_COLUMNS.length) {
      await session.release();
      throw new ModelContractError(file, `output ${OUTPUT_NAME} has width ${String(outWidth)}, expected ${OUTPUT_COLUMNS.length} columns [${OUTPUT_COLUMNS.join(', ')}]`);
    }
    const model = new OnnxSignalModel(file, metadata, session, openSyncSession(bytes, { ...SESSION_OPTIONS, ...options.session }));
    await model.#checkSyncPath();
    return model;
  }

  /** The synchronous path must give what the public path gives, or it is not used. */
  async #checkSyncPath(): Promise<void> {
    if (!this.#sync) return;
    const F = this.featureCount;
    const probe = new Float32Array(2 * F);
    for (let i = 0; i < probe.length; i++) probe[i] = Math.sin(i + 1) * 3;
    let agree = false;
    try {
      const a = this.runNow(probe, 2);
      const b = await this.run(probe, 2);
      agree = a.every((v, i) => Math.abs(v - b[i]) <= 1e-6);
    } catch {
      agree = false;
    }
    if (!agree) {
      this.#sync.dispose();
      this.#sync = undefined;
      (this as { syncUnavailable: string | undefined }).syncUnavailable = 'the native session disagreed with InferenceSession.run on a probe input';
    }
  }

  /**
   * Like run(), synchronously (see `synchronous`): [p_up, p_down] per row, n * 2 values,
   * row-major, in a fresh array.
   */
  runNow(batch: Float32Array, n: number): Float32Array {
    if (!this.#sync) throw new Error(`${this.file}: no synchronous inference here (${this.syncUnavailable ?? 'released'}): use run()`);
    const F = this.featureCount;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`runNow: n=${n}, expected an integer >= 1`);
    if (batch.length < n * F) throw new RangeError(`runNow: batch has ${batch.length} floats, ${n} rows of ${F} features need ${n * F}`);
    const slot = this.#busy ? newSlot(n, F) : this.#slot(n, F);
    slot.input.set(n * F === batch.length ? batch : batch.subarray(0, n * F));
    this.#sync.run(slot.feed as Record<string, Tensor>, slot.fetch as Record<string, Tensor>);
    return slot.output.slice();
  }

  /**
   * [p_up, p_down] for each of `n` feature vectors laid out row by row in `batch`
   * (n * featureCount floats): n * 2 values, row-major. The result is a fresh array the caller owns.
   */
  async run(batch: Float32Array, n: number): Promise<Float32Array> {
    const F = this.featureCount;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`run: n=${n}, expected an integer >= 1`);
    if (batch.length < n * F) throw new RangeError(`run: batch has ${batch.length} floats, ${n} rows of ${F} features need ${n * F}`);
    // A second run while one is in flight gets its own tensors rather than overwrite the first's.
    const slot = this.#busy ? newSlot(n, F) : this.#slot(n, F);
    const shared = slot === this.#slots.get(n);
    slot.input.set(n * F === batch.length ? batch : batch.subarray(0, n * F));
    if (shared) this.#busy = true;
    try {
      await this.session.run(slot.feed, slot.fetch);
    } finally {
      if (shared) this.#busy = false;
    }
    return slot.output.slice();
  }

  async release(): Promise<void> {
    this.#slots.clear();
    this.#sync?.dispose();
    this.#sync = undefined;
    await this.session.release();
  }

  #slot(n: number, F: number): BatchSlot {
    let slot = this.#slots.get(n);
    if (!slot) {
      slot = newSlot(n, F);
      if (this.#slots.size < SLOTS_MAX) this.#slots.set(n, slot);
    }
    return slot;
  }
}

function newSlot(n: number, F: number): BatchSlot {
  const K = OUTPUT_COLUMNS.length;
  const input = new Float32Array(n * F);
  const output = new Float32Array(n * K);
  return {
    input,
    output,
    feed: { [INPUT_NAME]: new Tensor('float32', input, [n, F]) },
    // onnxruntime-node writes into a pre-allocated output tensor instead of allocating one per run.
    fetch: { [OUTPUT_NAME]: new Tensor('float32', output, [n, K]) },
  };
}
