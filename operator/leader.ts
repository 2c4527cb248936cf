// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it:
// the holder renews every `retryPeriodMs`; a candidate takes the lease when
// it has seen the same record unchanged for `leaseDurationMs` (it times the
// record with its own clock, so the replicas' clocks needn't agree). Writes
// are PUTs carrying the resourceVersion read just before: two candidates
// racing for an expired lease can't both win (one gets 409). Defaults give a
// takeover within 8 s + 2 s + 2 s.
//
// What keeps two leaders from writing at once:
// - Renewal runs on its own timer, each try bounded by `attemptTimeoutMs`;
//   the work started on winning (filling the caches) is not awaited by it.
// - Each renewal opens the write fence (fence.ts) until (the try's start +
//   renewDeadlineMs): the fence closes on its own, before a candidate can
//   see the lease expire (start + leaseDurationMs at the earliest), however
//   long the requests hang. Every write asks the fence.
// - A leader that sees another holder closes the fence at once.
//
// `Leadership` is the process's state machine around it: campaigning →
// leading (one Term: informers, queue, reconcile) → on a lost lease, stop
// taking keys, let the reconcile in flight end (its writes are fenced) and
// exit non-zero, so the Deployment restarts the replica as a fresh
// candidate, as controller-runtime does; on shutdown, finish the reconcile
// in flight while still renewing, then hand the lease back and exit 0.
import type { Logger } from 'pino';
import { isConflict, isNotFound } from './errors.ts';
import { WriteFence } from './fence.ts';
import type { Lease, LeaseStore } from './lease-store.ts';
import { type Timers, realTimers } from './queue.ts';

export type { Lease, LeaseStore } from './lease-store.ts';

export type StopReason = 'lost' | 'released';

export interface LeaderOptions {
  readonly store: LeaseStore;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly log: Logger;
  /** @default 8000 */
  readonly leaseDurationMs?: number;
  /** The leader stops writing when it couldn't renew for this long. @default 6000 */
  readonly renewDeadlineMs?: number;
  /** @default 2000 */
  readonly retryPeriodMs?: number;
  /** Deadline of one try (get, then create or replace). @default retryPeriodMs */
  readonly attemptTimeoutMs?: number;
  readonly timers?: Timers;
  /** Opened on each renewal; the writers ask it. @default a new WriteFence on `timers` */
  readonly fence?: WriteFence;
  /** Called when the lease is won; not awaited (renewals go on meanwhile). */
  readonly onStartedLeading: () => void | Promise<void>;
  /** 'lost': the term ran out or another holder was seen (the fence is already closed). 'released': stop() was called (the fence is still open). */
  readonly onStoppedLeading: (reason: StopReason) => void | Promise<void>;
}

