// An instance's backups, in its reconcile: the SecureVoteBackups of it (taken
// on demand with kubectl, or created here on spec.backup.schedule) each get
// a Job (charts/backup.ts), their results come back from the Job pod's
// termination message into the backup's status, only the newest
// spec.backup.retain verified ones are kept (failed ones never count), and
// the instance's status says when the last good one was taken.
//
// And the other direction: spec.restore, resolved here into what the
// database's restore step needs, from the named backup's status.
//
// A SecureVoteBackup is not owned by its instance: it outlives it, which is
// what a restore needs. Its Job is owned by it (deleting the backup deletes
// the Job); the file stays on the volume until retention or the next
// backup's pruning removes it.
import { BACKUP_INSTANCE_LABEL, BACKUP_METHOD_LABEL, SECUREVOTE_BACKUP_API, type SecureVoteBackupSpec, type SecureVoteBackupStatus } from '../charts/backup-spec.ts';
import { backupJobName, renderBackupJob } from '../charts/backup.ts';
import { nextRun, parseCron } from '../charts/cron.ts';
import { childNames, type RestoreSource } from '../charts/names.ts';
import { PART_OF } from '../charts/rules.ts';
import { PROJECT_VERSION, type SecureVoteSpec, type SecureVoteStatus } from '../charts/spec.ts';
import { refOf } from './apply.ts';
import type { Context, KObject, ObjectRef } from './context.ts';
import { MANAGED_BY, instanceLabels } from './desired.ts';
import { ErrorClass, ReconcileError, classify, isAlreadyExists, isNotFound } from './errors.ts';
import { saveVoterKey } from './secret.ts';
import { POD_KIND } from './owned-kinds.ts';

export const BACKUP_KIND = { apiVersion: SECUREVOTE_BACKUP_API.apiVersion, kind: SECUREVOTE_BACKUP_API.kind } as const;

/** On a scheduled backup: the run it was taken for (the schedule's clock). */
export const SCHEDULED_AT_ANNOTATION = `${PART_OF}.dev/scheduled-at`;

type Backup = KObject & { spec?: Partial<SecureVoteBackupSpec>; status?: SecureVoteBackupStatus };

const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const phaseOf = (b: Backup) => b.status?.phase ?? 'Pending';
const finished = (b: Backup) => phaseOf(b) === 'Completed' || phaseOf(b) === 'Failed';
const good = (b: Backup) => phaseOf(b) === 'Completed' && b.status?.verified === true;
/** Newest first, by completion (then creation). */
const newestFirst = (a: Backup, b: Backup) =>
  (b.status?.completedAt ?? b.metadata.creationTimestamp ?? '').localeCompare(a.status?.completedAt ?? a.metadata.creationTimestamp ?? '');

/** The keys a SecureVoteBackup's change wakes: the instance it is of, and every instance restoring from it. */
export function keysOfBackup(backup: KObject, secureVotes: readonly KObject[]): string[] {
  const ns = backup.metadata.namespace ?? '';
  const keys = new Set<string>();
  const of = (backup as Backup).spec?.secureVote;
  if (of) keys.add(`${ns}/${of}`);
  for (const sv of secureVotes) {
    if ((sv.spec as { restore?: { backup?: string } } | undefined)?.restore?.backup === backup.metadata.name) keys.add(`${ns}/${sv.metadata.name}`);
  }
  return [...keys];
}

/**
 * spec.restore as the stack needs it, from the named backup's status. A
 * backup that is missing, failed or not done yet is refused, naming the
 * field: the database is not rendered (so nothing starts empty) until a
 * verified backup is there; its completion wakes this instance again.
 */
export function resolveRestore(ctx: Context, sv: KObject, spec: SecureVoteSpec): RestoreSource | undefined {
  const name = spec.restore?.backup;
  if (name === undefined) return undefined;
  const ns = sv.metadata.namespace ?? '';
  const b = ctx.cache.get({ ...BACKUP_KIND, namespace: ns, name }) as Backup | undefined;
  const refuse = (why: string) => new ReconcileError(ErrorClass.InvalidSpec, `spec.restore.backup: SecureVoteBackup ${name} ${why}; nothing was created`);
  if (!b) throw refuse(`does not exist in namespace ${ns}`);
  const s = b.status ?? {};
  if (phaseOf(b) === 'Failed') throw refuse(`failed${s.message ? `: ${s.message}` : ''}`);
  if (!good(b)) throw refuse(`is ${phaseOf(b)}: the database starts once it is verified`);
  if (!s.claim || !s.file || !s.sha256 || s.votes === undefined || !s.checksum) throw refuse('has no file recorded in its status');
  return { backup: name, claim: s.claim, file: s.file, sha256: s.sha256, votes: s.votes, checksum: s.checksum };
}

