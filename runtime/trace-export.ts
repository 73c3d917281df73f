// Where a node's spans go, chosen by its environment, as OpenTelemetry's own SDKs choose it:
//   RT_TRACE_FILE=<prefix>          kept in memory, written to <prefix>.<node>.json at stop (tests)
//   OTEL_EXPORTER_OTLP_ENDPOINT     (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) sent over OTLP/HTTP
//                                   to a collector (Jaeger, Tempo, the OpenTelemetry Collector),
//                                   in batches (headers from OTEL_EXPORTER_OTLP_HEADERS)
//   neither                         the global tracer of @opentelemetry/api: a no-op unless the
//                                   process registered an SDK itself (NODE_OPTIONS=--import ...)
// RT_TRACE_SAMPLE_EVERY (default 100) starts a trace for one tick in that many.
import { DiagLogLevel, diag, trace as otel, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { TraceCapture } from './trace-capture.ts';

export interface TraceExport {
  /** where spans go: 'file', 'otlp' or 'global' */
  readonly kind: 'file' | 'otlp' | 'global';
  readonly tracer: Tracer;
  readonly sampleEvery: number;
  /** Flushes what is pending (a file is written, a batch sent) and stops. */
  stop(): Promise<void>;
}

/** Spans of a stopping node still waiting for the collector are given this long. */
const OTLP_FLUSH_MS = 2000;

/**
 * `warn`: where the SDK's own complaints go (a collector that refuses or times out a batch), so
 * lost spans are said, not silent.
 */
export function traceExportOf(env: NodeJS.ProcessEnv, node: string, cluster: string, warn: (message: string) => void = () => undefined): TraceExport {
  const sampleEvery = sampleEveryOf(env.RT_TRACE_SAMPLE_EVERY);
  if (env.RT_TRACE_FILE) {
    const capture = new TraceCapture(env.RT_TRACE_FILE, node);
    return { kind: 'file', tracer: capture.tracer, sampleEvery, stop: () => capture.stop() };
  }
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (url) {
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
      throw new Error(`OTLP traces endpoint ${url}: expected an http(s) URL such as http://127.0.0.1:4318 (OTEL_EXPORTER_OTLP_ENDPOINT) or http://127.0.0.1:4318/v1/traces (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)`);
    }
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? `rt-${cluster}`, 'service.instance.id': node, 'rt.cluster': cluster, 'rt.node': node }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
    });
    const say = (...args: unknown[]): void => warn(`spans to ${url}: ${args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`);
    diag.setLogger({ error: say, warn: say, info: () => undefined, debug: () => undefined, verbose: () => undefined }, DiagLogLevel.WARN);
    return {
      kind: 'otlp',
      tracer: provider.getTracer('rt'),
      sampleEvery,
      stop: async () => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the collector at ${url} took more than ${OTLP_FLUSH_MS} ms`)), OTLP_FLUSH_MS)));
        try {
          await Promise.race([provider.forceFlush(), late]);
        } finally {
          clearTimeout(timer);
          await Promise.race([provider.shutdown(), new Promise((r) => setTimeout(r, OTLP_FLUSH_MS).unref())]);
        }
      },
    };
  }
  return { kind: 'global', tracer: otel.getTracer('rt'), sampleEvery, stop: () => Promise.resolve() };
}

function sampleEveryOf(v: string | undefined): number {
  if (v === undefined || v === '') return 100;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`RT_TRACE_SAMPLE_EVERY=${v}: expected an integer >= 1 (start a trace for one tick in that many)`);
  return n;
}
