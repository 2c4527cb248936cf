// The kinds the operator owns or watches: one list for the informers,
// pruning, the render check and the install chart's RBAC.
import { instanceSelector } from '../charts/labels.ts';

/**
 * The kinds the operator creates and owns, then one it only reads. The
 * informers watch them all (label-selected, cluster-wide), RBAC grants
 * them, pruning looks at the owned ones; a test fails when the stack renders
 * a kind that isn't here or is read-only.
 *
 * Read-only (`readOnly: true`): the database's persistent volume claims,
 * watched so that status can say why the database isn't ready (a claim no
 * provisioner binds, a volume on a cordoned node), found by their names
 * (`<template>-<set>-<ordinal>`) and selected by the claim template's own
 * labels (app.kubernetes.io/part-of and instance, there since the first
 * release). Never written, never pruned: RBAC grants list and watch only.
 * Pods are not cached: see POD_KIND.
 */
export const OWNED_KINDS = [
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', group: '', readOnly: false },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', group: '', readOnly: false },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', group: 'apps', readOnly: false },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', group: 'apps', readOnly: false },
  { apiVersion: 'batch/v1', kind: 'Job', plural: 'jobs', group: 'batch', readOnly: false },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies', group: 'networking.k8s.io', readOnly: false },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', group: 'policy', readOnly: false },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers', group: 'autoscaling', readOnly: false },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim', plural: 'persistentvolumeclaims', group: '', readOnly: true },
] as const;

/**
 * Pods: listed on demand, never watched or cached. A stack has ~8 pods
 * (and their ReplicaSets) for ~25 children of its own; cached, they cost
 * memory and a reconcile per pod event (BENCHMARKS.md: 8 MiB less heap at
 * 300 resources, a fifth less CPU at 100 without them), yet only a
 * component that is not ready needs them (status says why: unschedulable,
 * an image that can't be pulled, a crash loop, a refused restore). So a
 * reconcile that finds a workload short of ready, or the migration not
 * done, lists the instance's pods by its labels in its namespace (one
 * request); a settled instance reads none. The workloads' own status
 * changes wake the reconcile, and a stack not yet ready is requeued every
 * few seconds, so no pod event is needed. Also read: a backup Job's pod
 * (its result), a deleted namesake's pods still terminating (before new
 * credentials).
 */
export const POD_KIND = { apiVersion: 'v1', kind: 'Pod', plural: 'pods', group: '' } as const;

/**
 * The Prometheus Operator's kinds (charts/monitoring.ts): written only where
 * the cluster serves them (operator/monitoring.ts asks discovery), so no
 * informer watches them; read and deleted by name.
 */
export const MONITORING_KINDS = [
  { apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor', plural: 'podmonitors', group: 'monitoring.coreos.com' },
  { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', plural: 'prometheusrules', group: 'monitoring.coreos.com' },
] as const;

/** The kinds the operator writes and prunes. */
export const WRITABLE_KINDS = OWNED_KINDS.filter((k) => !k.readOnly);
/** The kinds it only lists and watches. */
export const READ_ONLY_KINDS = OWNED_KINDS.filter((k) => k.readOnly);

/**
 * The generated credentials (operator/secret.ts) are not in OWNED_KINDS on
 * purpose: an informer on Secrets needs list+watch on every Secret of the
 * cluster (RBAC can't narrow by label, and resourceNames can't name a Secret
 * per resource), so they are read by name instead, and garbage collection
 * (their owner reference) removes them rather than pruning.
 */
export const CREDENTIALS_KIND = { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', group: '' } as const;

/** A kind the operator may render, apply and prune (never a read-only one). */
export function isOwnedKind(apiVersion: string, kind: string): boolean {
  return WRITABLE_KINDS.some((k) => k.apiVersion === apiVersion && k.kind === kind) || isMonitoringKind(apiVersion, kind);
}

export function isMonitoringKind(apiVersion: string, kind: string): boolean {
  return MONITORING_KINDS.some((k) => k.apiVersion === apiVersion && k.kind === kind);
}

/**
 * How the read-only kinds (and pods) are selected: the stack's own labels,
 * which every pod and claim of an instance has carried since the first
 * release (charts/labels.ts instanceSelector).
 */
export const READ_ONLY_SELECTOR = 'app.kubernetes.io/part-of=securevote,app.kubernetes.io/instance';

/** One instance's pods and claims, by those labels, as a label selector. */
export function instanceLabelSelector(instance: string): string {
  return Object.entries(instanceSelector({ name: instance, version: '', managedBy: '' })).map(([k, v]) => `${k}=${v}`).join(',');
}

/** The instance a read-only object belongs to, by those labels. */
export function instanceOfReadOnly(labels: Record<string, string> | undefined): string | undefined {
  return labels?.['app.kubernetes.io/part-of'] === 'securevote' ? labels['app.kubernetes.io/instance'] : undefined;
}
