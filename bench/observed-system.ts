import { trace as otel } from '@opentelemetry/api';
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ActorSystem } from '../runtime/actor-system.ts';
import { NodeMetrics } from '../runtime/metrics.ts';
import { Tracing } from '../runtime/tracing.ts';

/**
 * What the observability bench turns on in a bench node: `off` nothing; `nosdk` tracing through
 * @opentelemetry/api with no SDK registered (the API's no-op tracer; no metrics); `metrics` the
 * node's metrics alone (every message counted and timed); `on` metrics and tracing through the
 * OpenTelemetry SDK with one trace started in 100 (the product's default); `all` the same with
 * every trace sampled. Spans are recorded by the SDK and handed to a processor that drops them,
 * so exporting is not measured.
 */
export const OBS_MODES = ['off', 'nosdk', 'metrics', 'on', 'all'] as const;
export type ObsMode = (typeof OBS_MODES)[number];

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
  if (mode !== 'nosdk') system.metrics = new NodeMetrics(system, { node: system.node, cluster: 'bench', keyOf: (a) => (a.startsWith('$') ? undefined : a) });
  if (mode === 'metrics') return;
  // No provider is registered in a bench process: otel.getTracer gives the API's no-op tracer.
  const tracer = mode === 'nosdk' ? otel.getTracer('bench') : new BasicTracerProvider({ spanProcessors: [new DropSpans()] }).getTracer('bench');
  system.tracing = new Tracing({ tracer, sampleEvery: mode === 'all' ? 1 : 100, attributes: { 'rt.node': system.node } });
}

export function obsModeOf(v: unknown): ObsMode {
  if (v === undefined) return 'off';
  const mode = OBS_MODES.find((m) => m === v);
  if (mode === undefined) throw new Error(`--obs ${String(v)}: expected one of ${OBS_MODES.join(', ')}`);
  return mode;
}
