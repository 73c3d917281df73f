// The `rt` command: the composition root of the product. It registers the behaviours that
// topology.yaml may name (the runtime's diagnostic kinds; the trading actors as they land) and
// hands each subcommand the layer it needs.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dbCommand } from '../runtime/cli/db.ts';
import { decodeCommand } from '../runtime/cli/decode.ts';
import { inspectCommand } from '../runtime/cli/inspect.ts';
import { validateCommand } from '../runtime/cli/validate.ts';
import { DatabaseError, maskUrl, openDatabase, type Database } from '../runtime/database.ts';
import type { KindRegistry } from '../runtime/kind-registry.ts';
import { runtimeKinds } from '../runtime/kinds/runtime-kinds.ts';
import { feedCommand } from './feed/feed-command.ts';
import { RecordedFileError } from './feed/recorded-file.ts';
import { ReplayTopologyError, replayTopology } from './replay-topology.ts';
import { replayFinished, tradingProgress, tradingReport } from './run-report.ts';
import { askRunning, operatorName } from './operator-command.ts';
import type { RiskCommandReply } from './risk/risk-actor.ts';
import { tradingKinds } from './trading-kinds.ts';
import type { Message } from '../runtime/message.ts';
import { nodesOnHost } from '../runtime/placement.ts';
import { startMissingNats } from '../runtime/nats-server.ts';
import { currentHostsOf, formatProblem, loadTopology, TopologyError, type Topology } from '../runtime/topology.ts';
import { NodeLauncher } from '../supervisors/node-launcher.ts';
import { nodePersists, runNodeProcess } from '../supervisors/node-main.ts';
import { RemoteNodes } from '../supervisors/remote-nodes.ts';
import { tradingMetrics } from './trading-metrics.ts';
import { MONITORING_DIR, unscrapableNodes, writeMonitoring } from './monitoring-files.ts';

const RT_BIN = fileURLToPath(new URL('../bin/rt.mjs', import.meta.url));
const DEFAULT_TOPOLOGY = process.env.RT_TOPOLOGY ?? 'topology.yaml';
/** How often `rt up` asks the other hosts' nodes for their status (as often as its own nodes report). */
const REMOTE_STATUS_EVERY_MS = 1000;

const HELP = `rt: a supervised actor runtime for trading

usage: rt <command> [options]

commands:
  up [--topology F] [--host H] [--nodes a,b] [--log-dir D] [--replay F.gz ... [--speed 1|10|max]]
                      start every node of this host as a pinned process, restart the ones that die,
                      show one status line per node (other hosts' nodes over NATS) and the trading
                      progress; Ctrl-C / SIGTERM stops
                      them all and prints a report. --replay trades recorded files (the symbols and
                      market come from the files) and stops once they are fully traded
  node <name> [--topology F]
                      run one node in this process (what systemd units and \`rt up\` run)
  inspect [<actor>] [--peek N] [--topology F] [--host H] [--nats URL]
                      ask a running actor over NATS for its mailbox (depth, capacity, oldest
                      message, the next N messages), counters and state; no actor: every node's
                      actors (what \`nats req rt.<cluster>.inspect.<actor> ''\` answers)
  decode              one envelope frame on stdin as JSON (for \`nats sub --translate 'rt decode'\`)
  monitoring [--topology F] [--out D]
                      write Prometheus's scrape config (one target per node's ports.metrics), the
                      alert rules and a Grafana dashboard into D (default monitoring/)
  feed [--file F.gz]... [--speed 1|10|max] [--port 9400] [--symbols A,B] [--seed N] [--gap-every N]
                      serve market data in Binance's format (combined-stream WebSocket + REST depth):
                      a replay of recorded files, or the built-in synthetic feed when no --file
  kill-switch on|off [--topology F] [--host H]
                      turn the risk actor's kill switch on (breaker held open, every open order
                      cancelled) or off; the only way to change it
  flatten <SYMBOL> [--topology F] [--host H]
                      send a reduce-only order that closes the symbol's position (allowed while
                      trading is halted)
  validate <file> [--host H]
                      check a topology file; prints every problem with file:line:col
  db migrate|status [--topology F]
                      apply the schema migrations of sql/, or list the applied and pending ones
  help                this text

The topology defaults to ./topology.yaml (or $RT_TOPOLOGY). The database is $DATABASE_URL, or else an
embedded PostgreSQL under the topology's persistence.data_dir (started by \`rt up\` and \`rt db\`). Logs are JSON lines on stderr
(RT_LOG_LEVEL=debug|info|warn). Exit codes: 0 ok, 1 failure, 2 usage, 70 a node's root supervisor
gave up, 78 a node could not start.
`;

