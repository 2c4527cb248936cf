// A real monitoring stack on a kind cluster, nothing pulled: the Prometheus
// Operator (its CRDs and RBAC from its own Go module's example/, its
// Deployment with this project's images), and a Prometheus in the namespace
// `monitoring` that selects every PodMonitor, ServiceMonitor and
// PrometheusRule of the cluster, scrapes every 5 s, evaluates every 5 s, and
// reads the kubelet's cAdvisor (CPU and memory of each container). Images:
// `scripts/docker-images.sh monitoring` (built here from their modules).
// Prometheus's API is read through the API server's service proxy. The
// scenarios' cluster gets it at its start (cluster.setup.ts): a monitored
// cluster, as a production one is; the monitoring scenario turns the
// SecureVote's monitoring on.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { REPO } from '../fixtures/docker-engine.ts';

const run = promisify(execFile);
export const MONITORING_NAMESPACE = 'monitoring';
const PROMETHEUS = 'k8s';

type Kubectl = (args: string[], opts?: { timeoutMs?: number; input?: string }) => Promise<string>;
type Obj = { kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };

export interface MonitoringImages { prometheus: string; operator: string; reloader: string }

/** The images, built when missing; their names, as docker-images.sh tags them. */
export async function monitoringImages(): Promise<MonitoringImages> {
  const out = await run(join(REPO, 'scripts/docker-images.sh'), ['monitoring'], { cwd: REPO, timeout: 1_800_000, maxBuffer: 16 * 1024 * 1024 });
  const tag = (name: string): string => {
    const m = new RegExp(`(securevote/${name}:[0-9][^ ]*)`).exec(out.stderr);
    if (!m) throw new Error(`docker-images.sh monitoring built no ${name}:\n${out.stderr}`);
    return m[1]!;
  };
  return { prometheus: tag('prometheus'), operator: tag('prometheus-operator'), reloader: tag('prometheus-config-reloader') };
}

function yamlObjects(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Obj).filter((o) => o !== null);
}

/**
 * Installs the stack (idempotent), waiting for nothing but its CRDs: the
 * Prometheus Operator starts, then makes the Prometheus, in their own time
 * (waitPrometheus waits for it to answer).
 */
export async function installMonitoring(kubectl: Kubectl, images: MonitoringImages): Promise<void> {
  const source = (await run(join(REPO, 'scripts/controlplane-build.sh'), ['--source', 'prometheus-operator'])).stdout.trim();
  await kubectl(['apply', '--server-side', '-f', join(source, 'example/prometheus-operator-crd')], { timeoutMs: 180_000 });
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/prometheuses.monitoring.coreos.com', 'crd/podmonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com']);
  await kubectl(['create', 'namespace', MONITORING_NAMESPACE]).catch((err: { stderr?: string }) => {
    if (!/AlreadyExists/.test(err.stderr ?? '')) throw err;
  });

  const rbac = join(source, 'example/rbac/prometheus-operator');
  const objects: Obj[] = [];
  for (const f of readdirSync(rbac).filter((n) => n.endsWith('.yaml') && !n.includes('service-monitor')).sort()) {
    for (const o of yamlObjects(join(rbac, f))) {
      if (o.metadata.namespace !== undefined) o.metadata.namespace = MONITORING_NAMESPACE;
      for (const s of (o['subjects'] ?? []) as { namespace?: string }[]) s.namespace = MONITORING_NAMESPACE;
      if (o.kind === 'Deployment') {
        const c = (o['spec'] as { template: { spec: { containers: { image: string; args: string[]; imagePullPolicy?: string }[] } } }).template.spec.containers[0]!;
        c.image = images.operator;
        c.imagePullPolicy = 'IfNotPresent';
        c.args = c.args.map((a) => (a.startsWith('--prometheus-config-reloader=') ? `--prometheus-config-reloader=${images.reloader}` : a));
      }
      objects.push(o);
    }
  }
  const prometheusRbac = join(source, 'example/rbac/prometheus');
  for (const f of ['prometheus-service-account.yaml', 'prometheus-cluster-role.yaml', 'prometheus-cluster-role-binding.yaml']) {
    for (const o of yamlObjects(join(prometheusRbac, f))) {
      if (o.kind !== 'ClusterRole' && o.kind !== 'ClusterRoleBinding') o.metadata.namespace = MONITORING_NAMESPACE;
      for (const s of (o['subjects'] ?? []) as { namespace?: string }[]) s.namespace = MONITORING_NAMESPACE;
      objects.push(o);
    }
  }
  await kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });

  const version = /:v?([0-9][^:]*)$/.exec(images.prometheus)?.[1] ?? '';
  const prometheus = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'Prometheus',
    metadata: { name: PROMETHEUS, namespace: MONITORING_NAMESPACE },
    spec: {
      image: images.prometheus,
      version: `v${version}`,
      replicas: 1,
      serviceAccountName: 'prometheus',
      scrapeInterval: '5s',
      evaluationInterval: '5s',
      podMonitorSelector: {},
      podMonitorNamespaceSelector: {},
      serviceMonitorSelector: {},
      serviceMonitorNamespaceSelector: {},
      ruleSelector: {},
      ruleNamespaceSelector: {},
      resources: { requests: { cpu: '100m', memory: '200Mi' }, limits: { cpu: '500m', memory: '600Mi' } },
      securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
    },
  };
  // The kubelet's cAdvisor, as kube-prometheus reads it (the operator keeps the kubelet Service's endpoints).
  const kubelet = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { name: 'kubelet-cadvisor', namespace: MONITORING_NAMESPACE },
    spec: {
      namespaceSelector: { matchNames: ['kube-system'] },
      selector: { matchLabels: { 'app.kubernetes.io/name': 'kubelet' } },
      endpoints: [
        {
          port: 'https-metrics',
          scheme: 'https',
          path: '/metrics/cadvisor',
          honorLabels: true,
          honorTimestamps: false,
          bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
          tlsConfig: { insecureSkipVerify: true },
        },
      ],
    },
  };
  await kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [prometheus, kubelet] }) });
}

