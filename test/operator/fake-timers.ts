// A hand-driven clock for the operator's injectable Timers (queue, leader
// election): tests move time themselves, so nothing waits on the wall clock.
import type { Timers } from '../../operator/queue.ts';

export class FakeTimers implements Timers {
  t: number;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  constructor(start = 0) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.pending.delete(h as number);
  }
  /** Timers still pending. */
  count(): number {
    return this.pending.size;
  }
  /** Move time forward, firing each due timer at its own time, in time order (synchronous code). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.pending) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.pending.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
  /** Move time forward in 100 ms steps, firing due timers and letting promises settle after each (async code). */
  async advanceSettling(ms: number): Promise<void> {
    const end = this.t + ms;
    while (this.t < end) {
      this.t = Math.min(end, this.t + 100);
      for (const [id, p] of [...this.pending]) {
        if (p.at <= this.t) {
          this.pending.delete(id);
          p.fn();
        }
      }
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    }
  }
}
