// The rollout plan: which desired children to write now, and which to hold.
// An operator upgrade (or a spec change) rolls only the workloads whose pod
// template changed, in the seed's start order (charts/rules.ts START_ORDER:
// database, cache → backend → frontend → proxy):
//  - a changed workload's new template is held back (not applied) until
//    every dependency's rollout is complete and Ready;
//  - the backend's new template is also held until the migration Job of
//    the NEW backend image has succeeded (migrations are expand-only: the
//    old backend keeps serving meanwhile);
//  - the migration Job is created only once the database is Ready (it never
//    holds CPU while waiting), is never re-applied once it exists (its
//    identity is the backend image: resources or replicas don't re-run it),
//    and after a failure is deleted and re-created after a capped
//    exponential backoff (30 s doubling up to 5 min), the attempts counted
//    in status.migration;
//  - a StatefulSet keeps the live volume claim templates (immutable: an
//    instance created by an older release, or applied from dist/, keeps
//    the labels it was created with).
//  - PostgreSQL and Redis never restart for an operator release alone: when
//    the only change to their pod template is this release's rendering of
//    an unchanged spec, the live workload stays (status says what waits)
//    until their own spec next changes.
// A workload that doesn't exist yet is created at once: the init containers
// order a first start.
import { COMPONENTS, START_ORDER, type Component } from '../charts/rules.ts';
import type { KObject, ObjectRef } from './context.ts';
import { withHash } from './diff.ts';
import { quantityValue } from '../charts/quantity.ts';
import { canonicalJson } from './diff.ts';
import { SIZED_FOR_BACKEND_ANNOTATION } from '../charts/database.ts';
import { SPEC_HASH_ANNOTATION, TEMPLATE_HASH_ANNOTATION } from './desired.ts';
import { type Held, type MigrationObservation, type Observation, jobFailure, jobState, workloadState } from './status.ts';

/**
 * The components whose restart costs the voters: PostgreSQL refuses votes
 * while it restarts, and Redis comes back empty. A new release's rendering of
 * their unchanged spec (a new resource field, a re-sized config file) waits
 * for the next change the user makes to them, when their pods roll anyway:
 * an operator upgrade alone never restarts them.
 */
export const RESTART_ONLY_ON_SPEC_CHANGE: readonly Component[] = ['database', 'cache'];

interface WorkloadShape {
  replicas?: number;
  persistentVolumeClaimRetentionPolicy?: { whenDeleted?: string };
  template?: {
    spec?: {
      containers?: Array<{ image?: string; resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> } }>;
      volumes?: Array<{ secret?: { secretName?: string } }>;
    };
  };
}

/** What a spec could set on a workload before the spec hash was recorded: replicas, image, CPU and memory, retention, the Secret. */
function specKnobs(w: KObject): string {
  const spec = (w.spec ?? {}) as WorkloadShape;
  const main = spec.template?.spec?.containers?.[0];
  const amounts = (r: Record<string, unknown> | undefined) =>
    Object.fromEntries(['cpu', 'memory'].filter((k) => r?.[k] !== undefined).map((k) => [k, quantityValue(String(r?.[k]))]));
  return canonicalJson({
    replicas: spec.replicas ?? 1,
    image: main?.image,
    requests: amounts(main?.resources?.requests),
    limits: amounts(main?.resources?.limits),
    retention: spec.persistentVolumeClaimRetentionPolicy?.whenDeleted ?? 'Retain',
    secrets: (spec.template?.spec?.volumes ?? []).flatMap((v) => (v.secret?.secretName ? [v.secret.secretName] : [])).sort(),
  });
}

/**
 * True when the user changed what the live workload was rendered from (and
 * not only the operator that renders it). A workload not yet ours (applied
 * from dist/ by a pipeline) is adopted at once: there is no earlier rendering
 * of ours to keep.
 */
export function specChanged(desired: KObject, live: KObject): boolean {
  const owner = desired.metadata.ownerReferences?.find((r) => r.controller)?.uid;
  if (!live.metadata.ownerReferences?.some((r) => r.controller && r.uid === owner)) return true;
  const had = live.metadata.annotations?.[SPEC_HASH_ANNOTATION];
  if (had !== undefined) return had !== desired.metadata.annotations?.[SPEC_HASH_ANNOTATION];
  return specKnobs(desired) !== specKnobs(live);
}

/** The most backend replicas a set of objects asks for: the autoscaler's maximum, else the Deployment's replicas. */
function backendCeiling(objects: readonly (KObject | undefined)[]): number {
  const ofBackend = objects.filter((o): o is KObject => o !== undefined && componentOf(o) === 'backend');
  const hpa = ofBackend.find((o) => o.kind === 'HorizontalPodAutoscaler')?.spec as { maxReplicas?: number } | undefined;
  if (hpa?.maxReplicas !== undefined) return hpa.maxReplicas;
  return (ofBackend.find((o) => o.kind === 'Deployment')?.spec as { replicas?: number } | undefined)?.replicas ?? 1;
}

