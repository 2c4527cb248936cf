// The kinds the operator owns: one list for the informers, pruning, the
// render check and the install chart's RBAC.

/**
 * The kinds the operator renders and owns. The informers watch them
 * (label-selected, cluster-wide), RBAC grants them, pruning looks at them; a
 * test fails when the stack renders a kind that isn't here.
 */
export const OWNED_KINDS = [
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', group: '' },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', group: '' },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', group: 'apps' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', group: 'apps' },
  { apiVersion: 'batch/v1', kind: 'Job', plural: 'jobs', group: 'batch' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies', group: 'networking.k8s.io' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', group: 'policy' },
] as const;

/**
 * The generated credentials (operator/secret.ts) are not in OWNED_KINDS on
 * purpose: an informer on Secrets needs list+watch on every Secret of the
 * cluster (RBAC can't narrow by label, and resourceNames can't name a Secret
 * per resource), so they are read by name instead, and garbage collection
 * (their owner reference) removes them rather than pruning.
 */
export const CREDENTIALS_KIND = { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', group: '' } as const;

export function isOwnedKind(apiVersion: string, kind: string): boolean {
  return OWNED_KINDS.some((k) => k.apiVersion === apiVersion && k.kind === kind);
}
