// The reconcile: `reconcile(obj, ctx) → Action`, level-triggered. It reads
// the resource and its children from the informers' cache, renders the
// desired children, writes only what differs, prunes what the spec dropped,
// and reports status. It never asks which event woke it: an add, an update,
// a deletion of a child, a resync all lead here with the same key.
// `errorPolicy` turns a failure into the next action (and Degraded status).
import { PROJECT_VERSION, SECUREVOTE_API, type SecureVoteStatus, parseSpec } from '../charts/spec.ts';
import { COMPONENTS, PUBLIC_ENTRY, type Component } from '../charts/rules.ts';
import { applyChildren, idOf, pruneChildren, refOf } from './apply.ts';
import type { Context, KObject } from './context.ts';
import { canonicalJson } from './diff.ts';
import { POD_KIND, instanceLabelSelector, instanceOfReadOnly, isMonitoringKind } from './owned-kinds.ts';
import { reconcileMonitoring } from './monitoring.ts';
import { INSTANCE_LABEL, WRITABLE_KINDS, instanceLabels, ownerReferenceOf } from './desired.ts';
import { ErrorClass, ReconcileError, classify, isNotFound } from './errors.ts';
import { type WorkQueue } from './queue.ts';
import { CONTROLLER } from './metrics.ts';
import { credentialsName, readVoterKey, reconcileCredentials, voterKeyName } from './secret.ts';
import { failBackup, reconcileBackups, resolveRestore } from './backups.ts';
import { planRollout } from './rollout.ts';
import { type Observation, Reason, SELECTED_NODE_ANNOTATION, computeStatus, diagnose, diagnoseCordoned, jobState, statusChanged, transitions, urlOf, workloadDetails, workloadState } from './status.ts';

export type Action =
  | { readonly type: 'requeue'; readonly afterMs: number }
  | { readonly type: 'await-change' }
  /** Retry with the queue's per-key exponential backoff. */
  | { readonly type: 'backoff' };

export const Action = {
  requeue: (afterMs: number): Action => ({ type: 'requeue', afterMs }),
  awaitChange: (): Action => ({ type: 'await-change' }),
  backoff: (): Action => ({ type: 'backoff' }),
};

export const keyOf = (ns: string | undefined, name: string): string => `${ns ?? ''}/${name}`;

/** The component a workload or Service belongs to (the stack's component label). */
function componentOf(obj: KObject): Component | 'migration' | undefined {
  const label = obj.metadata.labels?.['app.kubernetes.io/component'];
  if (label && ((COMPONENTS as readonly string[]).includes(label) || label === 'migration')) return label as Component | 'migration';
  return undefined;
}

/**
 * Read the children's state from the cache; while a workload is short of
 * ready or rolled out, or the migration isn't done, also the instance's
 * pods (one list: they are not cached, owned-kinds.ts POD_KIND) to say why.
 */
export async function observe(ctx: Context, sv: KObject, desired: readonly KObject[]): Promise<Omit<Observation, 'failure'>> {
  const components: Partial<Record<Component, ReturnType<typeof workloadState>>> = {};
  let migration: Observation['migration'];
  let proxyService: KObject | undefined;
  let proxyName = `${sv.metadata.name}-${PUBLIC_ENTRY}`;
  let settled = true;
  for (const d of desired) {
    const c = componentOf(d);
    if (!c) continue;
    if (d.kind === 'Deployment' || d.kind === 'StatefulSet') {
      if (c !== 'migration') {
        const live = ctx.cache.get(refOf(d));
        const w = workloadState(live, d);
        if (w) components[c] = { ...w, ...workloadDetails(live) };
        if (!w?.rolledOut) settled = false;
      }
    } else if (d.kind === 'Job') {
      migration = jobState(ctx.cache.get(refOf(d)));
      if (migration !== 'done') settled = false;
    } else if (d.kind === 'Service' && c === PUBLIC_ENTRY && !(d.spec as { clusterIP?: string } | undefined)?.clusterIP) {
      proxyName = d.metadata.name;
      proxyService = ctx.cache.get(refOf(d));
    }
  }
  const out: Omit<Observation, 'failure'> = {
    generation: sv.metadata.generation ?? 0,
    components: components as Observation['components'],
    url: urlOf(proxyService, proxyName, sv.metadata.namespace ?? 'default'),
    diagnoses: await explainCordoned(ctx, await diagnoseInstance(ctx, sv, desired, !settled)),
    operatorVersion: PROJECT_VERSION,
  };
  return migration ? { ...out, migration } : out;
}

/**
 * Why components aren't ready: the database's claims (cached, found by name:
 * `<template>-<set>-<ordinal>`) and, when `withPods`, the instance's pods
 * (listed by its labels), diagnosed per component label.
 */
