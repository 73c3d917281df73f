import type { Deliverable } from './actor-ref.ts';
import type { TimerHandle } from './clock.ts';
import type { Message } from './message.ts';
import type { DeadLetterReason } from './signal.ts';
import type { TellResult } from './tell-result.ts';

export class AskTimeoutError extends Error {
  constructor(
    readonly to: string,
    readonly messageType: string,
    readonly timeoutMs: number,
  ) {
    super(`ask ${to} (${messageType}): no reply within ${timeoutMs} ms`);
    this.name = 'AskTimeoutError';
  }
}

export class UndeliverableError extends Error {
  constructor(
    readonly to: string,
    readonly messageType: string,
    readonly reason: DeadLetterReason,
  ) {
    super(`ask ${to} (${messageType}): not delivered: ${reason}`);
    this.name = 'UndeliverableError';
  }
}

/** The temporary receiver of an ask: takes the first reply, then is gone (later replies are dead letters). */
export class AskReceiver implements Deliverable {
  dead = false;

  constructor(
    private readonly onReply: (m: Message) => void,
    private readonly onError: (e: Error) => void,
    private readonly timer: TimerHandle,
  ) {}

  enqueue(msg: Message): TellResult {
    if (this.dead) return 'dead';
    this.dead = true;
    this.timer.cancel();
    this.onReply(msg);
    return 'queued';
  }

  fail(e: Error): void {
    if (this.dead) return;
    this.dead = true;
    this.timer.cancel();
    this.onError(e);
  }
}
