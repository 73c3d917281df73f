// The venue's wire protocol: every incoming request is validated (a message that does not parse
// gets a 400 naming what was wrong, never an exception), and every event the venue pushes parses
// on the client side.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrderBook } from '../../actors/book/order-book.ts';
import { MatchingEngine } from '../../actors/venue/matching-engine.ts';
import { VENUE_ERROR } from '../../actors/venue/venue-errors.ts';
import { executionReport, parseVenueMessage, parseVenueRequest, wireOrder, wireOrderProblem, wirePositionsProblem } from '../../actors/venue/venue-protocol.ts';

const place = (params: Record<string, unknown>) =>
  JSON.stringify({ id: 1, method: 'order.place', params: { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'IOC', quantity: 0.01, price: 61800.1, newClientOrderId: 'abc-1', ...params } });

describe('venue protocol: requests', () => {
  it('parses a place into the engine request (decimal strings too, side and defaults normalised)', () => {
    expect(parseVenueRequest(place({ quantity: '0.010', price: '61800.10', epoch: 3, reduceOnly: true }))).toEqual({
      ok: true,
      request: { id: 1, method: 'order.place', params: { clientOrderId: 'abc-1', symbol: 'BTCUSDT', side: 'buy', qty: 0.01, price: 61800.1, tif: 'IOC', epoch: 3, reduceOnly: true } },
    });
    expect(parseVenueRequest(place({ marketUpdateId: 5123 }))).toMatchObject({ ok: true, request: { params: { marketUpdateId: 5123 } } });
    expect(parseVenueRequest(JSON.stringify({ id: 'x', method: 'order.cancel', params: { symbol: 'ETHUSDT', origClientOrderId: 'o-1' } }))).toEqual({
      ok: true,
      request: { id: 'x', method: 'order.cancel', params: { symbol: 'ETHUSDT', clientOrderId: 'o-1' } },
    });
    expect(parseVenueRequest('{"id":2,"method":"account.positions"}')).toEqual({ ok: true, request: { id: 2, method: 'account.positions', params: {} } });
  });

  const bad: [string, string, number | null, number, string][] = [
    ['not JSON', '{"id": 1, "method"', null, VENUE_ERROR.BAD_PARAM, 'not JSON: "{\\"id\\": 1, \\"method\\"": expected {"id", "method", "params"}'],
    ['an array', '[1,2]', null, VENUE_ERROR.BAD_PARAM, 'expected a JSON object {"id", "method", "params"}, got "[1,2]"'],
    ['no id', '{"method":"session.ping"}', null, VENUE_ERROR.MISSING_PARAM, 'id undefined: expected an integer or a string of 1..64 characters'],
    ['unknown method', '{"id":5,"method":"order.replace","params":{}}', 5, VENUE_ERROR.UNSUPPORTED_METHOD, 'method "order.replace": expected one of order.place, order.cancel, order.status, account.positions, session.ping'],
    ['params not an object', '{"id":5,"method":"order.place","params":[]}', 5, VENUE_ERROR.BAD_PARAM, 'params: expected an object, got []'],
    ['missing symbol', place({ symbol: undefined }), 1, VENUE_ERROR.MISSING_PARAM, 'params.symbol: missing, expected a symbol such as BTCUSDT'],
    ['lower-case symbol', place({ symbol: 'btcusdt' }), 1, VENUE_ERROR.BAD_PARAM, 'params.symbol "btcusdt": expected an upper-case symbol such as BTCUSDT'],
    ['bad side', place({ side: 'buy' }), 1, VENUE_ERROR.BAD_PARAM, 'params.side "buy": expected BUY or SELL'],
    ['market order', place({ type: 'MARKET' }), 1, VENUE_ERROR.BAD_PARAM, 'params.type "MARKET": expected LIMIT (the only order type)'],
    ['bad tif', place({ timeInForce: 'FOK' }), 1, VENUE_ERROR.BAD_PARAM, 'params.timeInForce "FOK": expected GTC or IOC'],
    ['qty 0', place({ quantity: 0 }), 1, VENUE_ERROR.BAD_QTY_OR_PRICE, 'params.quantity 0: expected a number > 0'],
    ['qty text', place({ quantity: 'lots' }), 1, VENUE_ERROR.BAD_PARAM, 'params.quantity "lots": expected a number > 0'],
    ['missing price', place({ price: undefined }), 1, VENUE_ERROR.MISSING_PARAM, 'params.price: missing, expected a number > 0'],
    ['bad marketUpdateId', place({ marketUpdateId: -3 }), 1, VENUE_ERROR.BAD_PARAM, 'params.marketUpdateId -3: expected an integer >= 0 (a book update id)'],
    ['negative price', place({ price: -5 }), 1, VENUE_ERROR.BAD_QTY_OR_PRICE, 'params.price -5: expected a number > 0'],
    ['bad client order id', place({ newClientOrderId: 'no spaces allowed' }), 1, VENUE_ERROR.BAD_PARAM, 'params.newClientOrderId "no spaces allowed": expected 1..36 of [.A-Za-z0-9:/_-]'],
    ['bad epoch', place({ epoch: 1.5 }), 1, VENUE_ERROR.BAD_PARAM, 'params.epoch 1.5: expected an integer >= 0'],
    ['missing order ref', '{"id":3,"method":"order.status","params":{"symbol":"BTCUSDT"}}', 3, VENUE_ERROR.MISSING_PARAM, 'params.origClientOrderId: missing, expected 1..36 of [.A-Za-z0-9:/_-]'],
  ];
  for (const [name, text, id, code, msg] of bad) {
    it(`answers ${name} with a 400 naming what was wrong`, () => {
      expect(parseVenueRequest(text)).toEqual({ ok: false, id, error: { status: 400, code, msg } });
    });
  }

  it('never throws, whatever arrives', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.record({ id: fc.anything(), method: fc.constantFrom('order.place', 'order.cancel', 'x'), params: fc.anything() }).map((r) => JSON.stringify(r) ?? '')), (text) => {
        const r = parseVenueRequest(text);
        if (!r.ok) expect(r.error.status).toBe(400);
      }),
      { numRuns: 500 },
    );
  });
});

