// Frames read off a WebSocket that an actor owns, offered to the actor's own mailbox with
// back-pressure: when the mailbox is at half its capacity or more, the socket stops being read
// (TCP pushes back on the peer) and the frames already read wait here, in order, until the mailbox
// drains. Nothing read is dropped. The feed gateway and the venue gateway both use it.
import WebSocket from 'ws';
import type { ActorContext } from '../runtime/actor.ts';
import type { Message } from '../runtime/message.ts';

export class SocketInbox<F extends Message> {
  /** frames read but not yet in the mailbox, oldest first */
  private waiting: F[] = [];
  /** times the socket was paused because the mailbox was full */
  pausedReads = 0;

  constructor(
    private readonly ctx: ActorContext<F>,
    private readonly ws: WebSocket,
  ) {}

  /** Room below half the capacity: the same bound Mailbox.whenWritable waits for, so drain never spins. */
  private hasRoom(): boolean {
    const cell = this.ctx.system.cellOf(this.ctx.self.address);
    return !cell || cell.mailbox.size <= cell.mailbox.capacity >> 1;
  }

  offer(f: F): void {
    // A `reject` mailbox answers a full tell with 'dead', not 'full': check the room first.
    if (this.waiting.length === 0 && this.hasRoom() && this.ctx.self.tell(f) !== 'full') return;
    this.waiting.push(f);
    if (!this.ws.isPaused) {
      this.pausedReads++;
      this.ws.pause();
      void this.drain();
    }
  }

  /** Forgets what waits (the connection is gone and its frames with it). */
  clear(): void {
    this.waiting = [];
  }

  private async drain(): Promise<void> {
    const cell = this.ctx.system.cellOf(this.ctx.self.address);
    while (this.waiting.length > 0 && cell && !cell.dead) {
      await cell.mailbox.whenWritable();
      const before = this.waiting.length;
      while (this.waiting.length > 0 && this.hasRoom() && this.ctx.self.tell(this.waiting[0]) !== 'full') this.waiting.shift();
      if (this.waiting.length === before) await new Promise((resolve) => setImmediate(resolve));
    }
    if (this.ws.readyState === WebSocket.OPEN) this.ws.resume();
  }
}
