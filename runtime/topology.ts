// topology.yaml: the hosts, the node processes on them (pinned to cores), the actors on each node,
// and the bounds an operator tunes (mailboxes, supervision, transport, persistence). This file turns the YAML
// text into a typed `Topology` with every default filled in, or into a `TopologyError` listing
// every problem at once with file:line:column, the field path, the value and what was expected:
// an operator fixing a rollout wants the whole list, not one error per attempt.
//
// The validator walks the YAML syntax tree (not the plain JS value) so that every problem, even a
// cross-field one found at the end, points at the exact node or key in the file.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import { posix } from 'node:path';
import {
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import { MAILBOX_CAPACITY_MAX, type OverflowPolicy } from './mailbox.ts';

// ---------------------------------------------------------------------------------------------
// Types of a loaded topology. Names are camelCase here, snake_case in the YAML.

export type MailboxPolicy = OverflowPolicy;

/** A bounded mailbox: `conflate` keeps the latest message per `conflateKey` (a body field). */
export type MailboxSpec =
  | { readonly policy: 'conflate'; readonly capacity: number; readonly conflateKey: string }
  | { readonly policy: 'reject' | 'backpressure'; readonly capacity: number };

export type SupervisionStrategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';

/** OTP restart intensity (maxRestarts within withinS, then escalate) plus restart backoff. */
export interface SupervisionSpec {
  readonly strategy: SupervisionStrategy;
  readonly maxRestarts: number;
  readonly withinS: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
}

/** How `rt up` restarts a dead node process (same budget shape, no strategy). */
export interface NodeRestartSpec {
  readonly maxRestarts: number;
  readonly withinS: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
}

export type RestartType = 'permanent' | 'transient' | 'temporary';

export interface HostSpec {
  readonly name: string;
  readonly address: string;
  /** Cores the host has, when declared; every core pinned on this host must be below it. */
  readonly cpus: number | undefined;
  readonly nats: readonly string[];
}

export interface TransportSpec {
  readonly ipcDir: string;
  readonly holdMs: number;
  readonly holdMax: number;
  readonly batchMax: number;
  /** Over NATS: most envelopes received and waiting for full back-pressured mailboxes; past it the node is a slow consumer. */
  readonly inboundMax: number;
}

/** The event journal's database (the embedded server, used without DATABASE_URL) and its group-commit bounds. */
export interface PersistenceSpec {
  /** The embedded PostgreSQL's data folder, relative to the working directory unless absolute. */
  readonly dataDir: string;
  /** The embedded server's TCP port on 127.0.0.1. */
  readonly port: number;
  /** Group commit: most time an event waits for its batch to be written. */
  readonly flushMs: number;
  /** Most events written in one batch (one transaction). */
  readonly batchMax: number;
  /** Events between two snapshots of one actor. */
  readonly snapshotEvery: number;
  /** An append batch slower than this marks the journal unavailable. */
  readonly appendTimeoutMs: number;
  /** Most events queued for the journal; beyond that, appends are refused. */
  readonly pendingMax: number;
  /** Retry delay after a failed batch: first retryMinMs, doubling up to retryMaxMs. */
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
}

export interface NodeSpec {
  readonly name: string;
  readonly host: string;
  readonly cores: readonly number[];
  readonly ports: Readonly<Record<string, number>>;
  /** Actor keys (addresses or `name/*` patterns) placed on this node, in file order. */
  readonly actors: readonly string[];
  /** The node's root supervisor: defaults.supervision overridden by the node's own keys. */
  readonly supervision: SupervisionSpec;
  readonly restart: NodeRestartSpec;
  /** Address the node's metrics endpoint (`ports.metrics`) listens on: loopback unless set. */
  readonly metricsBind: string;
}

export interface ActorSpec {
  /** The key under `actors`: `name`, `name/sub`, or a pattern `name/*`. */
  readonly key: string;
  readonly pattern: boolean;
  readonly kind: string;
  /** The one node this actor (or every address matching the pattern) lives on. */
  readonly node: string;
  /** defaults.mailbox overridden by the actor's own keys. */
  readonly mailbox: MailboxSpec;
  readonly restart: RestartType;
  readonly shutdownTimeoutMs: number;
  readonly options: Readonly<Record<string, unknown>>;
}

export interface Topology {
  readonly file: string;
  readonly cluster: string;
  readonly hosts: Readonly<Record<string, HostSpec>>;
  readonly transport: TransportSpec;
  readonly persistence: PersistenceSpec;
  readonly defaults: { readonly mailbox: MailboxSpec; readonly supervision: SupervisionSpec };
  readonly nodes: Readonly<Record<string, NodeSpec>>;
  readonly actors: Readonly<Record<string, ActorSpec>>;
}

export interface TopologyOptions {
  /** The host this command runs on (`--host`); otherwise found from the machine's addresses. */
  readonly currentHost?: string;
  /** Cores of this machine; default `os.cpus().length` (all of them: a pinned process must not see only its own). */
  readonly cpuCount?: number;
  /** Addresses naming this machine; default loopback, `os.hostname()` and interface addresses. */
  readonly localAddresses?: readonly string[];
}

export interface TopologyProblem {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** Field path such as `nodes.edge.cores[1]`; empty for the whole file or a YAML syntax error. */
  readonly path: string;
  readonly value: unknown;
  readonly expected: string;
  /** `path: what is wrong: expected ...`, ready to print after `file:line:column: `. */
  readonly message: string;
}

export class TopologyError extends Error {
  override readonly name = 'TopologyError';
  readonly problems: readonly TopologyProblem[];

  constructor(problems: readonly TopologyProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.problems = problems;
  }
}

export function formatProblem(problem: TopologyProblem): string {
  return `${problem.file}:${problem.line}:${problem.column}: ${problem.message}`;
}

// ---------------------------------------------------------------------------------------------
// Defaults and bounds. Every bound is named with its unit and documented in the README.

export const TOPOLOGY_DEFAULTS = {
  transport: { holdMs: 5000, holdMax: 100_000, batchMax: 512, inboundMax: 1_000_000 },
  persistence: {
    dataDir: '.data/pg',
    port: 5433,
    flushMs: 0,
    batchMax: 1000,
    snapshotEvery: 1000,
    appendTimeoutMs: 500,
    pendingMax: 100_000,
    retryMinMs: 50,
    retryMaxMs: 2000,
  } satisfies PersistenceSpec,
  mailbox: { capacity: 1024, policy: 'reject' } satisfies MailboxSpec,
  conflateKey: 'type',
  supervision: {
    strategy: 'one_for_one',
    maxRestarts: 5,
    withinS: 10,
    backoffMinMs: 10,
    backoffMaxMs: 1000,
  } satisfies SupervisionSpec,
  nodeRestart: { maxRestarts: 5, withinS: 60, backoffMinMs: 100, backoffMaxMs: 5000 } satisfies NodeRestartSpec,
  actorRestart: 'permanent' satisfies RestartType,
  shutdownTimeoutMs: 5000,
} as const;

/** The kernel's sun_path is 108 bytes on Linux, 104 on macOS; stay under both. */
export const IPC_SOCKET_PATH_MAX_BYTES = 100;

/** The ipc socket of a node; validation checks its length with this same function. */
export function ipcSocketPath(ipcDir: string, node: string): string {
  return posix.join(ipcDir, `${node}.sock`);
}

const HOLD_MS_MAX = 3_600_000;
const HOLD_MAX_MAX = 10_000_000;
const BATCH_MAX_MAX = 65_536;
const PORT_MIN = 1;
const PORT_MAX = 65_535;
const FLUSH_MS_MAX = 1000;
const JOURNAL_BATCH_MAX_MAX = 100_000;
const SNAPSHOT_EVERY_MAX = 10_000_000;
const APPEND_TIMEOUT_MS_MAX = 600_000;
const PENDING_MAX_MAX = 10_000_000;
const RETRY_MS_MAX = 600_000;
const MAX_RESTARTS_MAX = 1_000_000;
const WITHIN_S_MAX = 86_400;
const BACKOFF_MS_MAX = 3_600_000;
const SHUTDOWN_TIMEOUT_MS_MAX = 600_000;
// CPU_SETSIZE: what sched_setaffinity and taskset accept by default.
const CPUS_MAX = 1024;
// Aliases are followed while walking; a cap keeps a hostile file from costing much.
const ALIASES_MAX = 100;

const NAME_RULE = /^[a-z][a-z0-9-]{0,31}$/;
const NAME_EXPECTED = 'a lower-case letter, then up to 31 lower-case letters, digits or dashes';
const PORT_NAME_RULE = /^[a-z][a-z0-9_-]{0,31}$/;
// Addresses become NATS subject tokens later, hence no dots, spaces or wildcards inside segments.
const ACTOR_KEY_RULE = /^[a-z][a-z0-9_-]{0,63}(\/[A-Za-z0-9_-]{1,64})*(\/\*)?$/;
const ACTOR_KEY_MAX_CHARS = 200;
const ACTOR_KEY_EXPECTED =
  'an address like feed or book/BTCUSDT, or a pattern like book/* (segments of letters, digits, _ or -, the first one lower-case)';
const HOSTNAME_RULE = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

// Required keys map to what a missing one should have held, for the problem report.
const KEYS = {
  top: {
    required: {
      cluster: `a cluster name: ${NAME_EXPECTED}`,
      hosts: 'a mapping of host name to { address, cpus, nats }',
      nodes: 'a mapping of node name to { host, cores, actors, ... }',
      actors: 'a mapping of actor address or pattern to { kind, ... }',
    },
    optional: ['transport', 'persistence', 'defaults'],
  },
  host: { required: { address: 'an IPv4 or IPv6 address or a hostname' }, optional: ['cpus', 'nats'] },
  transport: { required: {}, optional: ['ipc_dir', 'hold_ms', 'hold_max', 'batch_max', 'inbound_max'] },
  persistence: {
    required: {},
    optional: ['data_dir', 'port', 'flush_ms', 'batch_max', 'snapshot_every', 'append_timeout_ms', 'pending_max', 'retry_min_ms', 'retry_max_ms'],
  },
  defaults: { required: {}, optional: ['mailbox', 'supervision'] },
  mailbox: { required: {}, optional: ['capacity', 'policy', 'conflate_key'] },
  supervision: { required: {}, optional: ['strategy', 'max_restarts', 'within_s', 'backoff_min_ms', 'backoff_max_ms'] },
  nodeRestart: { required: {}, optional: ['max_restarts', 'within_s', 'backoff_min_ms', 'backoff_max_ms'] },
  node: {
    required: {
      host: 'the host this node runs on',
      cores: 'a non-empty list of the cores this node is pinned to',
      actors: 'a non-empty list of the actors this node runs',
    },
    optional: ['ports', 'supervision', 'restart', 'metrics_bind'],
  },
  actor: {
    required: { kind: 'the behaviour this actor runs, such as echo' },
    optional: ['mailbox', 'restart', 'shutdown_timeout_ms', 'options'],
  },
} as const satisfies Record<string, KeySpec>;

function keysOf(spec: KeySpec): string[] {
  return [...Object.keys(spec.required), ...spec.optional];
}

const MAILBOX_POLICIES = ['conflate', 'reject', 'backpressure'] as const satisfies readonly MailboxPolicy[];
const STRATEGIES = ['one_for_one', 'one_for_all', 'rest_for_one'] as const satisfies readonly SupervisionStrategy[];
const RESTART_TYPES = ['permanent', 'transient', 'temporary'] as const satisfies readonly RestartType[];

// ---------------------------------------------------------------------------------------------
// Entry points.

export function loadTopology(file: string, opts: TopologyOptions = {}): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new TopologyError([
      {
        file,
        line: 1,
        column: 1,
        path: '',
        value: file,
        expected: 'a readable YAML file',
        message: `cannot read the file (${reason}): expected a readable YAML file`,
      },
    ]);
  }
  return parseTopology(text, file, opts);
}

