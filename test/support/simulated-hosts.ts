// Several hosts on one machine, for the multi-host tests and the nats bench. As root, each host is
// a network namespace with its own address on a bridge (veth pairs, one per host), running its own
// nats-server, clustered with the others by routes; a host's processes run inside its namespace
// (`ip netns exec`), so traffic between hosts really crosses interfaces. Not root (or no `ip`):
// the same hosts on loopback, one nats-server each on its own ports; `mode` says which was used.
// Everything is torn down by close(), and a host's processes are the caller's to stop.
import { type ChildProcess, execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import { freePort } from '../../runtime/free-port.ts';
import { NatsServer } from '../../runtime/nats-server.ts';

export interface SimulatedHost {
  name: string;
  /** its address, as the topology names it */
  address: string;
  /** its nats-server's client URL */
  natsUrl: string;
  /** the namespace its processes run in (netns mode) */
  netns: string | undefined;
  nats: NatsServer;
}

export interface SimulatedHosts {
  mode: 'netns' | 'loopback';
  hosts: SimulatedHost[];
  host(name: string): SimulatedHost;
  /** Starts a process on a host (inside its namespace in netns mode). */
  spawn(host: string, cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  /** Kills a host's nats-server and starts it again (same address and ports). */
  restartNats(host: string, downMs?: number): Promise<void>;
  close(): Promise<void>;
}

const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const CLIENT_PORT = 4222;
const ROUTE_PORT = 6222;
/** Longest wait for every pair of servers to pass a message (routes connect), and the probe's period. */
const CLUSTER_WAIT_MS = 15_000;
const PROBE_EVERY_MS = 100;

/** Builds `names.length` hosts. `prefer: 'loopback'` skips namespaces even as root; `cores` pins a host's nats-server. */
export async function simulateHosts(names: string[], o: { prefer?: 'netns' | 'loopback'; cores?: Record<string, string> } = {}): Promise<SimulatedHosts> {
  const mode = o.prefer !== 'loopback' && canUseNetns() ? 'netns' : 'loopback';
  // A short id keeps interface names under 15 characters and apart from a parallel run's.
  const id = `${process.pid % 10000}${Math.floor(Math.random() * 100)}`;
  const subnet = `10.${200 + (process.pid % 50)}.${Math.floor(Math.random() * 250) + 1}`;
  const bridge = `rtbr${id}`;
  const namespaces: string[] = [];
  const specs: { name: string; address: string; netns: string | undefined; port: number; routePort: number }[] = [];
  const teardownNet = (): void => {
    for (const ns of namespaces) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
    try {
      if (mode === 'netns') ip('link', 'del', bridge);
    } catch {
      // already gone
    }
  };
  try {
    if (mode === 'netns') {
      ip('link', 'add', bridge, 'type', 'bridge');
      ip('addr', 'add', `${subnet}.254/24`, 'dev', bridge);
      ip('link', 'set', bridge, 'up');
      for (const [i, name] of names.entries()) {
        const ns = `rt${id}${name}`.slice(0, 30);
        const address = `${subnet}.${i + 1}`;
        ip('netns', 'add', ns);
        namespaces.push(ns);
        const outer = `rtv${id}${i}o`;
        const inner = `rtv${id}${i}i`;
        ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
        ip('link', 'set', inner, 'netns', ns);
        ip('link', 'set', outer, 'master', bridge);
        ip('link', 'set', outer, 'up');
        ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
        ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${address}/24`, 'dev', inner);
        ip('netns', 'exec', ns, 'ip', 'link', 'set', inner, 'up');
        specs.push({ name, address, netns: ns, port: CLIENT_PORT, routePort: ROUTE_PORT });
      }
    } else {
      for (const name of names) specs.push({ name, address: '127.0.0.1', netns: undefined, port: await freePort(), routePort: await freePort() });
    }
  } catch (e) {
    teardownNet();
    throw new Error(`could not build simulated hosts with ip netns: ${(e as Error).message}`);
  }

  const serverOptions = (i: number) => ({
    host: mode === 'netns' ? '0.0.0.0' : '127.0.0.1',
    port: specs[i].port,
    name: `${specs[i].name}-${id}`,
    clusterPort: specs[i].routePort,
    routes: specs.filter((_, j) => j !== i).map((s) => `nats://${s.address}:${s.routePort}`),
    netns: specs[i].netns,
    cores: o.cores?.[specs[i].name],
  });
  const hosts: SimulatedHost[] = [];
  try {
    for (let i = 0; i < specs.length; i++) {
      const nats = await NatsServer.start(serverOptions(i));
      hosts.push({ name: specs[i].name, address: specs[i].address, natsUrl: `nats://${specs[i].address}:${specs[i].port}`, netns: specs[i].netns, nats });
    }
    await untilClustered(hosts);
  } catch (e) {
    await Promise.all(hosts.map((h) => h.nats.stop()));
    teardownNet();
    throw e;
  }
  const byName = (name: string): SimulatedHost => {
    const h = hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no simulated host "${name}": expected one of ${names.join(', ')}`);
    return h;
  };
  return {
    mode,
    hosts,
    host: byName,
    spawn(host, cmd, args, opts = {}) {
      const h = byName(host);
      return h.netns ? spawn('ip', ['netns', 'exec', h.netns, cmd, ...args], opts) : spawn(cmd, args, opts);
    },
    async restartNats(host, downMs = 0) {
      const h = byName(host);
      await h.nats.kill();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      h.nats = await NatsServer.start(serverOptions(hosts.indexOf(h)));
      await untilClustered(hosts);
    },
    async close() {
      await Promise.all(hosts.map((h) => h.nats.stop()));
      teardownNet();
    },
  };
}

/** Waits until a message published on each server reaches a subscriber on every other. */
async function untilClustered(hosts: SimulatedHost[]): Promise<void> {
  if (hosts.length < 2) return;
  const { connect } = await import('nats');
  const conns = await Promise.all(hosts.map((h) => connect({ servers: h.natsUrl })));
  try {
    const end = Date.now() + CLUSTER_WAIT_MS;
    for (let i = 0; i < conns.length; i++) {
      for (let j = 0; j < conns.length; j++) {
        if (i === j) continue;
        const subject = `rt.harness.probe.${i}.${j}`;
        const sub = conns[j].subscribe(subject, { max: 1 });
        await conns[j].flush();
        const got = (async () => {
          for await (const _ of sub) return true;
          return false;
        })();
        let ok = false;
        while (!ok) {
          if (Date.now() > end) throw new Error(`nats-server of ${hosts[i].name} does not reach ${hosts[j].name}'s: no route within ${CLUSTER_WAIT_MS} ms`);
          conns[i].publish(subject);
          ok = await Promise.race([got, new Promise<boolean>((r) => setTimeout(() => r(false), PROBE_EVERY_MS))]);
        }
      }
    }
  } finally {
    await Promise.all(conns.map((c) => c.close()));
  }
}
