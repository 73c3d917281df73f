// Metrics for a binary classifier's held-back rows: accuracy, ROC AUC and the baseline a model
// has to beat (always answer the training part's majority class).

/** Share of rows where (p >= threshold) equals the label. NaN with no rows. */
export function accuracy(p: ArrayLike<number>, y: ArrayLike<number>, threshold = 0.5): number {
  sameLength(p, y);
  if (y.length === 0) return Number.NaN;
  let hit = 0;
  for (let i = 0; i < y.length; i++) if ((p[i] >= threshold ? 1 : 0) === y[i]) hit++;
  return hit / y.length;
}

/**
 * ROC AUC by ranks (Mann-Whitney U): the probability that a random positive scores above a
 * random negative, ties counted half (tied scores share their average rank). NaN when one class
 * is absent.
 */
export function auc(p: ArrayLike<number>, y: ArrayLike<number>): number {
  sameLength(p, y);
  const n = y.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[a] - p[b]);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && p[idx[j + 1]] === p[idx[i]]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (y[idx[k]] === 1) {
        positives++;
        rankSum += avgRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Share of label 1. NaN with no rows. */
export function positiveRate(y: ArrayLike<number>): number {
  if (y.length === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i];
  return s / y.length;
}

/**
 * Accuracy on `test` of always answering the majority class of `train` (what a model that learnt
 * nothing but the class balance scores). Ties go to class 0.
 */
export function majorityBaseline(train: ArrayLike<number>, test: ArrayLike<number>): { majorityClass: 0 | 1; accuracy: number } {
  const majorityClass = positiveRate(train) > 0.5 ? 1 : 0;
  const rate = positiveRate(test);
  return { majorityClass, accuracy: majorityClass === 1 ? rate : 1 - rate };
}

function sameLength(p: ArrayLike<number>, y: ArrayLike<number>): void {
  if (p.length !== y.length) throw new RangeError(`metrics: ${p.length} scores but ${y.length} labels`);
}