export function parseTopology(text: string, file: string, opts: TopologyOptions = {}): Topology {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const reader = new Reader(file, doc, lines);
  if (doc.errors.length > 0) {
    // A broken syntax tree would only produce misleading schema problems on top; report the
    // syntax errors alone.
    for (const error of doc.errors) reader.syntaxError(text, error.pos, error.code, error.message);
    throw new TopologyError(reader.problems);
  }
  reader.checkAliases();
  if (reader.problems.length > 0) throw new TopologyError(reader.problems);

  const topology = readTopology(reader, doc.contents, opts);
  if (reader.problems.length > 0 || topology === undefined) throw new TopologyError(reader.sortedProblems());
  return topology;
}

/**
 * The hosts of `hosts` that are this machine: `opts.currentHost`, else every host whose address
 * is a loopback name, this machine's hostname or one of its interface addresses, else the only
 * host when there is just one. Several hosts can match when a test topology simulates hosts on
 * one machine; all of them then run here.
 */
export function currentHostsOf(hosts: Readonly<Record<string, HostSpec>>, opts: TopologyOptions = {}): string[] {
  const names = Object.keys(hosts);
  if (opts.currentHost !== undefined) return Object.hasOwn(hosts, opts.currentHost) ? [opts.currentHost] : [];
  const local = new Set((opts.localAddresses ?? machineAddresses()).map((address) => address.toLowerCase()));
  const matching = names.filter((name) => local.has(hosts[name].address.toLowerCase()));
  if (matching.length > 0) return matching;
  return names.length === 1 ? names : [];
}