async function diagnoseInstance(ctx: Context, sv: KObject, desired: readonly KObject[], withPods: boolean): Promise<{ diagnoses: Observation['diagnoses']; claims: KObject[] }> {
  const ns = sv.metadata.namespace;
  if (!ns) return { diagnoses: {}, claims: [] };
  const claims: KObject[] = [];
  for (const d of desired) {
    if (d.kind !== 'StatefulSet') continue;
    const live = ctx.cache.get(refOf(d));
    const spec = live?.spec as { replicas?: number; volumeClaimTemplates?: Array<{ metadata?: { name?: string } }> } | undefined;
    for (const t of spec?.volumeClaimTemplates ?? []) {
      for (let i = 0; i < (spec?.replicas ?? 1); i++) {
        const pvc = ctx.cache.get({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name: `${t.metadata?.name ?? 'data'}-${live?.metadata.name}-${i}` });
        if (pvc) claims.push(pvc);
      }
    }
  }
  let pods: KObject[] = [];
  if (withPods) {
    try {
      pods = await ctx.kube.list(POD_KIND, ns, instanceLabelSelector(sv.metadata.name));
    } catch (err) {
      throw classify(err, `list the pods of ${sv.metadata.name}`);
    }
  }
  return { diagnoses: diagnose(pods, claims), claims };
}

/**
 * A component whose pod can't be scheduled, with a claim on a cordoned node:
 * says so first (the scheduler's message only counts nodes). One GET per
 * such claim's node, and only while the pod waits.
 */
async function explainCordoned(ctx: Context, found: { diagnoses: Observation['diagnoses']; claims: KObject[] }): Promise<Observation['diagnoses']> {
  const { diagnoses, claims } = found;
  const stuck = Object.entries(diagnoses ?? {}).filter(([, list]) => list.some((d) => d.reason === Reason.Unschedulable)).map(([c]) => c);
  if (stuck.length === 0) return diagnoses;
  const out = { ...diagnoses };
  for (const pvc of claims) {
    const c = componentOf(pvc);
    const node = pvc.metadata.annotations?.[SELECTED_NODE_ANNOTATION];
    if (!c || !node || !stuck.includes(c)) continue;
    const d = diagnoseCordoned(pvc, await ctx.kube.get({ apiVersion: 'v1', kind: 'Node', name: node }));
    if (d) out[c] = [d, ...(out[c] ?? [])];
  }
  return out;
}

/** Write the status if it changed, and an Event per condition change. */
export async function reportStatus(ctx: Context, sv: KObject, next: SecureVoteStatus): Promise<boolean> {
  const prev = sv.status as SecureVoteStatus | undefined;
  // The gauge follows every pass, written or not (a restarted operator has no series until it sets them).
  ctx.metrics.setConditions(sv.metadata.namespace ?? '', sv.metadata.name, next.conditions);
  if (!statusChanged(prev, next)) return false;
  // Our last status write may not have reached the cache yet.
  const key = `status/${sv.metadata.namespace ?? ''}/${sv.metadata.name}`;
  const hash = canonicalJson(next);
  if (ctx.writes.pending(key, hash, sv)) return false;
  try {
    ctx.writes.record(key, hash, await ctx.kube.applyStatus(refOf(sv), next as Record<string, unknown>));
  } catch (err) {
    // The resource went away meanwhile: nothing to report to.
    if (isNotFound(err)) return false;
    throw classify(err, 'status');
  }
  for (const t of transitions(prev, next)) await ctx.events.publish(sv, t.type, t.reason, t.message);
  return true;
}

