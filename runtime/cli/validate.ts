// `rt validate <file> [--host <name>]`: check a topology before rolling it out. Exit codes:
// 0 valid (a summary on stdout), 1 invalid (every problem on stderr, one per line), 2 usage.
import os from 'node:os';
import { nodesOnHost } from '../placement.ts';
import { currentHostsOf, formatProblem, loadTopology, TopologyError, type Topology, type TopologyOptions } from '../topology.ts';

const USAGE = 'usage: rt validate <file> [--host <name>]';

export async function validateCommand(args: string[]): Promise<number> {
  const parsed = parseArgs(args);
  if (parsed.kind === 'help') {
    process.stdout.write(`${USAGE}\n  Checks a topology file and prints every problem, or a summary when it is valid.\n  --host <name>  the host this runs on (default: found from this machine's addresses)\n`);
    return 0;
  }
  if (parsed.kind === 'usage') {
    process.stderr.write(`rt validate: ${parsed.reason}\n${USAGE}\n`);
    return 2;
  }
  const opts: TopologyOptions = parsed.host === undefined ? {} : { currentHost: parsed.host };
  let topology: Topology;
  try {
    topology = loadTopology(parsed.file, opts);
  } catch (error) {
    if (!(error instanceof TopologyError)) throw error;
    for (const problem of error.problems) process.stderr.write(`${formatProblem(problem)}\n`);
    const count = error.problems.length;
    process.stderr.write(`${parsed.file}: ${count} problem${count === 1 ? '' : 's'}\n`);
    return 1;
  }
  process.stdout.write(summary(topology, currentHostsOf(topology.hosts, opts)));
  return 0;
}

type Parsed =
  | { readonly kind: 'run'; readonly file: string; readonly host: string | undefined }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage'; readonly reason: string };

function parseArgs(args: readonly string[]): Parsed {
  let file: string | undefined;
  let host: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '-h' || arg === '--help') return { kind: 'help' };
    if (arg === '--host' || arg.startsWith('--host=')) {
      const value = arg === '--host' ? args[++i] : arg.slice('--host='.length);
      if (value === undefined || value === '' || value.startsWith('-')) return { kind: 'usage', reason: '--host needs a host name' };
      if (host !== undefined) return { kind: 'usage', reason: '--host given twice' };
      host = value;
    } else if (arg.startsWith('-') && arg !== '-') {
      return { kind: 'usage', reason: `unknown option ${arg}` };
    } else if (file === undefined) {
      file = arg;
    } else {
      return { kind: 'usage', reason: `unexpected argument ${arg}` };
    }
  }
  if (file === undefined) return { kind: 'usage', reason: 'missing <file>' };
  return { kind: 'run', file, host };
}

function summary(topology: Topology, here: readonly string[]): string {
  const lines = [`${topology.file}: cluster "${topology.cluster}" is valid`];
  const nodeWidth = Math.max(...Object.keys(topology.nodes).map((name) => name.length));
  for (const host of Object.values(topology.hosts)) {
    const notes = [
      ...(host.cpus === undefined ? [] : [`${host.cpus} cpus`]),
      ...(here.includes(host.name) ? [`this host, ${os.availableParallelism()} cores here`] : []),
    ];
    lines.push(`host ${host.name} ${host.address}${notes.length === 0 ? '' : ` (${notes.join(', ')})`}`);
    for (const name of nodesOnHost(topology, host.name)) {
      const node = topology.nodes[name];
      const ports = Object.entries(node.ports).map(([port, number]) => `${port}=${number}`);
      const portsText = ports.length === 0 ? '' : `  ports ${ports.join(' ')}`;
      lines.push(`  node ${name.padEnd(nodeWidth)}  cores ${node.cores.join(',')}${portsText}  actors ${node.actors.join(', ')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
