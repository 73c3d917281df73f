/**
 * What a tell did, so a caller that cares (a transport applying back-pressure, a gateway that must
 * not lose an order) can act on it. Callers that do not care ignore it; nothing is lost silently:
 * every message not queued or sent is either reported here or published as a dead letter.
 */
export type TellResult =
  /** queued in a local mailbox */
  | 'queued'
  /** replaced an older queued message with the same conflation key */
  | 'conflated'
  /** handed to a transport for another node (or held there while that node is unreachable) */
  | 'sent'
  /** the mailbox is full: policy reject (dead-lettered, sender told) or backpressure (caller must retry) */
  | 'full'
  /** published as a dead letter (no such actor, actor stopped, no route) */
  | 'dead';
