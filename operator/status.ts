// Status: computed from what the children report (read from the informers'
// cache), compared with the status already on the resource, and written
// through the status subresource only when it differs. Each condition change
// becomes an Event on the resource.
import { COMPONENTS, PORTS, PUBLIC_ENTRY, RESTART, type Component } from '../charts/rules.ts';
import type { ComponentStatus, ConditionType, Phase, SecureVoteCondition, SecureVoteStatus } from '../charts/spec.ts';
import { HASH_ANNOTATION, canonicalJson } from './diff.ts';
import type { ErrorClass, ReconcileError } from './errors.ts';
import type { KObject } from './context.ts';
import type { BackupObservation } from './backups.ts';
import type { MonitoringObservation } from './monitoring.ts';

/** Condition reasons: constants, so alerts and tests can match them. */
export const Reason = {
  AllComponentsReady: 'AllComponentsReady',
  ComponentsNotReady: 'ComponentsNotReady',
  RollingOut: 'RollingOut',
  RolloutComplete: 'RolloutComplete',
  AsExpected: 'AsExpected',
  ApplyRejected: 'ApplyRejected',
  Forbidden: 'Forbidden',
  InvalidSpec: 'InvalidSpec',
  InternalError: 'InternalError',
  MigrationFailed: 'MigrationFailed',
  ReconcileFailed: 'ReconcileFailed',
  /** Progressing: the schema migration for the new backend image runs (or waits for the database). */
  Migrating: 'Migrating',
  /** Progressing: a changed workload waits for its dependencies' rollouts. */
  WaitingForDependencies: 'WaitingForDependencies',
  // Ready=False, from what the pods and claims show:
  Unschedulable: 'Unschedulable',
  /** Unschedulable, and why: its volume lives on a node that is cordoned (a drain). */
  NodeCordoned: 'NodeCordoned',
  ClaimPending: 'ClaimPending',
  ImagePullFailed: 'ImagePullFailed',
  CrashLooping: 'CrashLooping',
  ContainerConfigError: 'ContainerConfigError',
  WaitingForDependency: 'WaitingForDependency',
  /** A run-once pod (the migration Job's) whose container exited non-zero. */
  ContainerFailed: 'ContainerFailed',
  /** Degraded: the database's restore step refused the backup (charts/restore.sh says why). */
  RestoreRefused: 'RestoreRefused',
  /** BackedUp: the newest backup was verified, or failed. */
  BackupVerified: 'BackupVerified',
  BackupFailed: 'BackupFailed',
  /** Monitored: the PodMonitor and PrometheusRule are applied, or skipped (the cluster serves no monitoring.coreos.com/v1). */
  MonitorsApplied: 'MonitorsApplied',
  MonitoringCRDsAbsent: 'MonitoringCRDsAbsent',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

const FAILURE_REASON: Partial<Record<ErrorClass, Reason>> = {
  rejected: Reason.ApplyRejected,
  forbidden: Reason.Forbidden,
  'invalid-spec': Reason.InvalidSpec,
  internal: Reason.InternalError,
};

/** One workload's state as its controller reports it. */
export interface WorkloadState {
  readonly ready: number;
  readonly desired: number;
  /** The workload controller saw the latest template and finished rolling it out. */
  readonly rolledOut: boolean;
}

/** What the live workload says beyond its counts. */
export interface WorkloadDetails {
  /** The image its pod template runs (the main container's). */
  readonly image?: string;
  /** Pods on the latest template. */
  readonly updated?: number;
}

/** Why a component isn't ready, read from its pods and claims. */
export interface Diagnosis {
  readonly reason: Reason;
  readonly message: string;
}

/** The migration Job of the current backend image, as the rollout planner saw it. */
export interface MigrationObservation {
  readonly job: string;
  readonly image: string;
  /** Failed attempts so far (each one deleted and re-created after a backoff). */
  readonly attempts: number;
  /** The last failure's message (the Job's Failed condition). */
  readonly lastFailure?: string;
  /** Not created yet: the database isn't Ready. */
  readonly waitingForDatabase?: boolean;
  /** A failed Job is re-created after this many milliseconds. */
  readonly retryInMs?: number;
  /** Pods of the current Job that failed while it still retries (Job status.failed). */
  readonly failedPods?: number;
}

/** A workload whose new pod template is held back, and why. */
export interface Held {
  readonly component: Component;
  readonly message: string;
  readonly migration?: boolean;
}

/** Everything the status is computed from. */
export interface Observation {
  readonly generation: number;
  /** Per component; missing = its workload isn't there (yet). */
  readonly components: Partial<Record<Component, WorkloadState & WorkloadDetails>>;
  /** The migration Job: 'done', 'running', 'failed', or absent. */
  readonly migration?: 'done' | 'running' | 'failed';
  /** The migration Job's details (name, attempts, last failure). */
  readonly migrationJob?: MigrationObservation;
  /** Changed workloads held back until their dependencies (or the migration) are done. */
  readonly held?: readonly Held[];
  /** Workloads kept as they are until their own spec changes (operator/rollout.ts). */
  readonly pending?: readonly Held[];
  /** Such workloads rolled now for another reason (operator/rollout.ts), and why. */
  readonly restarting?: readonly Held[];
  /** Why components aren't ready, from their pods and claims. */
  readonly diagnoses?: Partial<Record<Component | 'migration', readonly Diagnosis[]>>;
  /** The operator's version (status.operatorVersion). */
  readonly operatorVersion?: string;
  readonly url?: string;
  /** A permanent failure of this reconcile (Degraded). */
  readonly failure?: ReconcileError;
  /** The instance's backups (operator/backups.ts); absent: not looked at (the last status's stay). */
  readonly backup?: BackupObservation;
  /** The backup the database was started from. */
  readonly restore?: { readonly backup: string; readonly votes: number };
  /** The monitoring objects (operator/monitoring.ts): applied, skipped, or off (no condition); absent: not looked at. */
  readonly monitoring?: MonitoringObservation;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * A Deployment's or StatefulSet's state against what we want of it. The
 * desired replica count comes from our desired object, not the live one: a
 * cache that hasn't seen our latest write must not make an old "1/1" look
 * like the new "2 wanted". A desired object without replicas leaves them to
 * an autoscaler: then the live count is the one wanted. Unknown shapes count
 * as not ready.
 */
export function workloadState(live: KObject | undefined, desired?: KObject): WorkloadState | undefined {
  if (!live) return undefined;
  const replicasOf = (o: KObject | undefined): unknown => (o?.spec as { replicas?: unknown } | undefined)?.replicas;
  const st = (live.status ?? {}) as Record<string, unknown>;
  const wanted = replicasOf(desired) ?? replicasOf(live);
  const want = wanted === undefined ? 1 : num(wanted);
  const ready = num(st.readyReplicas);
  const ours = !desired || live.metadata.annotations?.[HASH_ANNOTATION] === desired.metadata.annotations?.[HASH_ANNOTATION];
  const seen = num(st.observedGeneration) >= num(live.metadata.generation);
  let rolledOut = ours && seen && num(st.updatedReplicas) >= want && ready >= want && num(st.replicas) <= want;
  if (live.kind === 'StatefulSet' && st.updateRevision !== undefined && st.currentRevision !== st.updateRevision) rolledOut = false;
  return { ready, desired: want, rolledOut };
}

/** The live workload's image and updated pod count. */
export function workloadDetails(live: KObject | undefined): WorkloadDetails {
  if (!live) return {};
  const spec = live.spec as { template?: { spec?: { containers?: Array<{ image?: unknown }> } } } | undefined;
  const image = spec?.template?.spec?.containers?.[0]?.image;
  const st = (live.status ?? {}) as Record<string, unknown>;
  return { ...(typeof image === 'string' ? { image } : {}), updated: num(st.updatedReplicas) };
}

/** A failed Job's reason and message (its Failed condition), and when it failed. */
export function jobFailure(obj: KObject | undefined): { message: string; at?: string } | undefined {
  const conds = ((obj?.status ?? {}) as { conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string; lastTransitionTime?: string }> })
    .conditions ?? [];
  const failed = conds.find((c) => c.type === 'Failed' && c.status === 'True');
  if (!failed) return undefined;
  const message = [failed.reason, failed.message].filter((x) => x).join(': ') || 'the Job failed';
  return failed.lastTransitionTime ? { message, at: failed.lastTransitionTime } : { message };
}

export function jobState(obj: KObject | undefined): Observation['migration'] {
  if (!obj) return undefined;
  const st = (obj.status ?? {}) as { succeeded?: unknown; conditions?: Array<{ type?: string; status?: string }> };
  const conds = st.conditions ?? [];
  if (num(st.succeeded) > 0 || conds.some((c) => c.type === 'Complete' && c.status === 'True')) return 'done';
  if (conds.some((c) => c.type === 'Failed' && c.status === 'True')) return 'failed';
  return 'running';
}

/** The URL of the public entry (the proxy Service), from its live object when there is one. */
export function urlOf(service: KObject | undefined, fallbackName: string, namespace: string): string {
  const port = PORTS[PUBLIC_ENTRY];
  const ingress = ((service?.status as { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } } | undefined)
    ?.loadBalancer?.ingress ?? [])[0];
  const host = ingress?.ip ?? ingress?.hostname;
  if (host) return `http://${host}:${port}`;
  return `http://${service?.metadata.name ?? fallbackName}.${namespace}.svc:${port}`;
}

