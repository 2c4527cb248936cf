// The kinds the operator owns: one list for the informers, pruning, the
// render check and the install chart's RBAC.

/**
 * The kinds the operator creates and owns. The informers watch them, RBAC
 * grants them, pruning looks at them; a test fails when the stack renders a
 * kind that isn't here.
 */
export const OWNED_KINDS = [
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', group: '' },
  { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', group: '' },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', group: '' },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', group: 'apps' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', group: 'apps' },
  { apiVersion: 'batch/v1', kind: 'Job', plural: 'jobs', group: 'batch' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies', group: 'networking.k8s.io' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', group: 'policy' },
] as const;

export function isOwnedKind(apiVersion: string, kind: string): boolean {
  return OWNED_KINDS.some((k) => k.apiVersion === apiVersion && k.kind === kind);
}
