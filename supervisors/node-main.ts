import { mkdirSync, readFileSync } from 'node:fs';
import { pinProcess } from '../runtime/affinity.ts';
import { ActorSystem } from '../runtime/actor-system.ts';
import { type Database, openDatabase } from '../runtime/database.ts';
import pg from 'pg';
import { IN_FLIGHT_MAX, Journal } from '../runtime/journal.ts';
import { isPersistent } from '../runtime/persistent-actor.ts';
import { IpcTransport } from '../runtime/ipc-transport.ts';
import { startInspectionService } from '../runtime/inspection.ts';
import { connectNats } from '../runtime/nats-connection.ts';
import { NatsTransport } from '../runtime/nats-transport.ts';
import { TransportRouter } from '../runtime/transport-router.ts';
import type { NatsConnection, Service } from 'nats';
import { join } from 'node:path';
import type { KindRegistry } from '../runtime/kind-registry.ts';
import { createLogger } from '../runtime/log.ts';
import { claimPidFile } from '../runtime/pid-file.ts';
import { actorSpecOf, nodeOf } from '../runtime/placement.ts';
import { NodeMetrics } from '../runtime/metrics.ts';
import { Counter, Gauge } from 'prom-client';
import { MetricsServer, type Readiness } from '../runtime/metrics-server.ts';
import { traceExportOf } from '../runtime/trace-export.ts';
import { Tracing } from '../runtime/tracing.ts';
import type { Topology } from '../runtime/topology.ts';
import { nodeRootSupervisor, patternActivator, rootAddress } from './node-root.ts';
import { DynamicChildren } from './supervisor.ts';

/** Exit code of a node whose root supervisor gave up (EX_SOFTWARE): systemd or `rt up` restarts it. */
export const EXIT_ROOT_GAVE_UP = 70;
/** Exit code of a node that could not start (bad topology, socket in use, unknown kind). */
export const EXIT_START_FAILED = 78;

/** What a node reports to `rt up` over the IPC channel, once a second. */
export interface NodeStatus {
  type: 'node-status';
  node: string;
  pid: number;
  cores: number[];
  handled: number;
  msgsPerS: number;
  restarts: number;
  deadLetters: number;
  held: number;
  /** the actors' gauges (runtime/gauges.ts) */
  gauges: Record<string, number | string>;
}

export interface RunningNode {
  system: ActorSystem;
  transport: IpcTransport;
  /** envelopes to nodes of other hosts (when the topology has some) */
  nats: NatsTransport | undefined;
  /** the node's journal, when it runs persistent actors */
  journal: Journal | undefined;
  cores: number[];
  stop(): Promise<void>;
}

/**
 * Starts one node in this process: pins it, binds its IPC socket, and starts its actors under its
 * root supervisor. If that supervisor gives up, the process exits with EXIT_ROOT_GAVE_UP and says why.
 */
/** The application's metrics for a node (the trading actors' orders, P&L, breaker...), added to its registry. */
export type AppMetrics = (metrics: NodeMetrics, system: ActorSystem) => void;

