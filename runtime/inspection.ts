// Live inspection of a node's actors over NATS, as the `nats` CLI reads it. Each node registers
// one micro service (`nats micro ls|info|stats`) named rt-<cluster>-<node>, with one endpoint per
// actor key it holds (`risk`, `order` for order/*) and one for the node itself:
//
//   nats req rt.demo.inspect.risk ''              the risk actor (mailbox, counters, state)
//   nats req rt.demo.inspect.order.C1 '{"peek":5}'  one order actor, peeking 5 queued messages
//   nats req rt.demo.node.execution ''           the node's actors and transports
//
// A request is empty or a JSON object {"peek": n} (0..PEEK_MAX, default PEEK_DEFAULT). A bad
// request or an address with no actor is answered with the micro protocol's error headers
// (Nats-Service-Error-Code 400 or 404, Nats-Service-Error saying what was expected), empty body.
import { type NatsConnection, type Service, ServiceError, type ServiceMsg } from 'nats';
import type { ActorCell } from './actor-cell.ts';
import type { ActorSystem } from './actor-system.ts';
import { encodeJson } from './json-codec.ts';
import { addressOfTokens, endpointName, keySubject, nodeSubject, serviceName, subjectPrefix } from './nats-subjects.ts';

export const PEEK_DEFAULT = 10;
export const PEEK_MAX = 1000;
/** Addresses a 404 lists (a node may hold thousands of order actors). */
const LISTED_ADDRESSES_MAX = 20;
/** Longest state summary sent back (bytes of JSON); a longer one is cut and says so. */
const SUMMARY_BYTES_MAX = 64 * 1024;

export interface QueuedMessage {
  type: string;
  /** how long it has waited, in ms */
  age_ms: number;
  body: unknown;
}

/** What an inspect request answers: the shape `nats req rt.<cluster>.inspect.<actor>` prints. */
export interface ActorInspection {
  address: string;
  node: string;
  mailbox: {
    depth: number;
    capacity: number;
    policy: string;
    /** age of the oldest queued message in ms (null when empty) */
    oldest_age_ms: number | null;
    peek: QueuedMessage[];
  };
  handled: number;
  restarts: number;
  /** the actor's own summary of its state (risk: breaker and limits; position: positions) */
  state: unknown;
}

export interface NodeInspection {
  node: string;
  cluster: string;
  pid: number;
  actors: { address: string; depth: number; capacity: number; handled: number; restarts: number }[];
  transports: Record<string, unknown>;
  /** what the node's actors, journal and transports want an operator to see */
  gauges: Record<string, number | string>;
}

export class InspectRequestError extends Error {
  constructor(
    readonly code: 400 | 404,
    message: string,
  ) {
    super(message);
    this.name = 'InspectRequestError';
  }
}

/** JSON as it would arrive (Maps and Sets tagged, NaN kept), so what is answered can be sent. */
function plain(v: unknown): unknown {
  const text = encodeJson(v);
  return text === undefined ? null : JSON.parse(text);
}

/** Reads the peek count from a request body: empty, or {"peek": n}. */
export function parseInspectRequest(data: Uint8Array): { peek: number } {
  const text = Buffer.from(data).toString('utf8').trim();
  if (text === '') return { peek: PEEK_DEFAULT };
  let req: unknown;
  try {
    req = JSON.parse(text);
  } catch {
    throw new InspectRequestError(400, `request ${JSON.stringify(text.slice(0, 80))} is not JSON: expected an empty body or {"peek": n} with n in 0..${PEEK_MAX}`);
  }
  if (req === null || typeof req !== 'object' || Array.isArray(req)) throw new InspectRequestError(400, `request ${text.slice(0, 80)}: expected an empty body or a JSON object {"peek": n}`);
  const extra = Object.keys(req).filter((k) => k !== 'peek');
  if (extra.length > 0) throw new InspectRequestError(400, `request field ${JSON.stringify(extra[0])} is not known: expected only "peek"`);
  const peek = (req as { peek?: unknown }).peek ?? PEEK_DEFAULT;
  if (typeof peek !== 'number' || !Number.isInteger(peek) || peek < 0 || peek > PEEK_MAX) {
    throw new InspectRequestError(400, `request peek = ${JSON.stringify(peek)}: expected an integer in 0..${PEEK_MAX}`);
  }
  return { peek };
}

