// NATS servers for a test: one per simulated host on loopback, on free ports, clustered with
// routes (as one server per host is in production). Each test starts its own and stops it.
import { freePort } from '../../runtime/free-port.ts';
import { NatsServer } from '../../runtime/nats-server.ts';

export interface NatsCluster {
  servers: NatsServer[];
  /** client URL of server i */
  url(i: number): string;
  /** Kills server i (SIGKILL) and starts it again on the same ports; resolves once it is ready. */
  restart(i: number, downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Waits until every server lists a route to every other (messages then cross them). */
async function untilRouted(servers: NatsServer[], monitorPorts: number[]): Promise<void> {
  if (servers.length < 2) return;
  const end = Date.now() + 10_000;
  for (const port of monitorPorts) {
    for (;;) {
      const r = (await fetch(`http://127.0.0.1:${port}/routez`).then((x) => x.json())) as { num_routes: number };
      if (r.num_routes >= servers.length - 1) break;
      if (Date.now() > end) throw new Error(`nats-server with monitor port ${port}: ${r.num_routes} routes, expected ${servers.length - 1}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  }
}

export async function startNatsCluster(n: number): Promise<NatsCluster> {
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const clusterPorts = await Promise.all(Array.from({ length: n }, () => freePort()));
  const monitorPorts = await Promise.all(Array.from({ length: n }, () => freePort()));
  const options = (i: number) => ({
    port: ports[i],
    name: `test-${i}`,
    clusterPort: n > 1 ? clusterPorts[i] : undefined,
    routes: n > 1 ? clusterPorts.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`) : undefined,
    monitorPort: monitorPorts[i],
  });
  const servers: NatsServer[] = [];
  try {
    for (let i = 0; i < n; i++) servers.push(await NatsServer.start(options(i)));
    await untilRouted(servers, monitorPorts);
  } catch (e) {
    await Promise.all(servers.map((s) => s.stop()));
    throw e;
  }
  return {
    servers,
    url: (i) => servers[i].url,
    async restart(i, downMs = 0) {
      await servers[i].kill();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      servers[i] = await NatsServer.start(options(i));
      await untilRouted(servers, monitorPorts);
    },
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}