function condition(
  prev: readonly SecureVoteCondition[] | undefined,
  type: ConditionType,
  status: 'True' | 'False' | 'Unknown',
  reason: Reason,
  message: string,
  generation: number,
  now: Date,
): SecureVoteCondition {
  const old = prev?.find((c) => c.type === type);
  // The transition time moves only when the status flips.
  const lastTransitionTime = old && old.status === status ? old.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { type, status, reason, message, observedGeneration: generation, lastTransitionTime };
}

/** Worst first: the reason the Ready condition takes when several show. */
const DIAGNOSIS_ORDER: readonly Reason[] = [
  Reason.NodeCordoned,
  Reason.ClaimPending,
  Reason.Unschedulable,
  Reason.ImagePullFailed,
  Reason.ContainerConfigError,
  Reason.CrashLooping,
  Reason.WaitingForDependency,
];

/** The status for an observation, keeping transition times from `prev`. */
export function computeStatus(prev: SecureVoteStatus | undefined, obs: Observation, now: Date): SecureVoteStatus {
  const components: Record<string, ComponentStatus> = {};
  const notReady: string[] = [];
  const rolling: string[] = [];
  const found: Diagnosis[] = [];
  const held = new Map((obs.held ?? []).map((h) => [h.component, h]));
  const restarting = new Map((obs.restarting ?? []).map((h) => [h.component, h]));
  for (const c of COMPONENTS) {
    const w = obs.components[c];
    const waiting = obs.pending?.find((p) => p.component === c);
    components[c] = {
      ready: w?.ready ?? 0,
      desired: w?.desired ?? 0,
      ...(w?.image !== undefined ? { image: w.image } : {}),
      ...(waiting ? { pendingTemplate: waiting.message } : {}),
    };
    if (!w || w.ready < w.desired || w.desired === 0) {
      const why = obs.diagnoses?.[c] ?? [];
      found.push(...why);
      notReady.push(`${c} ${w?.ready ?? 0}/${w?.desired ?? '?'}${why.length > 0 ? ` (${why.map((d) => d.message).join('; ')})` : ''}`);
    }
    if (held.has(c)) rolling.push(held.get(c)!.message);
    else if (!w) rolling.push(`creating ${c}`);
    else if (restarting.has(c)) rolling.push(restarting.get(c)!.message);
    else if (!w.rolledOut) rolling.push(`rolling out ${c}: ${Math.min(w.updated ?? 0, w.desired)} of ${w.desired} updated, ${w.ready} ready`);
  }
  const allReady = notReady.length === 0;
  const migrating = obs.migration === 'running' || obs.migration === undefined;
  const failed = obs.failure?.permanent ? obs.failure : undefined;
  // Said at the first failed pod, not only once the Job gives up (its pod
  // backoff makes that several minutes): a user learns at once what breaks.
  const failingPods = obs.migration === 'running' ? (obs.migrationJob?.failedPods ?? 0) : 0;
  const migrationFailed = obs.migration === 'failed' || failingPods > 0;
  const mj = obs.migrationJob;
  const prevC = prev?.conditions;
  const g = obs.generation;

  const migrationFailure = (): string => {
    const parts = [
      failingPods > 0
        ? `the schema migration Job ${mj?.job ?? ''} is failing: ${failingPods} of its pods failed, it retries (backoffLimit ${RESTART.migration.backoffLimit})`
        : `the schema migration Job ${mj?.job ?? ''} failed`.replace(/ +failed/, ' failed'),
    ];
    if (failingPods === 0 && mj?.lastFailure) parts[0] += `: ${mj.lastFailure}`;
    // The last pod's own words (exit code, termination message) say more than the Job's condition.
    const last = (obs.diagnoses?.migration ?? []).filter((d) => d.reason === Reason.ContainerFailed).at(-1);
    if (last) parts.push(last.message);
    // An absolute time: the message stays the same from one reconcile to the next (no status write per pass).
    const at = mj?.retryInMs !== undefined ? new Date(now.getTime() + mj.retryInMs).toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined;
    if (mj && failingPods === 0) parts.push(`failed attempts: ${mj.attempts + 1}${at !== undefined ? `; re-created at ${at}` : ''}`);
    return parts.join('; ');
  };

  const refused = found.find((d) => d.reason === Reason.RestoreRefused);
  const degraded = failed
    ? condition(prevC, 'Degraded', 'True', FAILURE_REASON[failed.errorClass] ?? Reason.ReconcileFailed, failed.detail, g, now)
    : refused
      ? condition(prevC, 'Degraded', 'True', Reason.RestoreRefused, refused.message, g, now)
      : migrationFailed
      ? condition(prevC, 'Degraded', 'True', Reason.MigrationFailed, migrationFailure(), g, now)
      : condition(prevC, 'Degraded', 'False', Reason.AsExpected, 'the last reconcile applied the spec', g, now);

  const diagnosed = DIAGNOSIS_ORDER.find((r) => found.some((d) => d.reason === r));
  const ready =
    allReady && !failed
      ? condition(prevC, 'Ready', 'True', Reason.AllComponentsReady, 'every component has its pods ready', g, now)
      : failed
        ? condition(prevC, 'Ready', 'False', Reason.ReconcileFailed, 'the spec could not be applied (see Degraded)', g, now)
        : condition(prevC, 'Ready', 'False', diagnosed ?? Reason.ComponentsNotReady, `not ready: ${notReady.join(', ')}`, g, now);

  const migrationHeld = [...held.values()].some((h) => h.migration);
  const migrationText = mj
    ? mj.waitingForDatabase
      ? `migration Job ${mj.job} for ${mj.image} waits for the database to be Ready`
      : `migrating the schema for ${mj.image} (Job ${mj.job})`
    : 'waiting for the schema migration';
  let progressing: SecureVoteCondition;
  if (failed) {
    progressing = condition(prevC, 'Progressing', 'False', Reason.ReconcileFailed, 'stopped: see Degraded', g, now);
  } else if (rolling.length > 0 || migrating || migrationHeld) {
    const reason =
      migrationHeld || (rolling.length === 0 && migrating)
        ? Reason.Migrating
        : held.size > 0 && [...held.values()].length === rolling.length
          ? Reason.WaitingForDependencies
          : Reason.RollingOut;
    const parts = [...(migrating || migrationHeld ? [migrationText] : []), ...rolling];
    progressing = condition(prevC, 'Progressing', 'True', reason, parts.join('; '), g, now);
  } else {
    progressing = condition(prevC, 'Progressing', 'False', Reason.RolloutComplete, 'every component runs the current spec', g, now);
  }

  const anyWorkload = Object.keys(obs.components).length > 0;
  const phase: Phase =
    degraded.status === 'True' ? 'Degraded' : allReady ? 'Ready' : anyWorkload ? 'Progressing' : 'Pending';

  // BackedUp and status.backup: this pass's view, else the last status's (a failed pass didn't look).
  const backedUp = obs.backup
    ? obs.backup.condition && condition(prevC, 'BackedUp', obs.backup.condition.status, Reason[obs.backup.condition.reason], obs.backup.condition.message, g, now)
    : prevC?.find((c) => c.type === 'BackedUp');
  const backupStatus = obs.backup ? obs.backup.status : prev?.backup;
  const monitored = obs.monitoring
    ? obs.monitoring.state === 'off'
      ? undefined
      : obs.monitoring.state === 'applied'
        ? condition(prevC, 'Monitored', 'True', Reason.MonitorsApplied, obs.monitoring.message, g, now)
        : condition(prevC, 'Monitored', 'False', Reason.MonitoringCRDsAbsent, obs.monitoring.message, g, now)
    : prevC?.find((c) => c.type === 'Monitored');
  const status: SecureVoteStatus = {
    observedGeneration: g,
    phase,
    conditions: [ready, progressing, degraded, ...(backedUp ? [backedUp] : []), ...(monitored ? [monitored] : [])],
    components: components as SecureVoteStatus['components'],
  };
  if (backupStatus) status.backup = backupStatus;
  const restored = obs.restore ?? prev?.restore;
  if (restored) status.restore = { backup: restored.backup, votes: restored.votes };
  if (obs.operatorVersion) status.operatorVersion = obs.operatorVersion;
  if (mj) status.migration = { job: mj.job, attempts: mj.attempts, ...(mj.lastFailure ? { lastFailure: mj.lastFailure } : {}) };
  if (obs.url) status.url = obs.url;
  return status;
}

