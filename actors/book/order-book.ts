/**
 * One side-sorted L2 book: price levels as parallel arrays kept in best-first order (bids
 * descending, asks ascending), so the top is index 0 and an update near the top (the common case)
 * moves few elements. Prices are the numbers parsed from the exchange's decimal strings: the same
 * string always gives the same number, so levels compare exactly.
 */
export class BookSide {
  prices: number[] = [];
  qtys: number[] = [];

  constructor(readonly descending: boolean) {}

  get length(): number {
    return this.prices.length;
  }

  /** Index of `price`, or -(insertion point) - 1 when absent (binary search). */
  indexOf(price: number): number {
    const p = this.prices;
    let lo = 0;
    let hi = p.length - 1;
    const desc = this.descending;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = p[mid];
      if (v === price) return mid;
      if (desc ? v > price : v < price) lo = mid + 1;
      else hi = mid - 1;
    }
    return -lo - 1;
  }

  /** Sets a level; a quantity of 0 deletes it. Callers validate (finite, >= 0). */
  set(price: number, qty: number): void {
    const i = this.indexOf(price);
    if (i >= 0) {
      if (qty === 0) {
        this.prices.splice(i, 1);
        this.qtys.splice(i, 1);
      } else this.qtys[i] = qty;
    } else if (qty !== 0) {
      const at = -i - 1;
      if (at === this.prices.length) {
        this.prices.push(price);
        this.qtys.push(qty);
      } else {
        this.prices.splice(at, 0, price);
        this.qtys.splice(at, 0, qty);
      }
    }
  }

  clear(): void {
    this.prices = [];
    this.qtys = [];
  }

  /** Sum of the quantities of the best `n` levels. */
  depth(n: number): number {
    let s = 0;
    const m = Math.min(n, this.qtys.length);
    for (let i = 0; i < m; i++) s += this.qtys[i];
    return s;
  }
}

/** A flat list of levels as the wire carries them: [price0, qty0, price1, qty1, ...]. */
export type Levels = number[];

export class OrderBook {
  readonly bids = new BookSide(true);
  readonly asks = new BookSide(false);

  /** Applies levels given flat ([p, q, p, q...]); returns how many levels were applied. */
  apply(bids: Levels, asks: Levels): number {
    for (let i = 0; i < bids.length; i += 2) this.bids.set(bids[i], bids[i + 1]);
    for (let i = 0; i < asks.length; i += 2) this.asks.set(asks[i], asks[i + 1]);
    return (bids.length + asks.length) >> 1;
  }

  /** Replaces the whole book (a snapshot). */
  load(bids: Levels, asks: Levels): number {
    this.bids.clear();
    this.asks.clear();
    return this.apply(bids, asks);
  }

  get bestBid(): number {
    return this.bids.length > 0 ? this.bids.prices[0] : NaN;
  }
  get bestAsk(): number {
    return this.asks.length > 0 ? this.asks.prices[0] : NaN;
  }
  get bestBidQty(): number {
    return this.bids.length > 0 ? this.bids.qtys[0] : NaN;
  }
  get bestAskQty(): number {
    return this.asks.length > 0 ? this.asks.qtys[0] : NaN;
  }

  /** Best bid at or above best ask. An empty side is not crossed. */
  get crossed(): boolean {
    return this.bids.length > 0 && this.asks.length > 0 && this.bids.prices[0] >= this.asks.prices[0];
  }

  /** Top `n` levels of each side, best first, as [price, qty] pairs (for snapshots and inspection). */
  levels(n = Infinity): { bids: [number, number][]; asks: [number, number][] } {
    const take = (s: BookSide): [number, number][] => {
      const m = Math.min(n, s.length);
      const out: [number, number][] = new Array(m);
      for (let i = 0; i < m; i++) out[i] = [s.prices[i], s.qtys[i]];
      return out;
    };
    return { bids: take(this.bids), asks: take(this.asks) };
  }
}
