// XState's pure `transition()` / `initialTransition()` build a throw-away actor (an "inert actor
// scope") on every call: on this machine that was ~70% of an order's CPU (profiled with
// bench/orders-throughput.ts). These do the same with one scope per machine, made once. Safe for
// machines that neither invoke nor spawn child actors (the order lifecycle, the circuit breaker):
// the scope is only a sink for the actions a step returns.
import { type AnyStateMachine, createActor, type EventFromLogic, type InputFrom, type SnapshotFrom } from 'xstate';

type ExecutableAction = { type: string; params?: unknown; [k: string]: unknown };

interface Scope {
  scope: Record<string, unknown>;
  actions: ExecutableAction[];
}

const scopes = new WeakMap<AnyStateMachine, Scope>();

function scopeOf(logic: AnyStateMachine): Scope {
  let s = scopes.get(logic);
  if (!s) {
    const self = createActor(logic);
    const actions: ExecutableAction[] = [];
    const scope = {
      self,
      defer: () => {},
      id: '',
      logger: () => {},
      sessionId: '',
      stopChild: () => {},
      system: self.system,
      emit: () => {},
      actionExecutor: (a: ExecutableAction) => void actions.push(a),
    };
    s = { scope, actions };
    scopes.set(logic, s);
  }
  return s;
}

/** Same result as xstate's `transition(logic, snapshot, event)`. */
export function machineTransition<M extends AnyStateMachine>(logic: M, snapshot: SnapshotFrom<M>, event: EventFromLogic<M>): [SnapshotFrom<M>, ExecutableAction[]] {
  const s = scopeOf(logic);
  s.actions.length = 0;
  const next = (logic as unknown as { transition(s: unknown, e: unknown, scope: unknown): SnapshotFrom<M> }).transition(snapshot, event, s.scope);
  return [next, s.actions.splice(0)];
}

/** Same result as xstate's `initialTransition(logic, input)`. */
export function machineInitialTransition<M extends AnyStateMachine>(logic: M, input?: InputFrom<M>): [SnapshotFrom<M>, ExecutableAction[]] {
  const s = scopeOf(logic);
  s.actions.length = 0;
  const next = (logic as unknown as { getInitialSnapshot(scope: unknown, input: unknown): SnapshotFrom<M> }).getInitialSnapshot(s.scope, input);
  return [next, s.actions.splice(0)];
}
