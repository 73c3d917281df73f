// The circuit breaker, an XState v5 machine:
//
//   closed --(errors_to_open venue errors within window_ms | trip | kill switch on)--> open
//   open.cooling --(after cooldown_ms)--> half_open.waiting --(one probe order)--> half_open.probing
//   half_open.probing --(the probe acked or filled)--> closed
//   half_open --(the probe failed | any venue error | probe_timeout_ms | trip)--> open
//   kill switch on (from anywhere) --> open.held; open.held leaves only on kill switch off (to open.cooling)
//
// Time: the machine's delays are XState `after` transitions. Risk runs the machine with XState's
// pure `transition()`: the machine's state is a value in risk's state, and a delayed transition
// comes back as a delayed `xstate.raise` action, which `breakerStep` turns into a timer effect
// (`start-timer` with the event and the delay; `cancel-timer` when the state is left first). The
// risk actor arms those on its own actor timers (the runtime's Clock, a ManualClock in tests), and
// the timer's message feeds the event back through `breakerStep`, inside the actor's turn like any
// other message. So the cooldown is deterministic in tests and replayable, and the same machine
// also runs as a plain XState actor with `createActor(breakerMachine, { input, clock })`, where
// XState's SimulatedClock drives the `after` transitions.
import { type EventObject, type SnapshotFrom, assign, setup } from 'xstate';
import { machineInitialTransition as initialTransition, machineTransition as transition } from '../machine-transition.ts';

export interface BreakerConfig {
  /** venue rejects/errors within windowMs that open the breaker */
  errorsToOpen: number;
  windowMs: number;
  /** open -> half_open after this long */
  cooldownMs: number;
  /** a probe with no outcome after this long counts as failed (half_open -> open) */
  probeTimeoutMs: number;
}

export type BreakerEvent =
  /** a venue reject or error on any order (at: the risk clock, ms) */
  | { type: 'VENUE_ERROR'; atMs: number; clientOrderId: string; reason: string }
  /** open now, for this reason (reconciliation break, daily loss limit, operator...) */
  | { type: 'TRIP'; reason: string }
  /** risk admitted the half-open probe order */
  | { type: 'PROBE'; clientOrderId: string }
  /** the venue accepted the probe (ack or fill) */
  | { type: 'PROBE_OK'; clientOrderId: string }
  /** the probe was refused or could not be delivered */
  | { type: 'PROBE_FAILED'; clientOrderId: string; reason: string }
  | { type: 'KILL_SWITCH'; on: boolean; by: string };

export interface BreakerContext {
  config: BreakerConfig;
  /** times of the venue errors inside the window (closed only) */
  errorsMs: readonly number[];
  /** why the breaker is (or was last) open: the latest cause */
  reason: string;
  /** times it went from closed or half_open to open */
  opens: number;
  killSwitch: { on: boolean; by: string };
  /** the half-open probe's client order id, once admitted */
  probeId: string | undefined;
}

const inWindow = (c: BreakerContext, atMs: number): number[] => c.errorsMs.filter((t) => t > atMs - c.config.windowMs && t <= atMs);

const opened = (c: BreakerContext, reason: string): Partial<BreakerContext> => ({ reason, opens: c.opens + 1, errorsMs: [], probeId: undefined });

