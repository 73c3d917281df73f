import { measureUndisturbed } from './cpu-interference.ts';

/**
 * Runs each contender once per round, in an order that reverses every round (a, b, c then c, b, a),
 * so a comparison is measured in the same run, alternating, as BENCH.md asks, and no contender
 * always goes first after a quiet wait. Each measurement is repeated if other processes disturbed it.
 */
export async function runAlternating<T extends { interference_pct: number }>(
  contenders: Readonly<Record<string, () => Promise<T>>>,
  rounds: number,
  onResult: (name: string, round: number, result: T) => void = () => undefined,
): Promise<Record<string, T[]>> {
  const names = Object.keys(contenders);
  const results: Record<string, T[]> = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? names : [...names].reverse();
    for (const name of order) {
      const result = await measureUndisturbed(contenders[name]);
      results[name].push(result);
      onResult(name, round, result);
    }
  }
  return results;
}
