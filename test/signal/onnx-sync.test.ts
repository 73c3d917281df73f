import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FEATURE_COUNT } from '../../actors/signal/features.ts';
import { OnnxSignalModel } from '../../actors/signal/onnx-model.ts';

const MODEL = fileURLToPath(new URL('../../actors/signal/model.onnx', import.meta.url));

describe('synchronous inference (the signal actor hot path)', () => {
  it('is available with the locked onnxruntime-node, and runNow gives what the public async run gives', async () => {
    const model = await OnnxSignalModel.load(MODEL);
    try {
      // If this fails after an onnxruntime-node upgrade, the signal falls back to the async path: say so here first.
      expect(model.syncUnavailable).toBeUndefined();
      expect(model.synchronous).toBe(true);
      for (const n of [1, 3]) {
        for (let k = 0; k < 20; k++) {
          const batch = Float32Array.from({ length: n * FEATURE_COUNT }, (_, i) => Math.sin(i * 7 + k) * 4);
          const a = model.runNow(batch, n);
          const b = await model.run(batch, n);
          expect(a.length).toBe(2 * n);
          for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(1e-6);
        }
      }
      expect(() => model.runNow(new Float32Array(3), 1)).toThrow(/runNow: batch has 3 floats, 1 rows of 14 features need 14/);
    } finally {
      await model.release();
    }
    expect(() => model.runNow(new Float32Array(FEATURE_COUNT), 1)).toThrow(/no synchronous inference here/);
  });
});