export async function startNode(topology: Topology, node: string, kinds: KindRegistry, opts: { pin?: boolean; appMetrics?: AppMetrics } = {}): Promise<RunningNode> {
  const spec = topology.nodes[node];
  if (!spec) throw new Error(`node "${node}" is not in ${topology.file}: expected one of ${Object.keys(topology.nodes).join(', ')}`);
  // Resolve every behaviour first: a bad kind or option fails the start before anything is bound.
  const dynamic = new DynamicChildren();
  const root = nodeRootSupervisor(topology, node, kinds, dynamic);
  const persists = nodePersists(topology, node, kinds);
  const log = createLogger({ node });
  const pinned = opts.pin === false ? { cores: [] as number[] } : pinProcess(spec.cores);
  if ('error' in pinned && pinned.error) log.warn({ want: spec.cores, inForce: pinned.cores, error: pinned.error }, 'could not pin');

  // Where spans go (a file, an OTLP collector, or the API's global tracer): before anything is claimed, as a bad setting throws.
  const spans = traceExportOf(process.env, node, topology.cluster, (m) => log.warn(m));
  const { ipcDir, holdMs, holdMax, batchMax } = topology.transport;
  mkdirSync(ipcDir, { recursive: true });
  const releasePid = claimPidFile(ipcDir, node);
  const system = new ActorSystem({ node, nodeOf: (a) => nodeOf(topology, a) });
  // Metrics before any actor starts: each cell finds its key's counters when it is made.
  let transportsView: () => Record<string, number> = () => ({});
  const metrics = new NodeMetrics(system, { node, cluster: topology.cluster, keyOf: (a) => actorSpecOf(topology, a)?.key, transports: () => transportsView() });
  system.metrics = metrics;
  opts.appMetrics?.(metrics, system);
  system.tracing = new Tracing({ tracer: spans.tracer, sampleEvery: spans.sampleEvery, attributes: { 'rt.node': node, 'rt.cluster': topology.cluster } });
  // DATABASE_URL (rt up passes its host's), or the embedded server under persistence.data_dir.
  let db: Database | undefined;
  let journalPool: pg.Pool | undefined;
  if (persists) {
    const p = topology.persistence;
    try {
      db = await openDatabase({ url: process.env.DATABASE_URL, dataDir: p.dataDir, port: p.port, applicationName: `rt ${node}`, log });
    } catch (e) {
      releasePid();
      throw e;
    }
    // The journal's own connections, in pipeline mode: a batch's statements (events, view rows,
    // snapshots) go out together instead of one round trip each.
    // lock_timeout: a batch that waits on a lock (a second writer of the same rows) fails and is
    // retried instead of hanging.
    journalPool = new pg.Pool({ connectionString: db.url, max: IN_FLIGHT_MAX, pipeline: true, connectionTimeoutMillis: 5000, lock_timeout: 5000, application_name: `rt ${node} journal` } as pg.PoolConfig);
    journalPool.on('error', (error) => log.warn({ err: error.message }, 'journal connection lost'));
    system.journal = new Journal(journalPool, {
      node,
      reads: db.pool,
      flushMs: p.flushMs,
      batchMax: p.batchMax,
      appendTimeoutMs: p.appendTimeoutMs,
      pendingMax: p.pendingMax,
      retryMinMs: p.retryMinMs,
      retryMaxMs: p.retryMaxMs,
      snapshotEvery: p.snapshotEvery,
    });
    system.journal.onHealth((h) => (h.available ? log.info('journal available again') : log.error({ reason: h.reason }, `journal unavailable: ${h.reason}`)));
  }
  system.activate = patternActivator(topology, node, kinds, dynamic, (address, err) => log.warn({ actor: address, err }, 'could not start an actor for this address'));
  let transport: IpcTransport;
  try {
    transport = await IpcTransport.attach(system, { ipcDir, holdMs, holdMax, batchMax });
  } catch (e) {
    await system.journal?.close(1000);
    await journalPool?.end();
    await db?.close();
    releasePid();
    throw e;
  }

  // Set once connected (at once when other hosts need it; in the background when only inspection does).
  const natsSide = await startNats(topology, node, system, log, transport);

  system.events.on('failure', (e: { address: string; error: Error }) => log.error({ actor: e.address, err: e.error }, 'actor failed'));
  system.events.on('restart', (e: { address: string; restarts: number }) => log.warn({ actor: e.address, restarts: e.restarts }, 'actor restarted'));
  system.events.on('bad-frame', (e: { error: Error; bytes: number }) => log.warn({ err: e.error, bytes: e.bytes }, 'bad frame skipped'));
  system.deadLetters.subscribe((d) => log.debug({ to: d.to, from: d.from, reason: d.reason, detail: d.detail, msgType: d.message.type }, 'dead letter'));

  transportsView = () => {
    const ipc = transport.stats();
    const nats = natsSide.nats?.stats();
    return {
      ...(nats ? { nats_connected: nats.connected ? 1 : 0, nats_disconnects: nats.disconnects } : {}),
      ipc_links_down: ipc.links.filter((l) => !l.connected).length,
      envelopes_lost: ipc.gaps + (nats?.gaps ?? 0),
    };
  };
  if (system.journal) {
    const journal = system.journal;
    const registers = [metrics.registry];
    new Gauge({ name: 'rt_journal_available', help: '1 while the journal writes (PostgreSQL reachable, batches in time).', registers, collect() { this.set(journal.stats().health.available ? 1 : 0); } });
    new Gauge({ name: 'rt_journal_pending_events', help: 'Events waiting to be written.', registers, collect() { this.set(journal.stats().pending); } });
    new Counter({ name: 'rt_journal_events_total', help: 'Events written to the journal.', registers, collect() { this.reset(); this.inc(journal.stats().events); } });
  }
  const ready = (): Readiness => readiness(topology, node, system, natsSide.nats, Object.values(topology.nodes).some((n) => n.host !== spec.host));
  new Gauge({
    name: 'rt_ready',
    help: '1 when the node is ready (its /ready answers 200): actors started, transports connected, journal available.',
    registers: [metrics.registry],
    collect() {
      this.set(ready().ready ? 1 : 0);
    },
  });
  let http: MetricsServer | undefined;
  let stopping: Promise<void> | undefined;
  // The inspection service first (nobody inspects a stopping node), and the metrics endpoint;
  // then the actors (their stop hooks wait for what they persisted); pending spans are flushed;
  // the NATS connection after them (their last envelopes go out); then the journal writes what is
  // queued, and the database connections close.
  const stopNode = async (): Promise<void> => {
    natsSide.stopped = true;
    // Each step runs whatever the one before did: a failing one is logged by name, not a reason to skip the journal.
    const step = async (name: string, f: () => Promise<unknown> | undefined): Promise<void> => {
      try {
        await f();
      } catch (e) {
        log.error({ err: e }, `stopping: ${name} failed`);
      }
    };
    try {
      await step('the inspection service', () => natsSide.service?.stop());
      await step('the metrics endpoint', () => http?.close());
      await step('the actors', () => system.shutdown());
      await step('exporting spans', () => spans.stop());
      await step('the NATS connection', () => natsSide.nc?.close());
      await step('the journal', () => system.journal?.close());
      await step('the journal pool', () => journalPool?.end());
      await step('the database', () => db?.close());
    } finally {
      releasePid();
    }
  };
  const stop = (): Promise<void> => (stopping ??= stopNode());
  if (spec.ports.metrics !== undefined) {
    try {
      http = await MetricsServer.start({ metrics, port: spec.ports.metrics, host: spec.metricsBind, readiness: ready });
    } catch (e) {
      await stop();
      throw e;
    }
  }

  system.onUnsupervisedFailure = (cell, error) => {
    log.fatal({ actor: cell.address, err: error }, `root supervisor gave up: ${error.message}`);
    process.stderr.write(`node ${node}: root supervisor gave up: ${error.message}\n`);
    void stop().finally(() => process.exit(EXIT_ROOT_GAVE_UP));
  };

  system.spawn(rootAddress(node), root, { mailbox: { capacity: 1024, policy: 'reject' } });
  log.info({ cores: pinned.cores, want: spec.cores, actors: spec.actors, ipcDir }, 'node started');
  return { system, transport, nats: natsSide.nats, journal: system.journal, cores: pinned.cores, stop };
}

