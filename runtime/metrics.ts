// A node's Prometheus metrics (prom-client), what its /metrics endpoint serves. The hot path pays
// little: each actor cell holds the counters of its actor key (one object per key, shared by
// every cell of a pattern such as order/*), counts what it handles and sends in plain Maps, and
// times what it handles into a histogram child; everything else (mailbox depths, restarts,
// transports, the application's own gauges) is read when Prometheus scrapes.
//
// Labels are bounded: `actor` is the topology key (`risk`, `order/*`), never an entity's address;
// `type` is a message type (a closed union per actor); `reason` a dead-letter reason.
import { Counter, Gauge, Registry } from 'prom-client';
import type { ActorSystem } from './actor-system.ts';
import type { DeadLetterReason } from './signal.ts';

/** Handle-time buckets, seconds: 1 µs .. 1 s. */
export const HANDLE_SECONDS_BUCKETS = [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 10];
/** Most distinct message types counted per actor key; more are counted as type "other". */
export const TYPES_PER_KEY_MAX = 64;

/**
 * A histogram as plain numbers, for the hot path: prom-client's labelled observe hashes its labels
 * on every call (about a microsecond here), this one finds a bucket and adds. Read at scrape time.
 */
export class FastHistogram {
  /** counts per bucket (not cumulative), the last one for +Inf */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

/**
 * Messages counted by type, at most TYPES_PER_KEY_MAX types (the rest as "other", so a label's
 * values stay bounded). An actor mostly sees the type it saw last: that one is a string compare
 * away, the others one map lookup.
 */
export class TypeCounts {
  private readonly counts = new Map<string, { n: number }>();
  private lastType: string | undefined;
  private last: { n: number } = { n: 0 };

  add(type: string): void {
    if (type !== this.lastType) {
      let c = this.counts.get(type);
      if (c === undefined) {
        if (this.counts.size < TYPES_PER_KEY_MAX) this.counts.set(type, (c = { n: 0 }));
        else c = this.other();
      }
      this.lastType = type;
      this.last = c;
    }
    this.last.n++;
  }

  private other(): { n: number } {
    let c = this.counts.get('other');
    if (c === undefined) this.counts.set('other', (c = { n: 0 }));
    return c;
  }

  *entries(): IterableIterator<[string, number]> {
    for (const [type, c] of this.counts) yield [type, c.n];
  }
}

/** The counters of one actor key, shared by every cell of it. */
export class KeyStats {
  readonly in = new TypeCounts();
  readonly out = new TypeCounts();
  restarts = 0;
  /** handle times in seconds */
  readonly handleSeconds = new FastHistogram(HANDLE_SECONDS_BUCKETS);

  constructor(readonly key: string) {}

  /** One message handled, in `ms`. */
  handled(type: string, ms: number): void {
    this.handleSeconds.observe(ms / 1000);
    this.in.add(type);
  }

  sent(type: string): void {
    this.out.add(type);
  }
}

export interface NodeMetricsOptions {
  node: string;
  cluster: string;
  /** the actor key an address belongs to (`order/rt-1f` -> `order/*`); undefined: not an actor of the topology */
  keyOf: (address: string) => string | undefined;
  /** transport counters read at scrape time */
  transports?: () => { nats_connected?: number; nats_disconnects?: number; ipc_links_down?: number; envelopes_lost?: number };
}

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly keys = new Map<string, KeyStats>();
  private readonly deadLetters: Counter<'reason'>;

