// Writing the desired children: server-side apply of each object that is not
// already up to date (compared against the informers' cache, so a steady
// state sends nothing), and pruning of owned children the spec no longer
// wants. Only objects that carry our instance label AND name this resource
// (by uid) as their controller are ever deleted.
import type { Context, KObject, ObjectRef } from './context.ts';
import { HASH_ANNOTATION, upToDate } from './diff.ts';
import { ErrorClass, ReconcileError, classify, isNotFound } from './errors.ts';

export interface ApplyResult {
  /** Objects written (`Kind/name`). */
  readonly applied: string[];
  /** Objects deleted because the spec no longer wants them. */
  readonly pruned: string[];
}

export function refOf(obj: KObject): ObjectRef {
  return { apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name };
}

export function idOf(obj: { kind: string; metadata: { name: string } }): string {
  return `${obj.kind}/${obj.metadata.name}`;
}

/** Run `fn` over items, at most `limit` at once; rejects with the first error after all settle. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) {
    // A permanent refusal says more than a transient blip next to it.
    const classified = errors.map((e) => classify(e));
    throw classified.find((e) => e.permanent) ?? classified[0];
  }
}

const rvNumber = (rv: string | undefined): bigint | undefined => (rv && /^\d+$/.test(rv) ? BigInt(rv) : undefined);

/**
 * Our own recent writes, until the informers catch up with them. Without it
 * a reconcile woken by the first of its children's events would find the
 * others still missing or old in the cache and apply them again. An entry
 * holds while the cache shows an older resourceVersion than our write
 * returned (etcd revisions grow; a non-numeric one disables the guard) and
 * lapses after `ttlMs` in any case, so drift is never hidden for long.
 */
export class WriteMemo {
  private readonly entries = new Map<string, { hash: string; rv: bigint; at: number }>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(ttlMs = 5_000, now: () => number = Date.now) {
    this.ttlMs = ttlMs;
    this.now = now;
  }

  /** We wrote `hash` under `key` and the server answered with `written`'s resourceVersion. */
  record(key: string, hash: string | undefined, written: { metadata?: { resourceVersion?: string } } | undefined): void {
    const rv = rvNumber(written?.metadata?.resourceVersion);
    if (rv === undefined || !hash) return;
    const at = this.now();
    // An entry is only dropped when its key is looked at again; a key never
    // looked at again (a pruned child, a deleted resource) would stay for
    // good: a thousand resources' writes held ~8 MB. Entries are recorded
    // in time order, so the lapsed ones are at the front.
    for (const [k, e] of this.entries) {
      if (at - e.at <= this.ttlMs) break;
      this.entries.delete(k);
    }
    // Re-inserted, so the map stays in time order.
    this.entries.delete(key);
    this.entries.set(key, { hash, rv, at });
  }

  /** True when we just wrote this very `hash` under `key` and the cached copy is older than our write. */
  pending(key: string, hash: string | undefined, cached: { metadata: { resourceVersion?: string } } | undefined): boolean {
    const e = this.entries.get(key);
    if (!e) return false;
    const cachedRv = rvNumber(cached?.metadata.resourceVersion);
    if (this.now() - e.at > this.ttlMs || e.hash !== hash || (cachedRv !== undefined && cachedRv >= e.rv)) {
      this.entries.delete(key);
      return false;
    }
    return true;
  }

  size(): number {
    return this.entries.size;
  }
}

/** Apply every desired object that isn't already what we want. */
export async function applyChildren(ctx: Context, desired: readonly KObject[]): Promise<string[]> {
  const applied: string[] = [];
  await forEachLimited(desired, 4, async (obj) => {
    const cached = ctx.cache.get(refOf(obj));
    const key = `${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const hash = obj.metadata.annotations?.[HASH_ANNOTATION];
    if (upToDate(cached, obj) || ctx.writes.pending(key, hash, cached)) return;
    try {
      ctx.writes.record(key, hash, await ctx.kube.apply(obj));
      applied.push(idOf(obj));
    } catch (err) {
      const e = classify(err, `apply ${idOf(obj)}`);
      if (e.errorClass === ErrorClass.Rejected && obj.kind === 'Job' && /immutable/i.test(e.detail)) {
        // A Job's pod template can't change: the new migration is a new Job.
        // Delete the old one (the uid precondition spares a newer namesake)
        // and let the requeue create it.
        const live = ctx.cache.get(refOf(obj));
        await ctx.kube.delete(refOf(obj), live?.metadata.uid).catch((d: unknown) => {
          if (!isNotFound(d)) throw d;
        });
        throw new ReconcileError(ErrorClass.Conflict, `${idOf(obj)} replaced: its template is immutable`, { cause: err });
      }
      throw e;
    }
  });
  return applied.sort();
}

export interface OwnedKind {
  readonly apiVersion: string;
  readonly kind: string;
}

/** Delete children of `owner` (by controller uid) whose Kind/name isn't in `keep`. */
export async function pruneChildren(
  ctx: Context,
  owner: KObject,
  kinds: readonly OwnedKind[],
  keep: ReadonlySet<string>,
): Promise<string[]> {
  const uid = owner.metadata.uid;
  const ns = owner.metadata.namespace;
  if (!uid || !ns) return [];
  const doomed: KObject[] = [];
  for (const k of kinds) {
    for (const child of ctx.cache.listOwned(k.apiVersion, k.kind, ns, uid, { shallow: true })) {
      if (!keep.has(idOf(child)) && !child.metadata.deletionTimestamp) doomed.push(child);
    }
  }
  await forEachLimited(doomed, 4, async (child) => {
    try {
      await ctx.kube.delete(refOf(child), child.metadata.uid);
    } catch (err) {
      if (!isNotFound(err)) throw classify(err, `prune ${idOf(child)}`);
    }
  });
  return doomed.map(idOf).sort();
}