/** What reconcileBackups saw, for the instance's status. */
export interface BackupObservation {
  readonly status?: NonNullable<SecureVoteStatus['backup']>;
  /** BackedUp: True (the newest finished backup is verified), False (it failed); absent: none finished yet. */
  readonly condition?: { readonly status: 'True' | 'False'; readonly reason: 'BackupVerified' | 'BackupFailed'; readonly message: string };
  /** When the schedule wants the next look. */
  readonly requeueMs?: number;
}

/** The claim backups are written to. */
export const backupClaimOf = (instance: string, spec: SecureVoteSpec): string => spec.backup.volume.existingClaim ?? childNames(instance).backupClaim;

export async function reconcileBackups(ctx: Context, sv: KObject, spec: SecureVoteSpec): Promise<BackupObservation> {
  const ns = sv.metadata.namespace ?? '';
  const instance = sv.metadata.name;
  const claim = backupClaimOf(instance, spec);
  const now = ctx.now();
  let mine = (ctx.cache.list(BACKUP_KIND, ns) as Backup[]).filter((b) => b.spec?.secureVote === instance && !b.metadata.deletionTimestamp);

  // The schedule: at most one backup per due run, none while one is still going.
  let nextScheduled: Date | undefined;
  if (spec.backup.schedule !== undefined) {
    const schedule = parseCron(spec.backup.schedule);
    const prev = (sv.status as SecureVoteStatus | undefined)?.backup?.nextScheduled;
    const prevAt = prev ? new Date(prev) : undefined;
    // A next run recorded for another schedule (the spec changed) doesn't count.
    const stillValid = prevAt && nextRun(schedule, new Date(prevAt.getTime() - 60_000))?.getTime() === prevAt.getTime();
    if (stillValid && prevAt.getTime() <= now.getTime()) {
      // The latest run that is due (runs missed while the operator was away are taken once).
      let due = prevAt;
      for (let t = nextRun(schedule, prevAt); t && t.getTime() <= now.getTime(); t = nextRun(schedule, t)) due = t;
      if (mine.some((b) => !finished(b))) {
        ctx.log.info({ key: `${ns}/${instance}`, due: iso(due) }, 'scheduled backup skipped: one is still running');
      } else {
        const created = await createScheduled(ctx, sv, due);
        if (created) mine = [...mine, created];
      }
      nextScheduled = nextRun(schedule, now);
    } else {
      nextScheduled = stillValid ? prevAt : nextRun(schedule, now);
    }
  }

  if (spec.backup.volume.existingClaim !== undefined && mine.some((b) => !finished(b))) await requireClaim(ctx, ns, spec.backup.volume.existingClaim);

  for (const b of mine) {
    if (phaseOf(b) === 'Pending' && !b.status?.job) await startBackup(ctx, sv, spec, b, claim);
    else if (phaseOf(b) === 'Running') await collectBackup(ctx, b);
  }

  // Retention: the newest `retain` verified backups; failed ones are kept as many, apart.
  const refreshed = mine.map((b) => (ctx.cache.get(refOf(b)) as Backup | undefined) ?? b);
  const verified = refreshed.filter(good).sort(newestFirst);
  const failed = refreshed.filter((b) => phaseOf(b) === 'Failed').sort(newestFirst);
  for (const old of [...verified.slice(spec.backup.retain), ...failed.slice(spec.backup.retain)]) {
    await ctx.kube.delete(refOf(old), old.metadata.uid).catch((err: unknown) => {
      if (!isNotFound(err)) throw classify(err, `delete SecureVoteBackup/${old.metadata.name}`);
    });
    ctx.log.info({ key: `${ns}/${instance}`, backup: old.metadata.name, verified: good(old) }, 'retention: backup deleted');
  }

  const last = verified[0];
  const newest = refreshed.filter(finished).sort(newestFirst)[0];
  const at = (b: Backup | undefined) => (b?.status?.completedAt ? Date.parse(b.status.completedAt) / 1000 : undefined);
  const labels = { namespace: ns, securevote: instance };
  const lastSuccess = at(last);
  const lastFailure = at(failed[0]);
  if (lastSuccess !== undefined) ctx.metrics.backupLastSuccess.set(labels, lastSuccess);
  if (lastFailure !== undefined) ctx.metrics.backupLastFailure.set(labels, lastFailure);
  if (!newest && nextScheduled === undefined && refreshed.length === 0) return {};
  const status: NonNullable<SecureVoteStatus['backup']> = { claim };
  if (last) {
    status.lastSuccessful = last.metadata.name;
    if (last.status?.completedAt) status.lastSuccessfulTime = last.status.completedAt;
  }
  if (newest && !good(newest)) status.lastFailed = newest.metadata.name;
  if (nextScheduled) status.nextScheduled = iso(nextScheduled);
  const condition: BackupObservation['condition'] = !newest
    ? undefined
    : good(newest)
      ? {
          status: 'True',
          reason: 'BackupVerified',
          message: `backup ${newest.metadata.name} verified at ${newest.status?.completedAt ?? '?'}: ${newest.status?.votes ?? 0} votes, ${newest.status?.size ?? 0} bytes`,
        }
      : { status: 'False', reason: 'BackupFailed', message: `backup ${newest.metadata.name} failed at ${newest.status?.completedAt ?? '?'}: ${newest.status?.message ?? 'no reason given'}` };
  return {
    status,
    ...(condition ? { condition } : {}),
    ...(nextScheduled ? { requeueMs: Math.max(1_000, nextScheduled.getTime() - now.getTime()) } : {}),
  };
}