export function kinds(): KindRegistry {
  return tradingKinds(runtimeKinds());
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'validate':
        return await validateCommand(rest);
      case 'db':
        return await dbCommand(rest, DEFAULT_TOPOLOGY);
      case 'node':
        return await nodeCommand(rest);
      case 'inspect':
        return await inspectCommand(rest, DEFAULT_TOPOLOGY);
      case 'decode':
        return await decodeCommand();
      case 'monitoring':
        return monitoringCommand(rest);
      case 'up':
        return await upCommand(rest);
      case 'feed':
        return await feedCommand(rest);
      case 'kill-switch':
        return await killSwitchCommand(rest);
      case 'flatten':
        return await flattenCommand(rest);
      case undefined:
      case 'help':
      case '-h':
      case '--help':
        process.stdout.write(HELP);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`rt: unknown command "${command}": expected one of up, node, inspect, decode, monitoring, feed, kill-switch, flatten, validate, db, help\n`);
        return 2;
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`rt ${command}: ${e.message}\nrun \`rt help\` for usage\n`);
      return 2;
    }
    if (e instanceof TopologyError) {
      for (const p of e.problems) process.stderr.write(`${formatProblem(p)}\n`);
      return 1;
    }
    throw e;
  }
}

class UsageError extends Error {}

function parse<T extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>>(args: string[], options: T, positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: positionals > 0, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.positionals.length !== positionals) {
    throw new UsageError(`expected ${positionals} argument${positionals === 1 ? '' : 's'}, got ${parsed.positionals.length}`);
  }
  return parsed;
}

/** Asks the running risk actor; prints its answer. Exit 0 when it did what was asked, 1 otherwise. */
async function askRisk(topologyFile: string | undefined, host: string | undefined, msg: Message): Promise<number> {
  const topology = loadTopology(topologyFile ?? DEFAULT_TOPOLOGY, host ? { currentHost: host } : {});
  let reply: RiskCommandReply;
  try {
    reply = await askRunning<RiskCommandReply>(topology, 'risk', msg, undefined, host);
  } catch (e) {
    process.stderr.write(`rt ${msg.type}: the risk actor did not answer (${(e as Error).message}): is its node running (rt up)?\n`);
    return 1;
  }
  process.stdout.write(`${reply.detail} (breaker ${reply.breaker})\n`);
  return reply.ok ? 0 : 1;
}

async function killSwitchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { topology: { type: 'string' }, host: { type: 'string' } }, 1);
  const on = positionals[0];
  if (on !== 'on' && on !== 'off') throw new UsageError(`"${on}": expected on or off`);
  return askRisk(values.topology, values.host, { type: 'kill-switch', on: on === 'on', by: operatorName() } as Message);
}

async function flattenCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { topology: { type: 'string' }, host: { type: 'string' } }, 1);
  const symbol = positionals[0];
  if (!/^[A-Z0-9]{2,20}$/.test(symbol)) throw new UsageError(`symbol "${symbol}": expected upper-case letters and digits, e.g. BTCUSDT`);
  return askRisk(values.topology, values.host, { type: 'flatten', symbol, by: operatorName() } as Message);
}

function monitoringCommand(args: string[]): number {
  const { values } = parse(args, { topology: { type: 'string' }, out: { type: 'string' } }, 0);
  const file = values.topology ?? DEFAULT_TOPOLOGY;
  const topology = loadTopology(file);
  for (const f of writeMonitoring(topology, file, resolve(values.out ?? MONITORING_DIR))) process.stdout.write(`rt monitoring: wrote ${f}\n`);
  for (const w of unscrapableNodes(topology)) process.stderr.write(`rt monitoring: warning: ${w}\n`);
  return 0;
}

async function nodeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { topology: { type: 'string' } }, 1);
  const topology = loadTopology(values.topology ?? DEFAULT_TOPOLOGY);
  return runNodeProcess(topology, positionals[0], kinds(), tradingMetrics);
}

function thisHost(topology: Topology, host: string | undefined): string {
  if (host !== undefined) {
    if (!topology.hosts[host]) throw new UsageError(`--host ${host}: not a host of ${topology.file}: expected one of ${Object.keys(topology.hosts).join(', ')}`);
    return host;
  }
  const hosts = currentHostsOf(topology.hosts);
  if (hosts.length !== 1) {
    throw new UsageError(
      hosts.length === 0
        ? `no host of ${topology.file} has an address of this machine: say which with --host`
        : `hosts ${hosts.join(', ')} all look like this machine: say which with --host`,
    );
  }
  return hosts[0];
}

