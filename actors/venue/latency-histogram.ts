// A latency histogram with bounded memory: Node's HDR histogram (perf_hooks.createHistogram),
// recording microseconds with 3 significant figures from 1 us to LATENCY_MAX_MS. Values above the
// bound are recorded as the bound (and counted); negative ones (clocks of two processes that
// disagree) are counted and left out.
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

export const LATENCY_MAX_MS = 60_000;
const US_PER_MS = 1000;

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
  /** recorded as LATENCY_MAX_MS */
  overMax: number;
  /** left out: below 0 */
  negative: number;
}

export class LatencyHistogram {
  private readonly h: RecordableHistogram = createHistogram({ lowest: 1, highest: LATENCY_MAX_MS * US_PER_MS, figures: 3 });
  private overMax = 0;
  private negative = 0;

  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    if (ms < 0) {
      this.negative++;
      return;
    }
    if (ms > LATENCY_MAX_MS) {
      this.overMax++;
      ms = LATENCY_MAX_MS;
    }
    this.h.record(Math.max(1, Math.round(ms * US_PER_MS)));
  }

  summary(): LatencySummary {
    const n = this.h.count;
    const ms = (us: number): number => (n === 0 ? 0 : Math.round(us) / US_PER_MS);
    return {
      count: n,
      p50Ms: ms(this.h.percentile(50)),
      p99Ms: ms(this.h.percentile(99)),
      p999Ms: ms(this.h.percentile(99.9)),
      maxMs: ms(this.h.max),
      meanMs: n === 0 ? 0 : Math.round(this.h.mean) / US_PER_MS,
      overMax: this.overMax,
      negative: this.negative,
    };
  }

  reset(): void {
    this.h.reset();
    this.overMax = 0;
    this.negative = 0;
  }
}