/**
 * Why a waiting database rendering must roll now: the backend is asked to
 * grow past the replicas the running PostgreSQL's connection budget serves
 * (SIZED_FOR_BACKEND_ANNOTATION; a release that did not write it sized the
 * budget for the backend it ran, so its live replicas are the measure).
 * Otherwise the new pods would meet "too many clients".
 */
function budgetShortfall(desired: readonly KObject[], live: (ref: ObjectRef) => KObject | undefined, database: KObject): string | undefined {
  const want = backendCeiling(desired);
  const recorded = Number(database.metadata.annotations?.[SIZED_FOR_BACKEND_ANNOTATION]);
  const serves = Number.isInteger(recorded) && recorded > 0 ? recorded : backendCeiling(desired.filter(isWorkload).map((d) => live(refOf(d))));
  if (want <= serves) return undefined;
  return `restarting the database for its new connection budget: the running one serves ${serves} backend replica${serves === 1 ? '' : 's'}, spec.backend asks for up to ${want}`;
}

export const MIGRATION_RETRY = { firstMs: 30_000, maxMs: 5 * 60_000 } as const;

/** The wait before re-creating a migration Job that failed `attempts` times before. */
export function migrationBackoffMs(attempts: number): number {
  return Math.min(MIGRATION_RETRY.maxMs, MIGRATION_RETRY.firstMs * 2 ** Math.max(0, attempts));
}

export interface RolloutInput {
  readonly desired: readonly KObject[];
  /** The live object (the informers' cache). */
  readonly live: (ref: ObjectRef) => KObject | undefined;
  /** status.migration as last written. */
  readonly previous?: { readonly job: string; readonly attempts: number; readonly lastFailure?: string } | undefined;
  readonly now: Date;
}

export interface RolloutPlan {
  /** What to apply now (held workloads and an existing migration Job left out). */
  readonly apply: KObject[];
  /** Every desired child as it is wanted (StatefulSets with their live claim templates): status compares against these. */
  readonly effective: KObject[];
  readonly held: Held[];
  /** Components whose new pod template waits for their own spec to change (RESTART_ONLY_ON_SPEC_CHANGE). */
  readonly pending: Held[];
  /** Components of RESTART_ONLY_ON_SPEC_CHANGE rolled for another reason than their spec, and why. */
  readonly restarting: Held[];
  readonly migration?: Observation['migration'];
  readonly migrationJob?: MigrationObservation;
  /** A failed migration Job whose backoff ran out: delete it (it is re-created next). */
  readonly deleteJob?: KObject;
  /** Come back then (a migration retry is due). */
  readonly requeueMs?: number;
}

const refOf = (o: KObject): ObjectRef => ({ apiVersion: o.apiVersion, kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name });
const componentOf = (o: KObject): string | undefined => o.metadata.labels?.['app.kubernetes.io/component'];
const isWorkload = (o: KObject): boolean => o.kind === 'Deployment' || o.kind === 'StatefulSet';

/** The desired StatefulSet with the live object's volume claim templates (immutable). */
function withLiveClaims(desired: KObject, live: KObject | undefined): KObject {
  const claims = (live?.spec as { volumeClaimTemplates?: unknown[] } | undefined)?.volumeClaimTemplates;
  if (desired.kind !== 'StatefulSet' || !claims) return desired;
  const out = structuredClone(desired);
  (out.spec as { volumeClaimTemplates?: unknown[] }).volumeClaimTemplates = structuredClone(claims).map((c) => {
    // The status the server keeps inside the template is not ours to send.
    const { status: _status, ...rest } = c as Record<string, unknown>;
    return rest;
  });
  return withHash(out);
}

/** Rolled out and Ready: a dependent may roll now. */
function settled(desired: KObject, live: KObject | undefined): boolean {
  const w = workloadState(live, desired);
  return w !== undefined && w.rolledOut && w.ready >= w.desired && w.desired > 0;
}

