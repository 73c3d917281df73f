// The client order id of an approved order, derived from its intent id alone, so the same intent
// always gives the same id: a resend after a restart or a failover is the same order to the order
// actor (addressed by it) and to the venue (which deduplicates by it). `rt-` and 32 hex digits of
// SHA-256 (128 bits): 35 characters, inside Binance's 36 and CLIENT_ORDER_ID_RE, and no `/`, so it
// is one address segment in `order/<clientOrderId>`.
import { createHash } from 'node:crypto';

export const CLIENT_ORDER_ID_PREFIX = 'rt-';

export function clientOrderIdFor(intentId: string): string {
  return CLIENT_ORDER_ID_PREFIX + createHash('sha256').update(intentId).digest('hex').slice(0, 32);
}
