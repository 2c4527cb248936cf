// Informers (list + watch + cache, from client-node) on the SecureVote
// resources and on every kind they own, label-selected. They feed the queue
// with keys and answer the reconcile's reads. Every event, whatever its type,
// becomes "look at this key again": the reconcile reads the world itself.
//
// Two things client-node's ListWatch doesn't do, done here:
// - "synced" means the first list succeeded and is in the cache. Its start()
//   resolves even when that list failed (it emits an error and returns), and
//   its 'connect' fires before the list, so neither says the cache is filled.
// - It reconnects a dropped watch but stops on any other error (a list or
//   watch refused: a removed CRD, a revoked permission, a server down). Here
//   a kind is restarted with a capped exponential backoff that only a
//   successful list resets, so a lasting failure settles at one try per
//   maxDelayMs, logged and counted with its reason (never a process exit).
// Once synced a kind stays synced, as client-go's HasSynced does: after a
// watch error its cache is stale, not empty, and the restart catches it up.
//
// And an owner index (controller-runtime's field index on the controller
// reference): listOwned reads an owner's objects, not its namespace's. With
// a thousand stacks in one namespace a reconcile otherwise scans 25,000
// children, several times over.
import { type Informer, type KubeConfig, type KubernetesObject, type ListPromise, makeInformer } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KObject, ObjectCache, ObjectRef } from './context.ts';
import { httpStatus } from './errors.ts';
import type { RawKubeApi } from './kube.ts';
import type { Metrics } from './metrics.ts';
import { type Timers, realTimers } from './queue.ts';

export interface Kind {
  readonly apiVersion: string;
  readonly kind: string;
}

export type CachingInformer = Informer<KubernetesObject> & {
  get(name: string, namespace?: string): KubernetesObject | undefined;
  list(namespace?: string): ReadonlyArray<KubernetesObject>;
};

/** Builds one informer; tests pass client-node's ListWatch over a fake watch. */
export type InformerFactory = (path: string, list: ListPromise<KubernetesObject>, labelSelector: string | undefined) => CachingInformer;

export const kindKey = (k: Kind): string => `${k.apiVersion}/${k.kind}`;

export interface InformerSpec {
  readonly kind: Kind;
  readonly labelSelector?: string;
  /** How the cache keeps this kind's objects (default: as they come, less managedFields). */
  readonly store?: ObjectStore;
  readonly onObject: (obj: KObject) => void;
}

/**
 * Shrinks an object, in place, as it enters the cache (client-node's
 * informer keeps the very object it hands out; shrinking twice is harmless),
 * and gives back what readers of the cache see.
 */
export interface ObjectStore {
  shrink(obj: KObject, kind: string): void;
  expand(obj: KObject, kind: string): KObject;
}

export interface InformersOptions {
  readonly log: Logger;
  readonly metrics?: Metrics;
  readonly timers?: Timers;
  /** First restart delay. @default 500 */
  readonly baseDelayMs?: number;
  /** Restart delay ceiling. @default 30_000 */
  readonly maxDelayMs?: number;
}

interface KindState {
  readonly key: string;
  readonly informer: CachingInformer;
  readonly store: ObjectStore | undefined;
  synced: boolean;
  /** Consecutive failed starts since the last successful list. */
  failures: number;
  /** A list succeeded during the current start. */
  listed: boolean;
  /** An error was reported during the current start. */
  failed: boolean;
  restart: unknown;
  starting: boolean;
  /** Controller uid → name → object, as the informer's events left it. */
  readonly byOwner: Map<string, Map<string, KObject>>;
}

/** The uid in the object's controller reference. */
function controllerUid(obj: { metadata?: { ownerReferences?: ReadonlyArray<{ controller?: boolean; uid: string }> } }): string | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true)?.uid;
}

/**
 * Files an object under its controller. An update that moves an object to
 * another controller leaves the old entry: listOwned checks each entry
 * against the informer's current object and drops what no longer matches.
 */
function indexByOwner(s: KindState, obj: KObject, deleted: boolean): void {
  const uid = controllerUid(obj);
  if (!uid) return;
  let names = s.byOwner.get(uid);
  if (deleted) {
    names?.delete(obj.metadata.name);
    if (names?.size === 0) s.byOwner.delete(uid);
    return;
  }
  if (!names) s.byOwner.set(uid, (names = new Map()));
  names.set(obj.metadata.name, obj);
}

