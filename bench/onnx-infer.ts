import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InferenceSession } from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import { SeededRandom } from '../actors/feed/seeded-random.ts';
import { BAR_MS, FEATURE_COUNT, FEATURE_NAMES } from '../actors/signal/features.ts';
import { mlpFromJson, predict, type MlpJson, type MlpModel } from '../actors/signal/mlp.ts';
import { INPUT_NAME, OUTPUT_COLUMNS, OUTPUT_NAME, writeOnnx } from '../actors/signal/onnx-export.ts';
import { OnnxSignalModel } from '../actors/signal/onnx-model.ts';
import { LatencyHistogram } from './latency.ts';
import { isEntryScript } from './pinned-process.ts';
import type { Figure } from './report.ts';

/**
 * Latency of one signal inference: ONE feature vector [1, 14] float32 -> [p_up, p_down] through
 * OnnxSignalModel.run (onnxruntime-node, 1 intra-op and 1 inter-op thread, sequential), in this
 * process. Alternating in the same run, in blocks: the bare onnxruntime-node session.run on a
 * prepared tensor (what the wrapper costs), and the same MLP in plain TypeScript (what ONNX
 * through N-API costs against no runtime at all). Each sample is one awaited call.
 *
 *   node --import tsx bench/onnx-infer.ts [samples]
 */

export const ONNX_INFER_DEFAULTS = { samples: 100_000, warmup: 10_000, block: 10_000 } as const;

export interface OnnxInferOptions {
  /** samples per measured path (BENCH.md: >= 100,000) */
  samples?: number;
  warmup?: number;
  /** the model file (default: actors/signal/model.onnx, else a random-weights model of the same shape) */
  model?: string;
}

export interface OnnxInferResult {
  figures: Figure[];
  model: string;
}

const DEFAULT_MODEL = fileURLToPath(new URL('../actors/signal/model.onnx', import.meta.url));
const VECTORS = 1024;