// ---- why a component is not ready: its pods and claims -------------------------

type ContainerStatus = {
  name?: string;
  image?: string;
  restartCount?: number;
  state?: { waiting?: { reason?: string; message?: string }; running?: object; terminated?: { exitCode?: number; reason?: string; message?: string } };
  lastState?: { terminated?: { exitCode?: number; reason?: string; message?: string } };
};
type PodStatus = {
  phase?: string;
  conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }>;
  containerStatuses?: ContainerStatus[];
  initContainerStatuses?: ContainerStatus[];
};

const PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError']);
const WAIT_PREFIX = 'wait-for-';
/** The database pod's init container when it starts from a backup (charts/backup.ts). */
const RESTORE_CONTAINER = 'restore';

function containerImage(pod: KObject, name: string | undefined, fallback: string | undefined): string {
  const spec = pod.spec as { containers?: Array<{ name?: string; image?: string }>; initContainers?: Array<{ name?: string; image?: string }> } | undefined;
  const c = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].find((x) => x.name === name);
  return c?.image ?? fallback ?? '?';
}

/** What one pod shows, if anything is wrong or waiting. */
export function diagnosePod(pod: KObject): Diagnosis[] {
  const name = pod.metadata.name;
  const st = (pod.status ?? {}) as PodStatus;
  const out: Diagnosis[] = [];
  const sched = st.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (sched) {
    out.push({ reason: Reason.Unschedulable, message: `pod ${name} unschedulable: ${sched.message ?? sched.reason ?? 'no node fits'}` });
    return out;
  }
  for (const [init, list] of [[true, st.initContainerStatuses ?? []] as const, [false, st.containerStatuses ?? []] as const]) {
    for (const c of list) {
      const waiting = c.state?.waiting;
      const reason = waiting?.reason ?? '';
      if (PULL_REASONS.has(reason)) {
        const image = containerImage(pod, c.name, c.image);
        out.push({ reason: Reason.ImagePullFailed, message: `pod ${name}: image ${image} can't be pulled (${reason}${waiting?.message ? `: ${waiting.message}` : ''})` });
      } else if (CONFIG_REASONS.has(reason)) {
        out.push({ reason: Reason.ContainerConfigError, message: `pod ${name}: container ${c.name} can't start (${reason}${waiting?.message ? `: ${waiting.message}` : ''})` });
      } else if (init && c.name === RESTORE_CONTAINER && (reason === 'CrashLoopBackOff' || (c.state?.terminated?.exitCode ?? 0) !== 0)) {
        const said = (c.state?.terminated ?? c.lastState?.terminated)?.message?.trim();
        out.push({ reason: Reason.RestoreRefused, message: `pod ${name}: ${said || `the restore step failed (${c.restartCount ?? 0} restarts)`}` });
      } else if (reason === 'CrashLoopBackOff') {
        const last = c.lastState?.terminated;
        const detail = last ? `last exit code ${last.exitCode ?? '?'}${last.reason ? `, ${last.reason}` : ''}` : 'no exit recorded';
        out.push({ reason: Reason.CrashLooping, message: `pod ${name}: container ${c.name} crash-looping (${detail}; ${c.restartCount ?? 0} restarts)` });
      } else if (st.phase === 'Failed' && c.state?.terminated && (c.state.terminated.exitCode ?? 0) !== 0) {
        const t = c.state.terminated;
        const said = t.message ? `: ${t.message.trim().split('\n').slice(-1)[0]?.slice(0, 300)}` : '';
        out.push({ reason: Reason.ContainerFailed, message: `pod ${name}: container ${c.name} exited with code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}${said}` });
      } else if (init && c.state?.running && c.name?.startsWith(WAIT_PREFIX)) {
        out.push({ reason: Reason.WaitingForDependency, message: `pod ${name}: waiting for the ${c.name.slice(WAIT_PREFIX.length)} (init container ${c.name})` });
      }
    }
  }
  return out;
}

