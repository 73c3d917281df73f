import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Behavior, RestartType } from '../../runtime/actor.ts';
import type { ActorCell } from '../../runtime/actor-cell.ts';
import { ActorSystem } from '../../runtime/actor-system.ts';
import { ManualClock } from '../../runtime/clock.ts';
import { child } from '../../supervisors/child-spec.ts';
import type { StrategyName } from '../../supervisors/strategy.ts';
import { SupervisorGaveUpError, supervisor, type SupervisorSpec } from '../../supervisors/supervisor.ts';

type Cmd = { type: 'fail' } | { type: 'stop' } | { type: 'count' };

/** Lets the dispatcher and the supervisor's async restart procedure run to quiescence. */
const settle = async (turns = 20): Promise<void> => {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
};

/** A child that records its lifecycle, counts messages, throws on `fail`, stops on `stop`. */
function worker(name: string, log: string[]): Behavior<Cmd, number> {
  return {
    init: () => (log.push(`init ${name}`), 0),
    receive: (n, msg, ctx) => {
      if (msg.type === 'fail') throw new Error(`${name} failed`);
      if (msg.type === 'stop') void ctx.stop();
      return n + 1;
    },
    stop: () => void log.push(`stop ${name}`),
  };
}

function setup(strategy: StrategyName, opts: { max?: number; withinMs?: number; backoffMinMs?: number; restart?: RestartType } = {}) {
  const clock = new ManualClock();
  const sys = new ActorSystem({ clock });
  const failures: Error[] = [];
  sys.onUnsupervisedFailure = (_cell, error) => void failures.push(error);
  const log: string[] = [];
  const spec: SupervisorSpec = {
    strategy,
    intensity: { maxRestarts: opts.max ?? 3, withinMs: opts.withinMs ?? 1000 },
    backoff: { minMs: opts.backoffMinMs ?? 0, maxMs: 1000 },
    children: ['a', 'b', 'c'].map((n) => child({ address: n, behavior: worker(n, log), restart: opts.restart ?? 'permanent' })),
  };
  sys.spawn('sup', supervisor(spec));
  log.length = 0;
  return { clock, sys, log, failures, cell: (a: string) => sys.cellOf(a) as ActorCell };
}

describe('supervision strategies', () => {
  it('one_for_one restarts only the failed child; siblings keep their state', async () => {
    const { sys, log, cell } = setup('one_for_one');
    sys.tell('a', { type: 'count' });
    sys.tell('b', { type: 'fail' });
    await settle();
    expect(log).toEqual(['stop b', 'init b']);
    expect(cell('a').restarts).toBe(0);
    expect(cell('a').handled).toBe(1);
    expect(cell('b').restarts).toBe(1);
    expect(cell('c').restarts).toBe(0);
  });

  it('one_for_all restarts every child: all halted newest first, then all started oldest first', async () => {
    const { sys, log, cell } = setup('one_for_all');
    sys.tell('b', { type: 'fail' });
    await settle();
    expect(log).toEqual(['stop c', 'stop b', 'stop a', 'init a', 'init b', 'init c']);
    expect(['a', 'b', 'c'].map((a) => cell(a).restarts)).toEqual([1, 1, 1]);
  });

  it('rest_for_one restarts the failed child and those started after it', async () => {
    const { sys, log, cell } = setup('rest_for_one');
    sys.tell('b', { type: 'fail' });
    await settle();
    expect(log).toEqual(['stop c', 'stop b', 'init b', 'init c']);
    expect(['a', 'b', 'c'].map((a) => cell(a).restarts)).toEqual([0, 1, 1]);
  });

  it('messages that arrive while a child waits out its backoff are handled after the restart', async () => {
    const { sys, clock, cell } = setup('one_for_one', { backoffMinMs: 100 });
    sys.tell('a', { type: 'fail' }); // first restart in the window: no delay
    await settle();
    sys.tell('a', { type: 'fail' }); // second: 100 ms backoff
    await settle();
    expect(cell('a').status).toBe('suspended');
    sys.tell('a', { type: 'count' });
    sys.tell('a', { type: 'count' });
    clock.advance(99);
    await settle();
    expect(cell('a').status).toBe('suspended');
    clock.advance(1);
    await settle();
    expect(cell('a').status).toBe('running');
    expect(cell('a').restarts).toBe(2);
    expect(cell('a').handled).toBe(2);
  });
});