function machineAddresses(): string[] {
  const addresses = ['127.0.0.1', '::1', 'localhost', os.hostname()];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const entry of list ?? []) addresses.push(entry.address);
  }
  return addresses;
}

// ---------------------------------------------------------------------------------------------
// The walk over the syntax tree.

type Path = readonly (string | number)[];

interface KeySpec {
  readonly required: Readonly<Record<string, string>>;
  readonly optional: readonly string[];
}

/** A value in the tree and where to point when it is wrong (its key when the value is absent). */
interface Slot {
  readonly node: YamlNode | null;
  readonly at: YamlNode;
}

interface NamedSlot extends Slot {
  readonly name: string;
  readonly key: YamlNode;
}

type Fields = ReadonlyMap<string, NamedSlot>;

class Reader {
  readonly problems: TopologyProblem[] = [];

  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  sortedProblems(): TopologyProblem[] {
    return [...this.problems].sort((a, b) => a.line - b.line || a.column - b.column);
  }

  syntaxError(text: string, pos: readonly [number, number], code: string, message: string): void {
    const { line, column } = this.position(pos[0]);
    const wording = code === 'MULTIPLE_DOCS' ? 'the file holds more than one YAML document' : message;
    this.problems.push({
      file: this.file,
      line,
      column,
      path: '',
      value: text.slice(pos[0], Math.max(pos[1], pos[0] + 1)),
      expected: 'valid YAML',
      message: `invalid YAML: ${wording}`,
    });
  }

  /** Unresolvable or excessive aliases, found before the walk so it never meets them. */
  checkAliases(): void {
    let count = 0;
    visit(this.doc, {
      Alias: (_key, alias) => {
        count += 1;
        if (alias.resolve(this.doc) === undefined) {
          this.add(alias, '', `*${alias.source}`, `alias *${alias.source} has no anchor before it`, `an anchor &${alias.source} defined earlier`);
        } else if (count === ALIASES_MAX + 1) {
          this.add(alias, '', `*${alias.source}`, `more than ${ALIASES_MAX} aliases`, `at most ${ALIASES_MAX} aliases`);
        }
      },
    });
  }

  /** A problem with the file as a whole, such as being empty. */
  atStart(value: unknown, found: string, expected: string): void {
    this.problems.push({ file: this.file, line: 1, column: 1, path: '', value, expected, message: `${found}: expected ${expected}` });
  }

  report(slot: Slot, path: Path, value: unknown, found: string, expected: string, hint?: string): void {
    this.add(slot.at, pathText(path), value, found, expected, hint);
  }

  private add(at: YamlNode, path: string, value: unknown, found: string, expected: string, hint?: string): void {
    const { line, column } = this.position(at.range?.[0] ?? 0);
    const prefix = path === '' ? '' : `${path}: `;
    const suffix = hint === undefined ? '' : `; ${hint}`;
    this.problems.push({
      file: this.file,
      line,
      column,
      path,
      value,
      expected,
      message: `${prefix}${found}: expected ${expected}${suffix}`,
    });
  }

  private position(offset: number): { line: number; column: number } {
    const { line, col } = this.lines.linePos(offset);
    return { line: Math.max(1, line), column: Math.max(1, col) };
  }

  deref(node: YamlNode | null): YamlNode | null {
    if (isAlias(node)) return node.resolve(this.doc) ?? null;
    return node;
  }

  /** The plain value of a slot, for problem reports and free-form options. */
  plain(slot: Slot): unknown {
    const node = this.deref(slot.node);
    if (node === null) return null;
    if (isScalar(node)) return node.value;
    try {
      return node.toJS(this.doc, { maxAliasCount: ALIASES_MAX }) as unknown;
    } catch {
      return undefined;
    }
  }

  wrongType(slot: Slot, path: Path, expected: string): void {
    const value = this.plain(slot);
    this.report(slot, path, value, describeType(value), expected);
  }

  /** A mapping with a fixed set of keys: unknown keys and missing required keys are problems. */
  fields(slot: Slot, path: Path, spec: KeySpec, expected: string): Fields | undefined {
    const entries = this.entries(slot, path, expected);
    if (entries === undefined) return undefined;
    const allowed = keysOf(spec);
    const fields = new Map<string, NamedSlot>();
    for (const entry of entries) {
      if (allowed.includes(entry.name)) {
        fields.set(entry.name, entry);
        continue;
      }
      const guess = closest(entry.name, allowed);
      this.add(
        entry.key,
        pathText([...path, entry.name]),
        entry.name,
        `unknown key ${JSON.stringify(entry.name)}`,
        `one of ${allowed.join(', ')}`,
        guess === undefined ? undefined : `did you mean ${JSON.stringify(guess)}?`,
      );
    }
    for (const [key, meaning] of Object.entries(spec.required)) {
      if (!fields.has(key)) this.report(slot, [...path, key], undefined, `missing required key "${key}"`, meaning);
    }
    return fields;
  }

  /** Any mapping (hosts, nodes, actors, ports), its entries in file order. */
  entries(slot: Slot, path: Path, expected: string): NamedSlot[] | undefined {
    const node = this.deref(slot.node);
    if (!isMap(node)) {
      this.wrongType(slot, path, expected);
      return undefined;
    }
    return node.items.map((pair) => {
      const key = isNode(pair.key) ? pair.key : node;
      const value = isNode(pair.value) ? pair.value : null;
      return { name: keyName(pair.key), key, node: value, at: value ?? key };
    });
  }