/** What a claim shows when it isn't bound. */
export function diagnoseClaim(pvc: KObject): Diagnosis | undefined {
  const phase = (pvc.status as { phase?: string } | undefined)?.phase;
  if (phase === 'Bound') return undefined;
  const spec = pvc.spec as { storageClassName?: string } | undefined;
  const sc = spec?.storageClassName;
  const provisioner = pvc.metadata.annotations?.['volume.kubernetes.io/storage-provisioner'];
  const who = provisioner ? `waiting for provisioner ${provisioner}` : 'no provisioner has picked it up';
  return {
    reason: Reason.ClaimPending,
    message: `claim ${pvc.metadata.name} ${phase ?? 'Pending'} (storage class ${sc ? `"${sc}"` : 'default'}; ${who})`,
  };
}

/** Where the scheduler placed a claim's volume (local volumes stay on that node). */
export const SELECTED_NODE_ANNOTATION = 'volume.kubernetes.io/selected-node';

/**
 * A claim whose pod can't be scheduled because the node holding its volume
 * is cordoned (`node`: that Node, as read). Draining that node evicts the
 * pod, which then waits for the uncordon: no other node has the data.
 */
export function diagnoseCordoned(pvc: KObject, node: KObject | undefined): Diagnosis | undefined {
  const name = pvc.metadata.annotations?.[SELECTED_NODE_ANNOTATION];
  if (!name) return undefined;
  const claim = pvc.metadata.name;
  if (!node) return { reason: Reason.NodeCordoned, message: `claim ${claim}'s volume is on node ${name}, which is gone: the data can't move with the pod` };
  if (!(node.spec as { unschedulable?: boolean } | undefined)?.unschedulable) return undefined;
  return {
    reason: Reason.NodeCordoned,
    message: `claim ${claim}'s volume is on node ${name}, which is cordoned: the pod waits there until it is uncordoned (kubectl uncordon ${name})`,
  };
}

