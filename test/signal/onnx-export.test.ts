import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../actors/feed/seeded-random.ts';
import { BAR_MS, FEATURE_COUNT, FEATURE_NAMES } from '../../actors/signal/features.ts';
import { predict, type Activation, type MlpModel } from '../../actors/signal/mlp.ts';
import { exportOnnx, ONNX_IR_VERSION, ONNX_OPSET, writeOnnx, type SignalModelInfo } from '../../actors/signal/onnx-export.ts';
import { describeFeatureMismatch, loadModelMetadata, ModelContractError, OnnxSignalModel } from '../../actors/signal/onnx-model.ts';

const dir = mkdtempSync(join(tmpdir(), 'signal-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const info: SignalModelInfo = { featureNames: FEATURE_NAMES, barMs: BAR_MS, horizonMs: 1000, trainedOn: ['none.gz'], metrics: { auc: 0.5 }, seed: 42 };

function randomModel(seed: number, activation: Activation, hiddenSize = 16): MlpModel {
  const r = new SeededRandom(seed);
  const arr = (n: number, lo: number, hi: number): Float32Array => Float32Array.from({ length: n }, () => lo + (hi - lo) * r.next());
  const F = FEATURE_COUNT;
  return { inputSize: F, hiddenSize, activation, mean: arr(F, -5, 5), std: arr(F, 0.1, 3), w1: arr(F * hiddenSize, -1, 1), b1: arr(hiddenSize, -0.5, 0.5), w2: arr(hiddenSize, -1, 1), b2: arr(1, -0.5, 0.5) };
}

function randomRows(n: number, seed: number, model: MlpModel): Float32Array[] {
  const r = new SeededRandom(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: model.inputSize }, (_, f) => model.mean[f] + 2 * model.std[f] * r.normal()));
}

const flat = (rows: Float32Array[]): Float32Array => {
  const out = new Float32Array(rows.length * rows[0].length);
  rows.forEach((r, i) => out.set(r, i * r.length));
  return out;
};

describe('ONNX export (random weights, no data needed)', () => {
  for (const activation of ['tanh', 'relu'] as const) {
    it(`onnxruntime-node computes what predict() computes, within 1e-5 (${activation}, one row and a batch)`, async () => {
      const model = randomModel(activation === 'tanh' ? 1 : 2, activation);
      const file = join(dir, `${activation}.onnx`);
      await writeOnnx(file, model, info);
      const onnx = await OnnxSignalModel.load(file);
      try {
        const rows = randomRows(33, 3, model);
        const expected = predict(model, rows);
        const batch = await onnx.run(flat(rows), rows.length);
        expect(batch.length).toBe(33);
        for (let i = 0; i < rows.length; i++) {
          expect(Math.abs(batch[i] - expected[i])).toBeLessThan(1e-5);
          const one = await onnx.run(rows[i], 1);
          expect(Math.abs(one[0] - expected[i])).toBeLessThan(1e-5);
        }
        // Overlapping runs do not share tensors.
        const both = await Promise.all([onnx.run(rows[0], 1), onnx.run(rows[1], 1)]);
        expect(Math.abs(both[0][0] - expected[0])).toBeLessThan(1e-5);
        expect(Math.abs(both[1][0] - expected[1])).toBeLessThan(1e-5);
      } finally {
        await onnx.release();
      }
    });
  }

  it('writes the graph contract and metadata: ir_version 8, opset 13, features [N, F] -> p_up [N, 1]', async () => {
    const file = join(dir, 'meta.onnx');
    await writeOnnx(file, randomModel(4, 'tanh'), info);
    const meta = await loadModelMetadata(file);
    expect(meta).toMatchObject({ featureNames: [...FEATURE_NAMES], barMs: BAR_MS, horizonMs: 1000, trainedOn: ['none.gz'], metrics: { auc: 0.5 }, seed: 42, irVersion: ONNX_IR_VERSION, opset: ONNX_OPSET });
    const onnx = await OnnxSignalModel.load(file);
    expect(onnx.session.inputNames).toEqual(['features']);
    expect(onnx.session.outputNames).toEqual(['p_up']);
    expect(onnx.session.inputMetadata[0]).toMatchObject({ type: 'float32', shape: ['N', FEATURE_COUNT] });
    await onnx.release();
  });

  it('refuses a model trained on other features, naming the difference', async () => {
    const file = join(dir, 'other.onnx');
    const names = [...FEATURE_NAMES.slice(0, -1), 'vwap_bps'];
    await writeOnnx(file, randomModel(5, 'tanh'), { ...info, featureNames: names });
    const err = await OnnxSignalModel.load(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelContractError);
    expect((err as Error).message).toMatch(/computed here but not in the model: flow_imb_5s; in the model but not computed here: vwap_bps/);
    expect(describeFeatureMismatch(['a', 'b'], ['b', 'a'])).toMatch(/same names in another order: at index 0 the model has a, this build b/);
    expect(describeFeatureMismatch(['a'], ['a'])).toBeNull();
  });

  it('refuses a model on another bar length, and a file that is not a signal model', async () => {
    const file = join(dir, 'bars.onnx');
    await writeOnnx(file, randomModel(6, 'tanh'), { ...info, barMs: 1000 });
    await expect(OnnxSignalModel.load(file)).rejects.toThrow(/features on 1000 ms bars, this build uses 100 ms bars/);
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, Buffer.from('not a model at all'));
    await expect(OnnxSignalModel.load(junk)).rejects.toThrow(ModelContractError);
  });

  it('encodes deterministically: the same model and info give the same bytes', () => {
    const a = exportOnnx(randomModel(7, 'relu'), info);
    const b = exportOnnx(randomModel(7, 'relu'), info);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(readFileSync(join(dir, 'meta.onnx')).length).toBeGreaterThan(1000);
  });

  it('refuses feature names that do not match the model width', () => {
    expect(() => exportOnnx(randomModel(8, 'tanh'), { ...info, featureNames: ['a'] })).toThrow(/1 feature names for a model of 14 inputs/);
  });
});