/** A scheduled backup, named for its run (a retry after a lost write finds it there). */
async function createScheduled(ctx: Context, sv: KObject, due: Date): Promise<Backup | undefined> {
  const stamp = iso(due).replace(/[-:TZ]/g, '').slice(0, 12);
  const backup: Backup = {
    apiVersion: BACKUP_KIND.apiVersion,
    kind: BACKUP_KIND.kind,
    metadata: {
      name: `${sv.metadata.name}-${stamp}`,
      namespace: sv.metadata.namespace,
      labels: { [BACKUP_INSTANCE_LABEL]: sv.metadata.name, [BACKUP_METHOD_LABEL]: 'scheduled', 'app.kubernetes.io/managed-by': MANAGED_BY },
      annotations: { [SCHEDULED_AT_ANNOTATION]: iso(due) },
    },
    spec: { secureVote: sv.metadata.name },
  };
  try {
    const created = (await ctx.kube.create(backup)) as Backup;
    ctx.log.info({ key: `${sv.metadata.namespace}/${sv.metadata.name}`, backup: backup.metadata.name, due: iso(due) }, 'scheduled backup created');
    return created;
  } catch (err) {
    if (isAlreadyExists(err)) return undefined;
    throw classify(err, `create SecureVoteBackup/${backup.metadata.name}`);
  }
}

async function requireClaim(ctx: Context, namespace: string, name: string): Promise<void> {
  let claim: KObject | undefined;
  try {
    claim = await ctx.kube.get({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name });
  } catch (err) {
    throw classify(err, `get PersistentVolumeClaim/${name}`);
  }
  if (!claim) throw new ReconcileError(ErrorClass.InvalidSpec, `spec.backup.volume.existingClaim: PersistentVolumeClaim ${name} does not exist in namespace ${namespace}`);
}

/** The claim the operator makes when the spec names none: not owned, so it outlives the instance. */
async function ensureClaim(ctx: Context, sv: KObject, spec: SecureVoteSpec, name: string): Promise<void> {
  const ns = sv.metadata.namespace ?? '';
  if (ctx.cache.get({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name })) return;
  const claim: KObject = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name,
      namespace: ns,
      // The stack's labels: the claim informer sees it (and maps it to the instance); no owner.
      labels: { 'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/instance': sv.metadata.name, 'app.kubernetes.io/component': 'backup', 'app.kubernetes.io/managed-by': MANAGED_BY },
    },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: String(spec.backup.volume.size) } },
      ...(spec.backup.volume.storageClassName !== undefined ? { storageClassName: spec.backup.volume.storageClassName } : {}),
    },
  };
  try {
    await ctx.kube.create(claim);
    ctx.log.info({ key: `${ns}/${sv.metadata.name}`, claim: name }, 'backup volume created');
  } catch (err) {
    if (!isAlreadyExists(err)) throw classify(err, `create PersistentVolumeClaim/${name}`);
  }
}

/** A verified backup found changed (a restore's check): Failed, with the reason; its file stays for a look. */
export async function failBackup(ctx: Context, namespace: string, name: string, why: string): Promise<void> {
  const b = ctx.cache.get({ ...BACKUP_KIND, namespace, name }) as Backup | undefined;
  if (!b || !good(b)) return;
  await writeStatus(ctx, b, { ...b.status, phase: 'Failed', verified: false, message: why.slice(0, 4000) });
  ctx.log.warn({ backup: name, why }, 'backup failed verification at a restore');
}

async function writeStatus(ctx: Context, b: Backup, status: SecureVoteBackupStatus): Promise<void> {
  try {
    await ctx.kube.applyStatus(refOf(b), { ...status, observedGeneration: b.metadata.generation ?? 1 });
  } catch (err) {
    if (!isNotFound(err)) throw classify(err, `status of SecureVoteBackup/${b.metadata.name}`);
  }
}

