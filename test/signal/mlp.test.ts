import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../actors/feed/seeded-random.ts';
import { auc } from '../../actors/signal/classification-metrics.ts';
import { fitStandardizer, mlpFromJson, mlpToJson, predict, trainMlp } from '../../actors/signal/mlp.ts';

/** Two features on very different scales; the label is a noisy linear rule of both. */
function toyData(n: number, seed: number): { x: Float32Array[]; y: number[] } {
  const r = new SeededRandom(seed);
  const x: Float32Array[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = r.normal() * 1000 + 5000;
    const b = r.normal() * 0.01;
    x.push(Float32Array.of(a, b, 7));
    y.push((a - 5000) / 1000 + b / 0.01 + 0.3 * r.normal() > 0 ? 1 : 0);
  }
  return { x, y };
}

describe('mlp', () => {
  it('standardises with the mean and std of the training rows; a constant feature gets std 1', () => {
    const { mean, std } = fitStandardizer([Float32Array.of(1, 5), Float32Array.of(3, 5)], 2);
    expect(Array.from(mean)).toEqual([2, 5]);
    expect(Array.from(std)).toEqual([1, 1]);
  });

  it('learns a noisy linear rule on badly scaled features (held-back AUC > 0.95)', () => {
    const train = toyData(2000, 1);
    const test = toyData(500, 2);
    const { model, history } = trainMlp(train.x, train.y, { seed: 3, epochs_max: 30 });
    expect(history.length).toBe(30);
    expect(history[29].trainLoss).toBeLessThan(history[0].trainLoss);
    expect(auc(predict(model, test.x), test.y)).toBeGreaterThan(0.95);
  });

  it('is deterministic: the same seed and rows give the same parameters, another seed others', () => {
    const { x, y } = toyData(300, 4);
    const a = trainMlp(x, y, { seed: 9, epochs_max: 5 }).model;
    const b = trainMlp(x, y, { seed: 9, epochs_max: 5 }).model;
    const c = trainMlp(x, y, { seed: 10, epochs_max: 5 }).model;
    expect(mlpToJson(a)).toEqual(mlpToJson(b));
    expect(mlpToJson(a).w1).not.toEqual(mlpToJson(c).w1);
  });

  it('stops early and keeps the epoch with the best validation loss', () => {
    const train = toyData(400, 5);
    const val = toyData(200, 6);
    const r = trainMlp(train.x, train.y, { seed: 1, epochs_max: 200, patience: 3, validation: val, learningRate: 0.05 });
    const best = Math.min(...r.history.map((h) => h.validationLoss));
    expect(r.history.find((h) => h.epoch === r.bestEpoch)?.validationLoss).toBe(best);
    expect(r.history.length).toBeLessThan(200);
  });

  it('round-trips through JSON and rejects a malformed one naming the field', () => {
    const { x, y } = toyData(100, 7);
    const { model } = trainMlp(x, y, { epochs_max: 1, activation: 'relu' });
    expect(mlpToJson(mlpFromJson(mlpToJson(model)))).toEqual(mlpToJson(model));
    expect(() => mlpFromJson({ ...mlpToJson(model), b1: [1] })).toThrow(/b1 must be 16 finite numbers/);
  });
});
