/**
 * OTP's restart intensity: at most `maxRestarts` restarts within any `withinMs` window. One more
 * and the supervisor gives up: it stops its children and escalates to its own parent.
 */
export interface IntensitySpec {
  maxRestarts: number;
  withinMs: number;
}

export class RestartIntensity {
  private readonly times: number[] = [];

  constructor(readonly spec: IntensitySpec) {
    if (!Number.isInteger(spec.maxRestarts) || spec.maxRestarts < 0) throw new RangeError(`max_restarts ${spec.maxRestarts}: expected an integer >= 0`);
    if (!(spec.withinMs > 0)) throw new RangeError(`within ${spec.withinMs} ms: expected > 0`);
  }

  /** Records a restart at `now`; false when it would exceed the intensity (the supervisor must give up). */
  tryRestart(now: number): boolean {
    while (this.times.length !== 0 && now - this.times[0] >= this.spec.withinMs) this.times.shift();
    if (this.times.length >= this.spec.maxRestarts) return false;
    this.times.push(now);
    return true;
  }

  /** Restarts within the current window (0 after a calm period): drives the backoff. */
  recent(now: number): number {
    return this.times.filter((t) => now - t < this.spec.withinMs).length;
  }
}
