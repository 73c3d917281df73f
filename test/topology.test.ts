import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { validateCommand } from '../runtime/cli/validate.ts';
import { actorSpecOf, nodeOf, nodesOnHost } from '../runtime/placement.ts';
import { tradingKinds } from '../actors/trading-kinds.ts';
import { runtimeKinds } from '../runtime/kinds/runtime-kinds.ts';
import {
  loadTopology,
  parseTopology,
  TopologyError,
  type Topology,
  type TopologyOptions,
  type TopologyProblem,
} from '../runtime/topology.ts';

// A machine-independent view of "this host": 4 cores, and only 127.0.0.1 is local.
const HERE: TopologyOptions = { cpuCount: 4, localAddresses: ['127.0.0.1'] };

// Line numbers in the tests below refer to this text (line 1 is `cluster: demo`).
const VALID = `cluster: demo
hosts:
  local: { address: 127.0.0.1 }
nodes:
  edge: { host: local, cores: [0], actors: [feed, book/*] }
  execution: { host: local, cores: [1], actors: [order/*] }
actors:
  feed: { kind: echo }
  book/*: { kind: echo }
  order/*: { kind: sink }
`;

function variant(from: string, to: string): string {
  if (!VALID.includes(from)) throw new Error(`test bug: ${from} is not in VALID`);
  return VALID.replace(from, to);
}

/** Where `token` (its nth occurrence on that line) is in `text`: what a problem must point at. */
function at(text: string, line: number, token: string, nth = 1): { line: number; column: number } {
  const content = text.split('\n')[line - 1];
  let index = -1;
  for (let i = 0; i < nth; i++) index = content.indexOf(token, index + 1);
  if (index < 0) throw new Error(`test bug: ${token} is not on line ${line}`);
  return { line, column: index + 1 };
}

function problemsOf(text: string, opts: TopologyOptions = HERE): TopologyProblem[] {
  try {
    parseTopology(text, 'bad.yaml', opts);
  } catch (error) {
    if (error instanceof TopologyError) return [...error.problems];
    throw error;
  }
  throw new Error('expected the topology to be rejected');
}

function onlyProblem(text: string, opts: TopologyOptions = HERE): Omit<TopologyProblem, 'file'> {
  const problems = problemsOf(text, opts);
  expect(problems.map((problem) => problem.message)).toHaveLength(1);
  const { file, ...rest } = problems[0];
  expect(file).toBe('bad.yaml');
  return rest;
}

describe('a valid topology', () => {
  it('loads with every default applied', () => {
    const topology = parseTopology(VALID, 'topology.yaml', HERE);
    expect(topology.cluster).toBe('demo');
    expect(topology.hosts.local).toEqual({ name: 'local', address: '127.0.0.1', cpus: undefined, nats: [] });
    expect(topology.transport).toEqual({ ipcDir: '/tmp/rt-demo', holdMs: 5000, holdMax: 100_000, batchMax: 512, inboundMax: 1_000_000 });
    expect(topology.persistence).toEqual({
      dataDir: '.data/pg',
      port: 5433,
      flushMs: 0,
      batchMax: 1000,
      snapshotEvery: 1000,
      appendTimeoutMs: 500,
      pendingMax: 100_000,
      retryMinMs: 50,
      retryMaxMs: 2000,
    });
    expect(topology.defaults).toEqual({
      mailbox: { capacity: 1024, policy: 'reject' },
      supervision: { strategy: 'one_for_one', maxRestarts: 5, withinS: 10, backoffMinMs: 10, backoffMaxMs: 1000 },
    });
    expect(topology.nodes.edge).toEqual({
      name: 'edge',
      host: 'local',
      cores: [0],
      ports: {},
      actors: ['feed', 'book/*'],
      supervision: topology.defaults.supervision,
      restart: { maxRestarts: 5, withinS: 60, backoffMinMs: 100, backoffMaxMs: 5000 },
      metricsBind: '127.0.0.1',
    });
    expect(topology.actors['book/*']).toEqual({
      key: 'book/*',
      pattern: true,
      kind: 'echo',
      node: 'edge',
      mailbox: { capacity: 1024, policy: 'reject' },
      restart: 'permanent',
      shutdownTimeoutMs: 5000,
      options: {},
    });
  });

  it('merges node and actor overrides over the defaults', () => {
    const text = `cluster: demo
hosts:
  local: { address: localhost, cpus: 2, nats: [nats://127.0.0.1:4222] }
transport: { ipc_dir: /run/rt, hold_ms: 0 }
defaults:
  mailbox: { capacity: 64, policy: conflate, conflate_key: symbol }
  supervision: { strategy: rest_for_one, backoff_max_ms: 50 }
nodes:
  edge:
    host: local
    cores: [1, 0]
    ports: { metrics: 9101, admin: 9201 }
    actors: [feed]
    supervision: { max_restarts: 0 }
    restart: { within_s: 5 }
actors:
  feed:
    kind: echo
    mailbox: { capacity: 8 }
    restart: temporary
    shutdown_timeout_ms: 0
    options: { url: ws://127.0.0.1:9000, symbols: [BTCUSDT] }
`;
    const topology = parseTopology(text, 'topology.yaml', HERE);
    expect(topology.hosts.local).toEqual({ name: 'local', address: 'localhost', cpus: 2, nats: ['nats://127.0.0.1:4222'] });
    expect(topology.transport).toEqual({ ipcDir: '/run/rt', holdMs: 0, holdMax: 100_000, batchMax: 512, inboundMax: 1_000_000 });
    expect(topology.nodes.edge.cores).toEqual([1, 0]);
    expect(topology.nodes.edge.ports).toEqual({ metrics: 9101, admin: 9201 });
    expect(topology.nodes.edge.supervision).toEqual({
      strategy: 'rest_for_one',
      maxRestarts: 0,
      withinS: 10,
      backoffMinMs: 10,
      backoffMaxMs: 50,
    });
    expect(topology.nodes.edge.restart).toEqual({ maxRestarts: 5, withinS: 5, backoffMinMs: 100, backoffMaxMs: 5000 });
    expect(topology.actors.feed.mailbox).toEqual({ capacity: 8, policy: 'conflate', conflateKey: 'symbol' });
    expect(topology.actors.feed.restart).toBe('temporary');
    expect(topology.actors.feed.shutdownTimeoutMs).toBe(0);
    expect(topology.actors.feed.options).toEqual({ url: 'ws://127.0.0.1:9000', symbols: ['BTCUSDT'] });
  });

  it('gives a conflating mailbox the conflate key "type" unless one is set', () => {
    const topology = parseTopology(variant('book/*: { kind: echo }', 'book/*: { kind: echo, mailbox: { policy: conflate } }'), 'topology.yaml', HERE);
    expect(topology.actors['book/*'].mailbox).toEqual({ capacity: 1024, policy: 'conflate', conflateKey: 'type' });
  });

  it('accepts the repository topology.yaml on a two-core host', () => {
    const topology = loadTopology(join(import.meta.dirname, '..', 'topology.yaml'), { cpuCount: 2, currentHost: 'local' });
    expect(Object.keys(topology.nodes)).toEqual(['exchange', 'edge', 'strategy', 'execution']);
    expect(nodesOnHost(topology, 'local')).toEqual(['exchange', 'edge', 'strategy', 'execution']);
    expect(nodeOf(topology, 'book/BTCUSDT')).toBe('edge');
    expect(nodeOf(topology, 'order/abc')).toBe('execution');
    // Every kind it names is one the product registers, so `npm start` runs on a fresh clone.
    const kinds = tradingKinds(runtimeKinds());
    expect(Object.values(topology.actors).filter((actor) => !kinds.has(actor.kind))).toEqual([]);
  });
});