async function upCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    { topology: { type: 'string' }, host: { type: 'string' }, nodes: { type: 'string' }, 'log-dir': { type: 'string' }, replay: { type: 'string', multiple: true }, speed: { type: 'string' } },
    0,
  );
  let file = resolve(values.topology ?? DEFAULT_TOPOLOGY);
  const replay = values.replay ?? [];
  if (values.speed !== undefined && replay.length === 0) throw new UsageError('--speed: only with --replay <file>');
  if (replay.length > 0) {
    try {
      const r = await replayTopology(file, replay, values.speed ?? '1', resolve('.data/run'));
      process.stdout.write(`rt up: replaying ${replay.join(', ')} (${r.market}, ${r.symbols.join(', ')}) at speed ${values.speed ?? '1'}; topology ${r.file}\n`);
      file = r.file;
    } catch (e) {
      if (e instanceof ReplayTopologyError || e instanceof RecordedFileError || e instanceof RangeError) throw new UsageError(e.message);
      throw e;
    }
  }
  const topology = loadTopology(file, values.host ? { currentHost: values.host } : {});
  const host = thisHost(topology, values.host);
  let nodes = nodesOnHost(topology, host);
  if (values.nodes) {
    const wanted = values.nodes.split(',');
    const unknown = wanted.filter((n) => !nodes.includes(n));
    if (unknown.length) throw new UsageError(`--nodes ${unknown.join(',')}: not nodes of host ${host}: expected some of ${nodes.join(', ')}`);
    nodes = wanted;
  }
  // Stop requests that come while the database starts are honoured once it is open.
  const running: { launcher?: NodeLauncher; stopRequested: boolean } = { stopRequested: false };
  const stop = (): void => {
    running.stopRequested = true;
    void running.launcher?.stop();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // This host's database, before any node: DATABASE_URL's, or the embedded server (owned by this
  // `rt up` unless one already runs on persistence.data_dir). Every node gets its URL. A host none
  // of whose nodes persists needs none.
  const registry = kinds();
  const persists = nodes.some((n) => nodePersists(topology, n, registry));
  let database: Database | undefined;
  if (persists) {
    try {
      database = await openDatabase({
        url: process.env.DATABASE_URL,
        dataDir: resolve(topology.persistence.dataDir),
        port: topology.persistence.port,
        poolMax: 1,
      });
    } catch (e) {
      if (!(e instanceof DatabaseError)) throw e;
      process.stderr.write(`rt up: ${e.message}\nrt up: no node started\n`);
      return 1;
    }
  }
  if (database) process.stdout.write(`rt up: database ${maskUrl(database.url)}${database.embedded ? ` (embedded, data ${resolve(topology.persistence.dataDir)})` : ''}\n`);
  else process.stdout.write(`rt up: no database (no actor of ${nodes.join(', ')} persists)\n`);
  if (running.stopRequested) {
    await database?.close();
    return 0;
  }
  // The other hosts' nodes, heard over NATS: the status, the report and the end of a replay are the cluster's.
  const others = Object.keys(topology.nodes).filter((n) => topology.nodes[n].host !== host);
  const remote =
    others.length > 0 && topology.hosts[host].nats.length > 0
      ? new RemoteNodes({ servers: topology.hosts[host].nats, cluster: topology.cluster, nodes: others, everyMs: REMOTE_STATUS_EVERY_MS, name: `rt up ${topology.cluster} ${host}` })
      : undefined;
  remote?.start();
  const localNats = others.length === 0 ? await startMissingNats(topology.hosts[host].nats, (line) => process.stdout.write(`rt up: ${line}\n`)) : undefined;
  const launcher = new NodeLauncher({
    topologyFile: file,
    topology,
    nodes,
    rtBin: RT_BIN,
    logDir: resolve(values['log-dir'] ?? '.data/logs'),
    out: process.stdout,
    tty: Boolean(process.stdout.isTTY),
    statusEveryMs: 5000,
    stopTimeoutMs: 10_000,
    progress: tradingProgress,
    finished: replay.length > 0 ? replayFinished() : undefined,
    env: database ? { DATABASE_URL: database.url } : {},
    remote,
  });
  process.stdout.write(`rt up: host ${host}, nodes ${nodes.join(', ')} (logs in ${resolve(values['log-dir'] ?? '.data/logs')})\n`);
  running.launcher = launcher;
  launcher.start();
  let code: number;
  try {
    code = await launcher.done;
  } finally {
    // After every node has stopped: nothing writes to the database any more.
    await database?.close();
    await remote?.stop();
    await localNats?.stop();
  }
  process.stdout.write(`${tradingReport(launcher.gauges())}\n`);
  return code;
}
