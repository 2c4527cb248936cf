// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it:
// the holder renews every `retryPeriodMs`; a candidate takes the lease when
// it has seen the same record unchanged for `leaseDurationMs` (it times the
// record with its own clock, so the replicas' clocks needn't agree). Writes
// are PUTs carrying the resourceVersion read just before: two candidates
// racing for an expired lease can't both win (one gets 409). That
// compare-and-swap is the point here, so this is the one place that does not
// use server-side apply. Defaults give a takeover within 8 s + 2 s + 2 s.
import type { Logger } from 'pino';
import { isConflict, isNotFound } from './errors.ts';
import { type Timers, realTimers } from './queue.ts';

export interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string; [k: string]: unknown };
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/** The three calls on one Lease. */
export interface LeaseStore {
  get(): Promise<Lease | undefined>;
  create(lease: Lease): Promise<Lease>;
  replace(lease: Lease): Promise<Lease>;
}

export interface LeaderOptions {
  readonly store: LeaseStore;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly log: Logger;
  /** @default 8000 */
  readonly leaseDurationMs?: number;
  /** The leader gives up when it couldn't renew for this long. @default 6000 */
  readonly renewDeadlineMs?: number;
  /** @default 2000 */
  readonly retryPeriodMs?: number;
  readonly timers?: Timers;
  readonly onStartedLeading: () => void | Promise<void>;
  readonly onStoppedLeading: () => void | Promise<void>;
}

/** metav1.MicroTime wants 6 fractional digits. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private readonly o: Required<Omit<LeaderOptions, 'timers'>> & { timers: Timers };
  private leading = false;
  private lastRenew = 0;
  private observed: { key: string; at: number } | undefined;
  private timer: unknown;
  private running = false;
  private busy: Promise<void> = Promise.resolve();

  constructor(opts: LeaderOptions) {
    this.o = {
      leaseDurationMs: 8000,
      renewDeadlineMs: 6000,
      retryPeriodMs: 2000,
      ...opts,
      timers: opts.timers ?? realTimers,
    };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stop campaigning; if leading, hand the lease back so another replica takes it at once. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) this.o.timers.clearTimeout(this.timer);
    await this.busy;
    if (this.leading) {
      this.leading = false;
      // Finish our work first, then hand over: never two writers at once.
      await this.o.onStoppedLeading();
      await this.release();
    }
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = this.o.timers.setTimeout(() => {
      this.busy = this.tick().finally(() => this.schedule(this.o.retryPeriodMs));
    }, ms);
  }

  private async tick(): Promise<void> {
    let won = false;
    try {
      won = await this.tryAcquireOrRenew();
    } catch (err) {
      if (!isConflict(err)) this.o.log.warn({ err: (err as Error).message }, 'lease request failed');
    }
    const now = this.o.timers.now();
    if (won) {
      this.lastRenew = now;
      if (!this.leading) {
        this.leading = true;
        this.o.log.info({ identity: this.o.identity, lease: `${this.o.namespace}/${this.o.name}` }, 'became leader');
        await this.o.onStartedLeading();
      }
    } else if (this.leading && now - this.lastRenew > this.o.renewDeadlineMs) {
      this.leading = false;
      this.o.log.warn({ identity: this.o.identity }, 'lost the lease; stopping work');
      await this.o.onStoppedLeading();
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.o.timers.now();
    const nowTime = microTime(new Date(now));
    const durationS = Math.ceil(this.o.leaseDurationMs / 1000);
    const lease = await this.o.store.get();
    if (!lease) {
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
    if (!this.observed || this.observed.key !== key) this.observed = { key, at: now };
    const leaseMs = (spec.leaseDurationSeconds ?? durationS) * 1000;
    if (holder !== this.o.identity && holder !== '' && now - this.observed.at < leaseMs) return false;
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
      const lease = await this.o.store.get();
      if (!lease || lease.spec?.holderIdentity !== this.o.identity) return;
      const nowTime = microTime(new Date(this.o.timers.now()));
      await this.o.store.replace({
        ...lease,
        spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: nowTime, acquireTime: nowTime },
      });
      this.o.log.info({ identity: this.o.identity }, 'released the lease');
    } catch (err) {
      if (!isNotFound(err)) this.o.log.warn({ err: (err as Error).message }, 'could not release the lease');
    }
  }
}