/** Diagnoses per component (the pods' and claims' component label). */
export function diagnose(pods: readonly KObject[], claims: readonly KObject[]): Partial<Record<Component | 'migration', Diagnosis[]>> {
  const out: Partial<Record<Component | 'migration', Diagnosis[]>> = {};
  const add = (obj: KObject, d: Diagnosis): void => {
    const c = obj.metadata.labels?.['app.kubernetes.io/component'] as Component | 'migration' | undefined;
    if (!c || (!(COMPONENTS as readonly string[]).includes(c) && c !== 'migration')) return;
    (out[c] ??= []).push(d);
  };
  for (const p of pods) if (!p.metadata.deletionTimestamp) for (const d of diagnosePod(p)) add(p, d);
  for (const c of claims) {
    const d = diagnoseClaim(c);
    if (d) add(c, d);
  }
  return out;
}

/** True when writing `next` would change what the resource says. */
export function statusChanged(prev: SecureVoteStatus | undefined, next: SecureVoteStatus): boolean {
  return canonicalJson(normalize(prev)) !== canonicalJson(normalize(next));
}

function normalize(s: SecureVoteStatus | undefined): unknown {
  if (!s) return {};
  // Condition order is not meaningful (a map keyed by type).
  const conditions = [...(s.conditions ?? [])].sort((a, b) => (a.type < b.type ? -1 : 1));
  return { ...s, conditions };
}

export interface Transition {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

/** The Events for the condition changes between two statuses. */
export function transitions(prev: SecureVoteStatus | undefined, next: SecureVoteStatus): Transition[] {
  const out: Transition[] = [];
  for (const c of next.conditions ?? []) {
    const old = prev?.conditions?.find((p) => p.type === c.type);
    if (old && old.status === c.status && old.reason === c.reason) continue;
    if (!old && c.status === 'False' && c.type !== 'Ready') continue; // nothing happened yet
    const bad = (c.type === 'Degraded' && c.status === 'True') || (c.type === 'Ready' && c.status === 'False' && old?.status === 'True');
    out.push({ type: bad ? 'Warning' : 'Normal', reason: c.reason, message: `${c.type}=${c.status}: ${c.message}` });
  }
  return out;
}
