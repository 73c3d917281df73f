import type { ActorContext, Behavior } from '../runtime/actor.ts';
import type { ActorSystem } from '../runtime/actor-system.ts';
import type { Signal } from '../runtime/signal.ts';
import { type BackoffSpec, backoffDelayMs } from './backoff.ts';
import type { ChildSpec } from './child-spec.ts';
import { oneForAll } from './one-for-all.ts';
import { oneForOne } from './one-for-one.ts';
import { restForOne } from './rest-for-one.ts';
import { type IntensitySpec, RestartIntensity } from './restart-intensity.ts';
import type { Strategy, StrategyName } from './strategy.ts';

/** What to do about one failure (Proto.Actor's decider); OTP's answer is always restart. */
export type Directive = 'restart' | 'resume' | 'stop' | 'escalate';

export interface SupervisorSpec {
  strategy: StrategyName;
  /** OTP intensity: at most maxRestarts within withinMs, then give up and escalate. */
  intensity: IntensitySpec;
  backoff: BackoffSpec;
  children: ChildSpec[];
  decide?: (error: Error, child: string) => Directive;
  /** Children added at run time (OTP's start_child), e.g. one actor per symbol or per order. */
  dynamic?: DynamicChildren;
}

/**
 * The door through which children are added to a running supervisor. The supervisor opens it
 * when it starts (and again after its own restart, when earlier dynamic children are gone, as in
 * OTP's simple_one_for_one).
 */
export class DynamicChildren {
  private starter: ((c: ChildSpec) => void) | undefined;

  /** @internal the supervisor's side */
  open(starter: ((c: ChildSpec) => void) | undefined): void {
    this.starter = starter;
  }

  /** Starts `c` under the supervisor now. False when the supervisor is not running. */
  start(c: ChildSpec): boolean {
    if (!this.starter) return false;
    this.starter(c);
    return true;
  }
}

export const DEFAULT_SUPERVISION: Omit<SupervisorSpec, 'children'> = {
  strategy: 'one_for_one',
  intensity: { maxRestarts: 5, withinMs: 10_000 },
  backoff: { minMs: 10, maxMs: 1000 },
};

/** Thrown (and so escalated to the parent) when a supervisor exceeds its restart intensity. */
export class SupervisorGaveUpError extends Error {
  constructor(
    readonly supervisor: string,
    readonly child: string,
    readonly intensity: IntensitySpec,
    readonly lastError: Error,
  ) {
    super(
      `supervisor ${supervisor} gave up: ${child} needed more than ${intensity.maxRestarts} restarts within ${intensity.withinMs} ms; last error: ${lastError.message}`,
    );
    this.name = 'SupervisorGaveUpError';
  }
}

export type SupervisorMsg = { type: 'which-children' } | { type: '$give-up'; error: SupervisorGaveUpError };

export interface ChildInfo {
  address: string;
  restart: string;
  status: string;
  restarts: number;
}

interface State {
  /** Children by address, in start order (a Map keeps insertion order; removal is O(1) for one-per-order children). */
  specs: Map<string, ChildSpec>;
  intensity: RestartIntensity;
  /** Children this supervisor is stopping on purpose: their exit is not a failure. */
  terminating: Set<string>;
  /** Restarts run one at a time, in the order failures arrived. */
  busy: Promise<void>;
  stopping: boolean;
}

const STRATEGIES: Record<StrategyName, Strategy> = { one_for_one: oneForOne, one_for_all: oneForAll, rest_for_one: restForOne };

/**
 * An OTP supervisor as a runtime behaviour. It starts its children in order; when one fails or
 * ends, it applies the strategy (which siblings go with it), the restart type (whether it comes
 * back), the intensity (how often, before giving up) and the backoff (how soon). Giving up stops
 * the children in reverse order and fails the supervisor itself, so its parent decides next; a
 * root supervisor that gives up ends the node process (see the node's unsupervised-failure hook).
 */
