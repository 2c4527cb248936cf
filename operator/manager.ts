// One term of work: the informers, the queue and the controller, started
// when the lease is won and stopped when it is lost or handed back (as
// controller-runtime's manager runs its controllers under the elector).
//
// Start: find the watch paths (retried with a capped backoff while, e.g.,
// the CRD isn't installed), start every informer, and only once all have
// listed successfully start the queue: a reconcile against a half-filled
// cache would re-apply children it can't see yet. Keys seen before wait.
//
// Stop: the queue takes no more keys and the reconcile in flight finishes;
// only then do the watches stop. The cache stays filled for the whole term
// (the term's Context reads this term's informers and nothing else), so a
// reconcile never sees an emptied cache and re-applies every child.
import { SECUREVOTE_API } from '../charts/spec.ts';
import type { Context, KObject } from './context.ts';
import { Controller, keyOf } from './controller.ts';
import { INSTANCE_LABEL, OWNED_KINDS } from './desired.ts';
import { READ_ONLY_KINDS, READ_ONLY_SELECTOR } from './owned-kinds.ts';
import { type InformerSpec, Informers, type Kind, type ObjectStore } from './informers.ts';
import { trimReadOnly } from './trim.ts';
import { BACKUP_KIND, keysOfBackup } from './backups.ts';
import { packChild, unpack } from './packed.ts';

/** Claims: trimmed to what is read of them (trim.ts). */
const READ_ONLY_STORE: ObjectStore = { shrink: trimReadOnly, expand: (o) => o };
/** The SecureVotes and the children we write: whole, compressed (packed.ts). */
const PACKED_STORE: ObjectStore = { shrink: packChild, expand: unpack };
import type { Term } from './leader.ts';
import { type Timers, WorkQueue, realTimers } from './queue.ts';

export const SV_KIND: Kind = { apiVersion: SECUREVOTE_API.apiVersion, kind: SECUREVOTE_API.kind };

/** The resource, its backups, and every kind it owns. */
export const WATCHED_KINDS: readonly Kind[] = [SV_KIND, BACKUP_KIND, ...OWNED_KINDS.map((k) => ({ apiVersion: k.apiVersion, kind: k.kind }))];

/** What the manager needs from the cache side: the informers, or a fake. */
export interface TermCache {
  start(): void;
  readonly synced: boolean;
  whenSynced(): Promise<void>;
  unsynced(): string[];
  stop(): Promise<void>;
  get: Informers['get'];
  list: Informers['list'];
  listOwned: Informers['listOwned'];
}

/** The reconcile side: the Controller, or a fake. */
export interface Reconciler {
  queue: WorkQueue | undefined;
  handle(key: string): Promise<void>;
}

export interface ManagerOptions {
  /** Everything a reconcile gets but the cache (each term brings its own). */
  readonly base: Omit<Context, 'cache'>;
  /** Discovery of the watch paths; may fail (CRD not there yet). */
  readonly paths: () => Promise<Record<string, string>>;
  /** Build this term's informers on those paths. */
  readonly informers: (specs: readonly InformerSpec[], paths: Record<string, string>) => TermCache;
  /** @default a Controller */
  readonly reconciler?: (ctx: Context, lookup: (ns: string, name: string) => KObject | undefined) => Reconciler;
  readonly timers?: Timers;
  /** Discovery retry: first and ceiling delays. @default 500, 30_000 */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
}

export class Manager implements Term {
  private readonly o: ManagerOptions;
  private readonly timers: Timers;
  private cache: TermCache | undefined;
  private queue: WorkQueue | undefined;
  private stopping = false;
  private retry: { handle: unknown; wake: () => void } | undefined;
  private started: Promise<void> | undefined;
  /** This term's Context: its cache is this term's informers until the process ends. */
  ctx: Context | undefined;

  constructor(opts: ManagerOptions) {
    this.o = opts;
    this.timers = opts.timers ?? realTimers;
  }

  get ready(): boolean {
    return !this.stopping && this.queue !== undefined;
  }

  waitingFor(): string[] {
    if (this.queue) return [];
    return this.cache ? this.cache.unsynced() : ['discovery'];
  }

  start(): Promise<void> {
    this.started ??= this.run();
    return this.started;
  }

  private async run(): Promise<void> {
    const log = this.o.base.log;
    let paths: Record<string, string> | undefined;
    for (let attempt = 1; !paths; attempt++) {
      if (this.stopping) return;
      try {
        paths = await this.o.paths();
      } catch (err) {
        const ms = Math.min(this.o.maxDelayMs ?? 30_000, (this.o.baseDelayMs ?? 500) * 2 ** Math.min(attempt - 1, 30));
        log.error({ err: (err as Error).message, retryMs: ms }, 'could not find the watched kinds (is the CRD installed?); retrying');
        await this.sleep(ms);
      }
    }
    if (this.stopping) return;
    // Keys seen before every cache is filled wait here.
    const early = new Set<string>();
    const enqueue = (key: string | undefined): void => {
      if (!key) return;
      if (this.queue) this.queue.add(key);
      else if (!this.stopping) early.add(key);
    };
    const specs: InformerSpec[] = [
      { kind: SV_KIND, store: PACKED_STORE, onObject: (o: KObject) => enqueue(keyOf(o.metadata.namespace, o.metadata.name)) },
      // A backup wakes the instance it is of, and any instance restoring from it.
      { kind: BACKUP_KIND, onObject: (o: KObject) => keysOfBackup(o, this.cache?.list(SV_KIND, o.metadata.namespace) ?? []).forEach(enqueue) },
      ...WATCHED_KINDS.slice(2).map((kind) => {
        const readOnly = READ_ONLY_KINDS.some((k) => k.apiVersion === kind.apiVersion && k.kind === kind.kind);
        return {
          kind,
          labelSelector: readOnly ? READ_ONLY_SELECTOR : INSTANCE_LABEL,
          store: readOnly ? READ_ONLY_STORE : PACKED_STORE,
          onObject: (o: KObject) => enqueue(Controller.ownerKey(o)),
        };
      }),
    ];
    const cache = this.o.informers(specs, paths);
    this.cache = cache;
    const ctx: Context = { ...this.o.base, cache };
    this.ctx = ctx;
    cache.start();
    log.info('waiting for every informer to list');
    await cache.whenSynced();
    if (this.stopping || !cache.synced) return;
    const lookup = (ns: string, name: string): KObject | undefined => cache.get({ ...SV_KIND, namespace: ns, name });
    const reconciler = this.o.reconciler?.(ctx, lookup) ?? new Controller(ctx, lookup);
    const queue = new WorkQueue((key) => reconciler.handle(key), { concurrency: ctx.config.concurrency, observer: ctx.metrics.queueObserver });
    ctx.metrics.watchQueue(queue, ctx.config.concurrency);
    reconciler.queue = queue;
    this.queue = queue;
    for (const key of early) queue.add(key);
    log.info({ resources: cache.list(SV_KIND).length }, 'caches synced; reconciling');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.retry) {
      this.timers.clearTimeout(this.retry.handle);
      this.retry.wake();
    }
    // The reconcile in flight finishes against a full cache; nothing new starts.
    await this.queue?.shutdown();
    // Only now may the watches stop (the cache keeps its objects anyway).
    await this.cache?.stop();
    await this.started;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.retry = undefined;
        resolve();
      };
      this.retry = { handle: this.timers.setTimeout(wake, ms), wake };
    });
  }
}
