// The generated credentials: `<name>-credentials`, created once when the
// spec names no existing Secret, its data never written again (a re-generated
// database password would lock the app out of its own data), never logged.
//
// Its lifetime follows the database volume's: owned by the resource (garbage
// collected with it) while spec.database.storage.retainOnDelete is false,
// unowned while it is true. retainOnDelete can change after the Secret was
// created, so every reconcile compares the owner references with the spec
// and moves only them (a JSON Patch with a `test` op on the resourceVersion:
// a concurrent edit fails the patch instead of being overwritten).
//
// Read by name (GET), never listed or watched: the operator has no
// cluster-wide view of Secrets. A GET per reconcile is the price; it is a
// read, not a write, so a steady state still writes nothing.
import { randomBytes } from 'node:crypto';
import type { Context, KObject, ObjectRef, OwnerReference } from './context.ts';
import { childNames } from '../charts/names.ts';
import { SECRET_KEYS as APP_KEYS } from '../charts/rules.ts';
import { SECUREVOTE_API } from '../charts/spec.ts';
import { INSTANCE_LABEL } from './desired.ts';
import { canonicalJson } from './diff.ts';
import { ErrorClass, ReconcileError, classify, httpStatus, isAlreadyExists } from './errors.ts';
import { POD_KIND, instanceLabelSelector } from './owned-kinds.ts';

/** The app's keys (runtime contract, from the charts' rules) plus a spare random value. */
export const SECRET_KEYS = [APP_KEYS.databasePassword, APP_KEYS.redisPassword, APP_KEYS.cookieSecret, 'random'] as const;

/** The name the stack's pods expect when spec.existingSecret is unset (charts/names.ts). */
export function credentialsName(instance: string): string {
  return childNames(instance).credentials;
}

function generate(): string {
  // 32 random bytes, URL-safe: no quoting trouble in any consumer.
  return randomBytes(32).toString('base64url');
}

/**
 * The Secret object to create. With `owner`, it is garbage-collected with the
 * resource; without (the database volume is kept on delete), it outlives the
 * resource so a re-created one finds the password that matches its data.
 */
export function credentialsSecret(
  namespace: string,
  instance: string,
  labels: Record<string, string>,
  owner: OwnerReference | undefined,
  voterKey?: string,
): KObject {
  const data: Record<string, string> = {};
  for (const k of SECRET_KEYS) data[k] = Buffer.from(generate()).toString('base64');
  // A restored instance signs voters' cookies with the backed-up key: a voter's second vote is still a 409.
  if (voterKey !== undefined) data[APP_KEYS.cookieSecret] = Buffer.from(voterKey).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: credentialsName(instance),
      namespace,
      labels,
      ...(owner ? { ownerReferences: [owner] } : {}),
    },
    type: 'Opaque',
    immutable: true,
    data,
  };
}

const isSecureVoteRef = (r: OwnerReference): boolean =>
  r.kind === SECUREVOTE_API.kind && r.apiVersion.startsWith(`${SECUREVOTE_API.group}/`);

/**
 * The owner references the credentials should carry: whatever others put
 * there, plus ours unless the volume (and so the password) is kept.
 */
export function wantedOwners(current: readonly OwnerReference[] | undefined, owner: OwnerReference, retain: boolean): OwnerReference[] {
  const others = (current ?? []).filter((r) => !isSecureVoteRef(r));
  return retain ? others : [...others, owner];
}

export interface CredentialsWanted {
  readonly namespace: string;
  readonly instance: string;
  readonly labels: Record<string, string>;
  /** The resource, as the credentials' owner while the volume is not kept. */
  readonly owner: OwnerReference;
  /** spec.database.storage.retainOnDelete. */
  readonly retain: boolean;
  /** Create them when missing (spec.existingSecret is unset). */
  readonly create: boolean;
  /**
   * The cookie secret to create them with (a restore: the backed-up
   * instance's), not a new one; asked only when they are created.
   */
  readonly voterKey?: () => Promise<string>;
}

export type CredentialsOutcome = 'created' | 'owner-set' | 'owner-released' | 'unchanged' | 'absent' | 'not-ours';

/**
 * Make sure the credentials exist (when wanted) and their owner follows
 * retainOnDelete. A Secret of that name without our instance label was made
 * by hand and is never touched. Even with spec.existingSecret set, ours (made
 * before the spec named another) keeps following retainOnDelete: it may be
 * the password a kept volume was initialized with.
 */
