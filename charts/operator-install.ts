/**
 * The operator's install manifests: the SecureVote CRD (from crds/), a
 * namespace, a ServiceAccount, a least-privilege ClusterRole and binding
 * (exactly the verbs and resources the operator's code uses, derived from
 * the kinds it owns), a Role for its Lease, and a hardened Deployment with
 * two replicas (leader election keeps one active).
 */
import { ApiObject, Chart, Include } from 'cdk8s';
import type { Construct } from 'constructs';
import { CREDENTIALS_KIND, MONITORING_KINDS, OWNED_KINDS, POD_KIND } from '../operator/owned-kinds.ts';
import { runbookUrl } from './alerts.ts';
import { IMAGE_TAG, SECUREVOTE_API } from './spec.ts';
import { SECUREVOTE_BACKUP_API } from './backup-spec.ts';
import { dataPriorityClass } from './priority.ts';

export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

/** Why each verb is there (the README's RBAC table is printed from this). */
export interface ExplainedRule extends PolicyRule {
  readonly why: string;
}

/**
 * Cluster-wide: the SecureVotes and their children in every namespace.
 * create+patch: server-side apply (an apply that creates needs create);
 * list+watch: the informers; delete: pruning what the spec dropped.
 */
export const CLUSTER_RULES: readonly ExplainedRule[] = [
  {
    apiGroups: [SECUREVOTE_API.group],
    resources: [SECUREVOTE_API.plural],
    verbs: ['list', 'watch'],
    why: 'informer on the resources; the reconcile reads them from its cache',
  },
  {
    apiGroups: [SECUREVOTE_API.group],
    resources: [`${SECUREVOTE_API.plural}/status`],
    verbs: ['patch'],
    why: 'server-side apply of the status subresource',
  },
  {
    apiGroups: [SECUREVOTE_API.group],
    resources: [`${SECUREVOTE_API.plural}/finalizers`, `${SECUREVOTE_BACKUP_API.plural}/finalizers`],
    verbs: ['update'],
    why: 'owner references with blockOwnerDeletion (OwnerReferencesPermissionEnforcement asks for it); no finalizer is ever set',
  },
  {
    apiGroups: [SECUREVOTE_BACKUP_API.group],
    resources: [SECUREVOTE_BACKUP_API.plural],
    verbs: ['list', 'watch', 'create', 'delete'],
    why: 'informer on the backups; scheduled ones created; retention deletes the oldest',
  },
  {
    apiGroups: [SECUREVOTE_BACKUP_API.group],
    resources: [`${SECUREVOTE_BACKUP_API.plural}/status`],
    verbs: ['patch'],
    why: "server-side apply of a backup's status (its result)",
  },
  ...groupKinds(OWNED_KINDS.filter((k) => !k.readOnly)).map((r) => ({
    ...r,
    verbs: ['list', 'watch', 'create', 'patch', 'delete'],
    why: 'informers (label-selected), server-side apply (create+patch), pruning (delete)',
  })),
  // No list or watch: RBAC can't narrow those to our label or to names made
  // per resource, so they would read every Secret in the cluster. A GET needs
  // the name (`<resource>-credentials`); patch moves only the owner
  // references (retainOnDelete); delete is never called, but changing an
  // object's owner references needs it (OwnerReferencesPermissionEnforcement).
  {
    apiGroups: [CREDENTIALS_KIND.group],
    resources: [CREDENTIALS_KIND.plural],
    verbs: ['get', 'create', 'patch', 'delete'],
    why: 'generated credentials, by name only: read, created once, owner moved with retainOnDelete (data never written again); collected with their owner',
  },
  ...groupKinds(MONITORING_KINDS).map((r) => ({
    ...r,
    verbs: ['get', 'create', 'patch', 'delete'],
    why: 'the PodMonitor and PrometheusRule of a monitored SecureVote, by name (no informer: the CRDs may be absent): read, server-side apply (create+patch), deleted when monitoring is turned off',
  })),
  ...groupKinds(OWNED_KINDS.filter((k) => k.readOnly)).map((r) => ({
    ...r,
    verbs: ['list', 'watch'],
    why: 'read only (label-selected informers): status says why the database is not ready; never written or pruned',
  })),
  {
    apiGroups: [POD_KIND.group],
    resources: [POD_KIND.plural],
    verbs: ['list'],
    why: "listed by an instance's labels (or a backup Job's) in its namespace, only while a component is not ready: status says why; never watched, cached or written",
  },
  {
    apiGroups: [''],
    resources: ['persistentvolumeclaims'],
    verbs: ['get', 'create'],
    why: 'the backup volume: created once when the spec names none (never owned, never deleted), and an existing one checked by name',
  },
  {
    apiGroups: [''],
    resources: ['nodes'],
    verbs: ['get'],
    why: "the node under a claim whose pod can't be scheduled, by name: status says when that node is cordoned",
  },
  {
    apiGroups: [''],
    resources: ['events'],
    verbs: ['create'],
    why: 'an Event on the resource per condition change',
  },
];

