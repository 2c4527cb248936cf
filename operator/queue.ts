// The work queue between the informers and the reconcile: keys are
// "namespace/name". A key waits at most once (dedup), is never handed to two
// workers at once (an add while it runs marks it dirty and it runs again
// afterwards), at most `concurrency` keys run together, failures back off
// exponentially per key, and a key can be requeued after a delay. Timers and
// randomness are injected so the tests drive time by hand.

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending requeue must not keep a stopping process alive.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface QueueOptions {
  /** Keys handled at the same time. @default 4 */
  readonly concurrency?: number;
  /** First backoff delay. @default 500 */
  readonly baseDelayMs?: number;
  /** Backoff ceiling, jitter included. @default 60_000 */
  readonly maxDelayMs?: number;
  /** Extra random share of the delay, 0..1 (0.2 = up to +20%). @default 0.2 */
  readonly jitter?: number;
  readonly timers?: Timers;
  /** Returns [0, 1). @default Math.random */
  readonly random?: () => number;
  /** Told of adds, waits, runs and retries (client-go's workqueue metrics). @default none */
  readonly observer?: QueueObserver;
}

/** What client-go's workqueue reports, as controller-runtime exports it (operator/metrics.ts). */
export interface QueueObserver {
  /** A key went into the queue (not a duplicate). */
  added(): void;
  /** Seconds a key waited between being ready and a worker taking it. */
  waited(seconds: number): void;
  /** Seconds a worker spent on a key. */
  worked(seconds: number): void;
  /** A key was requeued after a failure. */
  retried(): void;
}

export type Handler = (key: string) => Promise<void>;

export class WorkQueue {
  private readonly handler: Handler;
  private readonly concurrency: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly jitter: number;
  private readonly timers: Timers;
  private readonly random: () => number;

  /** Keys ready to run, in arrival order; `queued` mirrors it for dedup. */
  private readonly ready: string[] = [];
  /** Keys ready to run, and since when (the observer's wait). */
  private readonly queued = new Map<string, number>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly runningSince = new Map<string, number>();
  private readonly observer: QueueObserver | undefined;
  /** Keys added while running: they go back to `ready` when the run ends. */
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, { at: number; handle: unknown }>();
  private readonly failures = new Map<string, number>();
  private stopping = false;
  private pumpScheduled = false;
  private idleWaiters: Array<() => void> = [];

  constructor(handler: Handler, opts: QueueOptions = {}) {
    this.handler = handler;
    this.concurrency = opts.concurrency ?? 4;
    this.baseDelayMs = opts.baseDelayMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 60_000;
    this.jitter = opts.jitter ?? 0.2;
    this.timers = opts.timers ?? realTimers;
    this.random = opts.random ?? Math.random;
    this.observer = opts.observer;
    if (!(this.concurrency >= 1)) throw new Error(`concurrency must be >= 1, got ${this.concurrency}`);
    if (!(this.jitter >= 0 && this.jitter <= 1)) throw new Error(`jitter must be within 0..1, got ${this.jitter}`);
  }

  /** Run the key as soon as a worker is free (once, however often it is added). */
  add(key: string): void {
    if (this.stopping) return;
    const pending = this.delayed.get(key);
    if (pending) {
      // It runs now; the reconcile decides its next requeue itself.
      this.timers.clearTimeout(pending.handle);
      this.delayed.delete(key);
    }
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.set(key, this.timers.now());
    this.ready.push(key);
    this.observer?.added();
    this.schedulePump();
  }

  /** Run the key after `ms`; an earlier pending time for it wins. */
  addAfter(key: string, ms: number): void {
    if (this.stopping) return;
    if (ms <= 0) return this.add(key);
    if (this.queued.has(key)) return;
    const at = this.timers.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.timers.clearTimeout(pending.handle);
    const handle = this.timers.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  /** Count a failure of the key and requeue it after its backoff; returns the delay. */
  addRateLimited(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    this.observer?.retried();
    const ms = this.backoff(n);
    this.addAfter(key, ms);
    return ms;
  }

  /** The delay after the n-th consecutive failure (n >= 1). */
  backoff(n: number): number {
    const exp = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(n - 1, 52));
    const withJitter = exp * (1 + this.jitter * this.random());
    return Math.round(Math.min(this.maxDelayMs, withJitter));
  }

  /** The key succeeded: its next failure starts from the base delay again. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Keys waiting to run now (not running, not delayed). */
  depth(): number {
    return this.ready.length;
  }

  /** Keys waiting for a delayed requeue. */
  delayedCount(): number {
    return this.delayed.size;
  }

  runningCount(): number {
    return this.running.size;
  }

  isRunning(key: string): boolean {
    return this.running.has(key);
  }

  /** Seconds of work in progress, summed over the running keys (client-go's unfinished work). */
  unfinishedWorkSeconds(): number {
    const now = this.timers.now();
    let sum = 0;
    for (const since of this.runningSince.values()) sum += now - since;
    return sum / 1000;
  }

  /** Seconds the longest-running key has been running. */
  longestRunningSeconds(): number {
    const now = this.timers.now();
    let longest = 0;
    for (const since of this.runningSince.values()) longest = Math.max(longest, now - since);
    return longest / 1000;
  }

  /** Stop taking keys, drop waiting and delayed ones, and wait for those running. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const { handle } of this.delayed.values()) this.timers.clearTimeout(handle);
    this.delayed.clear();
    this.ready.length = 0;
    this.queued.clear();
    this.dirty.clear();
    await Promise.allSettled([...this.running.values()]);
  }

  /** Resolves when nothing is ready or running (delayed keys don't count). */
  whenIdle(): Promise<void> {
    if (this.ready.length === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Start workers on the next microtask, so a burst of adds in one tick collapses. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.stopping && this.running.size < this.concurrency && this.ready.length > 0) {
      const key = this.ready.shift() as string;
      const now = this.timers.now();
      this.observer?.waited((now - (this.queued.get(key) ?? now)) / 1000);
      this.queued.delete(key);
      this.runningSince.set(key, now);
      this.running.set(key, this.run(key));
    }
    if (this.ready.length === 0 && this.running.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async run(key: string): Promise<void> {
    try {
      await this.handler(key);
    } catch {
      // The handler owns its error policy; a throw here still must not
      // wedge the key, so it is treated as a failure with backoff.
      this.running.delete(key);
      this.addRateLimited(key);
      this.afterRun(key);
      return;
    }
    this.running.delete(key);
    this.afterRun(key);
  }

  private afterRun(key: string): void {
    const since = this.runningSince.get(key);
    this.runningSince.delete(key);
    if (since !== undefined) this.observer?.worked((this.timers.now() - since) / 1000);
    if (this.dirty.delete(key)) this.add(key);
    this.pump();
  }
}