export async function reconcile(sv: KObject, ctx: Context): Promise<Action> {
  // Deleting: garbage collection removes the children (owner references);
  // the database volume follows the StatefulSet's retention policy. No
  // finalizer, so nothing for us to do.
  if (sv.metadata.deletionTimestamp) return Action.awaitChange();

  const parsed = parseSpec(sv.spec);
  if (!parsed.ok) throw new ReconcileError(ErrorClass.InvalidSpec, parsed.errors.join('; '));
  const spec = parsed.spec;
  // A restore names its backup: nothing is rendered until that backup is verified.
  const restore = resolveRestore(ctx, sv, spec);
  const rendered = ctx.desired.get(sv, spec, restore);
  // The Prometheus Operator's objects go their own way (operator/monitoring.ts): no informer, maybe no CRD.
  const desired = rendered.filter((o) => !isMonitoringKind(o.apiVersion, o.kind));
  const ns = sv.metadata.namespace as string;

  const keep = new Set(desired.map(idOf));
  // A restored instance signs voters' cookies with the key its backup kept (read once, when its credentials are made).
  const voterKey = restore
    ? async (): Promise<string> => {
        const key = await readVoterKey(ctx, ns, restore.backup);
        if (key === undefined) {
          throw new ReconcileError(ErrorClass.InvalidSpec, `spec.restore.backup: Secret ${voterKeyName(restore.backup)} (the voters' key the backup kept) is missing; restored voters could vote again`);
        }
        return key;
      }
    : undefined;
  const credentials = await reconcileCredentials(ctx, {
    namespace: ns,
    instance: sv.metadata.name,
    labels: instanceLabels(sv.metadata.name),
    owner: ownerReferenceOf(sv),
    retain: spec.database.storage.retainOnDelete,
    create: !spec.existingSecret,
    ...(voterKey ? { voterKey } : {}),
  });
  if (credentials !== 'unchanged' && credentials !== 'absent') {
    ctx.log.info({ key: keyOf(ns, sv.metadata.name), secret: credentialsName(sv.metadata.name), credentials }, 'credentials');
  }

  // Changed workloads roll in the start order, the backend after its
  // migration (operator/rollout.ts); held ones are applied on a later pass.
  const prevStatus = sv.status as SecureVoteStatus | undefined;
  const plan = planRollout({ desired, live: (r) => ctx.cache.get(r), previous: prevStatus?.migration, now: ctx.now() });
  const applied = await applyChildren(ctx, plan.apply);
  if (plan.deleteJob) {
    // A failed migration whose backoff ran out: re-created on the next pass.
    await ctx.kube.delete(refOf(plan.deleteJob), plan.deleteJob.metadata.uid).catch((err: unknown) => {
      if (!isNotFound(err)) throw classify(err, `delete ${plan.deleteJob?.metadata.name}`);
    });
    ctx.log.warn({ key: keyOf(ns, sv.metadata.name), job: plan.deleteJob.metadata.name, attempts: plan.migrationJob?.attempts }, 'migration failed; re-creating its Job');
  }
  const pruned = await pruneChildren(ctx, sv, WRITABLE_KINDS, keep);
  if (applied.length > 0 || pruned.length > 0) {
    ctx.log.info({ key: keyOf(ns, sv.metadata.name), generation: sv.metadata.generation, applied, pruned, held: plan.held.map((h) => h.component) }, 'children written');
  }

  // After the stack: a backup or monitoring misconfiguration never holds the votes back.
  const backup = await reconcileBackups(ctx, sv, spec);
  const monitoring = await reconcileMonitoring(ctx, sv, spec, rendered.filter((o) => isMonitoringKind(o.apiVersion, o.kind)));
  if (monitoring.applied.length > 0 || monitoring.deleted.length > 0) {
    ctx.log.info({ key: keyOf(ns, sv.metadata.name), applied: monitoring.applied, deleted: monitoring.deleted }, 'monitoring objects written');
  }
  const observed = await observe(ctx, sv, plan.effective);
  // A file that no longer matches its backup fails that backup for everyone (retention, other restores).
  const refusal = observed.diagnoses?.database?.find((d) => d.reason === Reason.RestoreRefused && d.message.includes('failed verification'));
  if (restore && refusal) await failBackup(ctx, ns, restore.backup, refusal.message.replace(/^pod [^:]+: /, ''));
  const status = computeStatus(
    prevStatus,
    {
      ...observed,
      backup,
      monitoring: monitoring.observation,
      ...(restore ? { restore: { backup: restore.backup, votes: restore.votes } } : {}),
      ...(plan.migration !== undefined ? { migration: plan.migration } : {}),
      ...(plan.migrationJob ? { migrationJob: plan.migrationJob } : {}),
      held: plan.held,
      pending: plan.pending,
      restarting: plan.restarting,
    },
    ctx.now(),
  );
  await reportStatus(ctx, sv, status);
  const ready = status.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  // Children's events wake us when they change; the requeue is the safety
  // net for anything an event missed (and the clock of a migration retry).
  const settledNow = ready && plan.held.length === 0 && plan.migration !== 'failed';
  let after = settledNow ? ctx.config.resyncMs : ctx.config.progressingRequeueMs;
  if (plan.deleteJob) after = Math.min(after, 1_000);
  if (plan.requeueMs !== undefined) after = Math.min(after, Math.max(1_000, plan.requeueMs));
  // The schedule's next run, and a running backup's result (its Job's events also wake us).
  if (backup.requeueMs !== undefined) after = Math.min(after, backup.requeueMs);
  // Monitoring CRDs installed later are found at the next pass: no event of ours announces them.
  if (monitoring.observation.state === 'skipped') after = Math.min(after, ctx.config.discoveryMs);
  return Action.requeue(after);
}

/**
 * A failed reconcile: transient → the queue's backoff. Permanent (the API
 * server refused our apply, RBAC, a spec the stack can't render) → Degraded
 * with the message, and a slow retry (the spec or the cluster must change).
 */
