// Where a node's spans go. With OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set they reach an OTLP/HTTP
// collector (here an HTTP server of the test's own, which reads what a collector would), a trace
// started by one actor continuing in the actor it told; with no SDK registered no trace starts and
// nothing is carried in the envelopes; a bad RT_TRACE_SAMPLE_EVERY is refused with what was expected.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActorSystem } from '../../runtime/actor-system.ts';
import { freePort } from '../../runtime/free-port.ts';
import type { Message } from '../../runtime/message.ts';
import { traceExportOf } from '../../runtime/trace-export.ts';
import { activeTrace, Tracing } from '../../runtime/tracing.ts';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}
interface OtlpRequest {
  resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

let server: Server;
let endpoint: string;
const received: { path: string; contentType: string; body: OtlpRequest }[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpRequest });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

type Hop = { type: 'tick' } | { type: 'relay'; seen: (trace: string | undefined) => void };

/** `edge` starts a trace for its tick and tells `strategy`, which reports the trace it handles under. */
function twoActors(system: ActorSystem): Promise<string | undefined> {
  return new Promise((resolve) => {
    system.spawn<Message, null>('strategy', {
      init: () => null,
      receive: (s, m) => {
        if (m.type === 'relay') (m as Hop & { type: 'relay' }).seen(activeTrace.current?.traceparent);
        return s;
      },
    });
    system.spawn<Message, null>('edge', {
      init: () => null,
      receive: (s, _m, ctx) => {
        ctx.startTrace('tick depth BTCUSDT');
        ctx.tell('strategy', { type: 'relay', seen: resolve } as Message);
        return s;
      },
    });
    system.tell('edge', { type: 'tick' });
  });
}

describe('trace export', () => {
  it('sends spans to the OTLP/HTTP endpoint of OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: one trace, the handling span a child of the root, resource naming cluster and node', async () => {
    const spans = traceExportOf({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint }, 'edge', 'demo');
    expect(spans.kind).toBe('otlp');
    const system = new ActorSystem({ node: 'edge' });
    system.tracing = new Tracing({ tracer: spans.tracer, sampleEvery: 1 });
    const carried = await twoActors(system);
    await system.shutdown();
    await spans.stop();
    expect(carried).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(received.length).toBeGreaterThan(0);
    expect(received[0].path).toBe('/v1/traces');
    expect(received[0].contentType).toContain('application/json');
    const all = received.flatMap((r) => r.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
    const root = all.find((s) => s.name === 'tick depth BTCUSDT');
    const handled = all.find((s) => s.name === 'strategy relay');
    expect(root, JSON.stringify(all)).toBeDefined();
    expect(handled, JSON.stringify(all)).toBeDefined();
    expect(handled?.traceId).toBe(root?.traceId);
    expect(handled?.parentSpanId).toBe(root?.spanId);
    expect(carried?.slice(3, 35)).toBe(root?.traceId);
    const attrs = Object.fromEntries(received[0].body.resourceSpans[0].resource.attributes.map((a) => [a.key, a.value.stringValue]));
    expect(attrs).toMatchObject({ 'service.name': 'rt-demo', 'service.instance.id': 'edge', 'rt.node': 'edge' });
  });

  it('says so when the collector cannot be reached, and stops within its bound', async () => {
    const port = await freePort();
    const warnings: string[] = [];
    const spans = traceExportOf({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }, 'edge', 'demo', (m) => warnings.push(m));
    spans.tracer.startSpan('lost').end();
    const t0 = Date.now();
    await spans.stop().catch((e: unknown) => warnings.push(String(e)));
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(warnings.join('\n')).toContain(`127.0.0.1:${port}`);
  });

  it('with no SDK registered uses the API global tracer: no trace starts and none is carried', async () => {
    const spans = traceExportOf({}, 'edge', 'demo');
    expect(spans.kind).toBe('global');
    const system = new ActorSystem({ node: 'edge' });
    system.tracing = new Tracing({ tracer: spans.tracer, sampleEvery: 1 });
    expect(await twoActors(system)).toBeUndefined();
    await system.shutdown();
  });

  it('refuses an RT_TRACE_SAMPLE_EVERY that is not a positive integer, saying what it expected', () => {
    for (const bad of ['0', '-3', '2.5', 'often']) expect(() => traceExportOf({ RT_TRACE_SAMPLE_EVERY: bad }, 'n', 'c')).toThrow(`RT_TRACE_SAMPLE_EVERY=${bad}: expected an integer >= 1`);
    expect(traceExportOf({ RT_TRACE_SAMPLE_EVERY: '7' }, 'n', 'c').sampleEvery).toBe(7);
    expect(traceExportOf({}, 'n', 'c').sampleEvery).toBe(100);
  });

  it('refuses an OTLP endpoint that is not a URL, naming it and the form expected', () => {
    expect(() => traceExportOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318 oops' }, 'n', 'c')).toThrow('OTLP traces endpoint collector:4318 oops/v1/traces: expected an http(s) URL');
  });
});