/** In the operator's namespace only: its Lease. */
export const LEASE_RULES: readonly ExplainedRule[] = [
  {
    apiGroups: ['coordination.k8s.io'],
    resources: ['leases'],
    verbs: ['get', 'create', 'update'],
    why: 'leader election: read, create once, renew/take over with a resourceVersion precondition',
  },
];

function groupKinds(kinds: readonly { group: string; plural: string }[]): PolicyRule[] {
  const byGroup = new Map<string, string[]>();
  for (const k of kinds) byGroup.set(k.group, [...(byGroup.get(k.group) ?? []), k.plural]);
  return [...byGroup].map(([g, resources]) => ({ apiGroups: [g], resources: resources.sort(), verbs: [] }));
}

const strip = (rules: readonly ExplainedRule[]): PolicyRule[] =>
  rules.map(({ apiGroups, resources, verbs }) => ({ apiGroups: [...apiGroups], resources: [...resources], verbs: [...verbs] }));

export interface OperatorInstallProps {
  /** Path of the CRD manifest. @default 'crds/securevote.yaml' */
  readonly crdPath?: string;
  /** @default OPERATOR_NAMESPACE */
  readonly namespace?: string;
  /** @default `securevote/operator:${IMAGE_TAG}` */
  readonly image?: string;
  /** @default 2 */
  readonly replicas?: number;
  /** Include the CRD. @default true */
  readonly includeCrd?: boolean;
}

export const OPERATOR_NAME = 'securevote-operator';

/**
 * The operator's process settings, inside its 256Mi limit (BENCHMARKS.md):
 * a 192 MB old space, and a 1 MB semi-space (young generation ~3 MB instead
 * of up to 48 MB: about 50 MB less RSS at 100 resources for about 20% more
 * CPU in scavenges); two glibc malloc arenas instead of up to 16 (V8's
 * background threads each filled one of their own: ~10 MB less at 100).
 * The install sets them, the image's ENV repeats them for a plain `docker
 * run`, the benchmark runs the operator with them.
 */
export const OPERATOR_ENV = {
  NODE_OPTIONS: '--max-old-space-size=192 --max-semi-space-size=1',
  MALLOC_ARENA_MAX: '2',
} as const;
export const OPERATOR_NAMESPACE = 'securevote-system';
export const HEALTH_PORT = 8081;

export class OperatorInstall extends Chart {
  constructor(scope: Construct, id: string, props: OperatorInstallProps = {}) {
    super(scope, id, { disableResourceNameHashes: true });
    const namespace = props.namespace ?? OPERATOR_NAMESPACE;
    const image = props.image ?? `securevote/operator:${IMAGE_TAG}`;
    const replicas = props.replicas ?? 2;
    if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`OperatorInstallProps.replicas must be an integer >= 1, got ${replicas}`);
    const labels = {
      'app.kubernetes.io/name': OPERATOR_NAME,
      'app.kubernetes.io/part-of': 'securevote',
      'app.kubernetes.io/component': 'operator',
      'app.kubernetes.io/version': IMAGE_TAG,
    };
    const selector = { 'app.kubernetes.io/name': OPERATOR_NAME, 'app.kubernetes.io/component': 'operator' };

    if (props.includeCrd ?? true) new Include(this, 'crd', { url: props.crdPath ?? 'crds/securevote.yaml' });
    // The class every instance's PostgreSQL and Redis pods name (charts/priority.ts).
    new ApiObject(this, 'data-priority', dataPriorityClass());