export function inspectCell(cell: ActorCell, node: string, peek: number, nowMs = performance.now()): ActorInspection {
  const box = cell.mailbox;
  const oldest = box.oldestTime();
  let state = plain(cell.summary());
  const stateText = JSON.stringify(state) ?? 'null';
  if (stateText.length > SUMMARY_BYTES_MAX) state = { truncated: true, bytes: stateText.length, head: stateText.slice(0, SUMMARY_BYTES_MAX) };
  return {
    address: cell.address,
    node,
    mailbox: {
      depth: box.size,
      capacity: box.capacity,
      policy: box.policy,
      oldest_age_ms: oldest === undefined ? null : Math.round((nowMs - oldest) * 1000) / 1000,
      peek: box.peek(peek).map((q) => ({ type: q.msg.type, age_ms: Math.round((nowMs - q.enqueuedAt) * 1000) / 1000, body: plain(q.msg) })),
    },
    handled: cell.handled,
    restarts: cell.restarts,
    state,
  };
}

/** One actor of `system`, or a 404 naming what this node holds. */
export function inspectAddress(system: ActorSystem, address: string, peek: number): ActorInspection {
  const cell = system.cellOf(address);
  if (!cell || cell.dead) {
    throw new InspectRequestError(404, `no actor at ${JSON.stringify(address)} on node ${system.node}: expected one of ${system.localAddresses().slice(0, LISTED_ADDRESSES_MAX).join(', ') || '(none running)'}`);
  }
  // The dispatcher's clock is what enqueue times were read from.
  return inspectCell(cell, system.node, peek, performance.now());
}

export function inspectNode(system: ActorSystem, cluster: string, transports: () => Record<string, unknown>, gauges: () => Record<string, number | string> = () => system.gauges.snapshot()): NodeInspection {
  const actors = [];
  for (const address of system.localAddresses()) {
    const cell = system.cellOf(address);
    if (!cell) continue;
    actors.push({ address, depth: cell.mailbox.size, capacity: cell.mailbox.capacity, handled: cell.handled, restarts: cell.restarts });
  }
  return { node: system.node, cluster, pid: process.pid, actors, transports: plain(transports()) as Record<string, unknown>, gauges: gauges() };
}

export interface InspectionServiceOptions {
  cluster: string;
  /** the actor keys of topology.yaml this node holds */
  keys: readonly string[];
  version: string;
  /** extra service metadata (host) */
  metadata?: Record<string, string>;
  /** the node's transport counters, for the node endpoint */
  transports: () => Record<string, unknown>;
  /** the node's gauges, for the node endpoint (default: its actors') */
  gauges?: () => Record<string, number | string>;
}

/** Answers with f's JSON; a refusal is thrown as a ServiceError, which the micro service counts (`nats micro stats`) and sends as the error headers. */
function answer(msg: ServiceMsg, f: () => unknown): void {
  let body: unknown;
  try {
    body = f();
  } catch (e) {
    if (e instanceof InspectRequestError) throw new ServiceError(e.code, e.message);
    throw e;
  }
  msg.respond(Buffer.from(JSON.stringify(body)));
}

/** Registers the node's micro service on `nc`; stop() it before the connection closes. */
export async function startInspectionService(nc: NatsConnection, system: ActorSystem, o: InspectionServiceOptions): Promise<Service> {
  const service = await nc.services.add({
    name: serviceName(o.cluster, system.node),
    version: o.version,
    description: `actors of node ${system.node} in cluster ${o.cluster}: mailbox depth, peek, counters and state`,
    metadata: { cluster: o.cluster, node: system.node, ...o.metadata },
  });
  const prefix = subjectPrefix(o.cluster, 'inspect');
  const used = new Set<string>();
  for (const key of o.keys) {
    let name = endpointName(key);
    while (used.has(name)) name += '_';
    used.add(name);
    service.addEndpoint(name, {
      subject: keySubject(o.cluster, 'inspect', key),
      metadata: { actor: key },
      handler: (err, msg) => {
        if (err) return;
        answer(msg, () => inspectAddress(system, addressOfTokens(msg.subject.slice(prefix.length)), parseInspectRequest(msg.data).peek));
      },
    });
  }
  service.addEndpoint('node', {
    subject: nodeSubject(o.cluster, system.node),
    metadata: { node: system.node },
    handler: (err, msg) => {
      if (!err) answer(msg, () => inspectNode(system, o.cluster, o.transports, o.gauges));
    },
  });
  return service;
}
