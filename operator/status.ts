// Status: computed from what the children report (read from the informers'
// cache), compared with the status already on the resource, and written
// through the status subresource only when it differs. Each condition change
// becomes an Event on the resource.
import { COMPONENTS, PORTS, PUBLIC_ENTRY, type Component } from '../charts/rules.ts';
import type { ComponentStatus, ConditionType, Phase, SecureVoteCondition, SecureVoteStatus } from '../charts/spec.ts';
import { HASH_ANNOTATION, canonicalJson } from './diff.ts';
import type { ErrorClass, ReconcileError } from './errors.ts';
import type { KObject } from './context.ts';

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

/** Everything the status is computed from. */
export interface Observation {
  readonly generation: number;
  /** Per component; missing = its workload isn't there (yet). */
  readonly components: Partial<Record<Component, WorkloadState>>;
  /** The migration Job: 'done', 'running', 'failed', or absent. */
  readonly migration?: 'done' | 'running' | 'failed';
  readonly url?: string;
  /** A permanent failure of this reconcile (Degraded). */
  readonly failure?: ReconcileError;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * A Deployment's or StatefulSet's state against what we want of it. The
 * desired replica count comes from our desired object, not the live one: a
 * cache that hasn't seen our latest write must not make an old "1/1" look
 * like the new "2 wanted". Unknown shapes count as not ready.
 */
export function workloadState(live: KObject | undefined, desired?: KObject): WorkloadState | undefined {
  if (!live) return undefined;
  const spec = ((desired ?? live).spec ?? {}) as { replicas?: unknown };
  const st = (live.status ?? {}) as Record<string, unknown>;
  const want = spec.replicas === undefined ? 1 : num(spec.replicas);
  const ready = num(st.readyReplicas);
  const ours = !desired || live.metadata.annotations?.[HASH_ANNOTATION] === desired.metadata.annotations?.[HASH_ANNOTATION];
  const seen = num(st.observedGeneration) >= num(live.metadata.generation);
  let rolledOut = ours && seen && num(st.updatedReplicas) >= want && ready >= want && num(st.replicas) <= want;
  if (live.kind === 'StatefulSet' && st.updateRevision !== undefined && st.currentRevision !== st.updateRevision) rolledOut = false;
  return { ready, desired: want, rolledOut };
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

/** The status for an observation, keeping transition times from `prev`. */
export function computeStatus(prev: SecureVoteStatus | undefined, obs: Observation, now: Date): SecureVoteStatus {
  const components: Record<string, ComponentStatus> = {};
  const notReady: string[] = [];
  const rolling: string[] = [];
  for (const c of COMPONENTS) {
    const w = obs.components[c];
    components[c] = { ready: w?.ready ?? 0, desired: w?.desired ?? 0 };
    if (!w || w.ready < w.desired || w.desired === 0) notReady.push(`${c} ${w?.ready ?? 0}/${w?.desired ?? '?'}`);
    if (!w || !w.rolledOut) rolling.push(c);
  }
  const allReady = notReady.length === 0;
  const migrating = obs.migration === 'running' || obs.migration === undefined;
  const failed = obs.failure?.permanent ? obs.failure : undefined;
  const migrationFailed = obs.migration === 'failed';
  const prevC = prev?.conditions;
  const g = obs.generation;

  const degraded = failed
    ? condition(prevC, 'Degraded', 'True', FAILURE_REASON[failed.errorClass] ?? Reason.ReconcileFailed, failed.detail, g, now)
    : migrationFailed
      ? condition(prevC, 'Degraded', 'True', Reason.MigrationFailed, 'the schema migration Job failed (backoffLimit reached)', g, now)
      : condition(prevC, 'Degraded', 'False', Reason.AsExpected, 'the last reconcile applied the spec', g, now);

  const ready =
    allReady && !failed
      ? condition(prevC, 'Ready', 'True', Reason.AllComponentsReady, 'every component has its pods ready', g, now)
      : failed
        ? condition(prevC, 'Ready', 'False', Reason.ReconcileFailed, 'the spec could not be applied (see Degraded)', g, now)
        : condition(prevC, 'Ready', 'False', Reason.ComponentsNotReady, `not ready: ${notReady.join(', ')}`, g, now);

  const progressing =
    !failed && (rolling.length > 0 || migrating)
      ? condition(
          prevC,
          'Progressing',
          'True',
          Reason.RollingOut,
          rolling.length > 0 ? `rolling out: ${rolling.join(', ')}` : 'waiting for the schema migration',
          g,
          now,
        )
      : condition(prevC, 'Progressing', 'False', failed ? Reason.ReconcileFailed : Reason.RolloutComplete, failed ? 'stopped: see Degraded' : 'every component runs the current spec', g, now);

  const anyWorkload = Object.keys(obs.components).length > 0;
  const phase: Phase =
    degraded.status === 'True' ? 'Degraded' : allReady ? 'Ready' : anyWorkload ? 'Progressing' : 'Pending';

  const status: SecureVoteStatus = {
    observedGeneration: g,
    phase,
    conditions: [ready, progressing, degraded],
    components: components as SecureVoteStatus['components'],
  };
  if (obs.url) status.url = obs.url;
  return status;
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
