import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ActorSystem } from '../runtime/actor-system.ts';
import { NodeMetrics } from '../runtime/metrics.ts';
import { Tracing } from '../runtime/tracing.ts';

/**
 * What the observability bench turns on in a bench node: `off` nothing; `on` the node's metrics
 * (every message counted and timed) and tracing through the OpenTelemetry SDK with one trace
 * started in 100 (the product's default); `all` the same with every trace sampled. Spans are
 * recorded by the SDK and handed to a processor that drops them, so exporting is not measured.
 */
export type ObsMode = 'off' | 'on' | 'all';

class DropSpans implements SpanProcessor {
  ended = 0;
  onStart(): void {}
  onEnd(_span: ReadableSpan): void {
    this.ended++;
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export function observe(system: ActorSystem, mode: ObsMode): void {
  if (mode === 'off') return;
  system.metrics = new NodeMetrics(system, { node: system.node, cluster: 'bench', keyOf: (a) => (a.startsWith('$') ? undefined : a) });
  const provider = new BasicTracerProvider({ spanProcessors: [new DropSpans()] });
  system.tracing = new Tracing({ tracer: provider.getTracer('bench'), sampleEvery: mode === 'all' ? 1 : 100, attributes: { 'rt.node': system.node } });
}

export function obsModeOf(v: unknown): ObsMode {
  if (v === undefined) return 'off';
  if (v !== 'off' && v !== 'on' && v !== 'all') throw new Error(`--obs ${String(v)}: expected off, on or all`);
  return v;
}