/** How often a node whose NATS carries only inspection tries to reach it again. */
const INSPECTION_RETRY_MS = 2000;

interface NatsSide {
  nc: NatsConnection | undefined;
  nats: NatsTransport | undefined;
  service: Service | undefined;
  /** set when the node stops: a connection still being made is closed as soon as it is made */
  stopped: boolean;
}

const VERSION = (JSON.parse(readFileSync(join(import.meta.dirname, '../package.json'), 'utf8')) as { version: string }).version;

/**
 * The node's NATS side, when its host names NATS servers: the transport to nodes of other hosts
 * (the node waits for NATS then, since it cannot do its work without it) and the inspection
 * service (on a one-host topology NATS carries inspection only, and the node does not wait for it).
 */
async function startNats(
  topology: Topology,
  node: string,
  system: ActorSystem,
  log: ReturnType<typeof createLogger>,
  ipc: IpcTransport,
): Promise<NatsSide> {
  const spec = topology.nodes[node];
  const host = topology.hosts[spec.host];
  if (host.nats.length === 0) return { nc: undefined, nats: undefined, service: undefined, stopped: false };
  const crossHost = Object.values(topology.nodes).some((n) => n.host !== spec.host);
  const result: NatsSide = { nc: undefined, nats: undefined, service: undefined, stopped: false };
  const name = `rt ${topology.cluster} ${node}`;
  // Inspection only: try now and then, and give up when the node stops (a connect that waits for
  // its first server could not be called off, and would keep the process alive).
  const inspectionOnly = async (): Promise<NatsConnection> => {
    for (let warned = false; ; warned = true) {
      try {
        return await connectNats(host.nats, name, { waitOnFirstConnect: false });
      } catch (e) {
        if (!warned) log.warn({ servers: host.nats, err: (e as Error).message }, `NATS unreachable: no inspection service until it is (retrying every ${INSPECTION_RETRY_MS} ms)`);
        await new Promise((r) => setTimeout(r, INSPECTION_RETRY_MS).unref());
        if (result.stopped) throw new Error('node stopped');
      }
    }
  };
  const connecting = (crossHost ? connectNats(host.nats, name) : inspectionOnly()).then(async (nc) => {
    result.nc = nc;
    if (result.stopped) {
      await nc.close();
      return;
    }
    log.info({ server: nc.getServer() }, 'connected to NATS');
    if (crossHost) {
      const { holdMs, holdMax, batchMax, inboundMax } = topology.transport;
      const nats = new NatsTransport(system, nc, { cluster: topology.cluster, keys: spec.actors, holdMs, holdMax, batchMax, inboundMax });
      nats.start();
      result.nats = nats;
      // A node outside the topology (an operator command's cli-<pid>) is answered over NATS if it was heard there, else over IPC.
      system.attachTransport(new TransportRouter(ipc, nats, (n) => (topology.nodes[n] ? topology.nodes[n].host === spec.host : !nats.hears(n))));
    }
    result.service = await startInspectionService(nc, system, {
      cluster: topology.cluster,
      keys: spec.actors,
      version: VERSION,
      metadata: { host: spec.host },
      transports: () => ({ ipc: ipc.stats(), ...(result.nats ? { nats: result.nats.stats() } : {}) }),
      gauges: () => nodeGauges(system, node, result.nats),
    });
  });
  system.events.on('transport-gap', (e: { transport: string; node: string; from: number; to: number }) =>
    log.warn({ transport: e.transport, peer: e.node, lost: e.to - e.from + 1, seqFrom: e.from, seqTo: e.to }, `lost ${e.to - e.from + 1} envelopes from node ${e.node} over ${e.transport}`),
  );
  system.events.on('slow-consumer', (e: { node: string; dropped: number; total: number }) =>
    log.error({ peer: e.node, dropped: e.dropped, total: e.total }, `slow consumer: dropped ${e.dropped} envelopes from node ${e.node} (inbound_max)`),
  );
  system.events.on('nats-status', (e: { status: string; server: string }) => (e.status === 'reconnected' ? log.info(e, 'NATS reconnected') : log.warn(e, `NATS ${e.status}`)));
  system.events.on('nats-peer', (e: { node: string; up: boolean }) => (e.up ? log.info({ peer: e.node }, 'peer node heard over NATS') : log.warn({ peer: e.node }, 'peer node silent over NATS: holding its envelopes')));
  if (crossHost) {
    log.info({ servers: host.nats }, 'waiting for NATS');
    await connecting;
  } else {
    connecting.catch((e: unknown) => {
      if (!result.stopped) log.warn({ err: e }, 'NATS unavailable: no inspection service');
    });
  }
  return result;
}

