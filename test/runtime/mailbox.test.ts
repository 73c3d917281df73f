import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Mailbox, Offer } from '../../runtime/mailbox.ts';

type M = { type: string; key: string; n: number };
const m = (key: string, n: number): M => ({ type: 'tick', key, n });

describe('mailbox', () => {
  it('is FIFO and never holds more than its capacity (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.boolean(), { maxLength: 300 }), (capacity, ops) => {
        const box = new Mailbox<M>({ capacity, policy: 'reject' });
        const model: number[] = [];
        let n = 0;
        for (const push of ops) {
          if (push) {
            const r = box.offer(m('k', n), undefined, 0, undefined);
            if (model.length < capacity) {
              expect(r).toBe(Offer.Queued);
              model.push(n);
            } else expect(r).toBe(Offer.Full);
            n++;
          } else {
            expect(box.shift()?.n).toBe(model.shift());
          }
          expect(box.size).toBe(model.length);
          expect(box.size).toBeLessThanOrEqual(capacity);
        }
      }),
    );
  });

  it('conflate keeps only the newest message per key, in the position of the first', () => {
    const box = new Mailbox<M>({ capacity: 10, policy: 'conflate', conflateKey: 'key' });
    expect(box.offer(m('BTC', 1), undefined, 0, undefined)).toBe(Offer.Queued);
    expect(box.offer(m('ETH', 2), undefined, 0, undefined)).toBe(Offer.Queued);
    expect(box.offer(m('BTC', 3), undefined, 0, undefined)).toBe(Offer.Conflated);
    expect(box.size).toBe(2);
    expect(box.shift()).toEqual(m('BTC', 3));
    expect(box.shift()).toEqual(m('ETH', 2));
    // After a key left the mailbox, the same key queues again.
    expect(box.offer(m('BTC', 4), undefined, 0, undefined)).toBe(Offer.Queued);
    expect(box.shift()).toEqual(m('BTC', 4));
  });

  it('conflate on a full mailbox drops the oldest key to make room for a new one', () => {
    const box = new Mailbox<M>({ capacity: 2, policy: 'conflate', conflateKey: 'key' });
    box.offer(m('A', 1), undefined, 0, undefined);
    box.offer(m('B', 2), undefined, 0, undefined);
    expect(box.offer(m('C', 3), undefined, 0, undefined)).toBe(Offer.QueuedDroppedOldest);
    expect(box.dropped).toEqual(m('A', 1));
    expect(box.peek(5).map((x) => x.msg.key)).toEqual(['B', 'C']);
    // B is still conflatable in its slot after the ring moved.
    expect(box.offer(m('B', 9), undefined, 0, undefined)).toBe(Offer.Conflated);
    expect(box.shift()).toEqual(m('B', 9));
  });

  it('conflate never conflates nor drops a message without the key (a control message): it queues, or is refused when full', () => {
    const box = new Mailbox<{ type: string; key?: string }>({ capacity: 3, policy: 'conflate', conflateKey: 'key' });
    expect(box.offer({ type: 'done' }, undefined, 0, undefined)).toBe(Offer.Queued);
    expect(box.offer({ type: 'status' }, undefined, 0, undefined)).toBe(Offer.Queued);
    expect(box.offer({ type: 'tick', key: 'A' }, undefined, 0, undefined)).toBe(Offer.Queued);
    expect(box.offer({ type: 'late' }, undefined, 0, undefined)).toBe(Offer.Full);
    expect(box.offer({ type: 'tick2', key: 'A' }, undefined, 0, undefined)).toBe(Offer.Conflated);
    expect(box.peek(5).map((x) => x.msg.type)).toEqual(['done', 'status', 'tick2']);
    box.shift();
    expect(box.offer({ type: 'tick', key: 'B' }, undefined, 0, undefined)).toBe(Offer.Queued);
    expect(box.offer({ type: 'tick3', key: 'A' }, undefined, 0, undefined)).toBe(Offer.Conflated);
    expect(box.offer({ type: 'tick', key: 'C' }, undefined, 0, undefined)).toBe(Offer.Full);
    expect([box.shift(), box.shift(), box.shift()].map((x) => x?.type)).toEqual(['status', 'tick3', 'tick']);
  });

  it('conflate equals "newest per key, in first-arrival order" (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('A', 'B', 'C', 'D'), { maxLength: 100 }), (keys) => {
        const box = new Mailbox<M>({ capacity: 4, policy: 'conflate', conflateKey: 'key' });
        keys.forEach((k, i) => box.offer(m(k, i), undefined, 0, undefined));
        const expected = new Map<string, number>();
        keys.forEach((k, i) => expected.set(k, i));
        const order = [...new Set(keys)];
        expect(box.peek(10).map((x) => [x.msg.key, x.msg.n])).toEqual(order.map((k) => [k, expected.get(k)]));
      }),
    );
  });

  it('backpressure refuses when full and signals writable once drained to half', async () => {
    const box = new Mailbox<M>({ capacity: 4, policy: 'backpressure' });
    for (let i = 0; i < 4; i++) expect(box.offer(m('k', i), undefined, 0, undefined)).toBe(Offer.Queued);
    expect(box.offer(m('k', 4), undefined, 0, undefined)).toBe(Offer.Full);
    let writable = false;
    const w = box.whenWritable().then(() => (writable = true));
    box.shift();
    await Promise.resolve();
    expect(writable).toBe(false);
    box.shift();
    await w;
    expect(writable).toBe(true);
  });

  it('rejects a capacity that is not a positive integer, saying what was expected', () => {
    expect(() => new Mailbox({ capacity: 0, policy: 'reject' })).toThrow(/expected an integer in 1\.\./);
  });
});