export async function reconcileCredentials(ctx: Context, want: CredentialsWanted): Promise<CredentialsOutcome> {
  const name = credentialsName(want.instance);
  const ref: ObjectRef = { apiVersion: 'v1', kind: 'Secret', namespace: want.namespace, name };
  let live: KObject | undefined;
  try {
    live = await ctx.kube.get(ref);
  } catch (err) {
    throw classify(err, `get Secret/${name}`);
  }
  if (!live) {
    if (!want.create) return 'absent';
    // Pods of a deleted namesake still going: a kubelet that holds the old
    // Secret for them can hand its data to our new pods on that node (seen:
    // a database initialized with the old password, backends with the new).
    // New credentials wait until those pods are gone.
    let going: KObject[];
    try {
      going = (await ctx.kube.list(POD_KIND, want.namespace, instanceLabelSelector(want.instance))).filter((p) => p.metadata.deletionTimestamp);
    } catch (err) {
      throw classify(err, `list the pods of ${want.instance}`);
    }
    if (going.length > 0) {
      throw new ReconcileError(ErrorClass.Conflict, `${going.length} pod(s) of a deleted SecureVote of this name still terminating: new credentials wait for them`, { status: 409 });
    }
    const secret = credentialsSecret(want.namespace, want.instance, want.labels, want.retain ? undefined : want.owner, await want.voterKey?.());
    try {
      await ctx.kube.create(secret);
      return 'created';
    } catch (err) {
      // Made meanwhile (by a user, or our previous run): the next reconcile looks at it.
      if (isAlreadyExists(err)) throw new ReconcileError(ErrorClass.Conflict, `Secret/${name} appeared meanwhile`, { status: 409 });
      // Never let the object (with its data) reach a log line through the error.
      throw classify(err, `create Secret/${name}`);
    }
  }
  if (live.metadata.labels?.[INSTANCE_LABEL] !== want.instance) return 'not-ours';
  const current = live.metadata.ownerReferences ?? [];
  // Owned by a deleted namesake (re-created before the garbage collector got
  // there), or being deleted: it goes, with the volume it opened. Adopted,
  // it would initialize a new volume with a password about to vanish; wait
  // for it to go, then make new ones.
  if (live.metadata.deletionTimestamp || current.some((r) => isSecureVoteRef(r) && r.uid !== want.owner.uid)) {
    throw new ReconcileError(ErrorClass.Conflict, `Secret/${name} belongs to a deleted SecureVote of this name: waiting for the garbage collector to remove it`, { status: 409 });
  }
  const wanted = wantedOwners(current, want.owner, want.retain);
  if (canonicalJson(current) === canonicalJson(wanted)) return 'unchanged';
  try {
    // Only metadata.ownerReferences moves; the data is never sent.
    await ctx.kube.jsonPatch(ref, [
      { op: 'test', path: '/metadata/resourceVersion', value: live.metadata.resourceVersion },
      { op: 'add', path: '/metadata/ownerReferences', value: wanted },
    ]);
  } catch (err) {
    // A failed `test` (someone wrote in between) comes back as 422 (or 409):
    // a conflict to retry, not a refusal.
    const status = httpStatus(err);
    if (status === 409 || (status === 422 && /test/i.test(classify(err).detail))) {
      throw new ReconcileError(ErrorClass.Conflict, `Secret/${name} changed meanwhile`, { status, cause: err });
    }
    throw classify(err, `set the owner of Secret/${name}`);
  }
  return want.retain ? 'owner-released' : 'owner-set';
}

/**
 * A backup keeps the key voters' cookies are signed with (the instance's
 * cookie-secret), in a Secret of its own, owned by the SecureVoteBackup:
 * restored votes without it would be votes whose voters could vote again.
 * Only that key: the database password belongs to the instance that restores.
 */
export const voterKeyName = (backup: string): string => `${backup}-voter-key`;

/** Copies the instance's cookie secret into the backup's voter-key Secret (once; never logged). */
export async function saveVoterKey(ctx: Context, backup: KObject, credentials: string, labels: Record<string, string>): Promise<void> {
  const ns = backup.metadata.namespace ?? '';
  let source: KObject | undefined;
  try {
    source = await ctx.kube.get({ apiVersion: 'v1', kind: 'Secret', namespace: ns, name: credentials });
  } catch (err) {
    throw classify(err, `get Secret/${credentials}`);
  }
  const key = (source?.data as Record<string, string> | undefined)?.[APP_KEYS.cookieSecret];
  if (!key) throw new ReconcileError(ErrorClass.InvalidSpec, `Secret ${credentials} has no ${APP_KEYS.cookieSecret}: the backup could not keep the voters' key`);
  const secret: KObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: voterKeyName(backup.metadata.name),
      namespace: ns,
      labels,
      ownerReferences: [{ apiVersion: backup.apiVersion, kind: backup.kind, name: backup.metadata.name, uid: backup.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }],
    },
    type: 'Opaque',
    immutable: true,
    data: { [APP_KEYS.cookieSecret]: key },
  };
  try {
    await ctx.kube.create(secret);
  } catch (err) {
    if (!isAlreadyExists(err)) throw classify(err, `create Secret/${secret.metadata.name}`);
  }
}

/** The voters' key a backup kept, or undefined when its Secret is gone. */
export async function readVoterKey(ctx: Context, namespace: string, backup: string): Promise<string | undefined> {
  let secret: KObject | undefined;
  try {
    secret = await ctx.kube.get({ apiVersion: 'v1', kind: 'Secret', namespace, name: voterKeyName(backup) });
  } catch (err) {
    throw classify(err, `get Secret/${voterKeyName(backup)}`);
  }
  const key = (secret?.data as Record<string, string> | undefined)?.[APP_KEYS.cookieSecret];
  return key === undefined ? undefined : Buffer.from(key, 'base64').toString();
}
