// Writing the desired children: server-side apply of each object that is not
// already up to date (compared against the informers' cache, so a steady
// state sends nothing), and pruning of owned children the spec no longer
// wants. Only objects that carry our instance label AND name this resource
// (by uid) as their controller are ever deleted.
import type { Context, KObject, ObjectRef } from './context.ts';
import { upToDate } from './diff.ts';
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

/** Apply every desired object that isn't already what we want. */
export async function applyChildren(ctx: Context, desired: readonly KObject[]): Promise<string[]> {
  const applied: string[] = [];
  await forEachLimited(desired, 4, async (obj) => {
    if (upToDate(ctx.cache.get(refOf(obj)), obj)) return;
    try {
      await ctx.kube.apply(obj);
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
    for (const child of ctx.cache.listOwned(k.apiVersion, k.kind, ns, uid)) {
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
