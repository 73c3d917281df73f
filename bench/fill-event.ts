// The event the persistence suite writes: a fill of a position-like actor, about 100 bytes of JSON.
// Every field is a pure function of the sequence number, so the 1M-event journal of the recovery
// benchmark can be generated in SQL (fillPayloadSql) with exactly the rows the journal writes, and
// its fold (the position) can be checked against the same fold in TypeScript.

export interface FillEvent {
  type: 'fill';
  /** trade id at the venue */
  id: number;
  symbol: 'BTCUSDT';
  side: 'buy' | 'sell';
  /** contracts, in units of 0.001 */
  qty: number;
  price: number;
  timeMs: number;
}

export const FILL_EVENT_TYPE = 'fill';
const TIME_ORIGIN_MS = 1_723_075_200_000;

export function fillEvent(seqNr: number): FillEvent {
  return {
    type: 'fill',
    id: seqNr,
    symbol: 'BTCUSDT',
    side: seqNr % 2 === 0 ? 'buy' : 'sell',
    qty: 1 + (seqNr % 7),
    price: 60_000 + (seqNr % 1000),
    timeMs: TIME_ORIGIN_MS + seqNr,
  };
}

/** The same payload as fillEvent, as a json expression of the bigint `seq` (for INSERT ... SELECT generate_series into the json column). */
export function fillPayloadSql(seq: string): string {
  return `json_build_object('type', 'fill', 'id', ${seq}, 'symbol', 'BTCUSDT', 'side', CASE WHEN ${seq} % 2 = 0 THEN 'buy' ELSE 'sell' END,
    'qty', 1 + ${seq} % 7, 'price', 60000 + ${seq} % 1000, 'timeMs', ${TIME_ORIGIN_MS} + ${seq})`;
}

/** What recovery rebuilds: a position, folded from fills. */
export interface Position {
  /** signed, in units of 0.001 */
  qty: number;
  /** sum of signed qty * price: the cost basis */
  cost: number;
  fills: number;
  lastTradeId: number;
}

export const EMPTY_POSITION: Position = { qty: 0, cost: 0, fills: 0, lastTradeId: 0 };

export function applyFill(p: Position, e: FillEvent): Position {
  const signed = e.side === 'buy' ? e.qty : -e.qty;
  return { qty: p.qty + signed, cost: p.cost + signed * e.price, fills: p.fills + 1, lastTradeId: e.id };
}

/** The fold of events 1..seqNr, computed here (to check what recovery returns). */
export function positionAt(seqNr: number): Position {
  let p = EMPTY_POSITION;
  for (let s = 1; s <= seqNr; s++) p = applyFill(p, fillEvent(s));
  return p;
}