/**
 * Whether one of the node's actors persists (then the node opens the database). Also checks that
 * every pattern's kind exists before anything starts, not on its first message.
 */
export function nodePersists(topology: Topology, node: string, kinds: KindRegistry): boolean {
  let persists = false;
  for (const key of topology.nodes[node].actors) {
    const a = topology.actors[key];
    if (a.pattern && !kinds.has(a.kind)) kinds.create(a.kind, { address: key, node, options: a.options });
    if (!persists && kinds.has(a.kind)) {
      try {
        persists = isPersistent(kinds.create(a.kind, { address: a.pattern ? key.replace('*', 'PROBE1') : key, node, options: a.options }));
      } catch {
        // An entity kind that refuses a made-up address: it is started (and checked) on its first message.
      }
    }
  }
  return persists;
}

/** /ready: every actor of the node started (entities of patterns start on their first message) and running, its transports connected, its journal available. */
function readiness(topology: Topology, node: string, system: ActorSystem, nats: NatsTransport | undefined, crossHost: boolean): Readiness {
  const waiting: string[] = [];
  for (const key of topology.nodes[node].actors) {
    if (topology.actors[key].pattern) continue;
    const cell = system.cellOf(key);
    if (!cell) waiting.push(`actor ${key} not started`);
    else if (cell.status !== 'running') waiting.push(`actor ${key} ${cell.status}`);
  }
  if (crossHost && (!nats || !nats.connected)) waiting.push('NATS not connected');
  const j = system.journal?.stats();
  if (j && !j.health.available) waiting.push(`journal unavailable: ${j.health.reason}`);
  return { ready: waiting.length === 0, waiting };
}