export function planRollout(input: RolloutInput): RolloutPlan {
  const { desired, live, now } = input;
  const workloads = new Map<Component, KObject>();
  for (const d of desired) if (isWorkload(d)) workloads.set(componentOf(d) as Component, d);
  const job = desired.find((d) => d.kind === 'Job');
  const skip = new Set<KObject>();
  const replace = new Map<KObject, KObject>();
  const held: Held[] = [];
  const pending: Held[] = [];
  const restarting: Held[] = [];
  const done = new Map<Component, boolean>();
  let migration: Observation['migration'];
  let migrationJob: MigrationObservation | undefined;
  let deleteJob: KObject | undefined;
  let requeueMs: number | undefined;

  const planMigration = (): void => {
    if (!job) return;
    const liveJob = live(refOf(job));
    const image = ((job.spec as { template?: { spec?: { containers?: Array<{ image?: string }> } } }).template?.spec?.containers?.[0]?.image) ?? '?';
    const prev = input.previous?.job === job.metadata.name ? input.previous : undefined;
    let attempts = prev?.attempts ?? 0;
    let lastFailure = prev?.lastFailure;
    let waitingForDatabase = false;
    let retryInMs: number | undefined;
    let failedPods: number | undefined;
    // Create-only: an existing Job is never re-applied (that would re-run it).
    skip.add(job);
    if (liveJob && !liveJob.metadata.deletionTimestamp) {
      migration = jobState(liveJob);
      const failed = (liveJob.status as { failed?: unknown } | undefined)?.failed;
      if (migration === 'running' && typeof failed === 'number' && failed > 0) failedPods = failed;
      if (migration === 'failed') {
        const f = jobFailure(liveJob);
        lastFailure = f?.message ?? lastFailure;
        const failedAt = f?.at ? Date.parse(f.at) : now.getTime();
        const due = failedAt + migrationBackoffMs(attempts);
        if (now.getTime() >= due) {
          deleteJob = liveJob;
          attempts += 1;
          retryInMs = 0;
        } else {
          retryInMs = due - now.getTime();
          requeueMs = retryInMs;
        }
      }
    } else if (liveJob) {
      // Being deleted (a retry): created again once it is gone.
      migration = prev?.lastFailure !== undefined ? 'failed' : 'running';
    } else if (done.get('database')) {
      skip.delete(job);
      migration = 'running';
    } else {
      waitingForDatabase = true;
    }
    migrationJob = {
      job: job.metadata.name,
      image,
      attempts,
      ...(lastFailure !== undefined ? { lastFailure } : {}),
      ...(waitingForDatabase ? { waitingForDatabase } : {}),
      ...(retryInMs !== undefined ? { retryInMs } : {}),
      ...(failedPods !== undefined ? { failedPods } : {}),
    };
  };

  for (const c of COMPONENTS) {
    if (c === 'backend') planMigration();
    const d = workloads.get(c);
    if (!d) continue;
    const l = live(refOf(d));
    const want = withLiveClaims(d, l);
    if (want !== d) replace.set(d, want);
    const changed = l !== undefined && l.metadata.annotations?.[TEMPLATE_HASH_ANNOTATION] !== d.metadata.annotations?.[TEMPLATE_HASH_ANNOTATION];
    const waits = changed && l !== undefined && RESTART_ONLY_ON_SPEC_CHANGE.includes(c) && !specChanged(d, l);
    const shortfall = waits && c === 'database' ? budgetShortfall(desired, live, l) : undefined;
    if (shortfall) restarting.push({ component: c, message: shortfall });
    if (waits && l && !shortfall) {
      // The live workload stays as it is, and is what status measures.
      skip.add(d);
      replace.set(d, l);
      pending.push({ component: c, message: `this operator's pod template for ${c} waits for the next change of spec.${c}, so an upgrade does not restart it` });
      done.set(c, settled(l, l));
      continue;
    }
    const waitingFor = START_ORDER[c].filter((dep) => workloads.has(dep) && !done.get(dep));
    const needsMigration = c === 'backend' && job !== undefined && migration !== 'done';
    if (changed && (waitingFor.length > 0 || needsMigration)) {
      skip.add(d);
      held.push(
        waitingFor.length > 0
          ? { component: c, message: `holding ${c} until ${waitingFor.join(' and ')} ${waitingFor.length > 1 ? 'are' : 'is'} rolled out and Ready` }
          : { component: c, message: `holding backend until the migration Job ${job?.metadata.name} has succeeded`, migration: true },
      );
      done.set(c, false);
    } else {
      done.set(c, settled(want, l));
    }
  }
  if (!workloads.has('backend')) planMigration();

  const effective = desired.map((d) => replace.get(d) ?? d);
  const apply = desired.filter((d) => !skip.has(d)).map((d) => replace.get(d) ?? d);
  return {
    apply,
    effective,
    held,
    pending,
    restarting,
    ...(migration !== undefined ? { migration } : {}),
    ...(migrationJob ? { migrationJob } : {}),
    ...(deleteJob ? { deleteJob } : {}),
    ...(requeueMs !== undefined ? { requeueMs } : {}),
  };
}
