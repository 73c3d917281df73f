// A node's HTTP endpoint (its `ports.metrics`, on `metrics_bind`, loopback by default):
//
//   GET /metrics   Prometheus text format (runtime/metrics.ts and the application's metrics)
//   GET /health    200 while the process runs and its event loop is not stalled, else 503
//   GET /ready     200 once its actors are started and its transports connected, else 503
//
// /health and /ready answer JSON that says why: {"status": "ok"|"stalled"|"not-ready", ...}.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { NodeMetrics } from './metrics.ts';

/** An event loop that waited longer than this (p99 over the last window) is stalled: /health 503. */
export const STALL_MS = 1000;
/** The event-loop delay window /health looks at. */
const WINDOW_MS = 10_000;

export interface Readiness {
  ready: boolean;
  /** what is not ready yet (empty when ready) */
  waiting: string[];
}

export class MetricsServer {
  private readonly delay = monitorEventLoopDelay({ resolution: 20 });
  private readonly timer: NodeJS.Timeout;
  private lastP99Ms = 0;
  private lastMaxMs = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {
    this.delay.enable();
    this.timer = setInterval(() => {
      this.lastP99Ms = this.delay.percentile(99) / 1e6;
      this.lastMaxMs = this.delay.max / 1e6;
      this.delay.reset();
    }, WINDOW_MS);
    this.timer.unref();
  }

  static async start(o: { metrics: NodeMetrics; port: number; host: string; readiness: () => Readiness }): Promise<MetricsServer> {
    const server = createServer();
    const self = new MetricsServer(server, o.port);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const send = (status: number, type: string, body: string): void => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(body);
      };
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'application/json', JSON.stringify({ error: `method ${req.method}: expected GET` }));
      if (path === '/metrics') {
        o.metrics.text().then(
          (text) => send(200, o.metrics.registry.contentType, text),
          (e: unknown) => send(500, 'text/plain', `metrics failed: ${(e as Error).message}\n`),
        );
        return;
      }
      if (path === '/health') {
        const s = self;
        const p99 = Math.max(s.lastP99Ms, s.delay.percentile(99) / 1e6);
        const stalled = p99 > STALL_MS;
        return send(stalled ? 503 : 200, 'application/json', JSON.stringify({ status: stalled ? 'stalled' : 'ok', event_loop_delay_p99_ms: round(p99), event_loop_delay_max_ms: round(Math.max(s.lastMaxMs, s.delay.max / 1e6)), stall_ms: STALL_MS }));
      }
      if (path === '/ready') {
        const r = o.readiness();
        return send(r.ready ? 200 : 503, 'application/json', JSON.stringify({ status: r.ready ? 'ok' : 'not-ready', waiting: r.waiting }));
      }
      send(404, 'application/json', JSON.stringify({ error: `no ${path} here: expected /metrics, /health or /ready` }));
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' ? new Error(`ports.metrics ${o.port} on ${o.host} is in use: expected a free port for /metrics`) : e));
        server.listen(o.port, o.host, () => resolve());
      });
    } catch (e) {
      await self.close();
      throw e;
    }
    return self;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.delay.disable();
    // A scrape in flight (or a kept-alive connection) must not hold up the node's stop.
    const closed = this.server.listening ? new Promise((r) => this.server.close(r)) : Promise.resolve();
    this.server.closeAllConnections();
    await closed;
  }
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