/** The journal as an operator sees it: available or not, and how far behind. */
function journalGauges(j: Journal | undefined, node: string): Record<string, number | string> {
  if (!j) return {};
  const st = j.stats();
  return {
    [`journal.${node}.available`]: st.health.available ? 1 : 0,
    [`journal.${node}.events`]: st.events,
    [`journal.${node}.pending`]: st.pending,
    [`journal.${node}.batches`]: st.batches,
    [`journal.${node}.max_commit_ms`]: Math.round(st.maxCommitMs * 10) / 10,
  };
}

/** The NATS transport as an operator sees it: connected, and what was lost or dropped. */
function natsGauges(t: NatsTransport | undefined, node: string): Record<string, number | string> {
  if (!t) return {};
  const st = t.stats();
  return {
    [`nats.${node}.connected`]: st.connected ? 1 : 0,
    [`nats.${node}.disconnects`]: st.disconnects,
    [`nats.${node}.gaps`]: st.gaps,
    [`nats.${node}.slow_consumer_dropped`]: st.slowConsumerDropped,
    [`nats.${node}.held`]: st.links.reduce((s, l) => s + l.held, 0),
  };
}

/** Every gauge of a node: its actors', its journal's and its NATS transport's. */
function nodeGauges(system: ActorSystem, node: string, nats: NatsTransport | undefined): Record<string, number | string> {
  return { ...system.gauges.snapshot(), ...journalGauges(system.journal, node), ...natsGauges(nats, node) };
}

/** Node status as `rt up` shows it. */
export function nodeStatus(n: RunningNode, node: string, msgsPerS: number): NodeStatus {
  let restarts = 0;
  for (const a of n.system.localAddresses()) restarts += n.system.cellOf(a)?.restarts ?? 0;
  return {
    type: 'node-status',
    node,
    pid: process.pid,
    cores: n.cores,
    handled: n.system.dispatcher.handled,
    msgsPerS,
    restarts,
    deadLetters: n.system.deadLetters.total,
    held: n.transport.stats().links.reduce((s, l) => s + l.held, 0) + (n.nats?.stats().links.reduce((s, l) => s + l.held, 0) ?? 0),
    gauges: nodeGauges(n.system, node, n.nats),
  };
}

/** `rt node <name>`: runs until SIGTERM/SIGINT, then stops its actors in order and exits 0. */
export async function runNodeProcess(topology: Topology, node: string, kinds: KindRegistry, appMetrics?: AppMetrics): Promise<number> {
  let running: RunningNode;
  try {
    running = await startNode(topology, node, kinds, { appMetrics });
  } catch (e) {
    process.stderr.write(`node ${node}: could not start: ${(e as Error).message}\n`);
    return EXIT_START_FAILED;
  }
  let last = running.system.dispatcher.handled;
  let lastAt = performance.now();
  const report = setInterval(() => {
    const now = performance.now();
    const handled = running.system.dispatcher.handled;
    const rate = ((handled - last) * 1000) / (now - lastAt);
    last = handled;
    lastAt = now;
    if (process.send && process.connected) process.send(nodeStatus(running, node, Math.round(rate)));
  }, 1000);
  if (process.send) process.send(nodeStatus(running, node, 0));
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
    // `rt up` gone (its IPC channel closed): do not linger as an orphan.
    process.once('disconnect', resolve);
  });
  clearInterval(report);
  await running.stop();
  // The IPC channel to `rt up` is a handle like any other: close it, or the process never exits.
  if (process.connected) process.disconnect();
  return 0;
}