export const breakerMachine = setup({
  types: {
    context: {} as BreakerContext,
    events: {} as BreakerEvent,
    input: {} as BreakerConfig,
  },
  delays: {
    cooldown: ({ context }) => context.config.cooldownMs,
    probeTimeout: ({ context }) => context.config.probeTimeoutMs,
  },
  guards: {
    errorBudgetSpent: ({ context, event }) => event.type === 'VENUE_ERROR' && inWindow(context, event.atMs).length + 1 >= context.config.errorsToOpen,
    isProbe: ({ context, event }) => (event.type === 'PROBE_OK' || event.type === 'PROBE_FAILED') && event.clientOrderId === context.probeId,
    killSwitchOn: ({ event }) => event.type === 'KILL_SWITCH' && event.on,
    killSwitchOff: ({ event }) => event.type === 'KILL_SWITCH' && !event.on,
  },
  actions: {
    recordError: assign({ errorsMs: ({ context, event }) => (event.type === 'VENUE_ERROR' ? [...inWindow(context, event.atMs), event.atMs] : context.errorsMs) }),
    openOnErrors: assign(({ context, event }) =>
      opened(context, event.type === 'VENUE_ERROR' ? `${inWindow(context, event.atMs).length + 1} venue errors within ${context.config.windowMs} ms (last: ${event.reason}, order ${event.clientOrderId})` : 'venue errors'),
    ),
    openOnHalfOpenError: assign(({ context, event }) => opened(context, event.type === 'VENUE_ERROR' ? `venue error while half-open: ${event.reason} (order ${event.clientOrderId})` : 'venue error while half-open')),
    openOnTrip: assign(({ context, event }) => opened(context, event.type === 'TRIP' ? event.reason : 'tripped')),
    openOnKillSwitch: assign(({ context, event }) => ({ ...opened(context, `kill switch on (by ${event.type === 'KILL_SWITCH' ? event.by : '?'})`), killSwitch: { on: true, by: event.type === 'KILL_SWITCH' ? event.by : '?' } })),
    openOnProbeFailure: assign(({ context, event }) => opened(context, event.type === 'PROBE_FAILED' ? `probe ${event.clientOrderId} failed: ${event.reason}` : 'probe failed')),
    openOnProbeTimeout: assign(({ context }) => opened(context, `probe ${context.probeId} got no answer within ${context.config.probeTimeoutMs} ms`)),
    /** a new cause while already open: it is now why the breaker stays open */
    noteReason: assign({
      reason: ({ context, event }) => (event.type === 'TRIP' ? event.reason : event.type === 'KILL_SWITCH' && event.on ? `kill switch on (by ${event.by})` : context.reason),
    }),
    setKillSwitch: assign({ killSwitch: ({ context, event }) => (event.type === 'KILL_SWITCH' ? { on: event.on, by: event.by } : context.killSwitch) }),
    takeProbe: assign({ probeId: ({ context, event }) => (event.type === 'PROBE' ? event.clientOrderId : context.probeId) }),
    clearProbe: assign({ probeId: undefined }),
  },
}).createMachine({
  id: 'breaker',
  context: ({ input }) => ({ config: input, errorsMs: [], reason: '', opens: 0, killSwitch: { on: false, by: '' }, probeId: undefined }),
  initial: 'closed',
  on: {
    // Handled here for closed and half_open; open's own handlers take precedence.
    KILL_SWITCH: [{ guard: 'killSwitchOn', target: '.open.held', actions: 'openOnKillSwitch' }, { actions: 'setKillSwitch' }],
  },
  states: {
    closed: {
      on: {
        VENUE_ERROR: [{ guard: 'errorBudgetSpent', target: 'open', actions: 'openOnErrors' }, { actions: 'recordError' }],
        TRIP: { target: 'open', actions: 'openOnTrip' },
      },
    },
    open: {
      initial: 'cooling',
      states: {
        cooling: {
          after: { cooldown: { target: '#breaker.half_open' } },
          on: {
            // A new cause restarts the cooldown.
            TRIP: { target: 'cooling', reenter: true, actions: 'noteReason' },
            KILL_SWITCH: [{ guard: 'killSwitchOn', target: 'held', actions: ['setKillSwitch', 'noteReason'] }, { actions: 'setKillSwitch' }],
          },
        },
        // The kill switch holds the breaker open: no cooldown runs, and only kill switch off leaves.
        held: {
          on: {
            KILL_SWITCH: [{ guard: 'killSwitchOff', target: 'cooling', actions: 'setKillSwitch' }, { actions: ['setKillSwitch', 'noteReason'] }],
            TRIP: { actions: 'noteReason' },
          },
        },
      },
    },
    half_open: {
      initial: 'waiting',
      on: {
        TRIP: { target: 'open', actions: 'openOnTrip' },
        // Any venue error while probing the venue's health means it is not healthy yet.
        VENUE_ERROR: { target: 'open', actions: 'openOnHalfOpenError' },
      },
      states: {
        waiting: {
          on: { PROBE: { target: 'probing', actions: 'takeProbe' } },
        },
        probing: {
          after: { probeTimeout: { target: '#breaker.open', actions: 'openOnProbeTimeout' } },
          on: {
            PROBE_OK: { guard: 'isProbe', target: '#breaker.closed', actions: 'clearProbe' },
            PROBE_FAILED: { guard: 'isProbe', target: '#breaker.open', actions: 'openOnProbeFailure' },
          },
        },
      },
    },
  },
});

export type BreakerSnapshot = SnapshotFrom<typeof breakerMachine>;

/** What risk must do about the machine's delayed transitions: arm or cancel a timer by key. */
export type BreakerTimerEffect = { kind: 'start-timer'; key: string; event: EventObject; delayMs: number } | { kind: 'cancel-timer'; key: string };

export interface BreakerStep {
  snapshot: BreakerSnapshot;
  timers: BreakerTimerEffect[];
}

/** The machine's delayed raises and cancels as timer effects; it has no other side effects. */
function timersOf(actions: readonly { type: string; params?: unknown }[]): BreakerTimerEffect[] {
  const out: BreakerTimerEffect[] = [];
  for (const a of actions) {
    if (a.type === 'xstate.raise') {
      const p = a.params as { event: EventObject; id: string | undefined; delay: number | undefined };
      if (p.delay !== undefined) out.push({ kind: 'start-timer', key: p.id ?? p.event.type, event: p.event, delayMs: p.delay });
    } else if (a.type === 'xstate.cancel') {
      out.push({ kind: 'cancel-timer', key: (a.params as { sendId: string }).sendId });
    }
  }
  return out;
}

export function breakerStart(config: BreakerConfig): BreakerStep {
  const [snapshot, actions] = initialTransition(breakerMachine, config);
  return { snapshot, timers: timersOf(actions) };
}

/**
 * One event (or a delayed event a timer effect asked for) through the machine. Pure: the
 * snapshot given is not changed.
 */
export function breakerStep(snapshot: BreakerSnapshot, event: BreakerEvent | EventObject): BreakerStep {
  const [next, actions] = transition(breakerMachine, snapshot, event as BreakerEvent);
  return { snapshot: next, timers: timersOf(actions) };
}

export type BreakerState = 'closed' | 'open' | 'half_open';

/** The breaker as the pre-trade checks and the status see it. */
export interface BreakerView {
  state: BreakerState;
  /** half_open and no probe admitted yet: the next order is the probe */
  probeAvailable: boolean;
  probeId: string | undefined;
  killSwitch: { on: boolean; by: string };
  reason: string;
  opens: number;
}

export function breakerView(s: BreakerSnapshot): BreakerView {
  const state: BreakerState = s.matches('closed') ? 'closed' : s.matches('half_open') ? 'half_open' : 'open';
  return {
    state,
    probeAvailable: s.matches({ half_open: 'waiting' }),
    probeId: s.context.probeId,
    killSwitch: s.context.killSwitch,
    reason: s.context.reason,
    opens: s.context.opens,
  };
}
