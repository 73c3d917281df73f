// Positions and P&L, pure: average-cost accounting per symbol, marks from the last trade, daily
// P&L by UTC trading day, and the equity curve's maximum drawdown. No I/O, no clock: times come
// from the fills and trades themselves, so a replay gives the same numbers every time.
import type { Side } from '../order/order-protocol.ts';

export interface SymbolPosition {
  /** net quantity, buys positive */
  qty: number;
  /** average cost of the open quantity (0 when flat) */
  avgPrice: number;
  realizedPnl: number;
  /** last trade price (NaN before the first) */
  markPrice: number;
  fills: number;
  /** quantity bought and sold, for the "sum of fills" check */
  bought: number;
  sold: number;
}

export interface PnlSnapshot {
  realizedPnl: number;
  unrealizedPnl: number;
  totalPnl: number;
  dailyPnl: number;
  day: string;
  /** highest total P&L seen, and how far below it we are (absolute and as a share of capital + peak) */
  peakPnl: number;
  drawdown: number;
  drawdownPct: number;
  maxDrawdownPct: number;
}

export interface PositionBookData {
  capital: number;
  symbols: [string, SymbolPosition][];
  day: string;
  dayStartPnl: number;
  peak: number;
  maxDrawdownPct: number;
}

/** Quantities are compared with this tolerance: fills are decimal strings parsed to doubles. */
export const QTY_EPSILON = 1e-9;

export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export class PositionBook {
  readonly symbols = new Map<string, SymbolPosition>();
  private day = '';
  private dayStartPnl = 0;
  private peak = 0;
  private maxDrawdownPct = 0;

  /** `capital`: the account's starting equity, the base of the drawdown percentage. */
  constructor(readonly capital: number) {
    if (!(capital > 0) || !Number.isFinite(capital)) throw new RangeError(`capital ${capital}: expected a positive amount`);
  }

  position(symbol: string): SymbolPosition {
    let p = this.symbols.get(symbol);
    if (!p) {
      p = { qty: 0, avgPrice: 0, realizedPnl: 0, markPrice: NaN, fills: 0, bought: 0, sold: 0 };
      this.symbols.set(symbol, p);
    }
    return p;
  }

  /** Applies one fill. Returns the realized P&L it produced. */
  applyFill(symbol: string, side: Side, qty: number, price: number, timeMs: number): number {
    if (!(qty > 0) || !(price > 0) || !Number.isFinite(qty) || !Number.isFinite(price)) throw new RangeError(`fill ${symbol} ${side} ${qty}@${price}: expected a positive quantity and price`);
    this.rollDay(timeMs);
    const p = this.position(symbol);
    const signed = side === 'buy' ? qty : -qty;
    let realized = 0;
    if (p.qty === 0 || Math.sign(p.qty) === Math.sign(signed)) {
      // Opening or adding: the average cost moves.
      p.avgPrice = (p.avgPrice * Math.abs(p.qty) + price * qty) / (Math.abs(p.qty) + qty);
      p.qty += signed;
    } else {
      // Reducing, closing or flipping: realize on the closed part at the average cost.
      const closed = Math.min(qty, Math.abs(p.qty));
      realized = (price - p.avgPrice) * closed * Math.sign(p.qty);
      p.qty += signed;
      if (Math.abs(p.qty) <= QTY_EPSILON) {
        p.qty = 0;
        p.avgPrice = 0;
      } else if (Math.sign(p.qty) === Math.sign(signed)) p.avgPrice = price; // flipped: the rest opened at this price
    }
    p.realizedPnl += realized;
    p.fills++;
    if (side === 'buy') p.bought += qty;
    else p.sold += qty;
    if (Number.isNaN(p.markPrice)) p.markPrice = price;
    this.track();
    return realized;
  }

  /** Marks a symbol at a trade price. */
  mark(symbol: string, price: number, timeMs: number): void {
    if (!(price > 0) || !Number.isFinite(price)) return;
    this.rollDay(timeMs);
    this.position(symbol).markPrice = price;
    this.track();
  }

  unrealized(symbol: string): number {
    const p = this.symbols.get(symbol);
    if (!p || p.qty === 0 || Number.isNaN(p.markPrice)) return 0;
    return (p.markPrice - p.avgPrice) * p.qty;
  }

  snapshot(): PnlSnapshot {
    let realized = 0;
    let unrealized = 0;
    for (const [sym, p] of this.symbols) {
      realized += p.realizedPnl;
      unrealized += this.unrealized(sym);
    }
    const total = realized + unrealized;
    const drawdown = Math.max(0, this.peak - total);
    return {
      realizedPnl: realized,
      unrealizedPnl: unrealized,
      totalPnl: total,
      dailyPnl: total - this.dayStartPnl,
      day: this.day,
      peakPnl: this.peak,
      drawdown,
      drawdownPct: (drawdown / (this.capital + this.peak)) * 100,
      maxDrawdownPct: this.maxDrawdownPct,
    };
  }

  /** The UTC day of the latest event (fill or mark), '' before any. */
  get currentDay(): string {
    return this.day;
  }

  /** Everything the book holds, as plain data (a snapshot of the position actor). */
  toData(): PositionBookData {
    return { capital: this.capital, symbols: [...this.symbols].map(([sym, p]) => [sym, { ...p }]), day: this.day, dayStartPnl: this.dayStartPnl, peak: this.peak, maxDrawdownPct: this.maxDrawdownPct };
  }

  static fromData(d: PositionBookData): PositionBook {
    const b = new PositionBook(d.capital);
    for (const [sym, p] of d.symbols) b.symbols.set(sym, { ...p });
    b.day = d.day;
    b.dayStartPnl = d.dayStartPnl;
    b.peak = d.peak;
    b.maxDrawdownPct = d.maxDrawdownPct;
    return b;
  }

  private total(): number {
    let t = 0;
    for (const [sym, p] of this.symbols) t += p.realizedPnl + this.unrealized(sym);
    return t;
  }

  private track(): void {
    const total = this.total();
    if (total > this.peak) this.peak = total;
    const pct = ((this.peak - total) / (this.capital + this.peak)) * 100;
    if (pct > this.maxDrawdownPct) this.maxDrawdownPct = pct;
  }

  /** A new UTC day starts its daily P&L from the total P&L at its first event. */
  private rollDay(timeMs: number): void {
    const d = utcDay(timeMs);
    if (d > this.day) {
      this.dayStartPnl = this.day === '' ? 0 : this.total();
      this.day = d;
    }
  }
}