export function supervisor(spec: SupervisorSpec): Behavior<SupervisorMsg, State> {
  const strategy = STRATEGIES[spec.strategy];
  if (!strategy) throw new RangeError(`supervision strategy "${spec.strategy}": expected one of ${Object.keys(STRATEGIES).join(', ')}`);
  const decide = spec.decide ?? (() => 'restart');

  const startChild = (ctx: ActorContext<SupervisorMsg>, c: ChildSpec): void => {
    ctx.spawn(c.address, c.behavior, c.options);
  };

  const stopChild = async (s: State, system: ActorSystem, address: string): Promise<void> => {
    s.terminating.add(address);
    await system.stop(address);
  };

  const giveUp = async (s: State, ctx: ActorContext<SupervisorMsg>, child: string, cause: Error): Promise<void> => {
    s.stopping = true;
    for (const a of [...s.specs.keys()].reverse()) await stopChild(s, ctx.system, a);
    const error = new SupervisorGaveUpError(ctx.self.address, child, spec.intensity, cause);
    ctx.system.tell(ctx.self, { type: '$give-up', error });
  };

  /** Restarts `failed` and the siblings the strategy names, after the backoff. */
  const restart = async (s: State, ctx: ActorContext<SupervisorMsg>, failed: string, cause: Error): Promise<void> => {
    if (s.stopping) return;
    const now = ctx.system.clock.now();
    if (!s.intensity.tryRestart(now)) return giveUp(s, ctx, failed, cause);
    const delay = backoffDelayMs(spec.backoff, s.intensity.recent(now) - 1);
    if (delay > 0) await new Promise<void>((resolve) => ctx.system.clock.setTimeout(resolve, delay));
    if (s.stopping) return;
    const affected = strategy([...s.specs.keys()], failed).filter((a) => s.specs.has(a));
    // Halt all affected, newest first, before re-initialising any, oldest first (OTP order).
    for (const a of [...affected].reverse()) await ctx.system.cellOf(a)?.halt();
    for (const a of affected) {
      const cell = ctx.system.cellOf(a);
      if (cell && cell.status === 'suspended') cell.reinit();
      else if (!cell) startChild(ctx, s.specs.get(a) as ChildSpec);
    }
  };

  const forget = (s: State, address: string): void => {
    s.specs.delete(address);
  };

  const serially = (s: State, ctx: ActorContext<SupervisorMsg>, work: () => Promise<void>): void => {
    s.busy = s.busy.then(work).catch((e: unknown) => {
      // A fault in the restart procedure itself must not vanish: the supervisor fails with it.
      const cause = e instanceof Error ? e : new Error(String(e));
      ctx.system.tell(ctx.self, { type: '$give-up', error: new SupervisorGaveUpError(ctx.self.address, '(restart procedure)', spec.intensity, cause) });
    });
  };

  return {
    init(ctx) {
      const s: State = {
        specs: new Map(spec.children.map((c) => [c.address, c])),
        intensity: new RestartIntensity(spec.intensity),
        terminating: new Set(),
        busy: Promise.resolve(),
        stopping: false,
      };
      for (const c of spec.children) startChild(ctx, c);
      spec.dynamic?.open((c) => {
        if (s.stopping || s.specs.has(c.address)) return;
        s.specs.set(c.address, c);
        startChild(ctx, c);
      });
      return s;
    },

    receive(s, msg, ctx) {
      switch (msg.type) {
        case 'which-children':
          ctx.reply({ type: 'children', children: childInfo(s, ctx.system) });
          return s;
        case '$give-up':
          throw msg.error;
      }
    },

    onSignal(s, signal: Signal, ctx) {
      if (signal.type === '$child-failed') {
        const c = s.specs.get(signal.address);
        if (!c || s.stopping) return s;
        const directive = decide(signal.error, signal.address);
        if (directive === 'escalate') throw signal.error;
        if (directive === 'resume') {
          ctx.system.cellOf(signal.address)?.resume();
          return s;
        }
        if (directive === 'stop' || c.restart === 'temporary') {
          forget(s, signal.address);
          serially(s, ctx, () => stopChild(s, ctx.system, signal.address));
          return s;
        }
        serially(s, ctx, () => restart(s, ctx, signal.address, signal.error));
        return s;
      }
      if (signal.type === '$child-exited') {
        if (s.terminating.delete(signal.address) || s.stopping) return s;
        const c = s.specs.get(signal.address);
        if (!c) return s;
        const failed = signal.reason.kind === 'failed';
        const again = (c.restart ?? 'permanent') === 'permanent' || (c.restart === 'transient' && failed);
        if (!again) {
          forget(s, signal.address);
          return s;
        }
        const cause = failed && signal.reason.kind === 'failed' ? signal.reason.error : new Error(`${signal.address} exited (${signal.reason.kind})`);
        serially(s, ctx, () => restart(s, ctx, signal.address, cause));
      }
      return s;
    },

    async stop(s, ctx) {
      s.stopping = true;
      spec.dynamic?.open(undefined);
      for (const a of [...s.specs.keys()].reverse()) await stopChild(s, ctx.system, a);
    },

    summary(s) {
      return { strategy: spec.strategy, children: [...s.specs.keys()] };
    },
  };
}

function childInfo(s: State, system: ActorSystem): ChildInfo[] {
  return [...s.specs.keys()].map((address) => {
    const cell = system.cellOf(address);
    return {
      address,
      restart: s.specs.get(address)?.restart ?? 'permanent',
      status: cell?.status ?? 'stopped',
      restarts: cell?.restarts ?? 0,
    };
  });
}
