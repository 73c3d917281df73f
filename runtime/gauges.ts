/**
 * Named numbers (and short strings) an actor wants an operator to see while the node runs:
 * counters, levels, states. The node reports them with its status once a second (`rt up` shows
 * them); the metrics endpoint will export them. Bounded: past `GAUGES_MAX` names, new ones are
 * refused and counted.
 */
export const GAUGES_MAX = 4096;

export type GaugeValue = number | string;

export class Gauges {
  private readonly values = new Map<string, GaugeValue>();
  /** names refused because GAUGES_MAX were already set */
  refused = 0;

  set(name: string, value: GaugeValue): void {
    if (!this.values.has(name) && this.values.size >= GAUGES_MAX) {
      this.refused++;
      return;
    }
    this.values.set(name, value);
  }

  add(name: string, delta = 1): void {
    const v = this.values.get(name);
    this.set(name, (typeof v === 'number' ? v : 0) + delta);
  }

  get(name: string): GaugeValue | undefined {
    return this.values.get(name);
  }

  snapshot(): Record<string, GaugeValue> {
    return Object.fromEntries(this.values);
  }
}
