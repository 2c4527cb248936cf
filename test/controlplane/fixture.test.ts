// The control-plane fixture's own tests: a real etcd + kube-apiserver, judged
// through kubectl and client-node, and nothing left behind after stop().
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { type ControlPlane, isListening, pidAlive, startControlPlane } from '../fixtures/controlplane.ts';

const WIDGET_CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.fixture.securevote.dev }
spec:
  group: fixture.securevote.dev
  names: { kind: Widget, plural: widgets, singular: widget, listKind: WidgetList }
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size: { type: integer, minimum: 1, maximum: 10 }
`;

/** The HTTP status of a client-node error (ApiException carries `code`). */
function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? Number((err as { code: unknown }).code) : undefined;
}

describe('control-plane fixture (etcd + kube-apiserver)', () => {
  let cp: ControlPlane;

  beforeAll(async () => {
    cp = await startControlPlane();
    console.log(`control plane up: ${JSON.stringify(cp.timings)} ms`);
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('serves the pinned release over TLS with an admin kubeconfig', async () => {
    const { stdout } = await cp.kubectl(['version', '-o', 'json']);
    const v = JSON.parse(stdout) as { serverVersion: { gitVersion: string }; clientVersion: { gitVersion: string } };
    expect(v.serverVersion.gitVersion).toMatch(/^v1\.33\.\d+$/);
    expect(v.clientVersion.gitVersion).toBe(v.serverVersion.gitVersion);
    expect(cp.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('creates a namespace', async () => {
    await cp.kubectl(['create', 'namespace', 'fixture-ns']);
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const ns = await core.readNamespace({ name: 'fixture-ns' });
    expect(ns.status?.phase).toBe('Active');
  });

  it('applies a CRD that becomes Established, and validates its objects by schema', async () => {
    await cp.kubectl(['apply', '--server-side', '-f', '-'], { input: WIDGET_CRD });
    await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/widgets.fixture.securevote.dev']);
    await cp.kubectl(['apply', '-n', 'fixture-ns', '-f', '-'], {
      input: 'apiVersion: fixture.securevote.dev/v1\nkind: Widget\nmetadata: { name: ok }\nspec: { size: 3 }\n',
    });
    const bad = await cp.kubectl(['apply', '-n', 'fixture-ns', '-f', '-'], {
      check: false,
      input: 'apiVersion: fixture.securevote.dev/v1\nkind: Widget\nmetadata: { name: bad }\nspec: { size: 11 }\n',
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('spec.size');
  });

  it('reports a server-side apply conflict between two field managers, and lets the second force it', async () => {
    const cm = (value: string): string =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: shared, namespace: fixture-ns }\ndata: { owner: "${value}" }\n`;
    await cp.kubectl(['apply', '--server-side', '--field-manager=alice', '-f', '-'], { input: cm('alice') });
    const conflict = await cp.kubectl(['apply', '--server-side', '--field-manager=bob', '-f', '-'], { input: cm('bob'), check: false });
    expect(conflict.code).not.toBe(0);
    expect(conflict.stderr).toMatch(/conflict/i);
    expect(conflict.stderr).toContain('alice');
    expect(conflict.stderr).toContain('.data.owner');

    await cp.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=bob', '-f', '-'], { input: cm('bob') });
    const { stdout } = await cp.kubectl(['get', 'configmap', 'shared', '-n', 'fixture-ns', '-o', 'json', '--show-managed-fields']);
    const obj = JSON.parse(stdout) as { data: { owner: string }; metadata: { managedFields: { manager: string; operation: string }[] } };
    expect(obj.data.owner).toBe('bob');
    expect(obj.metadata.managedFields.filter((f) => f.operation === 'Apply').map((f) => f.manager)).toEqual(['bob']);
  });

  it('acts as a ServiceAccount with exactly its RBAC (TokenRequest), refused everything else', async () => {
    await cp.kubectl(['apply', '-f', '-'], {
      input: `
apiVersion: v1
kind: ServiceAccount
metadata: { name: reader, namespace: fixture-ns }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: configmap-reader, namespace: fixture-ns }
rules:
  - { apiGroups: [""], resources: [configmaps], verbs: [get, list] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: reader, namespace: fixture-ns }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: configmap-reader }
subjects:
  - { kind: ServiceAccount, name: reader, namespace: fixture-ns }
`,
    });
    const kc: KubeConfig = await cp.serviceAccountKubeConfig('fixture-ns', 'reader');
    const core = kc.makeApiClient(CoreV1Api);

    const list = await core.listNamespacedConfigMap({ namespace: 'fixture-ns' });
    expect(list.items.map((c) => c.metadata?.name)).toContain('shared');

    const denied = async (call: () => Promise<unknown>): Promise<number | undefined> =>
      call().then(() => 200, (err: unknown) => statusOf(err));
    expect(await denied(() => core.createNamespacedConfigMap({ namespace: 'fixture-ns', body: { metadata: { name: 'nope' } } }))).toBe(403);
    expect(await denied(() => core.listNamespacedSecret({ namespace: 'fixture-ns' }))).toBe(403);
    expect(await denied(() => core.listNamespacedConfigMap({ namespace: 'default' }))).toBe(403);

    const who = await cp.kubectl(['auth', 'can-i', 'delete', 'configmaps', '-n', 'fixture-ns', '--as=system:serviceaccount:fixture-ns:reader'], { check: false });
    expect(who.stdout.trim()).toBe('no');
  });

  it('enforces Pod Security admission on a namespace labelled restricted', async () => {
    await cp.kubectl(['create', 'namespace', 'fixture-restricted']);
    await cp.kubectl(['label', 'namespace', 'fixture-restricted', 'pod-security.kubernetes.io/enforce=restricted']);
    // No controller manager here: create the ServiceAccount it would, so admission reaches PodSecurity.
    await cp.kubectl(['create', 'serviceaccount', 'default', '-n', 'fixture-restricted']);
    const res = await cp.kubectl(['run', 'root', '-n', 'fixture-restricted', '--image=busybox', '--dry-run=server', '--restart=Never'], { check: false });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('violates PodSecurity "restricted:latest"');
  });

  it('stops every process by its pid and leaves nothing behind (no process, no port, no directory)', async () => {
    const pids = Object.values(cp.pids);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    expect(pids.every(pidAlive)).toBe(true);
    expect(existsSync(cp.dir)).toBe(true);

    await cp.stop();

    expect(pids.filter(pidAlive)).toEqual([]);
    const listening = await Promise.all(cp.ports.map(isListening));
    expect(cp.ports.filter((_, i) => listening[i])).toEqual([]);
    expect(existsSync(cp.dir)).toBe(false);
  });
});