describe('restart types', () => {
  it('permanent: restarted even after a normal stop', async () => {
    const { sys, log } = setup('one_for_one', { restart: 'permanent' });
    sys.tell('a', { type: 'stop' });
    await settle();
    expect(log).toEqual(['stop a', 'init a']);
    expect(sys.cellOf('a')?.status).toBe('running');
  });

  it('transient: restarted after a failure, not after a normal stop', async () => {
    const { sys, log } = setup('one_for_one', { restart: 'transient' });
    sys.tell('a', { type: 'fail' });
    await settle();
    expect(log).toEqual(['stop a', 'init a']);
    sys.tell('a', { type: 'stop' });
    await settle();
    expect(log).toEqual(['stop a', 'init a', 'stop a']);
    expect(sys.cellOf('a')).toBeUndefined();
  });

  it('temporary: never restarted', async () => {
    const { sys, log } = setup('one_for_one', { restart: 'temporary' });
    sys.tell('a', { type: 'fail' });
    await settle();
    expect(log).toEqual(['stop a']);
    expect(sys.cellOf('a')).toBeUndefined();
    expect(sys.cellOf('b')?.status).toBe('running');
  });
});

describe('restart intensity', () => {
  it('a child that fails k times within the window restarts min(k, N) times, then the supervisor escalates (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 8 }), async (maxRestarts, k) => {
        const { sys, failures, cell } = setup('one_for_one', { max: maxRestarts, withinMs: 10_000 });
        const restarts: string[] = [];
        sys.events.on('restart', (e: { address: string }) => restarts.push(e.address));
        for (let i = 0; i < k; i++) {
          sys.tell('a', { type: 'fail' });
          await settle();
        }
        expect(restarts.filter((a) => a === 'a')).toHaveLength(Math.min(k, maxRestarts));
        if (k > maxRestarts) {
          expect(failures).toHaveLength(1);
          expect(failures[0]).toBeInstanceOf(SupervisorGaveUpError);
          expect(failures[0].message).toContain(`a needed more than ${maxRestarts} restarts within 10000 ms`);
          // Giving up stops every child first.
          expect(['a', 'b', 'c'].map((x) => sys.cellOf(x))).toEqual([undefined, undefined, undefined]);
        } else {
          expect(failures).toHaveLength(0);
          expect(cell('a').status).toBe('running');
        }
      }),
      { numRuns: 40 },
    );
  });

  it('failures spread out wider than the window never exhaust the intensity', async () => {
    const { sys, clock, failures } = setup('one_for_one', { max: 2, withinMs: 1000 });
    for (let i = 0; i < 10; i++) {
      sys.tell('a', { type: 'fail' });
      await settle();
      clock.advance(600);
    }
    expect(failures).toHaveLength(0);
    expect(sys.cellOf('a')?.restarts).toBe(10);
  });

  it('escalation: an inner supervisor that gives up is restarted by its parent, with its children', async () => {
    const clock = new ManualClock();
    const sys = new ActorSystem({ clock });
    const rootFailures: Error[] = [];
    sys.onUnsupervisedFailure = (_c, e) => void rootFailures.push(e);
    const log: string[] = [];
    const inner = supervisor({
      strategy: 'one_for_one',
      intensity: { maxRestarts: 1, withinMs: 10_000 },
      backoff: { minMs: 0, maxMs: 0 },
      children: [child({ address: 'leaf', behavior: worker('leaf', log) })],
    });
    sys.spawn(
      'root',
      supervisor({
        strategy: 'one_for_one',
        intensity: { maxRestarts: 3, withinMs: 10_000 },
        backoff: { minMs: 0, maxMs: 0 },
        children: [child({ address: 'inner', behavior: inner })],
      }),
    );
    await settle();
    sys.tell('leaf', { type: 'fail' });
    await settle();
    sys.tell('leaf', { type: 'fail' }); // exceeds inner's intensity of 1
    await settle();
    expect(sys.cellOf('inner')?.restarts).toBe(1);
    expect(sys.cellOf('leaf')?.status).toBe('running');
    expect(rootFailures).toHaveLength(0);
    expect(log.filter((l) => l === 'init leaf')).toHaveLength(3);
  });
});

describe('ordered shutdown', () => {
  it('stopping a supervisor stops its children newest first, abandoning a hung one after its timeout', async () => {
    const sys = new ActorSystem();
    const order: string[] = [];
    const leaf = (name: string, hang = false): Behavior<Cmd, null> => ({
      init: () => null,
      receive: (s) => s,
      stop: () => {
        order.push(name);
        return hang ? new Promise<void>(() => {}) : undefined;
      },
    });
    const timeouts: string[] = [];
    sys.events.on('stop-timeout', (e: { address: string }) => timeouts.push(e.address));
    const sup = sys.spawn(
      'sup',
      supervisor({
        strategy: 'one_for_one',
        intensity: { maxRestarts: 1, withinMs: 1000 },
        backoff: { minMs: 0, maxMs: 0 },
        children: [
          child({ address: 'x', behavior: leaf('x') }),
          child({ address: 'y', behavior: leaf('y', true), options: { shutdownTimeoutMs: 30 } }),
          child({ address: 'z', behavior: leaf('z') }),
        ],
      }),
    );
    await sys.stop(sup);
    expect(order).toEqual(['z', 'y', 'x']);
    expect(timeouts).toEqual(['y']);
    expect(sys.localAddresses()).toEqual([]);
  });
});