export async function errorPolicy(sv: KObject, err: ReconcileError, ctx: Context): Promise<Action> {
  const key = keyOf(sv.metadata.namespace, sv.metadata.name);
  if (!err.permanent) {
    ctx.log.warn({ key, class: err.errorClass, err: err.detail }, 'reconcile failed; backing off');
    return Action.backoff();
  }
  ctx.log.error({ key, class: err.errorClass, err: err.detail }, 'reconcile failed permanently; Degraded');
  try {
    let base: Omit<Observation, 'failure'> = { generation: sv.metadata.generation ?? 0, components: {} };
    try {
      const parsed = parseSpec(sv.spec);
      if (parsed.ok) {
        const desired = ctx.desired.get(sv, parsed.spec, resolveRestore(ctx, sv, parsed.spec)).filter((o) => !isMonitoringKind(o.apiVersion, o.kind));
        const plan = planRollout({ desired, live: (r) => ctx.cache.get(r), previous: (sv.status as SecureVoteStatus | undefined)?.migration, now: ctx.now() });
        base = { ...(await observe(ctx, sv, plan.effective)), held: plan.held, pending: plan.pending, ...(plan.migrationJob ? { migrationJob: plan.migrationJob } : {}) };
      }
    } catch {
      // Can't render: report the failure without component counts.
    }
    await reportStatus(ctx, sv, computeStatus(sv.status as SecureVoteStatus | undefined, { ...base, failure: err }, ctx.now()));
  } catch (statusErr) {
    ctx.log.warn({ key, err: classify(statusErr).detail }, 'could not report Degraded');
    return Action.backoff();
  }
  return Action.requeue(ctx.config.permanentRetryMs);
}

/**
 * Glue between the queue and the reconcile: looks the key up in the cache
 * (gone = nothing to do: not an error), runs reconcile or errorPolicy,
 * records metrics, and tells the queue what comes next.
 */
export class Controller {
  private readonly ctx: Context;
  private readonly lookup: (ns: string, name: string) => KObject | undefined;
  queue: WorkQueue | undefined;

  constructor(ctx: Context, lookup: (ns: string, name: string) => KObject | undefined) {
    this.ctx = ctx;
    this.lookup = lookup;
  }

  /** The owner's key for a child event; undefined when it isn't ours. */
  static ownerKey(obj: KObject): string | undefined {
    const ref = (obj.metadata.ownerReferences ?? []).find(
      (r) => r.controller === true && r.kind === SECUREVOTE_API.kind && r.apiVersion.startsWith(`${SECUREVOTE_API.group}/`),
    );
    if (ref) return keyOf(obj.metadata.namespace, ref.name);
    // A labelled child whose owner reference was removed (by hand) still maps
    // to its resource; claims map by the stack's own labels.
    const instance = obj.metadata.labels?.[INSTANCE_LABEL] ?? instanceOfReadOnly(obj.metadata.labels);
    return instance ? keyOf(obj.metadata.namespace, instance) : undefined;
  }

  async handle(key: string): Promise<void> {
    const queue = this.queue;
    if (!queue) throw new Error('Controller.queue is not set');
    const i = key.indexOf('/');
    const sv = this.lookup(key.slice(0, i), key.slice(i + 1));
    if (!sv) {
      // Deleted (or not ours): NotFound is not an error.
      queue.forget(key);
      this.ctx.desired.forget(key);
      this.ctx.metrics.setConditions(key.slice(0, i), key.slice(i + 1), undefined);
      return;
    }
    const started = process.hrtime.bigint();
    const controller = { controller: CONTROLLER };
    this.ctx.metrics.crActiveWorkers.inc(controller);
    let action: Action;
    let result: string;
    try {
      action = await reconcile(sv, this.ctx);
      result = 'ok';
    } catch (raw) {
      const err = classify(raw);
      this.ctx.metrics.apiErrors.inc({ class: err.errorClass });
      result = err.errorClass;
      action = await errorPolicy(sv, err, this.ctx);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.ctx.metrics.reconciles.inc({ result });
    this.ctx.metrics.reconcileSeconds.observe({ result }, seconds);
    this.ctx.metrics.crActiveWorkers.dec(controller);
    this.ctx.metrics.crReconcileTime.observe(controller, seconds);
    if (result !== 'ok') this.ctx.metrics.crReconcileErrors.inc(controller);
    const crResult = result !== 'ok' ? 'error' : action.type === 'requeue' ? 'requeue_after' : 'success';
    this.ctx.metrics.crReconciles.inc({ ...controller, result: crResult });
    if (action.type === 'backoff') {
      queue.addRateLimited(key);
    } else {
      if (result === 'ok') queue.forget(key);
      if (action.type === 'requeue') queue.addAfter(key, action.afterMs);
    }
    this.ctx.metrics.queueDepth.set(queue.depth());
  }
}