  items(slot: Slot, path: Path, expected: string): Slot[] | undefined {
    const node = this.deref(slot.node);
    if (!isSeq(node)) {
      this.wrongType(slot, path, expected);
      return undefined;
    }
    return node.items.map((item) => {
      const value = isNode(item) ? item : null;
      return { node: value, at: value ?? node };
    });
  }

  int(slot: Slot, path: Path, min: number, max: number, expected = `an integer in ${min}..${max}`): number | undefined {
    const value = this.plain(slot);
    if (typeof value !== 'number') {
      this.report(slot, path, value, describeType(value), expected);
      return undefined;
    }
    if (!Number.isInteger(value)) {
      this.report(slot, path, value, `${value} is not an integer`, expected);
      return undefined;
    }
    if (value < min || value > max) {
      this.report(slot, path, value, value < 0 && min >= 0 ? `${value} is negative` : `${value} is out of range`, expected);
      return undefined;
    }
    return value;
  }

  text(slot: Slot, path: Path, expected: string, rule?: RegExp, what = 'is not valid'): string | undefined {
    const value = this.plain(slot);
    if (typeof value !== 'string' || value === '') {
      this.report(slot, path, value, value === '' ? 'an empty string' : describeType(value), expected);
      return undefined;
    }
    if (rule !== undefined && !rule.test(value)) {
      this.report(slot, path, value, `${JSON.stringify(value)} ${what}`, expected);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(slot: Slot, path: Path, choices: readonly T[]): T | undefined {
    const expected = `one of ${choices.join(', ')}`;
    const value = this.plain(slot);
    if (typeof value !== 'string') {
      this.report(slot, path, value, describeType(value), expected);
      return undefined;
    }
    const choice = choices.find((candidate) => candidate === value);
    if (choice === undefined) {
      const guess = closest(value, choices);
      this.report(slot, path, value, `${JSON.stringify(value)} is not a choice`, expected, guess && `did you mean ${JSON.stringify(guess)}?`);
    }
    return choice;
  }
}

function keyName(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

function pathText(path: Path): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? segment : `.${segment}`;
  }
  return text;
}

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'no value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

/** What is wrong with a value of the wrong type: `"5" is a string`, `got a list`. */
function describeType(value: unknown): string {
  if (typeof value === 'string') return `${JSON.stringify(value)} is a string`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${value} is a ${typeof value}`;
  return `got ${kindOf(value)}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function listOf(names: readonly string[], limit = 12): string {
  if (names.length === 0) return '(none defined)';
  const shown = names.slice(0, limit).join(', ');
  return names.length > limit ? `${shown}, ... (${names.length} in all)` : shown;
}

/** The candidate a typo most likely meant: edit distance at most a third of its length. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** Records keyed by names from the file: no prototype, so `constructor` is just a name. */
function record<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

// ---------------------------------------------------------------------------------------------
// Sections. Each reads what it can and reports the rest; cross-field rules run on what was read.

interface NodeDraft {
  readonly spec: NodeSpec;
  readonly hostSlot: NamedSlot | undefined;
  readonly cores: readonly { readonly core: number; readonly slot: Slot; readonly path: Path }[];
  readonly ports: readonly { readonly port: number; readonly slot: Slot; readonly path: Path }[];
  readonly placements: readonly { readonly key: string; readonly slot: Slot; readonly path: Path }[];
}

type ActorDraft = Omit<ActorSpec, 'node'> & { readonly keySlot: NamedSlot };

function readTopology(reader: Reader, contents: YamlNode | null, opts: TopologyOptions): Topology | undefined {
  const rootExpected = `a mapping with keys ${keysOf(KEYS.top).join(', ')}`;
  if (contents === null) {
    reader.atStart(null, 'the file is empty', rootExpected);
    return undefined;
  }
  const root: Slot = { node: contents, at: contents };
  if (!isMap(reader.deref(contents))) {
    const value = reader.plain(root);
    const shown = typeof value === 'string' || typeof value === 'number' ? ` (${JSON.stringify(value)})` : '';
    reader.report(root, [], value, `the top level is ${kindOf(value)}${shown}`, rootExpected);
    return undefined;
  }
  const top = reader.fields(root, [], KEYS.top, rootExpected);
  if (top === undefined) return undefined;

  const clusterSlot = top.get('cluster');
  const cluster =
    (clusterSlot && reader.text(clusterSlot, ['cluster'], `a cluster name: ${NAME_EXPECTED}`, NAME_RULE, 'is not a valid cluster name')) ??
    'invalid';

  const hosts = readHosts(reader, top.get('hosts'));
  const defaults = readDefaults(reader, top.get('defaults'));
  const actors = readActors(reader, top.get('actors'), defaults.mailbox);
  const nodes = readNodes(reader, top.get('nodes'), hosts, actors, defaults.supervision);
  const transport = readTransport(reader, top.get('transport'), root, cluster, nodes);
  const persistence = readPersistence(reader, top.get('persistence'));

  const placement = checkPlacement(reader, nodes, actors);
  checkPorts(reader, nodes);
  checkNatsBetweenHosts(reader, nodes, hosts, top.get('hosts'));
  const hostsKey = top.get('hosts')?.key ?? contents;
  checkCores(reader, { node: hostsKey, at: hostsKey }, nodes, hosts, opts);

  if (hosts === undefined || actors === undefined || nodes === undefined) return undefined;
  const nodeSpecs = record<NodeSpec>();
  for (const [name, draft] of Object.entries(nodes)) nodeSpecs[name] = draft.spec;
  const actorSpecs = record<ActorSpec>();
  for (const [key, draft] of Object.entries(actors)) {
    const { keySlot: _keySlot, ...spec } = draft;
    actorSpecs[key] = { ...spec, node: placement.get(key) ?? '' };
  }
  return { file: reader.file, cluster, hosts, transport, persistence, defaults, nodes: nodeSpecs, actors: actorSpecs };
}

function readHosts(reader: Reader, slot: NamedSlot | undefined): Record<string, HostSpec> | undefined {
  if (slot === undefined) return undefined;
  const entries = reader.entries(slot, ['hosts'], 'a mapping of host name to { address, cpus, nats }');
  if (entries === undefined) return undefined;
  if (entries.length === 0) reader.report(slot, ['hosts'], {}, 'no hosts', 'at least one host');
  const hosts = record<HostSpec>();
  for (const entry of entries) {
    const path = ['hosts', entry.name];
    if (!NAME_RULE.test(entry.name)) {
      reader.report({ node: entry.key, at: entry.key }, path, entry.name, `${JSON.stringify(entry.name)} is not a valid host name`, NAME_EXPECTED);
      continue;
    }
    const fields = reader.fields(entry, path, KEYS.host, 'a mapping with keys address, cpus, nats');
    if (fields === undefined) continue;
    const addressSlot = fields.get('address');
    let address: string | undefined;
    if (addressSlot !== undefined) {
      const addressPath = [...path, 'address'];
      const expected = 'an IPv4 or IPv6 address or a hostname';
      address = reader.text(addressSlot, addressPath, expected);
      if (address !== undefined && isIP(address) === 0 && !HOSTNAME_RULE.test(address)) {
        reader.report(addressSlot, addressPath, address, `${JSON.stringify(address)} is neither an IP address nor a hostname`, expected);
      }
    }
    const cpusSlot = fields.get('cpus');
    const cpus = cpusSlot && reader.int(cpusSlot, [...path, 'cpus'], 1, CPUS_MAX);
    hosts[entry.name] = { name: entry.name, address: address ?? '', cpus, nats: readNats(reader, fields.get('nats'), [...path, 'nats']) };
  }
  return hosts;
}

function readNats(reader: Reader, slot: NamedSlot | undefined, path: Path): string[] {
  if (slot === undefined) return [];
  const expected = 'a nats:// URL such as nats://127.0.0.1:4222';
  const items = reader.items(slot, path, 'a list of nats:// URLs') ?? [];
  const urls: string[] = [];
  items.forEach((item, index) => {
    const text = reader.text(item, [...path, index], expected);
    if (text === undefined) return;
    if (!URL.canParse(text) || new URL(text).protocol !== 'nats:' || new URL(text).hostname === '') {
      reader.report(item, [...path, index], text, `${JSON.stringify(text)} is not a nats:// URL`, expected);
      return;
    }
    urls.push(text);
  });
  return urls;
}

function readDefaults(reader: Reader, slot: NamedSlot | undefined): Topology['defaults'] {
  const fields = slot && reader.fields(slot, ['defaults'], KEYS.defaults, 'a mapping with keys mailbox, supervision');
  return {
    mailbox: readMailbox(reader, fields?.get('mailbox'), ['defaults', 'mailbox'], TOPOLOGY_DEFAULTS.mailbox),
    supervision: readSupervision(reader, fields?.get('supervision'), ['defaults', 'supervision'], TOPOLOGY_DEFAULTS.supervision),
  };
}

function readMailbox(reader: Reader, slot: NamedSlot | undefined, path: Path, base: MailboxSpec): MailboxSpec {
  if (slot === undefined) return base;
  const fields = reader.fields(slot, path, KEYS.mailbox, 'a mapping with keys capacity, policy, conflate_key');
  if (fields === undefined) return base;
  const capacitySlot = fields.get('capacity');
  const policySlot = fields.get('policy');
  const keySlot = fields.get('conflate_key');
  const capacity = (capacitySlot && reader.int(capacitySlot, [...path, 'capacity'], 1, MAILBOX_CAPACITY_MAX)) ?? base.capacity;
  const policy = (policySlot && reader.oneOf(policySlot, [...path, 'policy'], MAILBOX_POLICIES)) ?? base.policy;
  if (policy !== 'conflate') {
    if (keySlot !== undefined) {
      reader.report(keySlot, [...path, 'conflate_key'], reader.plain(keySlot), `conflate_key is set but the policy is ${policy}`, 'conflate_key only with policy: conflate');
    }
    return { policy, capacity };
  }
  const written = keySlot && reader.text(keySlot, [...path, 'conflate_key'], 'the name of a message body field, such as symbol');
  const inherited = base.policy === 'conflate' ? base.conflateKey : TOPOLOGY_DEFAULTS.conflateKey;
  return { policy, capacity, conflateKey: written ?? inherited };
}

interface Budget {
  readonly maxRestarts: number;
  readonly withinS: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
}

/**
 * A lower bound above its upper bound: reported at whichever of the two keys was written (a default
 * on the other side is what it is compared with).
 */
function reportMinAboveMax(reader: Reader, fields: Fields, path: Path, minKey: string, min: number, maxKey: string, max: number): void {
  if (min <= max) return;
  const minSlot = fields.get(minKey);
  const maxSlot = fields.get(maxKey);
  if (minSlot !== undefined) reader.report(minSlot, [...path, minKey], min, `${min} is above ${maxKey} (${max})`, `at most ${maxKey} (${max})`);
  else if (maxSlot !== undefined) reader.report(maxSlot, [...path, maxKey], max, `${max} is below ${minKey} (${min})`, `at least ${minKey} (${min})`);
}

/** The restart budget shared by supervision and node restart; backoff_min_ms <= backoff_max_ms. */
function readBudget(reader: Reader, fields: Fields, path: Path, base: Budget): Budget {
  const read = (key: string, min: number, max: number, fallback: number): number => {
    const slot = fields.get(key);
    return (slot && reader.int(slot, [...path, key], min, max)) ?? fallback;
  };
  const budget = {
    maxRestarts: read('max_restarts', 0, MAX_RESTARTS_MAX, base.maxRestarts),
    withinS: read('within_s', 1, WITHIN_S_MAX, base.withinS),
    backoffMinMs: read('backoff_min_ms', 0, BACKOFF_MS_MAX, base.backoffMinMs),
    backoffMaxMs: read('backoff_max_ms', 0, BACKOFF_MS_MAX, base.backoffMaxMs),
  };
  // If this level wrote neither bound, the level it inherits from has already been reported.
  reportMinAboveMax(reader, fields, path, 'backoff_min_ms', budget.backoffMinMs, 'backoff_max_ms', budget.backoffMaxMs);
  return budget;
}

function readSupervision(reader: Reader, slot: NamedSlot | undefined, path: Path, base: SupervisionSpec): SupervisionSpec {
  if (slot === undefined) return base;
  const fields = reader.fields(slot, path, KEYS.supervision, `a mapping with keys ${KEYS.supervision.optional.join(', ')}`);
  if (fields === undefined) return base;
  const strategySlot = fields.get('strategy');
  const strategy = (strategySlot && reader.oneOf(strategySlot, [...path, 'strategy'], STRATEGIES)) ?? base.strategy;
  return { strategy, ...readBudget(reader, fields, path, base) };
}

function readNodeRestart(reader: Reader, slot: NamedSlot | undefined, path: Path): NodeRestartSpec {
  const base = TOPOLOGY_DEFAULTS.nodeRestart;
  if (slot === undefined) return base;
  const fields = reader.fields(slot, path, KEYS.nodeRestart, `a mapping with keys ${KEYS.nodeRestart.optional.join(', ')}`);
  return fields === undefined ? base : readBudget(reader, fields, path, base);
}

function readTransport(
  reader: Reader,
  slot: NamedSlot | undefined,
  root: Slot,
  cluster: string,
  nodes: Record<string, NodeDraft> | undefined,
): TransportSpec {
  const base = { ipcDir: `/tmp/rt-${cluster}`, ...TOPOLOGY_DEFAULTS.transport };
  const fields = slot && reader.fields(slot, ['transport'], KEYS.transport, `a mapping with keys ${KEYS.transport.optional.join(', ')}`);
  if (fields === undefined) return base;
  const read = (key: string, min: number, max: number, fallback: number): number => {
    const field = fields.get(key);
    return (field && reader.int(field, ['transport', key], min, max)) ?? fallback;
  };
  const ipcSlot = fields.get('ipc_dir');
  const ipcExpected = 'an absolute directory path';
  const written = ipcSlot && reader.text(ipcSlot, ['transport', 'ipc_dir'], ipcExpected, /^\/[^\0]*$/, 'is not an absolute path');
  const transport = {
    ipcDir: written ?? base.ipcDir,
    holdMs: read('hold_ms', 0, HOLD_MS_MAX, base.holdMs),
    holdMax: read('hold_max', 0, HOLD_MAX_MAX, base.holdMax),
    batchMax: read('batch_max', 1, BATCH_MAX_MAX, base.batchMax),
    inboundMax: read('inbound_max', 1, HOLD_MAX_MAX, base.inboundMax),
  };
  if (written !== undefined && nodes !== undefined) checkSocketPaths(reader, ipcSlot ?? root, written, Object.keys(nodes));
  return transport;
}

function readPersistence(reader: Reader, slot: NamedSlot | undefined): PersistenceSpec {
  const base = TOPOLOGY_DEFAULTS.persistence;
  const fields =
    slot && reader.fields(slot, ['persistence'], KEYS.persistence, `a mapping with keys ${KEYS.persistence.optional.join(', ')}`);
  if (fields === undefined) return base;
  const read = (key: string, min: number, max: number, fallback: number): number => {
    const field = fields.get(key);
    return (field && reader.int(field, ['persistence', key], min, max)) ?? fallback;
  };
  const dataDirSlot = fields.get('data_dir');
  const dataDir =
    dataDirSlot && reader.text(dataDirSlot, ['persistence', 'data_dir'], 'a directory path (relative to the working directory, or absolute)', /^[^\0]+$/, 'is not a path');
  const persistence = {
    dataDir: dataDir ?? base.dataDir,
    port: read('port', PORT_MIN, PORT_MAX, base.port),
    flushMs: read('flush_ms', 0, FLUSH_MS_MAX, base.flushMs),
    batchMax: read('batch_max', 1, JOURNAL_BATCH_MAX_MAX, base.batchMax),
    snapshotEvery: read('snapshot_every', 1, SNAPSHOT_EVERY_MAX, base.snapshotEvery),
    appendTimeoutMs: read('append_timeout_ms', 1, APPEND_TIMEOUT_MS_MAX, base.appendTimeoutMs),
    pendingMax: read('pending_max', 1, PENDING_MAX_MAX, base.pendingMax),
    retryMinMs: read('retry_min_ms', 1, RETRY_MS_MAX, base.retryMinMs),
    retryMaxMs: read('retry_max_ms', 1, RETRY_MS_MAX, base.retryMaxMs),
  };
  reportMinAboveMax(reader, fields, ['persistence'], 'retry_min_ms', persistence.retryMinMs, 'retry_max_ms', persistence.retryMaxMs);
  return persistence;
}

/** One problem for the node with the longest socket path: that is the one to fix. */
function checkSocketPaths(reader: Reader, slot: Slot, ipcDir: string, nodes: readonly string[]): void {
  let worst: { node: string; path: string; bytes: number } | undefined;
  for (const node of nodes) {
    const path = ipcSocketPath(ipcDir, node);
    const bytes = Buffer.byteLength(path);
    if (bytes >= IPC_SOCKET_PATH_MAX_BYTES && (worst === undefined || bytes > worst.bytes)) worst = { node, path, bytes };
  }
  if (worst === undefined) return;
  reader.report(
    slot,
    ['transport', 'ipc_dir'],
    ipcDir,
    `the socket of node "${worst.node}" would be ${JSON.stringify(worst.path)} (${worst.bytes} bytes)`,
    `a directory short enough that <ipc_dir>/<node>.sock stays under ${IPC_SOCKET_PATH_MAX_BYTES} bytes (the unix socket path limit)`,
  );
}

function readActors(reader: Reader, slot: NamedSlot | undefined, mailbox: MailboxSpec): Record<string, ActorDraft> | undefined {
  if (slot === undefined) return undefined;
  const entries = reader.entries(slot, ['actors'], 'a mapping of actor address or pattern to { kind, mailbox, restart, shutdown_timeout_ms, options }');
  if (entries === undefined) return undefined;
  if (entries.length === 0) reader.report(slot, ['actors'], {}, 'no actors', 'at least one actor');
  const actors = record<ActorDraft>();
  for (const entry of entries) {
    const path = ['actors', entry.name];
    if (!ACTOR_KEY_RULE.test(entry.name) || entry.name.length > ACTOR_KEY_MAX_CHARS) {
      reader.report({ node: entry.key, at: entry.key }, path, entry.name, `${JSON.stringify(entry.name)} is not a valid actor address`, ACTOR_KEY_EXPECTED);
      continue;
    }
    const fields = reader.fields(entry, path, KEYS.actor, `a mapping with keys ${keysOf(KEYS.actor).join(', ')}`);
    if (fields === undefined) continue;
    const kindSlot = fields.get('kind');
    const restartSlot = fields.get('restart');
    const shutdownSlot = fields.get('shutdown_timeout_ms');
    const optionsSlot = fields.get('options');
    let options: Record<string, unknown> = {};
    if (optionsSlot !== undefined) {
      const value = reader.plain(optionsSlot);
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) options = value as Record<string, unknown>;
      else reader.report(optionsSlot, [...path, 'options'], value, describeType(value), 'a mapping of options for the behaviour');
    }
    actors[entry.name] = {
      key: entry.name,
      pattern: entry.name.endsWith('/*'),
      kind: (kindSlot && reader.text(kindSlot, [...path, 'kind'], 'the name of a behaviour, such as echo')) ?? '',
      mailbox: readMailbox(reader, fields.get('mailbox'), [...path, 'mailbox'], mailbox),
      restart: (restartSlot && reader.oneOf(restartSlot, [...path, 'restart'], RESTART_TYPES)) ?? TOPOLOGY_DEFAULTS.actorRestart,
      shutdownTimeoutMs:
        (shutdownSlot && reader.int(shutdownSlot, [...path, 'shutdown_timeout_ms'], 0, SHUTDOWN_TIMEOUT_MS_MAX)) ??
        TOPOLOGY_DEFAULTS.shutdownTimeoutMs,
      options,
      keySlot: entry,
    };
  }
  return actors;
}

function readNodes(
  reader: Reader,
  slot: NamedSlot | undefined,
  hosts: Record<string, HostSpec> | undefined,
  actors: Record<string, ActorDraft> | undefined,
  supervision: SupervisionSpec,
): Record<string, NodeDraft> | undefined {
  if (slot === undefined) return undefined;
  const entries = reader.entries(slot, ['nodes'], 'a mapping of node name to { host, cores, ports, actors, supervision, restart }');
  if (entries === undefined) return undefined;
  if (entries.length === 0) reader.report(slot, ['nodes'], {}, 'no nodes', 'at least one node');
  const nodes = record<NodeDraft>();
  for (const entry of entries) {
    const path = ['nodes', entry.name];
    if (!NAME_RULE.test(entry.name)) {
      reader.report({ node: entry.key, at: entry.key }, path, entry.name, `${JSON.stringify(entry.name)} is not a valid node name`, NAME_EXPECTED);
      continue;
    }
    const fields = reader.fields(entry, path, KEYS.node, `a mapping with keys ${keysOf(KEYS.node).join(', ')}`);
    if (fields === undefined) continue;

    const hostSlot = fields.get('host');
    let host: string | undefined;
    if (hostSlot !== undefined) {
      const known = hosts === undefined ? [] : Object.keys(hosts);
      const expected = `a host defined under hosts (${listOf(known)})`;
      host = reader.text(hostSlot, [...path, 'host'], expected);
      if (host !== undefined && hosts !== undefined && !Object.hasOwn(hosts, host)) {
        const guess = closest(host, known);
        reader.report(hostSlot, [...path, 'host'], host, `${JSON.stringify(host)} is not a host of this topology`, expected, guess && `did you mean ${JSON.stringify(guess)}?`);
        host = undefined;
      }
    }

    const cores: { core: number; slot: Slot; path: Path }[] = [];
    const coresSlot = fields.get('cores');
    const coreItems = coresSlot && reader.items(coresSlot, [...path, 'cores'], 'a non-empty list of core numbers');
    if (coresSlot !== undefined && coreItems?.length === 0) reader.report(coresSlot, [...path, 'cores'], [], 'an empty list', 'at least one core');
    coreItems?.forEach((item, index) => {
      const corePath = [...path, 'cores', index];
      const core = reader.int(item, corePath, 0, CPUS_MAX - 1);
      if (core === undefined) return;
      const first = cores.find((seen) => seen.core === core);
      if (first !== undefined) {
        reader.report(item, corePath, core, `core ${core} is already listed at ${pathText(first.path)}`, 'distinct cores');
        return;
      }
      cores.push({ core, slot: item, path: corePath });
    });

    const ports: { port: number; slot: Slot; path: Path }[] = [];
    const portsRecord = record<number>();
    const portsSlot = fields.get('ports');
    const portEntries = portsSlot && reader.entries(portsSlot, [...path, 'ports'], 'a mapping of port name to port number, such as { metrics: 9101 }');
    for (const port of portEntries ?? []) {
      const portPath = [...path, 'ports', port.name];
      if (!PORT_NAME_RULE.test(port.name)) {
        reader.report({ node: port.key, at: port.key }, portPath, port.name, `${JSON.stringify(port.name)} is not a valid port name`, 'a lower-case letter, then up to 31 lower-case letters, digits, _ or -');
        continue;
      }
      const number = reader.int(port, portPath, 1, 65_535);
      if (number === undefined) continue;
      portsRecord[port.name] = number;
      ports.push({ port: number, slot: port, path: portPath });
    }

    const placements: { key: string; slot: Slot; path: Path }[] = [];
    const actorsSlot = fields.get('actors');
    const actorItems = actorsSlot && reader.items(actorsSlot, [...path, 'actors'], 'a non-empty list of keys of actors');
    if (actorsSlot !== undefined && actorItems?.length === 0) reader.report(actorsSlot, [...path, 'actors'], [], 'an empty list', 'at least one actor');
    actorItems?.forEach((item, index) => {
      const itemPath = [...path, 'actors', index];
      const known = actors === undefined ? [] : Object.keys(actors);
      const expected = `a key of actors (${listOf(known)})`;
      const key = reader.text(item, itemPath, expected);
      if (key === undefined || actors === undefined) return;
      if (!Object.hasOwn(actors, key)) {
        const guess = closest(key, known);
        reader.report(item, itemPath, key, `${JSON.stringify(key)} is not defined under actors`, expected, guess && `did you mean ${JSON.stringify(guess)}?`);
        return;
      }
      placements.push({ key, slot: item, path: itemPath });
    });

    nodes[entry.name] = {
      spec: {
        name: entry.name,
        host: host ?? '',
        cores: cores.map((seen) => seen.core),
        ports: portsRecord,
        actors: placements.map((placed) => placed.key),
        supervision: readSupervision(reader, fields.get('supervision'), [...path, 'supervision'], supervision),
        restart: readNodeRestart(reader, fields.get('restart'), [...path, 'restart']),
        metricsBind: readBind(reader, fields.get('metrics_bind'), [...path, 'metrics_bind']),
      },
      hostSlot,
      cores,
      ports,
      placements,
    };
  }
  return nodes;
}

// ---------------------------------------------------------------------------------------------
// Cross-field rules.

/** Every actor on exactly one node. Returns actor key -> node for the actors placed once. */
function checkPlacement(
  reader: Reader,
  nodes: Record<string, NodeDraft> | undefined,
  actors: Record<string, ActorDraft> | undefined,
): Map<string, string> {
  const placedOn = new Map<string, { node: string; path: Path }>();
  if (nodes === undefined || actors === undefined) return new Map();
  for (const [node, draft] of Object.entries(nodes)) {
    for (const placement of draft.placements) {
      const first = placedOn.get(placement.key);
      if (first === undefined) {
        placedOn.set(placement.key, { node, path: placement.path });
      } else if (first.node === node) {
        reader.report(placement.slot, placement.path, placement.key, `${JSON.stringify(placement.key)} is already listed at ${pathText(first.path)}`, 'each actor listed once');
      } else {
        reader.report(
          placement.slot,
          placement.path,
          placement.key,
          `${JSON.stringify(placement.key)} is placed on node "${first.node}" and on node "${node}"`,
          'each actor on exactly one node',
        );
      }
    }
  }
  for (const [key, actor] of Object.entries(actors)) {
    if (placedOn.has(key)) continue;
    reader.report(
      { node: actor.keySlot.key, at: actor.keySlot.key },
      ['actors', key],
      key,
      `${JSON.stringify(key)} is not placed on any node`,
      `its key in the actors list of exactly one node (${listOf(Object.keys(nodes))})`,
    );
  }
  return new Map([...placedOn].map(([key, placed]) => [key, placed.node]));
}

/** A port bound twice on one host fails at start; catch it here, naming the first user. */
function checkPorts(reader: Reader, nodes: Record<string, NodeDraft> | undefined): void {
  if (nodes === undefined) return;
  const used = new Map<string, Path>();
  for (const draft of Object.values(nodes)) {
    if (draft.spec.host === '') continue;
    for (const port of draft.ports) {
      const id = `${draft.spec.host}:${port.port}`;
      const first = used.get(id);
      if (first === undefined) {
        used.set(id, port.path);
        continue;
      }
      reader.report(
        port.slot,
        port.path,
        port.port,
        `port ${port.port} is already used by ${pathText(first)} on host "${draft.spec.host}"`,
        `a port no other node uses on host "${draft.spec.host}"`,
      );
    }
  }
}

/** An address to listen on: an IP literal (0.0.0.0 for every interface); loopback when absent. */
function readBind(reader: Reader, slot: Slot | undefined, path: Path): string {
  if (slot === undefined) return '127.0.0.1';
  const expected = 'an IP address to listen on, such as 127.0.0.1 (the default) or 0.0.0.0 (every interface)';
  const text = reader.text(slot, path, expected);
  if (text === undefined) return '127.0.0.1';
  if (isIP(text) === 0) {
    reader.report(slot, path, text, `${JSON.stringify(text)} is not an IP address`, expected);
    return '127.0.0.1';
  }
  return text;
}

/** Nodes on two or more hosts talk over NATS: every host that runs a node must name its NATS servers. */
function checkNatsBetweenHosts(reader: Reader, nodes: Record<string, NodeDraft> | undefined, hosts: Record<string, HostSpec> | undefined, slot: NamedSlot | undefined): void {
  if (nodes === undefined || hosts === undefined || slot === undefined) return;
  const used = [...new Set(Object.values(nodes).map((d) => d.spec.host))].filter((h) => Object.hasOwn(hosts, h));
  if (used.length < 2) return;
  const entries = reader.entries(slot, ['hosts'], 'a mapping of host name to { address, cpus, nats }');
  for (const host of used) {
    if (hosts[host].nats.length > 0) continue;
    const entry = entries?.find((e) => e.name === host);
    reader.report(
      entry ? { node: entry.key, at: entry.key } : { node: slot.key, at: slot.key },
      ['hosts', host, 'nats'],
      undefined,
      `host "${host}" runs nodes but names no NATS servers, and nodes on ${used.length} hosts (${used.join(', ')}) reach each other over NATS`,
      'a list of nats:// URLs such as [nats://10.0.0.1:4222]',
    );
  }
}

/** Cores must exist: on the host as declared (`cpus`), and on this machine for its own hosts. */
function checkCores(
  reader: Reader,
  hostsSlot: Slot,
  nodes: Record<string, NodeDraft> | undefined,
  hosts: Record<string, HostSpec> | undefined,
  opts: TopologyOptions,
): void {
  if (hosts === undefined) return;
  if (opts.currentHost !== undefined && !Object.hasOwn(hosts, opts.currentHost)) {
    reader.report(
      hostsSlot,
      ['hosts'],
      opts.currentHost,
      `the current host ${JSON.stringify(opts.currentHost)} (--host) is not defined`,
      `one of ${listOf(Object.keys(hosts))}`,
    );
  }
  if (nodes === undefined) return;
  const here = new Set(currentHostsOf(hosts, opts));
  const cpuCount = opts.cpuCount ?? os.cpus().length;
  for (const draft of Object.values(nodes)) {
    const host = draft.spec.host;
    if (!Object.hasOwn(hosts, host)) continue;
    const declared = hosts[host].cpus;
    for (const { core, slot, path } of draft.cores) {
      const found = `${core} is not a core of host "${host}"`;
      if (declared !== undefined && core >= declared) {
        reader.report(slot, path, core, found, `an integer in 0..${declared - 1} (host "${host}" has ${plural(declared, 'core')})`);
      } else if (here.has(host) && core >= cpuCount) {
        reader.report(slot, path, core, found, `an integer in 0..${cpuCount - 1} (this host has ${plural(cpuCount, 'core')})`);
      }
    }
  }
}