/** metav1.MicroTime wants 6 fractional digits. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`lease request took over ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

export class LeaderElector {
  private readonly o: Required<Omit<LeaderOptions, 'timers' | 'fence' | 'attemptTimeoutMs'>> & { timers: Timers; attemptTimeoutMs: number };
  readonly fence: WriteFence;
  private leading = false;
  private observed: { key: string; at: number } | undefined;
  private timer: unknown;
  private running = false;
  private stopping = false;
  private busy: Promise<void> = Promise.resolve();

  constructor(opts: LeaderOptions) {
    const timers = opts.timers ?? realTimers;
    this.o = {
      leaseDurationMs: 8000,
      renewDeadlineMs: 6000,
      retryPeriodMs: 2000,
      ...opts,
      attemptTimeoutMs: opts.attemptTimeoutMs ?? opts.retryPeriodMs ?? 2000,
      timers,
    };
    if (this.o.renewDeadlineMs >= this.o.leaseDurationMs) {
      throw new Error(`renewDeadlineMs (${this.o.renewDeadlineMs}) must be less than leaseDurationMs (${this.o.leaseDurationMs})`);
    }
    this.fence = opts.fence ?? new WriteFence(timers);
    this.fence.onClose((why) => {
      if (!this.leading) return;
      this.leading = false;
      this.o.log.warn({ identity: this.o.identity, why }, 'lost the lease; writes are fenced off');
      if (!this.stopping) void this.notifyStopped('lost');
    });
  }

  get isLeader(): boolean {
    return this.leading && this.fence.isOpen;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /**
   * Stop campaigning. If leading: the work stops first (onStoppedLeading
   * 'released') while renewals go on, so the reconcile in flight may still
   * write; then the fence closes and the lease is handed back, so another
   * replica takes it at its next try. Never two writers at once.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    await this.busy;
    if (this.leading) await this.notifyStopped('released');
    this.running = false;
    if (this.timer !== undefined) this.o.timers.clearTimeout(this.timer);
    await this.busy;
    const wasLeading = this.leading;
    this.leading = false;
    this.fence.close('released the lease');
    if (wasLeading) await this.release();
  }

  /** Stop campaigning at once, without a release (the process is about to exit after a lost lease). */
  abandon(): void {
    this.running = false;
    if (this.timer !== undefined) this.o.timers.clearTimeout(this.timer);
    this.fence.close('abandoned the election');
  }

  private async notifyStopped(reason: StopReason): Promise<void> {
    try {
      await this.o.onStoppedLeading(reason);
    } catch (err) {
      this.o.log.error({ err: (err as Error).message }, 'stopping the work failed');
    }
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = this.o.timers.setTimeout(() => {
      const began = this.o.timers.now();
      // Tries start every retryPeriod, whatever the last one took (each is bounded).
      this.busy = this.tick(began).finally(() => this.schedule(Math.max(0, began + this.o.retryPeriodMs - this.o.timers.now())));
    }, ms);
  }

  private async tick(began: number): Promise<void> {
    let won = false;
    try {
      won = await this.withDeadline(this.tryAcquireOrRenew(began));
    } catch (err) {
      if (!isConflict(err)) this.o.log.warn({ err: (err as Error).message }, 'lease request failed');
    }
    if (!won || !this.running) return;
    // Stopping: keep renewing a term in progress, never start one.
    if (this.stopping && !this.leading) return;
    // The server saw our renewal no earlier than `began`: a candidate can't
    // take over before began + leaseDuration; we stop writing at began + renewDeadline.
    this.fence.openUntil(began + this.o.renewDeadlineMs);
    if (!this.leading && this.fence.isOpen) {
      this.leading = true;
      this.o.log.info({ identity: this.o.identity, lease: `${this.o.namespace}/${this.o.name}` }, 'became leader');
      // Not awaited: filling caches must never delay the next renewal.
      void Promise.resolve()
        .then(() => this.o.onStartedLeading())
        .catch((err: unknown) => this.o.log.error({ err: (err as Error).message }, 'starting the work failed'));
    }
  }

  private withDeadline<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = this.o.timers.setTimeout(() => reject(new AttemptTimeout(this.o.attemptTimeoutMs)), this.o.attemptTimeoutMs);
      p.then(
        (v) => {
          this.o.timers.clearTimeout(t);
          resolve(v);
        },
        (e: unknown) => {
          this.o.timers.clearTimeout(t);
          reject(e);
        },
      );
    });
  }

  private async tryAcquireOrRenew(now: number): Promise<boolean> {
    const nowTime = microTime(new Date(now));
    const durationS = Math.ceil(this.o.leaseDurationMs / 1000);
    const lease = await this.o.store.get();
    if (!lease) {
      if (this.stopping) return false;
      await this.o.store.create({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.name, namespace: this.o.namespace },
        spec: {
          holderIdentity: this.o.identity,
          leaseDurationSeconds: durationS,
          acquireTime: nowTime,
          renewTime: nowTime,
          leaseTransitions: 0,
        },
      });
      return true;
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const key = `${holder}|${spec.renewTime ?? ''}|${lease.metadata.resourceVersion ?? ''}`;
    if (!this.observed || this.observed.key !== key) this.observed = { key, at: this.o.timers.now() };
    const leaseMs = (spec.leaseDurationSeconds ?? durationS) * 1000;
    if (holder !== this.o.identity) {
      // Someone else holds it: whatever our clock says, our term is over.
      if (this.leading && holder !== '') this.fence.close(`the lease is held by ${holder}`);
      if (this.stopping) return false;
      if (holder !== '' && this.o.timers.now() - this.observed.at < leaseMs) return false;
    }
    const takeover = holder !== this.o.identity;
    const next: Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.o.identity,
        leaseDurationSeconds: durationS,
        renewTime: nowTime,
        acquireTime: takeover ? nowTime : (spec.acquireTime ?? nowTime),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (takeover && holder !== '' ? 1 : 0),
      },
    };
    await this.o.store.replace(next);
    return true;
  }

  private async release(): Promise<void> {
    try {
      const lease = await this.withDeadline(this.o.store.get());
      if (!lease || lease.spec?.holderIdentity !== this.o.identity) return;
      const nowTime = microTime(new Date(this.o.timers.now()));
      await this.withDeadline(
        this.o.store.replace({
          ...lease,
          spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: nowTime, acquireTime: nowTime },
        }),
      );
      this.o.log.info({ identity: this.o.identity }, 'released the lease');
    } catch (err) {
      if (!isNotFound(err)) this.o.log.warn({ err: (err as Error).message }, 'could not release the lease');
    }
  }
}

