// The install manifests (charts/operator-install.ts): least-privilege RBAC
// derived from the kinds the operator owns, a hardened two-replica
// Deployment. The RBAC is also exercised for real in process.test.ts (the
// operator runs with these rules and meets no Forbidden).
import { App } from 'cdk8s';
import pkg from '../../package.json' with { type: 'json' };
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLUSTER_RULES, LEASE_RULES, OPERATOR_ENV, OperatorInstall } from '../../charts/operator-install.ts';
import { CREDENTIALS_KIND, MONITORING_KINDS, OWNED_KINDS, POD_KIND } from '../../operator/owned-kinds.ts';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };
const synth = (): Obj[] => new OperatorInstall(new App(), 'install').toJson() as Obj[];
const find = (objs: Obj[], kind: string): Obj => objs.find((o) => o.kind === kind) as Obj;

describe('operator install manifests', () => {
  const objs = synth();

  it('holds the CRDs, the database and cache PriorityClass, a restricted namespace, the ServiceAccount, RBAC and the Deployment', () => {
    expect(objs.map((o) => o.kind)).toEqual([
      'CustomResourceDefinition',
      'CustomResourceDefinition',
      'PriorityClass',
      'Namespace',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'Deployment',
      'NetworkPolicy',
      'Service',
      'PodDisruptionBudget',
    ]);
    expect(objs.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name)).toEqual(['securevotes.securevote.dev', 'securevotebackups.securevote.dev']);
    expect(find(objs, 'Namespace').metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('RBAC: no wildcard, every owned kind with exactly the verbs the code uses, secrets never listed or watched', () => {
    const rules = (find(objs, 'ClusterRole').rules as Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>);
    for (const r of rules) {
      expect(r.verbs).not.toContain('*');
      expect(r.resources).not.toContain('*');
      expect(r.apiGroups).not.toContain('*');
    }
    const verbsOf = (group: string, resource: string): string[] =>
      rules.filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource)).flatMap((r) => r.verbs).sort();
    for (const k of OWNED_KINDS) {
      // Claims: also the backup volume, created once and never written again, and an existing one read by name.
      const extra = k.kind === 'PersistentVolumeClaim' ? ['create', 'get'] : [];
      expect(verbsOf(k.group, k.plural), k.kind).toEqual(k.readOnly ? [...extra, 'list', 'watch'] : ['create', 'delete', 'list', 'patch', 'watch']);
    }
    // Pods: listed on demand, never watched (not cached).
    expect(verbsOf(POD_KIND.group, POD_KIND.plural)).toEqual(['list']);
    // Secrets by name only: no list, no watch (they would read every Secret in the cluster).
    expect(verbsOf(CREDENTIALS_KIND.group, CREDENTIALS_KIND.plural)).toEqual(['create', 'delete', 'get', 'patch']);
    expect(verbsOf('securevote.dev', 'securevotes')).toEqual(['list', 'watch']);
    expect(verbsOf('securevote.dev', 'securevotes/status')).toEqual(['patch']);
    expect(verbsOf('securevote.dev', 'securevotes/finalizers')).toEqual(['update']);
    // Backups: scheduled ones created, old ones deleted by retention, never updated.
    expect(verbsOf('securevote.dev', 'securevotebackups')).toEqual(['create', 'delete', 'list', 'watch']);
    expect(verbsOf('securevote.dev', 'securevotebackups/status')).toEqual(['patch']);
    expect(verbsOf('securevote.dev', 'securevotebackups/finalizers')).toEqual(['update']);
    expect(verbsOf('', 'events')).toEqual(['create']);
    // Nodes: one read by name (the node under a claim whose pod waits), never listed.
    expect(verbsOf('', 'nodes')).toEqual(['get']);
    // The Prometheus Operator's kinds: by name (no informer: the CRDs may be absent).
    for (const k of MONITORING_KINDS) expect(verbsOf(k.group, k.plural), k.kind).toEqual(['create', 'delete', 'get', 'patch']);
    // Nothing else: pods and claims read-only (above), no leases cluster-wide, no update.
    const granted = rules.flatMap((r) => r.resources).sort();
    expect([...new Set(granted)].sort()).toEqual(
      [
        ...OWNED_KINDS.map((k) => k.plural),
        ...MONITORING_KINDS.map((k) => k.plural),
        CREDENTIALS_KIND.plural,
        POD_KIND.plural,
        'events',
        'nodes',
        'securevotes',
        'securevotes/finalizers',
        'securevotes/status',
        'securevotebackups',
        'securevotebackups/finalizers',
        'securevotebackups/status',
      ].sort(),
    );
    // update only on the finalizers subresources (blockOwnerDeletion), never on an object.
    expect(rules.filter((r) => r.verbs.includes('update'))).toEqual([
      { apiGroups: ['securevote.dev'], resources: ['securevotes/finalizers', 'securevotebackups/finalizers'], verbs: ['update'] },
    ]);
    // Leases only in the operator's namespace.
    const role = find(objs, 'Role');
    expect(role.metadata.namespace).toBe('securevote-system');
    expect(role.rules).toEqual([{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]);
    expect(CLUSTER_RULES.every((r) => r.why.length > 0) && LEASE_RULES.every((r) => r.why.length > 0)).toBe(true);
  });

  it('the Deployment: two replicas, the versioned image, hardened, probed, bounded', () => {
    const d = find(objs, 'Deployment') as Obj & { spec: any }; // any: reading nested manifest JSON
    expect(d.spec.replicas).toBe(2);
    const pod = d.spec.template.spec;
    expect(pod.serviceAccountName).toBe('securevote-operator');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const c = pod.containers[0];
    expect(c.image).toBe(`securevote/operator:${pkg.version}`);
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      privileged: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.resources.limits).toEqual({ cpu: '500m', memory: '256Mi', 'ephemeral-storage': '64Mi' });
    expect(c.resources.requests).toEqual({ cpu: '100m', memory: '128Mi', 'ephemeral-storage': '32Mi' });
    expect(pod.securityContext).toMatchObject({ runAsUser: 10001, runAsGroup: 10001 });
    expect(c.env.map((e: { name: string }) => e.name)).toEqual(expect.arrayContaining(['POD_NAME', 'POD_NAMESPACE']));
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(25);
  });

  it('the process settings are the same in the install and in the image', () => {
    const d = find(objs, 'Deployment') as Obj & { spec: any }; // any: reading nested manifest JSON
    const env = Object.fromEntries(d.spec.template.spec.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    const image = readFileSync(new URL('../../images/operator/Dockerfile', import.meta.url), 'utf8');
    for (const [name, value] of Object.entries(OPERATOR_ENV)) {
      expect(env[name], name).toBe(value);
      expect(image, `the image's ENV sets ${name}`).toMatch(new RegExp(`\\b${name}=(${value.replace(/[-]/g, '\\-')}|"${value}")(\\s|$)`, 'm'));
    }
  });

  it('refuses a nonsense replica count, naming the prop', () => {
    expect(() => new OperatorInstall(new App(), 'x', { replicas: 0 })).toThrow('OperatorInstallProps.replicas must be an integer >= 1, got 0');
  });
});
