// The NATS subjects of a cluster: where envelopes between hosts travel, where actors answer
// inspect requests, and how nodes find each other. Addresses map onto subjects by logical name
// only (`order/C1` -> `...order.C1`), so `nats sub 'rt.demo.mail.order.>'` shows every order's
// incoming traffic whichever node holds it.
//
//   rt.<cluster>.mail.<address>      envelopes to that actor (msgpack frames, runtime/codec.ts)
//   rt.<cluster>.inspect.<address>   request: the actor's mailbox, counters and state (JSON)
//   rt.<cluster>.node.<node>         request: the node's actors and its transports (JSON)
//   rt.<cluster>.hb.<node>           a node's heartbeat: peers hold envelopes for it while it is silent
//
// An address's `/` separates tokens; a character a subject token cannot hold (`.`, `*`, `>`,
// whitespace, `%`) is written `%XX`, so every address has exactly one subject and back.

const ESCAPE = /[.*>%\s]/g;

function escapeSegment(s: string): string {
  return s.replace(ESCAPE, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** `order/C.1` -> `order.C%2E1` */
export function addressTokens(address: string): string {
  return address.split('/').map(escapeSegment).join('.');
}

/** The inverse of addressTokens. */
export function addressOfTokens(tokens: string): string {
  return tokens
    .split('.')
    .map((t) => t.replace(/%([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))))
    .join('/');
}

/** The subjects named by an actor's address: its mail, and its inspect requests. */
export type AddressSubject = 'mail' | 'inspect';

/** `rt.<cluster>.<kind>.`, the prefix an address's tokens follow. */
export function subjectPrefix(cluster: string, kind: AddressSubject): string {
  return `rt.${cluster}.${kind}.`;
}

/** `rt.demo.mail.order.C1` for the address `order/C1`. */
export function addressSubject(cluster: string, kind: AddressSubject, address: string): string {
  return subjectPrefix(cluster, kind) + addressTokens(address);
}

/** The subject that covers an actor key of topology.yaml: `risk`, or a pattern `order/*` -> every order (`...order.>`). */
export function keySubject(cluster: string, kind: AddressSubject, key: string): string {
  return key.endsWith('/*') ? `${addressSubject(cluster, kind, key.slice(0, -2))}.>` : addressSubject(cluster, kind, key);
}

export function nodeSubject(cluster: string, node: string): string {
  return `rt.${cluster}.node.${node}`;
}

export function heartbeatSubject(cluster: string, node: string): string {
  return `rt.${cluster}.hb.${node}`;
}

/**
 * The micro service name of a node (`nats micro info rt-demo-execution`). One service per node:
 * instances of one micro service are meant to be interchangeable, and two nodes are not.
 */
export function serviceName(cluster: string, node: string): string {
  return `rt-${cluster}-${node}`;
}

/** A micro endpoint name for an actor key: letters, digits, `-` and `_` only (`order/*` -> `order`). */
export function endpointName(key: string): string {
  return key.replace(/\/\*$/, '').replace(/[^A-Za-z0-9_-]/g, '_');
}