describe('a bad topology is rejected with the exact problem', () => {
  it('an empty file', () => {
    for (const text of ['', '# only a comment\n']) {
      expect(onlyProblem(text)).toEqual({
        line: 1,
        column: 1,
        path: '',
        value: null,
        expected: 'a mapping with keys cluster, hosts, nodes, actors, transport, persistence, defaults',
        message: 'the file is empty: expected a mapping with keys cluster, hosts, nodes, actors, transport, persistence, defaults',
      });
    }
  });

  it('a top level that is not a mapping', () => {
    expect(onlyProblem('- cluster: demo\n')).toMatchObject({
      line: 1,
      column: 1,
      path: '',
      value: [{ cluster: 'demo' }],
      message: 'the top level is a list: expected a mapping with keys cluster, hosts, nodes, actors, transport, persistence, defaults',
    });
    expect(onlyProblem('demo\n').message).toBe(
      'the top level is a string ("demo"): expected a mapping with keys cluster, hosts, nodes, actors, transport, persistence, defaults',
    );
  });

  it('a YAML syntax error, at its line and column', () => {
    expect(onlyProblem(variant('  local:', '\tlocal:'))).toEqual({
      line: 3,
      column: 1,
      path: '',
      value: '\t',
      expected: 'valid YAML',
      message: 'invalid YAML: Tabs are not allowed as indentation',
    });
  });

  it('YAML syntax errors are reported alone: no schema problems from a broken tree', () => {
    const text = variant('cores: [0], actors: [feed, book/*] }', 'cores: [0, 1 }');
    const problems = problemsOf(text);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((problem) => problem.message.startsWith('invalid YAML: ') && problem.path === '')).toBe(true);
    expect(problems[0]).toMatchObject({
      ...at(text, 5, '}'),
      message: 'invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    });
  });

  it('a key given twice in one mapping (a YAML error)', () => {
    expect(onlyProblem(variant('cluster: demo\n', 'cluster: demo\ncluster: prod\n'))).toMatchObject({
      line: 2,
      column: 1,
      path: '',
      value: 'c',
      message: 'invalid YAML: Map keys must be unique',
    });
  });

  it('an alias with no anchor', () => {
    expect(onlyProblem(variant('cores: [0]', 'cores: *cores'))).toEqual({
      line: 5,
      column: 31,
      path: '',
      value: '*cores',
      expected: 'an anchor &cores defined earlier',
      message: 'alias *cores has no anchor before it: expected an anchor &cores defined earlier',
    });
  });

  it('an unknown key, pointing at the key and listing the allowed ones', () => {
    const text = variant('cores: [0], actors: [feed', 'cores: [0], core: 1, actors: [feed');
    expect(onlyProblem(text)).toEqual({
      ...at(text, 5, 'core:'),
      path: 'nodes.edge.core',
      value: 'core',
      expected: 'one of host, cores, actors, ports, supervision, restart, metrics_bind',
      message:
        'nodes.edge.core: unknown key "core": expected one of host, cores, actors, ports, supervision, restart, metrics_bind; did you mean "cores"?',
    });
    expect(onlyProblem(variant('cluster: demo\n', 'cluster: demo\nnats: []\n'))).toMatchObject({
      line: 2,
      column: 1,
      path: 'nats',
      message: 'nats: unknown key "nats": expected one of cluster, hosts, nodes, actors, transport, persistence, defaults',
    });
  });

  it('a missing required key', () => {
    expect(onlyProblem(variant('cluster: demo\n', ''))).toEqual({
      line: 1,
      column: 1,
      path: 'cluster',
      value: undefined,
      expected: 'a cluster name: a lower-case letter, then up to 31 lower-case letters, digits or dashes',
      message:
        'cluster: missing required key "cluster": expected a cluster name: a lower-case letter, then up to 31 lower-case letters, digits or dashes',
    });
    expect(onlyProblem(variant('feed: { kind: echo }', 'feed: { restart: permanent }'))).toMatchObject({
      line: 8,
      column: 9,
      path: 'actors.feed.kind',
      message: 'actors.feed.kind: missing required key "kind": expected the behaviour this actor runs, such as echo',
    });
  });

  it('a cluster name that cannot go into a socket path or a NATS subject', () => {
    expect(onlyProblem(variant('cluster: demo', 'cluster: Demo.Prod'))).toEqual({
      line: 1,
      column: 10,
      path: 'cluster',
      value: 'Demo.Prod',
      expected: 'a cluster name: a lower-case letter, then up to 31 lower-case letters, digits or dashes',
      message:
        'cluster: "Demo.Prod" is not a valid cluster name: expected a cluster name: a lower-case letter, then up to 31 lower-case letters, digits or dashes',
    });
  });

  it('a string where an integer is expected', () => {
    const text = variant('cluster: demo\n', 'cluster: demo\ndefaults: { mailbox: { capacity: "1000" } }\n');
    expect(onlyProblem(text)).toEqual({
      ...at(text, 2, '"1000"'),
      path: 'defaults.mailbox.capacity',
      value: '1000',
      expected: 'an integer in 1..10000000',
      message: 'defaults.mailbox.capacity: "1000" is a string: expected an integer in 1..10000000',
    });
  });

  it('a negative integer', () => {
    expect(onlyProblem(variant('cores: [1]', 'cores: [-1]'))).toEqual({
      line: 6,
      column: 37,
      path: 'nodes.execution.cores[0]',
      value: -1,
      expected: 'an integer in 0..1023',
      message: 'nodes.execution.cores[0]: -1 is negative: expected an integer in 0..1023',
    });
  });

  it('a float where an integer is expected', () => {
    expect(onlyProblem(variant('cluster: demo\n', 'cluster: demo\ntransport: { hold_ms: 1.5 }\n'))).toEqual({
      line: 2,
      column: 23,
      path: 'transport.hold_ms',
      value: 1.5,
      expected: 'an integer in 0..3600000',
      message: 'transport.hold_ms: 1.5 is not an integer: expected an integer in 0..3600000',
    });
  });

  it('persistence keys override their defaults one by one', () => {
    const text = variant('cluster: demo\n', 'cluster: demo\npersistence: { data_dir: /var/lib/rt/pg, port: 6000, flush_ms: 0, retry_max_ms: 50 }\n');
    expect(parseTopology(text, 'topology.yaml', HERE).persistence).toEqual({
      dataDir: '/var/lib/rt/pg',
      port: 6000,
      flushMs: 0,
      batchMax: 1000,
      snapshotEvery: 1000,
      appendTimeoutMs: 500,
      pendingMax: 100_000,
      retryMinMs: 50,
      retryMaxMs: 50,
    });
  });

  it('a persistence bound out of range, named with file:line:column', () => {
    const text = variant('cluster: demo\n', 'cluster: demo\npersistence:\n  port: 5433\n  flush_ms: 5000\n');
    expect(onlyProblem(text)).toEqual({
      ...at(text, 4, '5000'),
      path: 'persistence.flush_ms',
      value: 5000,
      expected: 'an integer in 0..1000',
      message: 'persistence.flush_ms: 5000 is out of range: expected an integer in 0..1000',
    });
    expect(problemsOf(text).map((problem) => `${problem.file}:${problem.line}:${problem.column}`)).toEqual(['bad.yaml:4:13']);
  });

  it('persistence problems: an unknown key, a bad port, an empty data_dir, retry_min_ms above retry_max_ms', () => {
    const text = variant(
      'cluster: demo\n',
      "cluster: demo\npersistence: { snapshots_every: 1, port: 70000, data_dir: '', batch_max: 0, retry_min_ms: 3000 }\n",
    );
    expect(problemsOf(text).map((problem) => problem.message)).toEqual([
      'persistence.snapshots_every: unknown key "snapshots_every": expected one of data_dir, port, flush_ms, batch_max, snapshot_every, append_timeout_ms, pending_max, retry_min_ms, retry_max_ms; did you mean "snapshot_every"?',
      'persistence.port: 70000 is out of range: expected an integer in 1..65535',
      'persistence.data_dir: an empty string: expected a directory path (relative to the working directory, or absolute)',
      'persistence.batch_max: 0 is out of range: expected an integer in 1..100000',
      'persistence.retry_min_ms: 3000 is above retry_max_ms (2000): expected at most retry_max_ms (2000)',
    ]);
  });

  it('a list where a mapping is expected', () => {
    expect(onlyProblem(variant('feed: { kind: echo }', 'feed: { kind: echo, options: [a] }'))).toMatchObject({
      line: 8,
      column: 32,
      path: 'actors.feed.options',
      value: ['a'],
      message: 'actors.feed.options: got a list: expected a mapping of options for the behaviour',
    });
  });

  it('a value that is not one of the choices', () => {
    expect(onlyProblem(variant('feed: { kind: echo }', 'feed: { kind: echo, mailbox: { policy: conflated } }'))).toEqual({
      line: 8,
      column: 42,
      path: 'actors.feed.mailbox.policy',
      value: 'conflated',
      expected: 'one of conflate, reject, backpressure',
      message:
        'actors.feed.mailbox.policy: "conflated" is not a choice: expected one of conflate, reject, backpressure; did you mean "conflate"?',
    });
  });

  it('conflate_key on a mailbox that does not conflate', () => {
    expect(onlyProblem(variant('feed: { kind: echo }', 'feed: { kind: echo, mailbox: { policy: reject, conflate_key: symbol } }'))).toEqual({
      line: 8,
      column: 64,
      path: 'actors.feed.mailbox.conflate_key',
      value: 'symbol',
      expected: 'conflate_key only with policy: conflate',
      message: 'actors.feed.mailbox.conflate_key: conflate_key is set but the policy is reject: expected conflate_key only with policy: conflate',
    });
  });

  it('a host address that is neither an IP address nor a hostname', () => {
    expect(onlyProblem(variant('address: 127.0.0.1', 'address: "10.0.0.1:4222"'))).toEqual({
      line: 3,
      column: 21,
      path: 'hosts.local.address',
      value: '10.0.0.1:4222',
      expected: 'an IPv4 or IPv6 address or a hostname',
      message: 'hosts.local.address: "10.0.0.1:4222" is neither an IP address nor a hostname: expected an IPv4 or IPv6 address or a hostname',
    });
  });

  it('a NATS server that is not a nats:// URL', () => {
    const text = variant('address: 127.0.0.1', 'address: 127.0.0.1, nats: [nats://a:4222, "http://b:4222"]');
    expect(onlyProblem(text)).toMatchObject({
      ...at(text, 3, '"http'),
      path: 'hosts.local.nats[1]',
      value: 'http://b:4222',
      message: 'hosts.local.nats[1]: "http://b:4222" is not a nats:// URL: expected a nats:// URL such as nats://127.0.0.1:4222',
    });
  });

  it('a node on a host that is not defined', () => {
    expect(onlyProblem(variant('execution: { host: local', 'execution: { host: locl'))).toEqual({
      line: 6,
      column: 22,
      path: 'nodes.execution.host',
      value: 'locl',
      expected: 'a host defined under hosts (local)',
      message: 'nodes.execution.host: "locl" is not a host of this topology: expected a host defined under hosts (local); did you mean "local"?',
    });
  });

  it('a placement naming an actor that is not defined', () => {
    expect(onlyProblem(variant('actors: [order/*]', 'actors: [order/*, risk]'))).toEqual({
      line: 6,
      column: 59,
      path: 'nodes.execution.actors[1]',
      value: 'risk',
      expected: 'a key of actors (feed, book/*, order/*)',
      message: 'nodes.execution.actors[1]: "risk" is not defined under actors: expected a key of actors (feed, book/*, order/*)',
    });
  });

  it('an actor placed on two nodes, naming both', () => {
    expect(onlyProblem(variant('actors: [order/*]', 'actors: [order/*, feed]'))).toEqual({
      line: 6,
      column: 59,
      path: 'nodes.execution.actors[1]',
      value: 'feed',
      expected: 'each actor on exactly one node',
      message: 'nodes.execution.actors[1]: "feed" is placed on node "edge" and on node "execution": expected each actor on exactly one node',
    });
  });

  it('an actor listed twice on one node', () => {
    expect(onlyProblem(variant('actors: [order/*]', 'actors: [order/*, order/*]')).message).toBe(
      'nodes.execution.actors[1]: "order/*" is already listed at nodes.execution.actors[0]: expected each actor listed once',
    );
  });

  it('an actor placed on no node', () => {
    expect(onlyProblem(variant('order/*: { kind: sink }', 'order/*: { kind: sink }\n  position: { kind: sink }'))).toEqual({
      line: 11,
      column: 3,
      path: 'actors.position',
      value: 'position',
      expected: 'its key in the actors list of exactly one node (edge, execution)',
      message: 'actors.position: "position" is not placed on any node: expected its key in the actors list of exactly one node (edge, execution)',
    });
  });

  it('an actor key that is not an address or a pattern', () => {
    expect(onlyProblem(variant('order/*: { kind: sink }', 'order/*: { kind: sink }\n  "book/*/x": { kind: sink }'))).toMatchObject({
      line: 11,
      column: 3,
      path: 'actors.book/*/x',
      value: 'book/*/x',
      message:
        'actors.book/*/x: "book/*/x" is not a valid actor address: expected an address like feed or book/BTCUSDT, or a pattern like book/* (segments of letters, digits, _ or -, the first one lower-case)',
    });
  });

  it('the same core twice in one node', () => {
    const text = variant('cores: [0]', 'cores: [0, 0]');
    expect(onlyProblem(text)).toEqual({
      ...at(text, 5, '0', 2),
      path: 'nodes.edge.cores[1]',
      value: 0,
      expected: 'distinct cores',
      message: 'nodes.edge.cores[1]: core 0 is already listed at nodes.edge.cores[0]: expected distinct cores',
    });
  });

  it('an empty list of cores', () => {
    const text = variant('cores: [0]', 'cores: []');
    expect(onlyProblem(text)).toMatchObject({
      ...at(text, 5, '[]'),
      path: 'nodes.edge.cores',
      value: [],
      message: 'nodes.edge.cores: an empty list: expected at least one core',
    });
  });

  it('a core the host does not have (host declares cpus)', () => {
    const text = variant('address: 127.0.0.1', 'address: 127.0.0.1, cpus: 1');
    expect(onlyProblem(text)).toEqual({
      line: 6,
      column: 37,
      path: 'nodes.execution.cores[0]',
      value: 1,
      expected: 'an integer in 0..0 (host "local" has 1 core)',
      message: 'nodes.execution.cores[0]: 1 is not a core of host "local": expected an integer in 0..0 (host "local" has 1 core)',
    });
  });

  it('a core this machine does not have, on the host this runs on', () => {
    const text = variant('cores: [1]', 'cores: [7]');
    expect(onlyProblem(text, { cpuCount: 2, localAddresses: ['127.0.0.1'] })).toEqual({
      line: 6,
      column: 37,
      path: 'nodes.execution.cores[0]',
      value: 7,
      expected: 'an integer in 0..1 (this host has 2 cores)',
      message: 'nodes.execution.cores[0]: 7 is not a core of host "local": expected an integer in 0..1 (this host has 2 cores)',
    });
    // The only host counts as this one even when its address is not local, and --host names it.
    expect(problemsOf(text.replace('127.0.0.1', '10.1.1.1'), { cpuCount: 2, localAddresses: [] })).toHaveLength(1);
    expect(problemsOf(text, { cpuCount: 2, currentHost: 'local', localAddresses: [] })).toHaveLength(1);
  });

  it('cores of a remote host are not checked against this machine', () => {
    const text = variant('local: { address: 127.0.0.1 }', 'local: { address: 127.0.0.1, nats: [nats://127.0.0.1:4222] }\n  far: { address: far.example.com, nats: [nats://far.example.com:4222] }')
      .replace('execution: { host: local, cores: [1]', 'execution: { host: far, cores: [31]');
    expect(parseTopology(text, 'topology.yaml', { cpuCount: 2, localAddresses: ['127.0.0.1'] }).nodes.execution.cores).toEqual([31]);
  });

  it('a current host (--host) that the topology does not define', () => {
    expect(onlyProblem(VALID, { ...HERE, currentHost: 'prod-1' })).toMatchObject({
      line: 2,
      column: 1,
      path: 'hosts',
      value: 'prod-1',
      message: 'hosts: the current host "prod-1" (--host) is not defined: expected one of local',
    });
  });

  it('nodes on two hosts, one of which names no NATS servers (envelopes between hosts travel over NATS)', () => {
    const text = variant('  local: { address: 127.0.0.1 }', '  local: { address: 127.0.0.1 }\n  remote: { address: 10.0.0.2, nats: [nats://10.0.0.2:4222] }').replace('execution: { host: local', 'execution: { host: remote');
    const p = onlyProblem(text);
    expect(p).toMatchObject({ line: 3, path: 'hosts.local.nats', expected: 'a list of nats:// URLs such as [nats://10.0.0.1:4222]' });
    expect(p.message).toContain('host "local" runs nodes but names no NATS servers, and nodes on 2 hosts (local, remote) reach each other over NATS');
  });

  it('a port used twice on the same host', () => {
    const text = variant('cores: [0],', 'cores: [0], ports: { metrics: 9101 },').replace('cores: [1],', 'cores: [1], ports: { metrics: 9101 },');
    expect(onlyProblem(text)).toEqual({
      ...at(text, 6, '9101'),
      path: 'nodes.execution.ports.metrics',
      value: 9101,
      expected: 'a port no other node uses on host "local"',
      message: 'nodes.execution.ports.metrics: port 9101 is already used by nodes.edge.ports.metrics on host "local": expected a port no other node uses on host "local"',
    });
  });

  it('the same port on two different hosts is fine', () => {
    const text = variant('local: { address: 127.0.0.1 }', 'local: { address: 127.0.0.1, nats: [nats://127.0.0.1:4222] }\n  far: { address: 10.0.0.2, nats: [nats://10.0.0.2:4222] }')
      .replace('cores: [0],', 'cores: [0], ports: { metrics: 9101 },')
      .replace('execution: { host: local, cores: [1],', 'execution: { host: far, cores: [1], ports: { metrics: 9101 },');
    expect(parseTopology(text, 'topology.yaml', HERE).nodes.execution.ports).toEqual({ metrics: 9101 });
  });

  it('a port number out of range', () => {
    expect(onlyProblem(variant('cores: [0],', 'cores: [0], ports: { metrics: 70000 },')).message).toBe(
      'nodes.edge.ports.metrics: 70000 is out of range: expected an integer in 1..65535',
    );
  });

  it('backoff_min_ms above backoff_max_ms', () => {
    const text = variant('cluster: demo\n', 'cluster: demo\ndefaults: { supervision: { backoff_min_ms: 2000 } }\n');
    expect(onlyProblem(text)).toEqual({
      ...at(text, 2, '2000'),
      path: 'defaults.supervision.backoff_min_ms',
      value: 2000,
      expected: 'at most backoff_max_ms (1000)',
      message: 'defaults.supervision.backoff_min_ms: 2000 is above backoff_max_ms (1000): expected at most backoff_max_ms (1000)',
    });
    // On a node's process restart, with the minimum inherited: point at the maximum it wrote.
    const restart = variant('cores: [1],', 'cores: [1], restart: { backoff_max_ms: 50 },');
    expect(onlyProblem(restart)).toMatchObject({
      ...at(restart, 6, '50'),
      path: 'nodes.execution.restart.backoff_max_ms',
      message: 'nodes.execution.restart.backoff_max_ms: 50 is below backoff_min_ms (100): expected at least backoff_min_ms (100)',
    });
  });

  it('an ipc_dir so long the unix socket path would not fit', () => {
    const dir = `/var/run/${'x'.repeat(80)}`;
    expect(onlyProblem(variant('cluster: demo\n', `cluster: demo\ntransport: { ipc_dir: ${dir} }\n`))).toEqual({
      line: 2,
      column: 23,
      path: 'transport.ipc_dir',
      value: dir,
      expected: 'a directory short enough that <ipc_dir>/<node>.sock stays under 100 bytes (the unix socket path limit)',
      message: `transport.ipc_dir: the socket of node "execution" would be "${dir}/execution.sock" (104 bytes): expected a directory short enough that <ipc_dir>/<node>.sock stays under 100 bytes (the unix socket path limit)`,
    });
  });

  it('a file that cannot be read', () => {
    expect(() => loadTopology('/nonexistent/topology.yaml')).toThrow(TopologyError);
    try {
      loadTopology('/nonexistent/topology.yaml');
    } catch (error) {
      expect((error as TopologyError).problems[0]).toMatchObject({ file: '/nonexistent/topology.yaml', line: 1, column: 1, expected: 'a readable YAML file' });
    }
  });
});

describe('several problems in one file', () => {
  it('are all reported, in file order, one per line of the error message', () => {
    const text = `cluster: demo
hosts:
  local: { address: 127.0.0.1, cpus: 2 }
nodes:
  edge: { host: local, cores: [0, 2], actors: [feed, bok] }
  execution: { host: remote, cores: [1], actors: [feed] }
actors:
  feed: { kind: echo, restart: sometimes }
  book/*: { kind: echo }
`;
    let caught: unknown;
    try {
      parseTopology(text, 'bad.yaml', HERE);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TopologyError);
    const error = caught as TopologyError;
    expect(error.problems.map((problem) => `${problem.line}:${problem.column} ${problem.path}`)).toEqual([
      '5:35 nodes.edge.cores[1]',
      '5:54 nodes.edge.actors[1]',
      '6:22 nodes.execution.host',
      '6:51 nodes.execution.actors[0]',
      '8:32 actors.feed.restart',
      '9:3 actors.book/*',
    ]);
    expect(error.message.split('\n')).toEqual([
      'bad.yaml:5:35: nodes.edge.cores[1]: 2 is not a core of host "local": expected an integer in 0..1 (host "local" has 2 cores)',
      'bad.yaml:5:54: nodes.edge.actors[1]: "bok" is not defined under actors: expected a key of actors (feed, book/*)',
      'bad.yaml:6:22: nodes.execution.host: "remote" is not a host of this topology: expected a host defined under hosts (local)',
      'bad.yaml:6:51: nodes.execution.actors[0]: "feed" is placed on node "edge" and on node "execution": expected each actor on exactly one node',
      'bad.yaml:8:32: actors.feed.restart: "sometimes" is not a choice: expected one of permanent, transient, temporary',
      'bad.yaml:9:3: actors.book/*: "book/*" is not placed on any node: expected its key in the actors list of exactly one node (edge, execution)',
    ]);
  });
});

describe('placement', () => {
  const text = `cluster: demo
hosts:
  a: { address: 127.0.0.1, nats: [nats://127.0.0.1:4222] }
  b: { address: 10.0.0.2, nats: [nats://10.0.0.2:4222] }
nodes:
  edge: { host: a, cores: [0], actors: [book/*, book/spot/*] }
  special: { host: b, cores: [0], actors: [book/BTCUSDT, constructor] }
  execution: { host: a, cores: [1], actors: [order/*] }
actors:
  book/*: { kind: echo }
  book/spot/*: { kind: echo, mailbox: { capacity: 7 } }
  book/BTCUSDT: { kind: echo }
  order/*: { kind: sink }
  constructor: { kind: sink }
`;
  const topology: Topology = parseTopology(text, 'topology.yaml', HERE);

  it('an exact actor key wins over a pattern', () => {
    expect(nodeOf(topology, 'book/BTCUSDT')).toBe('special');
    expect(nodeOf(topology, 'book/ETHUSDT')).toBe('edge');
  });

  it('the longest matching pattern wins', () => {
    expect(nodeOf(topology, 'book/spot/BTCUSDT')).toBe('edge');
    expect(actorSpecOf(topology, 'book/spot/BTCUSDT')?.mailbox.capacity).toBe(7);
    expect(actorSpecOf(topology, 'book/ETHUSDT')?.key).toBe('book/*');
    expect(actorSpecOf(topology, 'book/futures/ETHUSDT')?.key).toBe('book/*');
    expect(nodeOf(topology, 'order/abc')).toBe('execution');
  });

  it('a pattern covers only addresses below it', () => {
    expect(nodeOf(topology, 'order')).toBeUndefined();
    expect(nodeOf(topology, 'order/')).toBeUndefined();
    expect(nodeOf(topology, 'orders/abc')).toBeUndefined();
    expect(nodeOf(topology, 'risk')).toBeUndefined();
    expect(nodeOf(topology, '')).toBeUndefined();
  });

  it('names that are also Object.prototype members are plain names', () => {
    expect(nodeOf(topology, 'constructor')).toBe('special');
    expect(nodeOf(topology, 'toString')).toBeUndefined();
    expect(nodeOf(topology, 'hasOwnProperty/x')).toBeUndefined();
  });

  it('lists the nodes of a host in file order', () => {
    expect(nodesOnHost(topology, 'a')).toEqual(['edge', 'execution']);
    expect(nodesOnHost(topology, 'b')).toEqual(['special']);
    expect(nodesOnHost(topology, 'c')).toEqual([]);
  });
});

describe('rt validate', () => {
  let dir: string;
  let out: string;
  let err: string;

  beforeEach(() => {
    dir = mkdtempSync(join(os.tmpdir(), 'rt-validate-'));
    out = '';
    err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
  });

  afterEach(() => {
    vi.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  function file(name: string, text: string): string {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  }

  it('exits 0 with a summary for a valid file', async () => {
    // Core 0 only, so this holds on any machine.
    const path = file('ok.yaml', VALID.replace('cores: [1]', 'cores: [0]'));
    expect(await validateCommand([path, '--host', 'local'])).toBe(0);
    expect(err).toBe('');
    expect(out).toContain(`${path}: cluster "demo" is valid`);
    expect(out).toMatch(/host local 127\.0\.0\.1 \(this host/);
    expect(out).toMatch(/node edge\s+cores 0\s+actors feed, book\/\*/);
    expect(out).toMatch(/node execution\s+cores 0\s+actors order\/\*/);
  });

  it('exits 1 and prints every problem as file:line:col: path: message', async () => {
    const path = file('bad.yaml', VALID.replace('cores: [0]', 'cores: [0, 0]').replace('feed: { kind: echo }', 'feed: { kind: 7 }'));
    expect(await validateCommand([`--host=local`, path])).toBe(1);
    expect(out).toBe('');
    expect(err.trimEnd().split('\n')).toEqual([
      `${path}:5:35: nodes.edge.cores[1]: core 0 is already listed at nodes.edge.cores[0]: expected distinct cores`,
      `${path}:8:17: actors.feed.kind: 7 is a number: expected the name of a behaviour, such as echo`,
      `${path}: 2 problems`,
    ]);
  });

  it('exits 1 when the file cannot be read or is not YAML', async () => {
    expect(await validateCommand([join(dir, 'missing.yaml')])).toBe(1);
    expect(await validateCommand([file('broken.yaml', 'cluster: [demo\n')])).toBe(1);
    expect(err).toMatch(/missing\.yaml:1:1: cannot read the file/);
    expect(err).toMatch(/broken\.yaml:2:1: invalid YAML: /);
  });

  it('exits 2 with a usage line on bad arguments', async () => {
    for (const args of [[], ['a.yaml', 'b.yaml'], ['a.yaml', '--host'], ['a.yaml', '--bogus']]) {
      err = '';
      expect(await validateCommand(args)).toBe(2);
      expect(err).toMatch(/^rt validate: .+\nusage: rt validate <file> \[--host <name>\]\n$/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Properties.

const nameArb = fc.stringMatching(/^[a-z][a-z0-9-]{0,31}$/);
const segmentArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/);
const actorKeyArb = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9_-]{0,12}$/),
  fc.tuple(fc.constantFrom('book', 'order', 'sig'), fc.array(segmentArb, { minLength: 1, maxLength: 2 })).map(([head, rest]) => [head, ...rest].join('/')),
  fc.tuple(fc.constantFrom('book', 'order', 'sig'), fc.array(segmentArb, { maxLength: 1 })).map(([head, rest]) => [head, ...rest, '*'].join('/')),
);
const mailboxArb = fc.oneof(
  fc.constant(undefined),
  fc.record({ capacity: fc.integer({ min: 1, max: 10_000_000 }), policy: fc.constantFrom('reject', 'backpressure') }),
  fc.record({ capacity: fc.integer({ min: 1, max: 10_000_000 }), policy: fc.constant('conflate'), conflate_key: fc.constantFrom('symbol', 'type') }),
);
const backoffArb = fc
  .tuple(fc.integer({ min: 0, max: 3_600_000 }), fc.integer({ min: 0, max: 3_600_000 }))
  .map(([a, b]) => ({ backoff_min_ms: Math.min(a, b), backoff_max_ms: Math.max(a, b) }));

interface Generated {
  readonly raw: Record<string, unknown>;
  /** actor key -> node it was placed on */
  readonly placement: ReadonlyMap<string, string>;
}

/** Any valid topology: every actor on exactly one node, distinct cores below cpus, distinct ports. */
const topologyArb: fc.Arbitrary<Generated> = fc
  .record({
    cluster: nameArb,
    hosts: fc.uniqueArray(fc.tuple(nameArb, fc.ipV4(), fc.integer({ min: 1, max: 64 })), { minLength: 1, maxLength: 3, selector: ([name]) => name }),
    nodeNames: fc.uniqueArray(nameArb, { minLength: 1, maxLength: 5 }),
    actors: fc.uniqueArray(fc.tuple(actorKeyArb, mailboxArb, fc.constantFrom('permanent', 'transient', 'temporary')), {
      minLength: 1,
      maxLength: 12,
      selector: ([key]) => key,
    }),
    seeds: fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
    backoff: backoffArb,
  })
  .map(({ cluster, hosts, nodeNames, actors, seeds, backoff }) => {
    const names = nodeNames.slice(0, actors.length);
    const placement = new Map<string, string>();
    const lists = new Map<string, string[]>(names.map((name) => [name, []]));
    actors.forEach(([key], index) => {
      // The first actors give every node one; the rest go anywhere.
      const node = index < names.length ? names[index] : names[seeds[index % seeds.length] % names.length];
      placement.set(key, node);
      lists.get(node)?.push(key);
    });
    const nodes: Record<string, unknown> = {};
    names.forEach((name, index) => {
      const [host, , cpus] = hosts[seeds[index] % hosts.length];
      const first = seeds[index + 10] % cpus;
      const cores = first + 1 < cpus ? [first, first + 1] : [first];
      nodes[name] = {
        host,
        cores,
        ports: { metrics: 9100 + index },
        actors: lists.get(name),
        restart: backoff,
      };
    });
    const raw: Record<string, unknown> = {
      cluster,
      hosts: Object.fromEntries(hosts.map(([name, address, cpus]) => [name, { address, cpus, nats: [`nats://${address}:4222`] }])),
      defaults: { supervision: { strategy: 'one_for_all', ...backoff } },
      nodes,
      actors: Object.fromEntries(
        actors.map(([key, mailbox, restart]) => [key, mailbox === undefined ? { kind: 'echo', restart } : { kind: 'echo', mailbox, restart }]),
      ),
    };
    return { raw, placement };
  });

describe('properties', () => {
  it('any text either loads or is rejected with a TopologyError, never another exception', () => {
    const mutatedArb = fc
      .tuple(fc.nat(VALID.length), fc.nat(8), fc.string({ unit: fc.constantFrom(...'{}[],:-*&!#|>"\'\t\n 0aZ/?~%@') , maxLength: 6 }))
      .map(([start, cut, insert]) => VALID.slice(0, start) + insert + VALID.slice(start + cut));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), mutatedArb), (text) => {
        try {
          parseTopology(text, 'fuzz.yaml', HERE);
        } catch (error) {
          expect(error).toBeInstanceOf(TopologyError);
          const problems = (error as TopologyError).problems;
          expect(problems.length).toBeGreaterThan(0);
          for (const problem of problems) {
            expect(problem.line).toBeGreaterThanOrEqual(1);
            expect(problem.column).toBeGreaterThanOrEqual(1);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('any valid topology round-trips through YAML and places each actor on exactly one node', () => {
    fc.assert(
      fc.property(topologyArb, ({ raw, placement }) => {
        const topology = parseTopology(stringify(raw), 'generated.yaml', { cpuCount: 1024, localAddresses: [] });
        for (const [key, node] of placement) {
          const holders = Object.values(topology.nodes).filter((spec) => spec.actors.includes(key));
          expect(holders.map((spec) => spec.name)).toEqual([node]);
          expect(nodeOf(topology, key)).toBe(node);
          expect(topology.actors[key].node).toBe(node);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('nodeOf agrees with the rule: exact key, else the longest pattern the address is under', () => {
    const addressArb = fc.tuple(fc.constantFrom('book', 'order', 'sig', 'feed'), fc.array(segmentArb, { maxLength: 3 })).map(([head, rest]) => [head, ...rest].join('/'));
    fc.assert(
      fc.property(topologyArb, fc.array(addressArb, { minLength: 1, maxLength: 10 }), ({ raw, placement }, addresses) => {
        const topology = parseTopology(stringify(raw), 'generated.yaml', { cpuCount: 1024, localAddresses: [] });
        for (const address of [...addresses, ...placement.keys()]) {
          const patterns = [...placement.keys()]
            .filter((key) => key.endsWith('/*') && address.startsWith(key.slice(0, -1)) && address.length > key.length - 1)
            .sort((a, b) => b.length - a.length);
          const expected = placement.get(address) ?? (patterns.length > 0 ? placement.get(patterns[0]) : undefined);
          expect(nodeOf(topology, address)).toBe(expected);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('an unknown key in any fixed-key mapping is the one problem reported, at that key', () => {
    fc.assert(
      fc.property(topologyArb, fc.nat(), fc.stringMatching(/^zz[a-z_]{0,8}$/), ({ raw }, pick, unknown) => {
        const targets: Record<string, unknown>[] = [];
        const paths: string[] = [];
        const add = (target: unknown, path: string): void => {
          targets.push(target as Record<string, unknown>);
          paths.push(path);
        };
        add(raw, '');
        for (const [name, host] of Object.entries(raw.hosts as object)) add(host, `hosts.${name}`);
        for (const [name, node] of Object.entries(raw.nodes as object)) add(node, `nodes.${name}`);
        for (const [key, actor] of Object.entries(raw.actors as object)) add(actor, `actors.${key}`);
        const index = pick % targets.length;
        targets[index][unknown] = 1;
        const problems = problemsOf(stringify(raw), { cpuCount: 1024, localAddresses: [] });
        expect(problems.map((problem) => problem.path)).toEqual([paths[index] === '' ? unknown : `${paths[index]}.${unknown}`]);
        expect(problems[0].message).toContain(`unknown key "${unknown}"`);
      }),
      { numRuns: 200 },
    );
  });
});
