import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../actors/feed/seeded-random.ts';
import { auc } from '../../actors/signal/classification-metrics.ts';
import { column, fitStandardizer, mlpFromJson, mlpToJson, predict, trainMlp } from '../../actors/signal/mlp.ts';

/**
 * Two features on very different scales; a noisy linear score s of both gives two labels, like
 * the signal's: up when s > 0.5, down when s < -0.5, neither in between.
 */
function toyData(n: number, seed: number): { x: Float32Array[]; y: [number[], number[]] } {
  const r = new SeededRandom(seed);
  const x: Float32Array[] = [];
  const up: number[] = [];
  const down: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = r.normal() * 1000 + 5000;
    const b = r.normal() * 0.01;
    x.push(Float32Array.of(a, b, 7));
    const s = (a - 5000) / 1000 + b / 0.01 + 0.3 * r.normal();
    up.push(s > 0.5 ? 1 : 0);
    down.push(s < -0.5 ? 1 : 0);
  }
  return { x, y: [up, down] };
}

describe('mlp', () => {
  it('standardises with the mean and std of the training rows; a constant feature gets std 1', () => {
    const { mean, std } = fitStandardizer([Float32Array.of(1, 5), Float32Array.of(3, 5)], 2);
    expect(Array.from(mean)).toEqual([2, 5]);
    expect(Array.from(std)).toEqual([1, 1]);
  });

  it('learns two noisy labels on badly scaled features with one shared hidden layer (held-back AUC > 0.95 each)', () => {
    const train = toyData(2000, 1);
    const test = toyData(500, 2);
    const { model, history } = trainMlp(train.x, train.y, { seed: 3, epochs_max: 30 });
    expect(model.outputSize).toBe(2);
    expect(history.length).toBe(30);
    expect(history[29].trainLoss).toBeLessThan(history[0].trainLoss);
    const p = predict(model, test.x);
    expect(p.length).toBe(2 * test.x.length);
    expect(auc(column(p, 2, 0), test.y[0])).toBeGreaterThan(0.95);
    expect(auc(column(p, 2, 1), test.y[1])).toBeGreaterThan(0.95);
  });

  it('predict() is row-major [rows, outputs]; column() takes one output out of it', () => {
    expect(Array.from(column([1, 2, 3, 4, 5, 6], 2, 1))).toEqual([2, 4, 6]);
    expect(() => column([1, 2, 3], 2, 0)).toThrow(/3 values of width 2 have no column 0/);
    const { x, y } = toyData(50, 8);
    const { model } = trainMlp(x, [y[0]], { epochs_max: 1 });
    expect(predict(model, x).length).toBe(50);
  });

  it('is deterministic: the same seed and rows give the same parameters, another seed others', () => {
    const { x, y } = toyData(300, 4);
    const a = trainMlp(x, y, { seed: 9, epochs_max: 5 }).model;
    const b = trainMlp(x, y, { seed: 9, epochs_max: 5 }).model;
    const c = trainMlp(x, y, { seed: 10, epochs_max: 5 }).model;
    expect(mlpToJson(a)).toEqual(mlpToJson(b));
    expect(mlpToJson(a).w1).not.toEqual(mlpToJson(c).w1);
  });

  it('stops early and keeps the epoch with the best validation loss (the sum over outputs)', () => {
    const train = toyData(400, 5);
    const val = toyData(200, 6);
    const r = trainMlp(train.x, train.y, { seed: 1, epochs_max: 200, patience: 3, validation: val, learningRate: 0.05 });
    const best = Math.min(...r.history.map((h) => h.validationLoss));
    expect(r.history.find((h) => h.epoch === r.bestEpoch)?.validationLoss).toBe(best);
    expect(r.history.length).toBeLessThan(200);
  });

  it('refuses labels that do not match the rows, naming the output', () => {
    const { x, y } = toyData(20, 9);
    expect(() => trainMlp(x, [y[0], y[1].slice(1)])).toThrow(/20 rows but 19 labels for output 1/);
    expect(() => trainMlp(x, [])).toThrow(/no label arrays/);
    expect(() => trainMlp(x, y, { validation: { x, y: [y[0]] } })).toThrow(/validation needs 2 label arrays of 20 labels/);
  });

  it('round-trips through JSON and rejects a malformed one naming the field', () => {
    const { x, y } = toyData(100, 7);
    const { model } = trainMlp(x, y, { epochs_max: 1, activation: 'relu' });
    expect(mlpToJson(mlpFromJson(mlpToJson(model)))).toEqual(mlpToJson(model));
    expect(() => mlpFromJson({ ...mlpToJson(model), b1: [1] })).toThrow(/b1 must be 16 finite numbers/);
    expect(() => mlpFromJson({ ...mlpToJson(model), w2: new Array<number>(16).fill(0) })).toThrow(/w2 must be 32 finite numbers/);
    const { outputSize: _, ...oneOutputEra } = mlpToJson(model);
    expect(() => mlpFromJson(oneOutputEra as never)).toThrow(/outputSize undefined, expected an integer >= 1/);
  });
});