/** Why an informer failed, as a metric label. */
export function failureReason(err: unknown): string {
  const status = httpStatus(err);
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 401) return 'unauthorized';
  if (status !== undefined) return status >= 500 ? 'server-error' : `http-${status}`;
  const name = (err as { name?: unknown } | undefined)?.name;
  if (name === 'TimeoutError') return 'timeout';
  if (name === 'AbortError') return 'aborted';
  return 'network';
}

export class Informers implements ObjectCache {
  private readonly kinds = new Map<string, KindState>();
  private stopped = true;
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly timers: Timers;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private syncWaiters: Array<() => void> = [];

  constructor(specs: readonly InformerSpec[], paths: Record<string, string>, list: (spec: InformerSpec) => ListPromise<KubernetesObject>, factory: InformerFactory, opts: InformersOptions) {
    this.log = opts.log;
    this.metrics = opts.metrics;
    this.timers = opts.timers ?? realTimers;
    this.baseDelayMs = opts.baseDelayMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
    for (const spec of specs) {
      const key = kindKey(spec.kind);
      const path = paths[key];
      if (!path) throw new Error(`no watch path for ${key}`);
      const listOnce = list(spec);
      let state: KindState | undefined;
      const listed: ListPromise<KubernetesObject> = async () => {
        const result = await listOnce();
        // ListWatch puts the items in its cache right after this resolves,
        // in the same tick, before its start() can resolve.
        if (state) state.listed = true;
        return result;
      };
      const inf = factory(path, listed, spec.labelSelector);
      state = { key, informer: inf, store: spec.store, synced: false, failures: 0, listed: false, failed: false, restart: undefined, starting: false, byOwner: new Map() };
      const s = state;
      const handler = (deleted: boolean) => (obj: KubernetesObject): void => {
        // The cache keeps this very object: managedFields are a large share
        // of it and nothing here reads them (emptied, not deleted, as the
        // stores do: a delete turns the object into a hash table).
        if (obj.metadata) (obj.metadata as { managedFields?: unknown }).managedFields = undefined;
        // A watch event's apiVersion and kind are strings of their own in every
        // object (~100 bytes a child): the kind's own, one copy for all.
        if (obj.apiVersion !== undefined) obj.apiVersion = spec.kind.apiVersion;
        if (obj.kind !== undefined) obj.kind = spec.kind.kind;
        if (spec.store && obj.metadata) spec.store.shrink(obj as KObject, spec.kind.kind);
        if (obj.metadata) indexByOwner(s, obj as KObject, deleted);
        try {
          // Watch events carry apiVersion/kind; keep them uniform anyway.
          spec.onObject({ ...(obj as KObject), apiVersion: spec.kind.apiVersion, kind: spec.kind.kind });
        } catch (err) {
          this.log.error({ err, kind: key }, 'event handler failed');
        }
      };
      inf.on('add', handler(false));
      inf.on('update', handler(false));
      inf.on('delete', handler(true));
      inf.on('error', (err: unknown) => this.failed(s, err));
      this.kinds.set(key, s);
      this.metrics?.informerSynced.set({ kind: key }, 0);
    }
  }

  /** Informers on the API server behind `raw` (lists) and `kc` (watches). */
  static forCluster(kc: KubeConfig, raw: RawKubeApi, specs: readonly InformerSpec[], paths: Record<string, string>, opts: InformersOptions): Informers {
    return new Informers(
      specs,
      paths,
      // Each page is shrunk as it arrives: a whole list of a thousand stacks' children never sits in memory.
      (spec) => () => raw.listRaw(spec.kind.apiVersion, spec.kind.kind, spec.labelSelector, spec.store ? (o) => spec.store?.shrink(o, spec.kind.kind) : undefined) as never,
      (path, list, labelSelector) => makeInformer<KubernetesObject>(kc, path, list, labelSelector) as CachingInformer,
      opts,
    );
  }

  /** The watch paths (cluster-wide) for these kinds, found by discovery. */
  static async paths(raw: RawKubeApi, kinds: readonly Kind[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const k of kinds) out[kindKey(k)] = await raw.pathOf({ apiVersion: k.apiVersion, kind: k.kind }, 'list');
    return out;
  }

  /** Start every kind; each syncs (or keeps retrying) on its own. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    for (const s of this.kinds.values()) void this.attempt(s);
  }

  /** Every kind has listed successfully at least once. */
  get synced(): boolean {
    for (const s of this.kinds.values()) if (!s.synced) return false;
    return true;
  }