describe('venue protocol: what the client reads', () => {
  it('every execution report and order result the venue makes parses', () => {
    const book = new OrderBook();
    book.load([99, 1], [100, 1, 101, 1]);
    const e = new MatchingEngine(new Map([['BTCUSDT', { book }]]));
    const r = e.place({ clientOrderId: 'o-1', symbol: 'BTCUSDT', side: 'buy', qty: 3, price: 101, tif: 'IOC' }, 1);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    for (const ev of r.events) {
      const report = ev.kind === 'fill' ? executionReport('TRADE', ev.order, 1, ev.fill) : executionReport(ev.kind === 'accepted' ? 'NEW' : 'EXPIRED', ev.order, 1);
      expect(parseVenueMessage(JSON.stringify(report))).toEqual({ ok: true, message: { kind: 'event', event: report } });
    }
    expect(wireOrderProblem(wireOrder(r.order, false))).toBeUndefined();
    expect(wirePositionsProblem(e.positions())).toBeUndefined();
  });

  it('names what is wrong with a message that does not check out', () => {
    expect(parseVenueMessage('garbage')).toEqual({ ok: false, reason: 'malformed-json', detail: 'not JSON' });
    expect(parseVenueMessage('{"hello":1}')).toMatchObject({ ok: false, reason: 'unknown-message' });
    expect(parseVenueMessage('{"id":1,"status":418,"error":{"code":1,"msg":"teapot"}}')).toEqual({ ok: false, reason: 'bad-response', detail: 'status 418: expected 200, 400, 429 or 503' });
    const fill = { event: 'executionReport', execType: 'TRADE', status: 'FILLED', clientOrderId: 'o-1', orderId: 1, symbol: 'BTCUSDT', side: 'BUY', timeInForce: 'IOC', qty: 1, price: 100, cumQty: 1, timeMs: 1, tradeId: 7, lastQty: 1, lastPrice: 100 };
    expect(parseVenueMessage(JSON.stringify(fill)).ok).toBe(true);
    expect(parseVenueMessage(JSON.stringify({ ...fill, lastQty: -1 }))).toEqual({ ok: false, reason: 'bad-event', detail: 'lastQty -1: expected a number > 0' });
    expect(parseVenueMessage(JSON.stringify({ ...fill, cumQty: 2 }))).toEqual({ ok: false, reason: 'bad-event', detail: 'cumQty 2: expected a number in 0..qty (1)' });
    expect(parseVenueMessage(JSON.stringify({ ...fill, tradeId: undefined }))).toEqual({ ok: false, reason: 'bad-event', detail: 'tradeId undefined: expected an integer > 0' });
  });
});
