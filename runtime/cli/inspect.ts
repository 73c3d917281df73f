// `rt inspect [<actor>] [--peek N] [--topology F] [--host H] [--nats URL]`: what `nats req` shows,
// from our own CLI. With an actor: its mailbox (depth, capacity, oldest message, the next N
// messages), counters and state, as JSON. Without one: every node of the topology, one line per
// actor. The NATS servers are --nats, or else those of this host in the topology.
// Exit codes: 0 answered, 1 no answer or an error answer (the reason on stderr), 2 usage.
import { parseArgs } from 'node:util';
import type { NatsConnection } from 'nats';
import type { NodeInspection } from '../inspection.ts';
import { PEEK_MAX } from '../inspection.ts';
import { connectNats } from '../nats-connection.ts';
import { addressSubject, nodeSubject } from '../nats-subjects.ts';
import { currentHostsOf, formatProblem, loadTopology, TopologyError, type Topology } from '../topology.ts';

const USAGE = 'usage: rt inspect [<actor>] [--peek N] [--topology F] [--host H] [--nats URL]';
const TIMEOUT_MS = 2000;

class Usage extends Error {}

function serversOf(topology: Topology, host: string | undefined, nats: string | undefined): string[] {
  if (nats !== undefined) {
    if (!URL.canParse(nats) || new URL(nats).protocol !== 'nats:') throw new Usage(`--nats ${nats}: expected a nats:// URL such as nats://127.0.0.1:4222`);
    return [nats];
  }
  const hosts = host !== undefined ? [host] : currentHostsOf(topology.hosts);
  if (host !== undefined && !topology.hosts[host]) throw new Usage(`--host ${host}: not a host of ${topology.file}: expected one of ${Object.keys(topology.hosts).join(', ')}`);
  const servers = [...new Set(hosts.flatMap((h) => topology.hosts[h].nats))];
  if (servers.length === 0) {
    throw new Usage(
      hosts.length === 0
        ? `no host of ${topology.file} has an address of this machine: say which with --host, or give a server with --nats`
        : `host ${hosts.join(', ')} of ${topology.file} names no NATS servers (hosts.<name>.nats): give one with --nats`,
    );
  }
  return servers;
}

export async function inspectCommand(args: string[], defaultTopology: string): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: { peek: { type: 'string' }, topology: { type: 'string' }, host: { type: 'string' }, nats: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    process.stderr.write(`rt inspect: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n  <actor>       an address (risk, order/rt-1f2e..., book/BTCUSDT); none: every node's actors\n  --peek N      how many queued messages to show (0..${PEEK_MAX}, default 10)\n  --nats URL    the NATS server to ask (default: this host's, from the topology)\n`);
    return 0;
  }
  let topology: Topology;
  let servers: string[];
  let peek: number | undefined;
  try {
    if (positionals.length > 1) throw new Usage(`expected at most one actor, got ${positionals.length}: ${positionals.join(' ')}`);
    if (values.peek !== undefined) {
      peek = Number(values.peek);
      if (!Number.isInteger(peek) || peek < 0 || peek > PEEK_MAX) throw new Usage(`--peek ${values.peek}: expected an integer in 0..${PEEK_MAX}`);
    }
    topology = loadTopology(values.topology ?? defaultTopology, values.host ? { currentHost: values.host } : {});
    servers = serversOf(topology, values.host, values.nats);
  } catch (e) {
    if (e instanceof TopologyError) {
      for (const p of e.problems) process.stderr.write(`${formatProblem(p)}\n`);
      return 1;
    }
    if (e instanceof Usage) {
      process.stderr.write(`rt inspect: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  let nc: NatsConnection;
  try {
    nc = await connectNats(servers, `rt inspect (pid ${process.pid})`, { waitOnFirstConnect: false });
  } catch (e) {
    process.stderr.write(`rt inspect: cannot reach NATS at ${servers.join(', ')}: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    return positionals.length === 1 ? await oneActor(nc, topology, positionals[0], peek) : await everyNode(nc, topology);
  } finally {
    await nc.close();
  }
}

async function oneActor(nc: NatsConnection, topology: Topology, address: string, peek: number | undefined): Promise<number> {
  const subject = addressSubject(topology.cluster, 'inspect', address);
  try {
    const m = await nc.request(subject, Buffer.from(peek === undefined ? '' : JSON.stringify({ peek })), { timeout: TIMEOUT_MS });
    if (m.headers?.hasError) {
      process.stderr.write(`rt inspect ${address}: ${m.headers.get('Nats-Service-Error-Code')} ${m.headers.get('Nats-Service-Error')}\n`);
      return 1;
    }
    process.stdout.write(`${JSON.stringify(JSON.parse(Buffer.from(m.data).toString()), null, 2)}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`rt inspect ${address}: no answer on ${subject} (${(e as Error).message}): is the node that holds it running and connected to NATS?\n`);
    return 1;
  }
}

async function everyNode(nc: NatsConnection, topology: Topology): Promise<number> {
  let missing = 0;
  for (const node of Object.keys(topology.nodes)) {
    const subject = nodeSubject(topology.cluster, node);
    try {
      const m = await nc.request(subject, new Uint8Array(0), { timeout: TIMEOUT_MS });
      const n = JSON.parse(Buffer.from(m.data).toString()) as NodeInspection;
      process.stdout.write(`${node} (host ${topology.nodes[node].host}, pid ${n.pid})\n`);
      for (const a of n.actors) process.stdout.write(`  ${a.address.padEnd(40)} ${`${a.depth}/${a.capacity}`.padStart(14)} queued  ${String(a.handled).padStart(10)} handled  ${a.restarts} restarts\n`);
    } catch (e) {
      missing++;
      process.stdout.write(`${node} (host ${topology.nodes[node].host}): no answer on ${subject} (${(e as Error).message})\n`);
    }
  }
  return missing === 0 ? 0 : 1;
}
