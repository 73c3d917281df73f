import { describe, expect, it } from 'vitest';
import { accuracy, auc, majorityBaseline, positiveRate } from '../../actors/signal/classification-metrics.ts';

describe('classification metrics', () => {
  it('AUC is the share of (positive, negative) pairs ranked right (hand-computed)', () => {
    // pairs: (0.35 vs 0.1) right, (0.35 vs 0.4) wrong, (0.8 vs both) right -> 3/4
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    expect(auc([0.9, 0.8, 0.1], [1, 1, 0])).toBe(1);
    expect(auc([0.1, 0.2, 0.9], [1, 1, 0])).toBe(0);
  });

  it('AUC counts a tie between a positive and a negative as half', () => {
    expect(auc([0.5, 0.5], [0, 1])).toBe(0.5);
    // positive 0.5 ties one negative (1/2) and beats the other (1): (1.5 + 2) / 4
    expect(auc([0.5, 0.5, 0.2, 0.9], [1, 0, 0, 1])).toBe(0.875);
    expect(auc([0.3, 0.3, 0.3, 0.3], [1, 0, 1, 0])).toBe(0.5);
  });

  it('AUC is NaN when one class is missing', () => {
    expect(auc([0.1, 0.2], [1, 1])).toBeNaN();
    expect(auc([], [])).toBeNaN();
  });

  it('accuracy thresholds the scores at 0.5 by default', () => {
    expect(accuracy([0.2, 0.5, 0.7, 0.4], [0, 1, 0, 0])).toBe(0.75);
    expect(accuracy([0.2, 0.5], [0, 1], 0.6)).toBe(0.5);
  });

  it("majority baseline answers the training part's majority class on the held-back labels", () => {
    expect(majorityBaseline([0, 0, 1], [1, 1, 1, 0])).toEqual({ majorityClass: 0, accuracy: 0.25 });
    expect(majorityBaseline([1, 1, 0], [1, 1, 1, 0])).toEqual({ majorityClass: 1, accuracy: 0.75 });
    expect(positiveRate([1, 0, 0, 0])).toBe(0.25);
  });

  it('refuses scores and labels of different lengths', () => {
    expect(() => auc([0.1], [0, 1])).toThrow(/1 scores but 2 labels/);
  });
});
