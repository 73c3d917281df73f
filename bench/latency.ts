import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** Percentiles of one latency run, in microseconds; `n` is the number of recorded samples. */
export interface LatencySummary {
  n: number;
  p50_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
}

/** Samples above this are clamped: a minute-long round trip is a hang, not a latency. */
const HIGHEST_NS = 60_000_000_000;

/**
 * A latency histogram fed in nanoseconds and read in microseconds. Recording nanoseconds keeps
 * sub-microsecond resolution at p50 (an HDR histogram stores integers) while BENCH.md figures are µs.
 */
export class LatencyHistogram {
  readonly #histogram: RecordableHistogram = createHistogram({ lowest: 1, highest: HIGHEST_NS, figures: 3 });

  /** Records the time elapsed since `start_ns` (a `process.hrtime.bigint()` reading). */
  recordSince(start_ns: bigint): void {
    this.recordNs(Number(process.hrtime.bigint() - start_ns));
  }

  recordNs(elapsed_ns: number): void {
    // The histogram rejects values < lowest; a zero reading only happens with a coarse clock.
    this.#histogram.record(Math.min(Math.max(1, Math.round(elapsed_ns)), HIGHEST_NS));
  }

  get count(): number {
    return this.#histogram.count;
  }

  percentileUs(percentile: number): number {
    return this.#histogram.percentile(percentile) / 1000;
  }

  summary(): LatencySummary {
    return {
      n: this.count,
      p50_us: this.percentileUs(50),
      p99_us: this.percentileUs(99),
      p999_us: this.percentileUs(99.9),
      max_us: this.#histogram.max / 1000,
    };
  }

  reset(): void {
    this.#histogram.reset();
  }
}
