// Writes the signal's MLP as an ONNX model, encoded with protobufjs from onnx.proto:
//   features [N, F] -> Sub(mean) -> Div(std) -> Gemm(W1, b1) -> Tanh|Relu -> Gemm(W2, b2) -> Sigmoid -> p [N, 2]
// p's columns are OUTPUT_COLUMNS (p_up, p_down). The metadata carries the contract onnx-model.ts
// checks (feature names, bar length, output columns) and the horizon, metrics and thresholds.
import { writeFile } from 'node:fs/promises';
import type { MlpModel } from './mlp.ts';
import { encodeModel, ONNX_FLOAT } from './onnx-proto.ts';

export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 13;
export const INPUT_NAME = 'features';
export const OUTPUT_NAME = 'p';
/** The columns of the output, in order: P(mid at t + h > mid at t), P(mid at t + h < mid at t). */
export const OUTPUT_COLUMNS = ['p_up', 'p_down'] as const;
export const PRODUCER_NAME = 'rt-trading/actors/signal';

/** Metadata keys written to ModelProto.metadata_props. */
export const META = {
  featureNames: 'feature_names',
  barMs: 'bar_ms',
  horizonMs: 'horizon_ms',
  trainedOn: 'trained_on',
  metrics: 'metrics',
  seed: 'seed',
  label: 'label',
  outputs: 'outputs',
  suggestedBuyAbove: 'suggested_buy_above',
  suggestedSellAbove: 'suggested_sell_above',
} as const;

export interface SignalModelInfo {
  featureNames: readonly string[];
  /** bar length of the features, ms */
  barMs: number;
  /** the label's horizon, ms */
  horizonMs: number;
  /** data files the model was trained on (base names) */
  trainedOn: readonly string[];
  /** held-back metrics, written as JSON */
  metrics: Record<string, number | string>;
  seed: number;
  /** thresholds the signal actor uses when its options name none (rare intents on held-back rows) */
  suggestedBuyAbove: number;
  suggestedSellAbove: number;
}

/** The ONNX file's bytes for `model` (outputs in OUTPUT_COLUMNS order), with `info` in its metadata. */
export function exportOnnx(model: MlpModel, info: SignalModelInfo): Uint8Array {
  const { inputSize: F, hiddenSize: H, outputSize: K } = model;
  if (info.featureNames.length !== F) {
    throw new RangeError(`exportOnnx: ${info.featureNames.length} feature names for a model of ${F} inputs`);
  }
  if (K !== OUTPUT_COLUMNS.length) throw new RangeError(`exportOnnx: a model of ${K} outputs, the signal's has ${OUTPUT_COLUMNS.length} (${OUTPUT_COLUMNS.join(', ')})`);
  const act = model.activation === 'tanh' ? 'Tanh' : 'Relu';
  const node = (op_type: string, input: string[], output: string): Record<string, unknown> => ({ op_type, input, output: [output], name: `${op_type.toLowerCase()}_${output}` });
  const graph = {
    name: 'signal_mlp',
    node: [
      node('Sub', [INPUT_NAME, 'mean'], 'centred'),
      node('Div', ['centred', 'std'], 'standardised'),
      node('Gemm', ['standardised', 'w1', 'b1'], 'hidden_pre'),
      node(act, ['hidden_pre'], 'hidden'),
      node('Gemm', ['hidden', 'w2', 'b2'], 'logit'),
      node('Sigmoid', ['logit'], OUTPUT_NAME),
    ],
    initializer: [
      floatTensor('mean', [F], model.mean),
      floatTensor('std', [F], model.std),
      floatTensor('w1', [F, H], model.w1),
      floatTensor('b1', [H], model.b1),
      floatTensor('w2', [H, K], model.w2),
      floatTensor('b2', [K], model.b2),
    ],
    input: [valueInfo(INPUT_NAME, ['N', F])],
    output: [valueInfo(OUTPUT_NAME, ['N', K])],
  };
  const metadata: Record<string, string> = {
    [META.featureNames]: JSON.stringify(info.featureNames),
    [META.barMs]: String(info.barMs),
    [META.horizonMs]: String(info.horizonMs),
    [META.trainedOn]: JSON.stringify(info.trainedOn),
    [META.metrics]: JSON.stringify(info.metrics),
    [META.seed]: String(info.seed),
    [META.label]: `p_up = P(mid at t + ${info.horizonMs} ms > mid at t); p_down = P(mid at t + ${info.horizonMs} ms < mid at t)`,
    [META.outputs]: JSON.stringify(OUTPUT_COLUMNS),
    [META.suggestedBuyAbove]: String(info.suggestedBuyAbove),
    [META.suggestedSellAbove]: String(info.suggestedSellAbove),
  };
  return encodeModel({
    ir_version: ONNX_IR_VERSION,
    opset_import: [{ domain: '', version: ONNX_OPSET }],
    producer_name: PRODUCER_NAME,
    producer_version: '1',
    doc_string: 'P(mid rises), P(mid falls) over the horizon from the signal features; trained by actors/signal/train.ts',
    graph,
    metadata_props: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
}

export async function writeOnnx(file: string, model: MlpModel, info: SignalModelInfo): Promise<void> {
  await writeFile(file, exportOnnx(model, info));
}

function floatTensor(name: string, dims: number[], data: Float32Array): Record<string, unknown> {
  const size = dims.reduce((a, b) => a * b, 1);
  if (data.length !== size) throw new RangeError(`exportOnnx: tensor ${name} has ${data.length} values, expected ${size} for [${dims.join(', ')}]`);
  // raw_data is little-endian whatever the host (the ONNX spec says so).
  const raw = new Uint8Array(size * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < size; i++) view.setFloat32(i * 4, data[i], true);
  return { name, dims, data_type: ONNX_FLOAT, raw_data: raw };
}

function valueInfo(name: string, shape: (number | string)[]): Record<string, unknown> {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: ONNX_FLOAT,
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}
