// Spans of a node process kept with the OpenTelemetry SDK's in-memory exporter and written to a
// file when the node stops: RT_TRACE_FILE=<prefix> makes each node write <prefix>.<node>.json (one
// JSON array of spans: trace id, span id, parent span id, name, node, start and end). For tests,
// and to look at a run's traces without a collector.
import { writeFileSync } from 'node:fs';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Tracer } from '@opentelemetry/api';

export interface CapturedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  node: string;
  startUs: number;
  endUs: number;
  attributes: Record<string, unknown>;
}

export class TraceCapture {
  private readonly exporter = new InMemorySpanExporter();
  private readonly provider: BasicTracerProvider;
  readonly tracer: Tracer;

  constructor(private readonly file: string, private readonly node: string) {
    this.provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(this.exporter)] });
    this.tracer = this.provider.getTracer('rt');
  }

  spans(): CapturedSpan[] {
    const us = (t: [number, number]): number => t[0] * 1e6 + Math.round(t[1] / 1000);
    return this.exporter.getFinishedSpans().map((s) => ({
      traceId: s.spanContext().traceId,
      spanId: s.spanContext().spanId,
      parentSpanId: s.parentSpanContext?.spanId,
      name: s.name,
      node: this.node,
      startUs: us(s.startTime),
      endUs: us(s.endTime),
      attributes: { ...s.attributes },
    }));
  }

  /** Writes the finished spans to <file>.<node>.json. */
  async stop(): Promise<void> {
    await this.provider.forceFlush();
    writeFileSync(`${this.file}.${this.node}.json`, JSON.stringify(this.spans()));
    await this.provider.shutdown();
  }
}
