// The write fence: the one question every write asks before it leaves the
// process, "is this replica the leader, in a term that hasn't run out?".
// The elector opens a term after each renewal, until (renewal sent +
// renew deadline), which is before another candidate may take the lease
// (renewal + lease duration, by its own clock). When the term runs out the
// fence closes by itself: writes are refused, and those in flight are
// aborted through the term's AbortSignal. It is a clock check, not only a
// timer, so a blocked event loop or a late timer can't stretch a term.
import { type Timers, realTimers } from './queue.ts';

/** A write refused because this replica no longer (or not yet) leads. */
export class NotLeaderError extends Error {
  // A Node-style code: errors.ts classifies it transient (back off, write no status).
  readonly code = 'ENOTLEADER';
  constructor(reason: string) {
    super(`not the leader: ${reason}`);
    this.name = 'NotLeaderError';
  }
}

/** What a write path needs: permission now, and a signal for when it ends. */
export interface WriteGuard {
  /** Throws NotLeaderError unless writes are allowed now; the signal aborts when the term ends. */
  admit(): AbortSignal;
}

/** Writes always allowed: a single replica run without election. */
export const noFence: WriteGuard = { admit: () => new AbortController().signal };

export class WriteFence implements WriteGuard {
  private readonly timers: Timers;
  private until = Number.NEGATIVE_INFINITY;
  private term: AbortController | undefined;
  private timer: unknown;
  private reason = 'never led';
  private readonly listeners: Array<(reason: string) => void> = [];

  constructor(timers: Timers = realTimers) {
    this.timers = timers;
  }

  /** Open a term, or extend the current one, until `until` (the timers' clock). */
  openUntil(until: number): void {
    if (until <= this.timers.now()) return;
    this.until = until;
    this.term ??= new AbortController();
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.close('the term ran out before a renewal');
    }, until - this.timers.now());
  }

  /** End the term now: refuse writes, abort those in flight. Idempotent. */
  close(reason: string): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.until = Number.NEGATIVE_INFINITY;
    const term = this.term;
    this.term = undefined;
    if (!term) return;
    this.reason = reason;
    term.abort(new NotLeaderError(reason));
    for (const l of this.listeners) l(reason);
  }

  /** Called once per closed term, with why. */
  onClose(listener: (reason: string) => void): void {
    this.listeners.push(listener);
  }

  get isOpen(): boolean {
    return this.term !== undefined && this.timers.now() < this.until;
  }

  /** Milliseconds left in the term (0 when closed). */
  remainingMs(): number {
    return this.isOpen ? this.until - this.timers.now() : 0;
  }

  admit(): AbortSignal {
    if (this.term && this.timers.now() >= this.until) this.close('the term ran out before a renewal');
    if (!this.term) throw new NotLeaderError(this.reason);
    return this.term.signal;
  }
}