/** Waits until the Prometheus installMonitoring asked for answers a query. */
export async function waitPrometheus(kubectl: Kubectl): Promise<void> {
  const until = Date.now() + 300_000;
  for (;;) {
    const ok = await query(kubectl, 'vector(1)').then(() => true, () => false);
    if (ok) return;
    if (Date.now() > until) throw new Error(`Prometheus did not answer within 300 s:\n${await kubectl(['-n', MONITORING_NAMESPACE, 'get', 'pods', '-o', 'wide']).catch(() => '')}`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

const API = `/api/v1/namespaces/${MONITORING_NAMESPACE}/services/prometheus-operated:9090/proxy/api/v1`;

export interface Series {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query; the result vector. */
export async function query(kubectl: Kubectl, promql: string): Promise<Series[]> {
  const out = await kubectl(['get', '--raw', `${API}/query?query=${encodeURIComponent(promql)}`]);
  const r = JSON.parse(out) as { status: string; data: { resultType: string; result: Series[] } };
  if (r.status !== 'success') throw new Error(`query ${promql}: ${out}`);
  return r.data.result;
}

export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
}

export async function alerts(kubectl: Kubectl): Promise<Alert[]> {
  const r = JSON.parse(await kubectl(['get', '--raw', `${API}/alerts`])) as { data: { alerts: Alert[] } };
  return r.data.alerts;
}

export interface Target {
  labels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  scrapePool: string;
}

export async function targets(kubectl: Kubectl): Promise<Target[]> {
  const r = JSON.parse(await kubectl(['get', '--raw', `${API}/targets?state=active`])) as { data: { activeTargets: Target[] } };
  return r.data.activeTargets;
}

/** Waits until `pred` holds of the alerts (polling every second); returns when and what it saw. */
export async function waitAlerts(kubectl: Kubectl, what: string, pred: (a: Alert[]) => boolean, timeoutMs: number): Promise<{ at: number; alerts: Alert[] }> {
  const until = Date.now() + timeoutMs;
  let last: Alert[] = [];
  while (Date.now() < until) {
    last = await alerts(kubectl).catch(() => last);
    if (pred(last)) return { at: Date.now(), alerts: last };
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms; alerts: ${JSON.stringify(last.map((a) => [a.labels['alertname'], a.state, a.labels['component']]))}`);
}