async function startBackup(ctx: Context, sv: KObject, spec: SecureVoteSpec, b: Backup, claim: string): Promise<void> {
  if (spec.backup.volume.existingClaim === undefined) await ensureClaim(ctx, sv, spec, claim);
  await saveVoterKey(ctx, b, spec.existingSecret ?? childNames(sv.metadata.name).credentials, instanceLabels(sv.metadata.name));
  const job = renderBackupJob({
    instance: sv.metadata.name,
    namespace: sv.metadata.namespace ?? '',
    spec,
    identity: { name: sv.metadata.name, version: PROJECT_VERSION, managedBy: MANAGED_BY },
    backup: b.metadata.name,
    claim,
    keep: spec.backup.retain,
  }) as KObject;
  job.metadata.labels = { ...(job.metadata.labels ?? {}), ...instanceLabels(sv.metadata.name) };
  job.metadata.ownerReferences = [
    { apiVersion: BACKUP_KIND.apiVersion, kind: BACKUP_KIND.kind, name: b.metadata.name, uid: b.metadata.uid ?? '', controller: true, blockOwnerDeletion: true },
  ];
  try {
    await ctx.kube.apply(job);
  } catch (err) {
    throw classify(err, `apply Job/${job.metadata.name}`);
  }
  await writeStatus(ctx, b, { phase: 'Running', job: job.metadata.name, claim });
  ctx.log.info({ key: `${sv.metadata.namespace}/${sv.metadata.name}`, backup: b.metadata.name, job: job.metadata.name }, 'backup started');
}

interface ScriptResult {
  verified?: boolean;
  message?: string;
  file?: string;
  size?: number;
  sha256?: string;
  votes?: number;
  checksum?: string;
  startedAt?: string;
  completedAt?: string;
}

/** The backup container's last words: charts/backup.sh writes one JSON object there. */
async function resultOf(ctx: Context, job: KObject): Promise<ScriptResult | undefined> {
  // Pods are not cached (owned-kinds.ts POD_KIND): the Job's own, by the label the Job controller gives them.
  let pods: KObject[];
  try {
    pods = await ctx.kube.list(POD_KIND, job.metadata.namespace ?? '', `batch.kubernetes.io/controller-uid=${job.metadata.uid ?? ''}`);
  } catch (err) {
    throw classify(err, `list the pods of Job/${job.metadata.name}`);
  }
  for (const pod of pods) {
    const statuses = (pod.status as { containerStatuses?: Array<{ name?: string; state?: { terminated?: { message?: string } } }> } | undefined)?.containerStatuses ?? [];
    const said = statuses.find((c) => c.name === 'backup')?.state?.terminated?.message;
    if (!said) continue;
    try {
      return JSON.parse(said) as ScriptResult;
    } catch {
      return { verified: false, message: said.trim().slice(0, 500) };
    }
  }
  return undefined;
}

async function collectBackup(ctx: Context, b: Backup): Promise<void> {
  const ref: ObjectRef = { apiVersion: 'batch/v1', kind: 'Job', namespace: b.metadata.namespace, name: b.status?.job ?? backupJobName(b.metadata.name) };
  const job = ctx.cache.get(ref);
  if (!job) return; // just created: its events bring us back
  const conditions = (job.status as { conditions?: Array<{ type?: string; status?: string; message?: string; reason?: string }> } | undefined)?.conditions ?? [];
  const complete = conditions.some((c) => c.type === 'Complete' && c.status === 'True');
  const failedCondition = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
  if (!complete && !failedCondition) return;
  const r = await resultOf(ctx, job);
  const base = { job: ref.name, claim: b.status?.claim ?? '' };
  if (complete && r?.verified === true && r.file && r.sha256 && r.checksum) {
    await writeStatus(ctx, b, {
      ...base,
      phase: 'Completed',
      verified: true,
      file: r.file,
      ...(r.size !== undefined ? { size: r.size } : {}),
      sha256: r.sha256,
      ...(r.votes !== undefined ? { votes: r.votes } : {}),
      checksum: r.checksum,
      ...(r.startedAt ? { startedAt: r.startedAt } : {}),
      completedAt: r.completedAt ?? iso(ctx.now()),
      message: `verified: ${r.votes ?? 0} votes restored into a throwaway database, same checksum`,
    });
  } else {
    const why = r?.message ?? failedCondition?.message ?? failedCondition?.reason ?? 'the backup Job ended without a result';
    await writeStatus(ctx, b, { ...base, phase: 'Failed', verified: false, completedAt: iso(ctx.now()), message: why.slice(0, 4000) });
  }
  ctx.log.info({ backup: b.metadata.name, verified: r?.verified === true }, 'backup finished');
}
