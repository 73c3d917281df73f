// The signal's model: standardisation + one hidden layer + one sigmoid unit per output (the signal
// uses two: P(mid rises), P(mid falls) over the horizon), trained on the sum of the outputs' binary
// cross-entropies. One network with a shared hidden layer rather than one network per output: the
// same parameter vector, forward pass and ONNX graph, only the output layer is wider.
// Trained here in TypeScript (Adam, mini-batches, L2, seeded init and shuffles: deterministic),
// exported to ONNX by onnx-export.ts; `predict` is the reference the ONNX graph must agree with.
import { SeededRandom } from '../feed/seeded-random.ts';

export type Activation = 'tanh' | 'relu';

/** Parameters as float32, laid out the way the ONNX graph takes them. */
export interface MlpModel {
  inputSize: number;
  hiddenSize: number;
  /** sigmoid output units, one per label */
  outputSize: number;
  activation: Activation;
  /** per feature, from the training part only */
  mean: Float32Array;
  /** per feature; a constant feature gets 1 (it then reads 0 after standardisation) */
  std: Float32Array;
  /** [inputSize, hiddenSize] row-major: Gemm's B without transB */
  w1: Float32Array;
  b1: Float32Array;
  /** [hiddenSize, outputSize] row-major */
  w2: Float32Array;
  /** [outputSize] */
  b2: Float32Array;
}

/** MlpModel with plain arrays, for the JSON written next to the ONNX file. */
export interface MlpJson {
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
  activation: Activation;
  mean: number[];
  std: number[];
  w1: number[];
  b1: number[];
  w2: number[];
  b2: number[];
}

export interface TrainMlpOptions {
  /** hidden units (default 16) */
  hiddenSize?: number;
  /** default 'tanh' */
  activation?: Activation;
  /** upper bound on passes over the training rows (default 60) */
  epochs_max?: number;
  /** default 64 */
  batchSize?: number;
  /** Adam step size (default 1e-3) */
  learningRate?: number;
  /** L2 penalty on the weights, not the biases (default 1e-4) */
  l2?: number;
  /** init and shuffle seed (default 1) */
  seed?: number;
  /** rows for early stopping: time-ordered, after the training rows; none = run epochs_max */
  validation?: { x: readonly Float32Array[]; y: Labels };
  /** epochs without a better validation loss before stopping (default 8) */
  patience?: number;
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  validationLoss: number;
}

/** One label array per output unit, each with one 0/1 label per row. */
export type Labels = readonly ArrayLike<number>[];

export interface TrainMlpResult {
  model: MlpModel;
  /** epoch whose weights were kept (best validation loss; the last without validation) */
  bestEpoch: number;
  history: EpochRecord[];
}

const STD_MIN = 1e-6;
const ADAM_BETA1 = 0.9;
const ADAM_BETA2 = 0.999;
const ADAM_EPS = 1e-8;

/** Per-feature mean and population std of `x` (std below 1e-6 becomes 1). */
export function fitStandardizer(x: readonly Float32Array[], inputSize: number): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(inputSize);
  const std = new Float64Array(inputSize);
  if (x.length === 0) return { mean, std: std.fill(1) };
  for (const row of x) for (let f = 0; f < inputSize; f++) mean[f] += row[f];
  for (let f = 0; f < inputSize; f++) mean[f] /= x.length;
  for (const row of x) for (let f = 0; f < inputSize; f++) std[f] += (row[f] - mean[f]) ** 2;
  for (let f = 0; f < inputSize; f++) {
    const s = Math.sqrt(std[f] / x.length);
    std[f] = s > STD_MIN ? s : 1;
  }
  return { mean, std };
}

/**
 * Trains on time-ordered rows `x`; `y[k][i]` in {0, 1} is output k's label of row i (one output
 * unit per label array). The loss is the sum of the outputs' mean BCEs. Deterministic for a seed.
 */