  /** Kinds not synced yet (for logs). */
  unsynced(): string[] {
    return [...this.kinds.values()].filter((s) => !s.synced).map((s) => s.key);
  }

  /** Resolves once every kind is synced, or once stopped (check `synced`). */
  whenSynced(): Promise<void> {
    if (this.synced || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Stop the watches and the restarts. The cache keeps what it holds. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.kinds.values()) {
      if (s.restart !== undefined) this.timers.clearTimeout(s.restart);
      s.restart = undefined;
    }
    this.wakeSyncWaiters();
    await Promise.all([...this.kinds.values()].map((s) => s.informer.stop()));
  }

  /** Consecutive failures of a kind since its last successful list. */
  failuresOf(kind: Kind): number {
    return this.kinds.get(kindKey(kind))?.failures ?? 0;
  }

  /** The delay before the restart that follows the n-th consecutive failure. */
  backoff(n: number): number {
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(n - 1, 30));
  }

  private async attempt(s: KindState): Promise<void> {
    if (this.stopped) return;
    s.listed = false;
    s.failed = false;
    s.starting = true;
    try {
      await s.informer.start();
    } catch (err) {
      this.failed(s, err);
    } finally {
      s.starting = false;
    }
    if (this.stopped) return;
    if (s.listed) {
      // Only a successful list resets the backoff: a start that merely
      // returned (its list refused) must not retry at the base delay again.
      s.failures = 0;
      if (!s.synced && !s.failed) {
        s.synced = true;
        this.metrics?.informerSynced.set({ kind: s.key }, 1);
        this.log.info({ kind: s.key, objects: s.informer.list().length }, 'informer synced');
        if (this.synced) this.wakeSyncWaiters();
      }
    }
    if (s.failed) this.scheduleRestart(s);
  }

  private failed(s: KindState, err: unknown): void {
    if (this.stopped) return;
    s.failed = true;
    s.failures++;
    const reason = failureReason(err);
    this.metrics?.informerFailures.inc({ kind: s.key, reason });
    const retryMs = this.backoff(s.failures);
    this.log.warn({ kind: s.key, reason, err: errText(err), failures: s.failures, retryMs, synced: s.synced }, 'informer failed; restarting after a backoff');
    // An error during start() is handled when start() returns (attempt());
    // one later (a watch refused on reconnect) schedules the restart here.
    if (!s.starting) this.scheduleRestart(s);
  }

  private scheduleRestart(s: KindState): void {
    if (this.stopped || s.restart !== undefined) return;
    s.restart = this.timers.setTimeout(() => {
      s.restart = undefined;
      void this.attempt(s);
    }, this.backoff(Math.max(1, s.failures)));
  }

  private wakeSyncWaiters(): void {
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters) w();
  }

  get(ref: ObjectRef): KObject | undefined {
    const s = this.kinds.get(kindKey(ref));
    const obj = s?.informer.get(ref.name, ref.namespace) as KObject | undefined;
    if (!obj) return undefined;
    return { ...(s?.store ? s.store.expand(obj, ref.kind) : obj), apiVersion: ref.apiVersion, kind: ref.kind };
  }

  list(kind: Kind, namespace?: string): KObject[] {
    const s = this.kinds.get(kindKey(kind));
    return ((s?.informer.list(namespace) ?? []) as KObject[]).map((o) => ({ ...(s?.store ? s.store.expand(o, kind.kind) : o), apiVersion: kind.apiVersion, kind: kind.kind }));
  }

  listOwned(apiVersion: string, kind: string, namespace: string, ownerUid: string, opts: { shallow?: boolean } = {}): KObject[] {
    const s = this.kinds.get(kindKey({ apiVersion, kind }));
    const names = s?.byOwner.get(ownerUid);
    if (!s || !names) return [];
    const out: KObject[] = [];
    for (const [name, filed] of names) {
      const obj = s.informer.get(name, filed.metadata.namespace) as KObject | undefined;
      if (!obj || controllerUid(obj) !== ownerUid) {
        names.delete(name);
        continue;
      }
      if (obj.metadata.namespace !== namespace) continue;
      // Shallow: what a shrunk object keeps readable (identity, owner, deletion) is enough.
      out.push({ ...(s.store && !opts.shallow ? s.store.expand(obj, kind) : obj), apiVersion, kind });
    }
    if (names.size === 0) s.byOwner.delete(ownerUid);
    return out;
  }
}

function errText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