/** The work of one term of leadership (operator/manager.ts). */
export interface Term {
  /** Fill the caches, then reconcile; resolves when reconciling (or stopped). */
  start(): Promise<void>;
  /** Stop taking keys, wait for the reconcile in flight, then stop the watches. */
  stop(): Promise<void>;
  /** Caches synced and reconciling. */
  readonly ready: boolean;
  /** What it waits for before reconciling (kinds not listed yet). */
  waitingFor?(): string[];
}

export type Phase = 'idle' | 'campaigning' | 'leading' | 'stopping';

export interface LeadershipOptions {
  readonly newTerm: () => Term;
  readonly log: Logger;
  /** End the process; `code` 1 after a lost lease, 0 after a shutdown. */
  readonly exit: (code: number) => void;
  /** How long a lost term may take to wind down before the exit anyway. @default 5000 */
  readonly lostGraceMs?: number;
  readonly timers?: Timers;
  /** Told true/false as leading starts and ends (the leader gauge). */
  readonly onLeading?: (leading: boolean) => void;
}

/**
 * The process around the elector: which term runs, what /readyz says, and
 * when the process exits. Wire `won` and `stopped` to the elector's
 * callbacks (or call `won` directly to lead without election).
 */
export class Leadership {
  private readonly o: LeadershipOptions;
  private term: Term | undefined;
  private phaseNow: Phase = 'idle';

  constructor(opts: LeadershipOptions) {
    this.o = opts;
  }

  get phase(): Phase {
    return this.phaseNow;
  }

  campaigning(): void {
    if (this.phaseNow === 'idle') this.phaseNow = 'campaigning';
  }

  /** A standby is ready to take over; a leader once its caches are synced. */
  ready(): boolean {
    if (this.phaseNow === 'campaigning') return true;
    return this.phaseNow === 'leading' && (this.term?.ready ?? false);
  }

  /** For /readyz: the phase, and what a leader's term still waits for. */
  detail(): { phase: Phase; waitingFor?: string[] } {
    const waiting = this.phaseNow === 'leading' ? this.term?.waitingFor?.() : undefined;
    return waiting && waiting.length > 0 ? { phase: this.phaseNow, waitingFor: waiting } : { phase: this.phaseNow };
  }

  /** The lease is ours: start a term (not awaited by the elector). */
  async won(): Promise<void> {
    if (this.phaseNow === 'stopping' || this.term) return;
    this.phaseNow = 'leading';
    this.o.onLeading?.(true);
    const term = this.o.newTerm();
    this.term = term;
    await term.start();
  }

  /** The elector's onStoppedLeading. */
  async stopped(reason: StopReason): Promise<void> {
    if (reason === 'released') return this.stopTerm();
    this.phaseNow = 'stopping';
    this.o.log.error('lost the lease: stopping the work, then exiting so a fresh candidate starts');
    // The fence is closed: the reconcile in flight can't write; it ends
    // with a refused request or it ends by itself. Bounded, then exit.
    const timers = this.o.timers ?? realTimers;
    let timer: unknown;
    const grace = new Promise<void>((resolve) => {
      timer = timers.setTimeout(resolve, this.o.lostGraceMs ?? 5000);
    });
    await Promise.race([this.stopTerm(), grace]);
    timers.clearTimeout(timer);
    this.o.exit(1);
  }

  /** Shutdown without election (with election: elector.stop() calls `stopped('released')`). */
  async stopTerm(): Promise<void> {
    this.phaseNow = 'stopping';
    const term = this.term;
    if (!term) return;
    this.o.onLeading?.(false);
    try {
      await term.stop();
    } catch (err) {
      this.o.log.error({ err: (err as Error).message }, 'stopping the work failed');
    }
  }
}
