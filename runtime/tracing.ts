// Spans through @opentelemetry/api: one per message handled whose envelope carries a sampled W3C
// trace context, a child of the span that sent it, so one tick's trace runs through every actor
// and node it crossed (the context travels in the envelope over IPC and NATS). A trace starts
// where an actor calls ctx.startTrace (the feed gateway, for one tick in `sampleEvery`).
//
// A message without a sampled context costs one field test; only sampled ones make spans. With no
// SDK registered (the API's no-op tracer) no trace starts, so none is carried: near zero.
import { context, type Span, SpanKind, type Tracer, trace as otel, TraceFlags } from '@opentelemetry/api';
import type { TraceContext } from './message.ts';

export interface TracingOptions {
  tracer?: Tracer;
  /** start a trace for one call of startTrace in this many (1: every one); default 100 */
  sampleEvery?: number;
  /** attributes on every span (node, cluster) */
  attributes?: Record<string, string>;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${flags & TraceFlags.SAMPLED ? '01' : '00'}`;
}

/** The trace id of a W3C traceparent, or undefined (for logs). */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent !== undefined && traceparent.length === 55 ? traceparent.slice(3, 35) : undefined;
}

export class Tracing {
  readonly tracer: Tracer;
  readonly sampleEvery: number;
  private readonly attributes: Record<string, string>;
  private calls = 0;

  constructor(o: TracingOptions = {}) {
    this.tracer = o.tracer ?? otel.getTracer('rt');
    this.sampleEvery = o.sampleEvery ?? 100;
    if (!Number.isInteger(this.sampleEvery) || this.sampleEvery < 1) throw new RangeError(`sampleEvery = ${o.sampleEvery}: expected an integer >= 1`);
    this.attributes = o.attributes ?? {};
  }

  /** A new trace's root span, for one call in sampleEvery; undefined for the others. */
  startRoot(name: string): { span: Span; trace: TraceContext } | undefined {
    if (++this.calls % this.sampleEvery !== 0) return undefined;
    const span = this.tracer.startSpan(name, { kind: SpanKind.PRODUCER, attributes: this.attributes, root: true });
    // No SDK registered (the API's no-op tracer), or the SDK's sampler said no: nothing to carry.
    if (!span.isRecording()) return undefined;
    return { span, trace: this.contextOf(span) };
  }

  /** The span of one message handled, child of the sender's; undefined when the context is not sampled. */
  startHandle(actor: string, type: string, parent: TraceContext): { span: Span; trace: TraceContext } | undefined {
    const m = TRACEPARENT.exec(parent.traceparent);
    if (!m || (parseInt(m[3], 16) & TraceFlags.SAMPLED) === 0) return undefined;
    const remote = otel.setSpanContext(context.active(), { traceId: m[1], spanId: m[2], traceFlags: TraceFlags.SAMPLED, isRemote: true });
    const span = this.tracer.startSpan(`${actor} ${type}`, { kind: SpanKind.CONSUMER, attributes: { ...this.attributes, 'rt.actor': actor, 'rt.message.type': type } }, remote);
    return { span, trace: this.contextOf(span, parent.tracestate) };
  }

  private contextOf(span: Span, tracestate?: string): TraceContext {
    const sc = span.spanContext();
    return { traceparent: formatTraceparent(sc.traceId, sc.spanId, sc.traceFlags), tracestate };
  }
}

/** The trace of the message being handled in this process right now (for log lines). */
export const activeTrace: { current: TraceContext | undefined } = { current: undefined };