  constructor(
    private readonly system: ActorSystem,
    private readonly o: NodeMetricsOptions,
  ) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node: o.node, cluster: o.cluster });
    registerScraped(this.registry, 'rt_handle_seconds', 'Time an actor took to handle one message.', 'histogram', () =>
      histogramSamples('rt_handle_seconds', 'actor', [...this.keys.values()].map((k) => [k.key, k.handleSeconds])),
    );
    this.deadLetters = new Counter({ name: 'rt_dead_letters_total', help: 'Messages that could not be delivered, by reason.', labelNames: ['reason'], registers });
    system.deadLetters.subscribe((d) => this.deadLetters.inc({ reason: d.reason satisfies DeadLetterReason }));
    system.events.on('restart', (e: { address: string }) => {
      const k = this.statsOf(e.address);
      if (k) k.restarts++;
    });
    const keys = this.keys;
    const byKey = (): Map<string, { depth: number; capacity: number; fill: number; actors: number }> => {
      const out = new Map<string, { depth: number; capacity: number; fill: number; actors: number }>();
      for (const address of system.localAddresses()) {
        const cell = system.cellOf(address);
        const key = o.keyOf(address);
        if (!cell || key === undefined) continue;
        const e = out.get(key) ?? { depth: 0, capacity: 0, fill: 0, actors: 0 };
        e.depth += cell.mailbox.size;
        e.capacity = Math.max(e.capacity, cell.mailbox.capacity);
        e.fill = Math.max(e.fill, cell.mailbox.size / cell.mailbox.capacity);
        e.actors++;
        out.set(key, e);
      }
      return out;
    };
    let snapshot = byKey();
    const fresh = (): Map<string, { depth: number; capacity: number; fill: number; actors: number }> => (snapshot = byKey());
    new Gauge({
      name: 'rt_mailbox_depth',
      help: 'Messages queued, summed over the actors of a key.',
      labelNames: ['actor'],
      registers,
      collect() {
        this.reset();
        for (const [k, v] of fresh()) this.set({ actor: k }, v.depth);
      },
    });
    new Gauge({
      name: 'rt_mailbox_capacity',
      help: 'Mailbox capacity of one actor of a key.',
      labelNames: ['actor'],
      registers,
      collect() {
        this.reset();
        for (const [k, v] of snapshot) this.set({ actor: k }, v.capacity);
      },
    });
    new Gauge({
      name: 'rt_mailbox_fill_ratio',
      help: 'Fullest mailbox among the actors of a key: depth / capacity (0..1).',
      labelNames: ['actor'],
      registers,
      collect() {
        this.reset();
        for (const [k, v] of snapshot) this.set({ actor: k }, v.fill);
      },
    });
    new Gauge({
      name: 'rt_actors',
      help: 'Actors running, by key.',
      labelNames: ['actor'],
      registers,
      collect() {
        this.reset();
        for (const [k, v] of snapshot) this.set({ actor: k }, v.actors);
      },
    });
    const perType = (name: string, help: string, pick: (k: KeyStats) => TypeCounts): void => {
      new Counter({
        name,
        help,
        labelNames: ['actor', 'type'],
        registers,
        collect() {
          this.reset();
          for (const k of keys.values()) for (const [type, n] of pick(k).entries()) this.inc({ actor: k.key, type }, n);
        },
      });
    };
    perType('rt_messages_handled_total', 'Messages an actor handled, by message type.', (k) => k.in);
    perType('rt_messages_sent_total', 'Messages an actor sent, by message type.', (k) => k.out);
    new Counter({
      name: 'rt_restarts_total',
      help: 'Restarts of the actors of a key by their supervisor.',
      labelNames: ['actor'],
      registers,
      collect() {
        this.reset();
        for (const k of keys.values()) this.inc({ actor: k.key }, k.restarts);
      },
    });
    new Gauge({
      name: 'rt_lease_epoch',
      help: 'Lease epoch this node writes and sends with (0 until failover assigns one).',
      registers,
      collect() {
        this.set(system.epoch);
      },
    });
    const transports = o.transports;
    if (transports) {
      // Only on a node with a NATS connection: elsewhere no series (a 0 would read as "down").
      registerValue(this.registry, 'rt_nats_connected', '1 while the NATS connection is up.', 'gauge', () => transports().nats_connected);
      registerValue(this.registry, 'rt_nats_disconnects_total', 'Times the NATS connection was lost (the client reconnects on its own).', 'counter', () => transports().nats_disconnects);
      new Gauge({ name: 'rt_ipc_links_down', help: 'IPC links to peer nodes currently not connected.', registers, collect() { this.set(transports().ipc_links_down ?? 0); } });
      new Counter({ name: 'rt_envelopes_lost_total', help: 'Envelopes missing in a link sequence (reported gaps).', registers, collect() { this.reset(); this.inc(transports().envelopes_lost ?? 0); } });
    }
  }

  /** The counters of the key `address` belongs to; undefined for runtime-internal addresses. */
  statsOf(address: string): KeyStats | undefined {
    const key = this.o.keyOf(address);
    if (key === undefined) return undefined;
    let k = this.keys.get(key);
    if (!k) {
      k = new KeyStats(key);
      this.keys.set(key, k);
    }
    return k;
  }

  /** The text format Prometheus scrapes. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

type Sample = { value: number; labels: Record<string, string | number>; metricName?: string };

/**
 * Registers a metric whose samples are read at scrape time (prom-client's Registry.registerMetric
 * takes any object of this shape): for the hot path's plain-number histograms, and for values that
 * are sometimes absent.
 */
export function registerScraped(registry: Registry, name: string, help: string, type: 'gauge' | 'counter' | 'histogram', samples: () => Sample[]): void {
  const get = () => Promise.resolve({ name, help, type, aggregator: 'sum' as const, values: samples() });
  registry.registerMetric({ name, help, type, aggregator: 'sum', get, reset: () => undefined, labels: () => undefined, remove: () => undefined } as never);
}

/**
 * A metric without labels read at scrape time: no series at all while `read` gives undefined
 * (prom-client's own reset() would export a 0, which says "off" where the truth is "not here").
 */
export function registerValue(registry: Registry, name: string, help: string, type: 'gauge' | 'counter', read: () => number | undefined): void {
  registerScraped(registry, name, help, type, () => {
    const v = read();
    return v === undefined || !Number.isFinite(v) ? [] : [{ value: v, labels: {} }];
  });
}

/** The samples of FastHistograms, one per label value, in Prometheus's cumulative bucket form. */
function histogramSamples(name: string, label: string, series: Iterable<[string, FastHistogram]>): Sample[] {
  const values: Sample[] = [];
  for (const [lv, h] of series) {
    let cum = 0;
    for (let i = 0; i < h.bounds.length; i++) {
      cum += h.counts[i];
      values.push({ value: cum, labels: { [label]: lv, le: h.bounds[i] }, metricName: `${name}_bucket` });
    }
    values.push({ value: h.count, labels: { [label]: lv, le: '+Inf' }, metricName: `${name}_bucket` });
    values.push({ value: h.sum, labels: { [label]: lv }, metricName: `${name}_sum` });
    values.push({ value: h.count, labels: { [label]: lv }, metricName: `${name}_count` });
  }
  return values;
}