    new ApiObject(this, 'namespace', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: namespace,
        labels: {
          ...labels,
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        },
      },
    });
    new ApiObject(this, 'service-account', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: OPERATOR_NAME, namespace, labels },
    });
    new ApiObject(this, 'cluster-role', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: OPERATOR_NAME, labels },
      rules: strip(CLUSTER_RULES),
    });
    new ApiObject(this, 'cluster-role-binding', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: OPERATOR_NAME, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: OPERATOR_NAME },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace }],
    });
    new ApiObject(this, 'lease-role', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: `${OPERATOR_NAME}-leader-election`, namespace, labels },
      rules: strip(LEASE_RULES),
    });
    new ApiObject(this, 'lease-role-binding', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${OPERATOR_NAME}-leader-election`, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${OPERATOR_NAME}-leader-election` },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace }],
    });

    const probe = (path: string, period: number, failures: number) => ({
      httpGet: { path, port: 'health' },
      periodSeconds: period,
      timeoutSeconds: 3,
      failureThreshold: failures,
    });
    new ApiObject(this, 'deployment', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: OPERATOR_NAME, namespace, labels },
      spec: {
        replicas,
        selector: { matchLabels: selector },
        // Two replicas with a Lease: a rollout never leaves zero candidates.
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels: { ...labels, service: 'operator', env: 'production' } },
          spec: {
            serviceAccountName: OPERATOR_NAME,
            automountServiceAccountToken: true,
            // SIGTERM: finish the reconcile in flight, release the lease (main.ts gives itself 25 s).
            terminationGracePeriodSeconds: 30,
            securityContext: {
              runAsNonRoot: true,
              // The image's USER (images/operator/Dockerfile), outside the host's system range.
              runAsUser: 10001,
              runAsGroup: 10001,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } } },
                ],
              },
            },
            containers: [
              {
                name: 'operator',
                image,
                imagePullPolicy: 'IfNotPresent',
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                  { name: 'HEALTH_ADDR', value: `0.0.0.0:${HEALTH_PORT}` },
                  { name: 'LOG_LEVEL', value: 'info' },
                  ...Object.entries(OPERATOR_ENV).map(([name, value]) => ({ name, value })),
                ],
                ports: [{ name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' }],
                startupProbe: probe('/healthz', 2, 15),
                livenessProbe: probe('/healthz', 10, 3),
                readinessProbe: probe('/readyz', 5, 3),
                resources: {
                  // Ephemeral storage: its logs only (a kubelet keeps at most 5 × 10Mi by default); no volume.
                  requests: { cpu: '100m', memory: '128Mi', 'ephemeral-storage': '32Mi' },
                  limits: { cpu: '500m', memory: '256Mi', 'ephemeral-storage': '64Mi' },
                },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  privileged: false,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
          },
        },
      },
    });
    // Isolated: only the health/metrics port is reachable (kubelet probes,
    // Prometheus). Egress stays open: the API server's address is the
    // cluster's to know.
    new ApiObject(this, 'network-policy', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: OPERATOR_NAME, namespace, labels },
      spec: {
        podSelector: { matchLabels: selector },
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ protocol: 'TCP', port: HEALTH_PORT }] }],
      },
    });
    // What a ServiceMonitor needs to find the operator's /metrics (OperatorMonitoring).
    new ApiObject(this, 'metrics-service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `${OPERATOR_NAME}-metrics`, namespace, labels },
      spec: { selector, ports: [{ name: 'metrics', port: HEALTH_PORT, targetPort: 'health', protocol: 'TCP' }] },
    });
    if (replicas > 1) {
      new ApiObject(this, 'pdb', {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: OPERATOR_NAME, namespace, labels },
        spec: { minAvailable: 1, selector: { matchLabels: selector }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
      });
    }
  }
}

export interface OperatorMonitoringProps {
  /** @default OPERATOR_NAMESPACE */
  readonly namespace?: string;
  /** Labels for a Prometheus whose selectors ask for some (e.g. release: kube-prometheus-stack). @default none */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * The operator's own monitoring, for clusters that serve
 * monitoring.coreos.com/v1 (apart from OperatorInstall, which must apply
 * where they don't): a ServiceMonitor that keeps the metrics' own
 * `namespace` and `securevote` labels (honorLabels: the per-instance rules
 * select the operator's series of an instance by them), and an alert for the
 * operator itself being gone (without it, no instance's Degraded alert can fire).
 */
export class OperatorMonitoring extends Chart {
  constructor(scope: Construct, id: string, props: OperatorMonitoringProps = {}) {
    super(scope, id, { disableResourceNameHashes: true });
    const namespace = props.namespace ?? OPERATOR_NAMESPACE;
    const labels = {
      ...(props.labels ?? {}),
      'app.kubernetes.io/name': OPERATOR_NAME,
      'app.kubernetes.io/part-of': 'securevote',
      'app.kubernetes.io/component': 'operator',
      'app.kubernetes.io/version': IMAGE_TAG,
    };
    new ApiObject(this, 'service-monitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: OPERATOR_NAME, namespace, labels },
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/name': OPERATOR_NAME, 'app.kubernetes.io/component': 'operator' } },
        endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s', honorLabels: true }],
      },
    });
    new ApiObject(this, 'rule', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: OPERATOR_NAME, namespace, labels },
      spec: {
        groups: [
          {
            name: 'securevote-operator',
            rules: [
              {
                alert: 'SecureVoteOperatorDown',
                expr: `absent(up{namespace="${namespace}",service="${OPERATOR_NAME}-metrics"} == 1)`,
                for: '5m',
                labels: { severity: 'warning' },
                annotations: {
                  summary: 'The SecureVote operator is gone',
                  description: `No replica of ${namespace}/${OPERATOR_NAME} answers its metrics scrape: running instances keep serving votes, but no change, backup or repair happens.`,
                  runbook_url: runbookUrl('SecureVoteOperatorDown'),
                },
              },
            ],
          },
        ],
      },
    });
  }
}
