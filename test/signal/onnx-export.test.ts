import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../actors/feed/seeded-random.ts';
import { BAR_MS, FEATURE_COUNT, FEATURE_NAMES } from '../../actors/signal/features.ts';
import { predict, type Activation, type MlpModel } from '../../actors/signal/mlp.ts';
import { exportOnnx, META, ONNX_IR_VERSION, ONNX_OPSET, OUTPUT_COLUMNS, writeOnnx, type SignalModelInfo } from '../../actors/signal/onnx-export.ts';
import { describeFeatureMismatch, loadModelMetadata, ModelContractError, OnnxSignalModel } from '../../actors/signal/onnx-model.ts';
import { decodeModel, encodeModel } from '../../actors/signal/onnx-proto.ts';

const dir = mkdtempSync(join(tmpdir(), 'signal-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const info: SignalModelInfo = { featureNames: FEATURE_NAMES, barMs: BAR_MS, horizonMs: 1000, trainedOn: ['none.gz'], metrics: { up_auc: 0.5 }, seed: 42, suggestedBuyAbove: 0.41, suggestedSellAbove: 0.37 };

function randomModel(seed: number, activation: Activation, hiddenSize = 16, outputSize = 2): MlpModel {
  const r = new SeededRandom(seed);
  const arr = (n: number, lo: number, hi: number): Float32Array => Float32Array.from({ length: n }, () => lo + (hi - lo) * r.next());
  const F = FEATURE_COUNT;
  return {
    inputSize: F,
    hiddenSize,
    outputSize,
    activation,
    mean: arr(F, -5, 5),
    std: arr(F, 0.1, 3),
    w1: arr(F * hiddenSize, -1, 1),
    b1: arr(hiddenSize, -0.5, 0.5),
    w2: arr(hiddenSize * outputSize, -1, 1),
    b2: arr(outputSize, -0.5, 0.5),
  };
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
    it(`onnxruntime-node computes what predict() computes for both columns (p_up, p_down), within 1e-5 (${activation}, one row and a batch)`, async () => {
      const model = randomModel(activation === 'tanh' ? 1 : 2, activation);
      const file = join(dir, `${activation}.onnx`);
      await writeOnnx(file, model, info);
      const onnx = await OnnxSignalModel.load(file);
      try {
        const rows = randomRows(33, 3, model);
        const expected = predict(model, rows);
        expect(expected.length).toBe(66);
        expect(onnx.outputCount).toBe(2);
        const batch = await onnx.run(flat(rows), rows.length);
        expect(batch.length).toBe(66);
        for (let i = 0; i < rows.length; i++) {
          const one = await onnx.run(rows[i], 1);
          expect(one.length).toBe(2);
          for (let k = 0; k < 2; k++) {
            expect(Math.abs(batch[2 * i + k] - expected[2 * i + k])).toBeLessThan(1e-5);
            expect(Math.abs(one[k] - expected[2 * i + k])).toBeLessThan(1e-5);
          }
        }
        // The two columns are different functions of the row, not one value twice.
        expect(batch.some((v, j) => j % 2 === 0 && Math.abs(v - batch[j + 1]) > 1e-3)).toBe(true);
        // Overlapping runs do not share tensors.
        const both = await Promise.all([onnx.run(rows[0], 1), onnx.run(rows[1], 1)]);
        expect(Array.from(both[0]).map((v, k) => Math.abs(v - expected[k]) < 1e-5)).toEqual([true, true]);
        expect(Array.from(both[1]).map((v, k) => Math.abs(v - expected[2 + k]) < 1e-5)).toEqual([true, true]);
      } finally {
        await onnx.release();
      }
    });
  }

  it('writes the graph contract and metadata: ir_version 8, opset 13, features [N, F] -> p [N, 2] with columns p_up, p_down', async () => {
    const file = join(dir, 'meta.onnx');
    await writeOnnx(file, randomModel(4, 'tanh'), info);
    const meta = await loadModelMetadata(file);
    expect(meta).toMatchObject({
      featureNames: [...FEATURE_NAMES],
      barMs: BAR_MS,
      horizonMs: 1000,
      trainedOn: ['none.gz'],
      metrics: { up_auc: 0.5 },
      seed: 42,
      outputs: ['p_up', 'p_down'],
      suggestedBuyAbove: 0.41,
      suggestedSellAbove: 0.37,
      irVersion: ONNX_IR_VERSION,
      opset: ONNX_OPSET,
    });
    expect(meta.props.outputs).toBe('["p_up","p_down"]');
    expect(meta.props.label).toBe('p_up = P(mid at t + 1000 ms > mid at t); p_down = P(mid at t + 1000 ms < mid at t)');
    const onnx = await OnnxSignalModel.load(file);
    expect(onnx.session.inputNames).toEqual(['features']);
    expect(onnx.session.outputNames).toEqual(['p']);
    expect(onnx.session.inputMetadata[0]).toMatchObject({ type: 'float32', shape: ['N', FEATURE_COUNT] });
    expect(onnx.session.outputMetadata[0]).toMatchObject({ type: 'float32', shape: ['N', 2] });
    await onnx.release();
  });

  it('refuses a one-output model from before p_down (no output columns in its metadata), saying to retrain', async () => {
    // The old kind: same graph but one output unit, metadata without `outputs`.
    const bytes = exportOnnx(randomModel(9, 'tanh'), info);
    const proto = decodeModel(bytes) as { metadata_props: { key: string; value: string }[] };
    proto.metadata_props = proto.metadata_props.filter((p) => p.key !== META.outputs);
    const file = join(dir, 'one-output.onnx');
    writeFileSync(file, encodeModel(proto));
    const err = await OnnxSignalModel.load(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelContractError);
    expect((err as Error).message).toMatch(/metadata outputs missing: a one-output model \(p_up only, from before the two-sided signal\); this build reads output p with columns \[p_up, p_down\]\. Retrain it \(npm run train\)/);
  });

  it('refuses a model whose output columns are not [p_up, p_down], naming both', async () => {
    const bytes = exportOnnx(randomModel(10, 'tanh'), info);
    const proto = decodeModel(bytes) as { metadata_props: { key: string; value: string }[] };
    for (const p of proto.metadata_props) if (p.key === META.outputs) p.value = JSON.stringify(['p_down', 'p_up']);
    const file = join(dir, 'swapped.onnx');
    writeFileSync(file, encodeModel(proto));
    await expect(OnnxSignalModel.load(file)).rejects.toThrow(/metadata outputs names columns \[p_down, p_up\], this build reads output p with columns \[p_up, p_down\]/);
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

  it('refuses feature names that do not match the model width, and a model without the two outputs', () => {
    expect(() => exportOnnx(randomModel(8, 'tanh'), { ...info, featureNames: ['a'] })).toThrow(/1 feature names for a model of 14 inputs/);
    expect(() => exportOnnx(randomModel(8, 'tanh', 16, 1), info)).toThrow(/a model of 1 outputs, the signal's has 2 \(p_up, p_down\)/);
    expect(OUTPUT_COLUMNS).toEqual(['p_up', 'p_down']);
  });
});