export async function measureOnnxInfer(options: OnnxInferOptions = {}): Promise<OnnxInferResult> {
  const samples = options.samples ?? ONNX_INFER_DEFAULTS.samples;
  const warmup = options.warmup ?? ONNX_INFER_DEFAULTS.warmup;
  let tmp: string | undefined;
  let file = options.model ?? DEFAULT_MODEL;
  let reference: MlpModel | undefined;
  if (!existsSync(file)) {
    // A fresh clone without a trained model still measures the same graph, on random weights.
    tmp = mkdtempSync(join(tmpdir(), 'onnx-infer-'));
    file = join(tmp, 'random.onnx');
    reference = randomModel();
    await writeOnnx(file, reference, { featureNames: FEATURE_NAMES, barMs: BAR_MS, horizonMs: 1000, trainedOn: [], metrics: {}, seed: 1, suggestedBuyAbove: 0.5, suggestedSellAbove: 0.5 });
  } else {
    const json = file.replace(/\.onnx$/, '.json');
    if (existsSync(json)) reference = mlpFromJson((JSON.parse(readFileSync(json, 'utf8')) as { model: MlpJson }).model);
  }
  const model = await OnnxSignalModel.load(file);
  try {
    const rng = new SeededRandom(7);
    const vectors = Array.from({ length: VECTORS }, () => Float32Array.from({ length: FEATURE_COUNT }, () => rng.normal()));
    const ours = new LatencyHistogram();
    const asyncPath = new LatencyHistogram();
    const bare = new LatencyHistogram();
    const ts = new LatencyHistogram();
    const bareFeed = new Float32Array(FEATURE_COUNT);
    const feeds: InferenceSession.FeedsType = { [INPUT_NAME]: new Tensor('float32', bareFeed, [1, FEATURE_COUNT]) };
    const fetches = [OUTPUT_NAME];
    let sink = 0;

    // What the signal actor calls: runNow (synchronous native run) when available, else run.
    const runOurs = async (n: number, h?: LatencyHistogram): Promise<void> => {
      if (!model.synchronous) return runAsync(n, h);
      for (let i = 0; i < n; i++) {
        const x = vectors[i & (VECTORS - 1)];
        const t0 = process.hrtime.bigint();
        const p = model.runNow(x, 1);
        h?.recordSince(t0);
        sink += p[0];
      }
    };
    const runAsync = async (n: number, h?: LatencyHistogram): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const x = vectors[i & (VECTORS - 1)];
        const t0 = process.hrtime.bigint();
        const p = await model.run(x, 1);
        h?.recordSince(t0);
        sink += p[0];
      }
    };
    const runBare = async (n: number, h?: LatencyHistogram): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const t0 = process.hrtime.bigint();
        bareFeed.set(vectors[i & (VECTORS - 1)]);
        const out = await model.session.run(feeds, fetches);
        h?.recordSince(t0);
        sink += (out[OUTPUT_NAME].data as Float32Array)[0];
      }
    };
    const runTs = (n: number, h?: LatencyHistogram): void => {
      if (!reference) return;
      const one: Float32Array[] = [vectors[0]];
      for (let i = 0; i < n; i++) {
        one[0] = vectors[i & (VECTORS - 1)];
        const t0 = process.hrtime.bigint();
        sink += predict(reference, one)[0];
        h?.recordSince(t0);
      }
    };

    await runOurs(warmup);
    await runAsync(warmup);
    await runBare(warmup);
    runTs(warmup);
    for (let done = 0; done < samples; done += ONNX_INFER_DEFAULTS.block) {
      const n = Math.min(ONNX_INFER_DEFAULTS.block, samples - done);
      await runOurs(n, ours);
      await runAsync(n, asyncPath);
      await runBare(n, bare);
      runTs(n, ts);
    }
    if (!Number.isFinite(sink)) throw new Error('onnx-infer: a prediction was not finite');

    const o = ours.summary();
    const b = bare.summary();
    const where = `in-process, ${file === DEFAULT_MODEL ? 'actors/signal/model.onnx' : 'random-weights model'} (${FEATURE_COUNT}-16-${OUTPUT_COLUMNS.length} MLP), one [1, ${FEATURE_COUNT}] float32 vector a call, intra/inter-op threads 1, sequential; ${warmup} warm-up calls; blocks of ${ONNX_INFER_DEFAULTS.block} alternating with the other paths; pinning: as the calling process`;
    const figures: Figure[] = [];
    const latency = (prefix: string, s: ReturnType<LatencyHistogram['summary']>, note: string): void => {
      for (const [suffix, value] of [['p50_us', s.p50_us], ['p99_us', s.p99_us], ['p999_us', s.p999_us]] as const) {
        figures.push({ name: `${prefix}.${suffix}`, value, unit: 'us', better: 'lower', n: s.n, note });
      }
    };
    const path = model.synchronous ? 'OnnxSignalModel.runNow (synchronous native run, what the signal actor calls)' : `OnnxSignalModel.run (async: ${model.syncUnavailable})`;
    latency('onnx.infer', o, `${path}; ${where}`);
    latency('onnx_async.infer', asyncPath.summary(), `OnnxSignalModel.run (await, one setImmediate hop inside onnxruntime-node); ${where}`);
    latency('onnx_raw.infer', b, `bare onnxruntime-node InferenceSession.run (public async API), prepared tensor; ${where}`);
    figures.push({ name: 'onnx.infer.p99_ratio', value: o.p99_us / b.p99_us, unit: 'ratio', better: 'lower', n: o.n, note: `${model.synchronous ? 'runNow' : 'run'} / bare public session.run` });
    if (reference && ts.count > 0) latency('mlp_ts.predict', ts.summary(), `the same MLP in plain TypeScript (predict), no ONNX runtime; ${where}`);
    return { figures, model: file };
  } finally {
    await model.release();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

function randomModel(): MlpModel {
  const r = new SeededRandom(1);
  const arr = (n: number, scale: number): Float32Array => Float32Array.from({ length: n }, () => scale * r.normal());
  const F = FEATURE_COUNT;
  const H = 16;
  const K = OUTPUT_COLUMNS.length;
  return { inputSize: F, hiddenSize: H, outputSize: K, activation: 'tanh', mean: arr(F, 1), std: arr(F, 0).fill(1), w1: arr(F * H, 0.3), b1: arr(H, 0.1), w2: arr(H * K, 0.3), b2: arr(K, 0.1) };
}

if (isEntryScript(import.meta.url)) {
  const samples = process.argv[2] ? Number(process.argv[2]) : undefined;
  const { figures, model } = await measureOnnxInfer({ samples });
  console.log(`model ${model}`);
  for (const f of figures) console.log(`${f.name.padEnd(26)} ${String(Math.round(f.value * 1000) / 1000).padStart(10)} ${f.unit}  n=${f.n}`);
}