export function trainMlp(x: readonly Float32Array[], y: Labels, options: TrainMlpOptions = {}): TrainMlpResult {
  const H = options.hiddenSize ?? 16;
  const activation = options.activation ?? 'tanh';
  const epochsMax = options.epochs_max ?? 60;
  const batchSize = options.batchSize ?? 64;
  const lr = options.learningRate ?? 1e-3;
  const l2 = options.l2 ?? 1e-4;
  const patience = options.patience ?? 8;
  if (x.length === 0) throw new RangeError('trainMlp: no training rows');
  const K = y.length;
  if (K === 0) throw new RangeError('trainMlp: no label arrays (one per output expected)');
  for (let k = 0; k < K; k++) if (y[k].length !== x.length) throw new RangeError(`trainMlp: ${x.length} rows but ${y[k].length} labels for output ${k}`);
  const F = x[0].length;
  const rng = new SeededRandom(options.seed ?? 1);

  const { mean, std } = fitStandardizer(x, F);
  const standardize = (rows: readonly Float32Array[]): Float64Array[] =>
    rows.map((r) => {
      const z = new Float64Array(F);
      for (let f = 0; f < F; f++) z[f] = (r[f] - mean[f]) / std[f];
      return z;
    });
  const z = standardize(x);
  const zVal = options.validation ? standardize(options.validation.x) : undefined;
  const yVal = options.validation?.y;
  if (zVal && yVal && (yVal.length !== K || yVal.some((labels) => labels.length !== zVal.length))) {
    throw new RangeError(`trainMlp: validation needs ${K} label arrays of ${zVal.length} labels, like the training rows`);
  }

  // Parameters in one vector: W1 [F*H], b1 [H], W2 [H*K], b2 [K]. Glorot-uniform weights, zero biases.
  const oB1 = F * H;
  const oW2 = oB1 + H;
  const oB2 = oW2 + H * K;
  const P = oB2 + K;
  const theta = new Float64Array(P);
  const lim1 = Math.sqrt(6 / (F + H));
  const uniform = (lim: number): number => (2 * rng.next() - 1) * lim;
  for (let i = 0; i < oB1; i++) theta[i] = uniform(lim1);
  const lim2 = Math.sqrt(6 / (H + K));
  for (let i = oW2; i < oB2; i++) theta[i] = uniform(lim2);
  const isWeight = (i: number): boolean => i < oB1 || (i >= oW2 && i < oB2);

  const grad = new Float64Array(P);
  const m = new Float64Array(P);
  const v = new Float64Array(P);
  const pre = new Float64Array(H);
  const hid = new Float64Array(H);
  const logit = new Float64Array(K);
  let step = 0;

  /** Fills pre, hid and logit for one standardised row. */
  const forward = (zi: Float64Array): void => {
    for (let j = 0; j < H; j++) pre[j] = theta[oB1 + j];
    for (let f = 0; f < F; f++) {
      const zf = zi[f];
      if (zf === 0) continue;
      const row = f * H;
      for (let j = 0; j < H; j++) pre[j] += zf * theta[row + j];
    }
    for (let k = 0; k < K; k++) logit[k] = theta[oB2 + k];
    for (let j = 0; j < H; j++) {
      hid[j] = activate(activation, pre[j]);
      const row = oW2 + j * K;
      for (let k = 0; k < K; k++) logit[k] += hid[j] * theta[row + k];
    }
  };
  /** Summed BCE of the outputs for row i. */
  const rowLoss = (labels: Labels, i: number): number => {
    let s = 0;
    for (let k = 0; k < K; k++) s += bce(logit[k], labels[k][i]);
    return s;
  };
  const meanLoss = (rows: Float64Array[], labels: Labels): number => {
    let s = 0;
    for (let i = 0; i < rows.length; i++) {
      forward(rows[i]);
      s += rowLoss(labels, i);
    }
    return rows.length ? s / rows.length : Number.NaN;
  };
  const delta = new Float64Array(K);

  const order = new Uint32Array(z.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const history: EpochRecord[] = [];
  let best = { loss: Infinity, epoch: 0, theta: theta.slice() };

  for (let epoch = 1; epoch <= epochsMax; epoch++) {
    // Shuffling only reorders training rows among themselves: held-back rows never enter here.
    shuffle(order, rng);
    let lossSum = 0;
    for (let start = 0; start < order.length; start += batchSize) {
      const end = Math.min(order.length, start + batchSize);
      grad.fill(0);
      for (let r = start; r < end; r++) {
        const i = order[r];
        const zi = z[i];
        forward(zi);
        lossSum += rowLoss(y, i);
        // d(sum of BCEs)/d(logit k) = sigmoid(logit k) - label k
        for (let k = 0; k < K; k++) {
          delta[k] = sigmoid(logit[k]) - y[k][i];
          grad[oB2 + k] += delta[k];
        }
        for (let j = 0; j < H; j++) {
          const row = oW2 + j * K;
          let dh = 0;
          for (let k = 0; k < K; k++) {
            grad[row + k] += delta[k] * hid[j];
            dh += delta[k] * theta[row + k];
          }
          const dp = dh * activateDerivative(activation, pre[j], hid[j]);
          if (dp === 0) continue;
          grad[oB1 + j] += dp;
          for (let f = 0; f < F; f++) grad[f * H + j] += dp * zi[f];
        }
      }
      const n = end - start;
      step++;
      const c1 = 1 - ADAM_BETA1 ** step;
      const c2 = 1 - ADAM_BETA2 ** step;
      for (let p = 0; p < P; p++) {
        const g = grad[p] / n + (isWeight(p) ? l2 * theta[p] : 0);
        m[p] = ADAM_BETA1 * m[p] + (1 - ADAM_BETA1) * g;
        v[p] = ADAM_BETA2 * v[p] + (1 - ADAM_BETA2) * g * g;
        theta[p] -= (lr * (m[p] / c1)) / (Math.sqrt(v[p] / c2) + ADAM_EPS);
      }
    }
    const trainLoss = lossSum / z.length;
    const validationLoss = zVal && yVal ? meanLoss(zVal, yVal) : Number.NaN;
    history.push({ epoch, trainLoss, validationLoss });
    if (!zVal || zVal.length === 0) best = { loss: trainLoss, epoch, theta };
    else if (validationLoss < best.loss - 1e-6) best = { loss: validationLoss, epoch, theta: theta.slice() };
    else if (epoch - best.epoch >= patience) break;
  }

  const t = best.theta;
  const model: MlpModel = {
    inputSize: F,
    hiddenSize: H,
    outputSize: K,
    activation,
    mean: Float32Array.from(mean),
    std: Float32Array.from(std),
    w1: Float32Array.from(t.subarray(0, oB1)),
    b1: Float32Array.from(t.subarray(oB1, oW2)),
    w2: Float32Array.from(t.subarray(oW2, oB2)),
    b2: Float32Array.from(t.subarray(oB2, P)),
  };
  return { model, bestEpoch: best.epoch, history };
}

/**
 * The outputs' probabilities for each row, row-major [x.length, outputSize] (the signal's: p_up,
 * p_down), computed as the ONNX graph does (Sub, Div, Gemm, act, Gemm, Sigmoid).
 */
export function predict(model: MlpModel, x: readonly Float32Array[]): Float32Array {
  const { inputSize: F, hiddenSize: H, outputSize: K, mean, std, w1, b1, w2, b2, activation } = model;
  const out = new Float32Array(x.length * K);
  const hid = new Float64Array(H);
  for (let i = 0; i < x.length; i++) {
    const row = x[i];
    if (row.length !== F) throw new RangeError(`predict: row ${i} has ${row.length} features, the model takes ${F}`);
    for (let j = 0; j < H; j++) hid[j] = b1[j];
    for (let f = 0; f < F; f++) {
      const zf = Math.fround(Math.fround(row[f] - mean[f]) / std[f]);
      for (let j = 0; j < H; j++) hid[j] += zf * w1[f * H + j];
    }
    for (let j = 0; j < H; j++) hid[j] = activate(activation, hid[j]);
    for (let k = 0; k < K; k++) {
      let o = b2[k];
      for (let j = 0; j < H; j++) o += hid[j] * w2[j * K + k];
      out[i * K + k] = sigmoid(o);
    }
  }
  return out;
}

/** Column k of a row-major [rows, width] array (e.g. p_down out of predict()). */
export function column(values: ArrayLike<number>, width: number, k: number): Float32Array {
  if (!(k >= 0 && k < width) || values.length % width !== 0) throw new RangeError(`column: ${values.length} values of width ${width} have no column ${k}`);
  const out = new Float32Array(values.length / width);
  for (let i = 0; i < out.length; i++) out[i] = values[i * width + k];
  return out;
}

export function mlpToJson(model: MlpModel): MlpJson {
  return {
    inputSize: model.inputSize,
    hiddenSize: model.hiddenSize,
    outputSize: model.outputSize,
    activation: model.activation,
    mean: Array.from(model.mean),
    std: Array.from(model.std),
    w1: Array.from(model.w1),
    b1: Array.from(model.b1),
    w2: Array.from(model.w2),
    b2: Array.from(model.b2),
  };
}

/** Rebuilds a model from its JSON form; a wrong shape is an error naming the field. */
export function mlpFromJson(json: MlpJson): MlpModel {
  const { inputSize: F, hiddenSize: H, outputSize: K, activation } = json;
  if (!Number.isInteger(F) || F < 1) throw new RangeError(`mlp json: inputSize ${F}, expected an integer >= 1`);
  if (!Number.isInteger(H) || H < 1) throw new RangeError(`mlp json: hiddenSize ${H}, expected an integer >= 1`);
  if (!Number.isInteger(K) || K < 1) throw new RangeError(`mlp json: outputSize ${K}, expected an integer >= 1 (a model from before two-sided outputs has none: retrain it)`);
  if (activation !== 'tanh' && activation !== 'relu') throw new RangeError(`mlp json: activation ${JSON.stringify(activation)}, expected "tanh" or "relu"`);
  const arr = (name: keyof MlpJson, length: number): Float32Array => {
    const a = json[name];
    if (!Array.isArray(a) || a.length !== length || !a.every((n) => typeof n === 'number' && Number.isFinite(n))) {
      throw new RangeError(`mlp json: ${name} must be ${length} finite numbers`);
    }
    return Float32Array.from(a);
  };
  return { inputSize: F, hiddenSize: H, outputSize: K, activation, mean: arr('mean', F), std: arr('std', F), w1: arr('w1', F * H), b1: arr('b1', H), w2: arr('w2', H * K), b2: arr('b2', K) };
}

/** Fisher-Yates, in place. */
function shuffle(a: Uint32Array, rng: SeededRandom): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

export function sigmoid(o: number): number {
  if (o >= 0) return 1 / (1 + Math.exp(-o));
  const e = Math.exp(o);
  return e / (1 + e);
}

function activate(a: Activation, x: number): number {
  return a === 'tanh' ? Math.tanh(x) : x > 0 ? x : 0;
}

function activateDerivative(a: Activation, x: number, y: number): number {
  return a === 'tanh' ? 1 - y * y : x > 0 ? 1 : 0;
}

/** Binary cross-entropy from the logit, stable for large |o|. */
function bce(o: number, y: number): number {
  // log(1 + e^o) - y*o, written so it never overflows
  return Math.max(o, 0) - o * y + Math.log1p(Math.exp(-Math.abs(o)));
}
