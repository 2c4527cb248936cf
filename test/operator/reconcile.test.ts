// The reconcile on a real control plane (kube-apiserver, controller manager
// with garbage collection, scheduler, kwok nodes whose pods are simulated):
// create, Ready, steady state without writes, update, drift, refusal,
// invalid resources, deletion. The operator runs as a child process behind a
// counting proxy, so every request it sends is seen.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../fixtures/controlplane.ts';
import type { KObject } from '../../operator/context.ts';
import { INSTANCE_LABEL, WRITABLE_KINDS } from '../../operator/desired.ts';
import { CREDENTIALS_KIND } from '../../operator/owned-kinds.ts';
import { Api, condition, createNamespace, createVolumes, installCrd, SV_API, sampleYaml, svYaml, waitReady } from './cluster.ts';
import { type CountingProxy, type OperatorProcess, startCountingProxy, startOperator, waitFor } from './helpers.ts';

let cp: ControlPlane;
let dir: string;
let proxy: CountingProxy;
let op: OperatorProcess;
let api: Api;
const NS = 'reconcile';

const children = async (name: string): Promise<KObject[]> => {
  const out: KObject[] = [];
  for (const k of [...WRITABLE_KINDS, CREDENTIALS_KIND]) out.push(...(await api.list(k.apiVersion, k.kind, NS, `${INSTANCE_LABEL}=${name}`)));
  return out;
};

const reconciles = async (): Promise<number> => {
  const text = await op.metrics();
  let n = 0;
  for (const m of text.matchAll(/^securevote_operator_reconciles_total\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sv-op-reconcile-'));
  cp = await startControlPlane({ controllers: true, scheduler: true, kwokNodes: 2 });
  await installCrd(cp);
  await createVolumes(cp, 8);
  await createNamespace(cp, NS);
  api = new Api(cp);
  proxy = await startCountingProxy(cp.kubeConfig, dir);
  // A short resync: many reconciles in the steady-state window.
  op = await startOperator({ kubeconfigPath: proxy.kubeconfigPath, dir, name: 'op-reconcile', env: { LEADER_ELECT: 'false', RESYNC_SECONDS: '1' } });
});

afterAll(async () => {
  await op?.stop();
  await proxy?.close();
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('create', () => {
  it('creates every child with owner references, the credentials once, and becomes Ready on kwok nodes', async () => {
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: sampleYaml() });
    const sv = await waitReady(api, NS, 'securevote');
    const uid = sv.metadata.uid;
    // Ready says every component's pods are; the migration Job is created once
    // the database's rollout is complete, which can be a reconcile later, and
    // Progressing ends once that Job is complete too (kwok completes Job pods).
    await waitFor('Progressing=False', async () => condition(await api.sv(NS, 'securevote'), 'Progressing')?.status === 'False');
    const kids = await children('securevote');
    const kinds = new Set(kids.map((k) => k.kind));
    for (const k of ['ConfigMap', 'Service', 'Deployment', 'StatefulSet', 'Job', 'NetworkPolicy', 'Secret']) expect(kinds, k).toContain(k);
    for (const k of kids) {
      if (k.kind === 'Secret') continue; // kept on delete with the volume: no owner (see below)
      expect(k.metadata.ownerReferences, `${k.kind}/${k.metadata.name}`).toEqual([
        { apiVersion: SV_API, kind: 'SecureVote', name: 'securevote', uid, controller: true, blockOwnerDeletion: true },
      ]);
    }
    // Every NetworkPolicy rule kept its peers (`from`): nothing open to all.
    for (const np of kids.filter((k) => k.kind === 'NetworkPolicy')) {
      for (const rule of ((np.spec as { ingress?: Array<{ from?: unknown[] }> }).ingress ?? [])) {
        if (np.metadata.name !== 'securevote-allow-proxy') expect(rule.from, np.metadata.name).toBeDefined();
      }
    }
    const secret = kids.find((k) => k.kind === 'Secret');
    expect(secret?.metadata.name).toBe('securevote-credentials');
    expect(Object.keys((secret?.data as Record<string, string>) ?? {}).sort()).toEqual(['cookie-secret', 'database-password', 'random', 'redis-password']);
    expect(sv.status).toMatchObject({ phase: 'Ready', observedGeneration: 1, url: `http://securevote-proxy.${NS}.svc:8080` });
    expect((sv.status as { components: object }).components).toMatchObject({ backend: { ready: 1, desired: 1 }, database: { ready: 1, desired: 1 } });
    expect(condition(sv, 'Degraded')?.status).toBe('False');
    // An Event for the transition to Ready.
    const events = await api.list('v1', 'Event', NS);
    expect(events.map((e) => e.reason)).toContain('AllComponentsReady');
    // No secret value in any log line.
    const data = secret?.data as Record<string, string>;
    for (const v of Object.values(data)) {
      expect(op.logs()).not.toContain(v);
      expect(op.logs()).not.toContain(Buffer.from(v, 'base64').toString());
    }
  });

  it('writes children with server-side apply: the apply patch type, its field manager, force', () => {
    const patches = proxy.requests.filter((r) => r.method === 'PATCH' && !r.path.endsWith('/status'));
    expect(patches.length).toBeGreaterThan(0);
    for (const p of patches) {
      expect(p.contentType).toBe('application/apply-patch+yaml');
      expect(p.query.get('fieldManager')).toBe('securevote-operator');
      expect(p.query.get('force')).toBe('true');
    }
    const status = proxy.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/status'));
    expect(status.length).toBeGreaterThan(0);
    for (const s of status) expect(s.contentType).toBe('application/apply-patch+yaml');
    // The credentials: one POST, never a PATCH or PUT.
    const secretWrites = proxy.requests.filter((r) => r.path.includes('/secrets') && r.method !== 'GET');
    expect(secretWrites.map((r) => r.method)).toEqual(['POST']);
    // Read by name only: no list or watch of Secrets, anywhere.
    const secretReads = proxy.requests.filter((r) => r.path.includes('/secrets') && r.method === 'GET');
    expect(secretReads.length).toBeGreaterThan(0);
    for (const r of secretReads) expect(r.path).toMatch(/\/namespaces\/[^/]+\/secrets\/[^/]+$/);
  });
});

describe('steady state', () => {
  it('reconciles again and again without sending a single write', async () => {
    await waitReady(api, NS, 'securevote');
    // Let the last status write and the children's own updates settle.
    await new Promise((r) => setTimeout(r, 3000));
    const from = proxy.requests.length;
    const before = await reconciles();
    await new Promise((r) => setTimeout(r, 6000));
    const after = await reconciles();
    expect(after - before).toBeGreaterThanOrEqual(3); // the resync really ran
    expect(proxy.writes(from)).toEqual([]);
  });
});

describe('update', () => {
  it('replicas, resources and options change the children and bump observedGeneration', async () => {
    const spec = {
      backend: { replicas: 2, resources: { limits: { memory: '768Mi' } } },
      options: [
        { id: 'tea', label: 'Tea' },
        { id: 'coffee', label: 'Coffee' },
      ],
    };
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('securevote', spec) });
    await waitReady(api, NS, 'securevote', 2);
    // Ready holds during the rolling update (old pods serve); the rollout ends with Progressing=False.
    const sv = await waitFor('rollout of generation 2 complete', async () => {
      const s = await api.sv(NS, 'securevote');
      const p = condition(s, 'Progressing');
      return p?.status === 'False' && p.observedGeneration === 2 ? s : undefined;
    });
    expect(sv.status).toMatchObject({ observedGeneration: 2 });
    expect((sv.status as { components: object }).components).toMatchObject({ backend: { ready: 2, desired: 2 } });
    const dep = (await api.get('apps/v1', 'Deployment', NS, 'securevote-backend')) as KObject & { spec: any }; // any: nested manifest JSON
    expect(dep.spec.replicas).toBe(2);
    expect(dep.spec.template.spec.containers[0].resources.limits.memory).toBe('768Mi');
    expect(JSON.stringify(dep.spec.template.spec.containers[0].env)).toContain('coffee');
    // Two backend replicas: the chart adds a PodDisruptionBudget.
    expect(await api.get('policy/v1', 'PodDisruptionBudget', NS, 'securevote-backend')).toBeDefined();
  });

  it('a dropped child is pruned: back to one backend replica removes its PodDisruptionBudget', async () => {
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('securevote', {}) });
    await waitReady(api, NS, 'securevote', 3);
    await waitFor('the backend PDB pruned', async () => (await api.get('policy/v1', 'PodDisruptionBudget', NS, 'securevote-backend')) === undefined);
  });
});

describe('drift', () => {
  it('a child edited by hand is put back', async () => {
    await cp.kubectl(['-n', NS, 'scale', 'deployment/securevote-frontend', '--replicas=4']);
    await waitFor('frontend replicas back to 1', async () => {
      const d = (await api.get('apps/v1', 'Deployment', NS, 'securevote-frontend')) as KObject & { spec: { replicas: number } };
      return d.spec.replicas === 1;
    });
    await cp.kubectl(['-n', NS, 'patch', 'configmap/securevote-proxy-config', '--type=merge', '-p', '{"data":{"nginx.conf":"# hacked"}}']);
    await waitFor('proxy config restored', async () => {
      const c = await api.get('v1', 'ConfigMap', NS, 'securevote-proxy-config');
      return !JSON.stringify(c?.data).includes('# hacked');
    });
  });

  it('a child deleted by hand comes back', async () => {
    const before = await api.get('v1', 'Service', NS, 'securevote-backend');
    await cp.kubectl(['-n', NS, 'delete', 'service/securevote-backend', 'networkpolicy/securevote-allow-backend']);
    await waitFor('service and policy back', async () => {
      const s = await api.get('v1', 'Service', NS, 'securevote-backend');
      const p = await api.get('networking.k8s.io/v1', 'NetworkPolicy', NS, 'securevote-allow-backend');
      return s && p && s.metadata.uid !== before?.metadata.uid;
    });
  });
});

describe('autoscaling', () => {
  type Dep = KObject & { spec: { replicas?: number } };
  const frontend = async (): Promise<Dep> => (await api.get('apps/v1', 'Deployment', NS, 'securevote-frontend')) as Dep;
  const applySpec = async (spec: object): Promise<number> => {
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('securevote', spec) });
    return (await api.sv(NS, 'securevote'))?.metadata.generation ?? 0;
  };

  it("an autoscaled frontend's replicas are its autoscaler's: the operator never writes them back, and status follows them", async () => {
    const generation = await applySpec({ frontend: { replicas: 2, autoscaling: { minReplicas: 1, maxReplicas: 4 } } });
    await waitReady(api, NS, 'securevote', generation);
    const hpa = (await api.get('autoscaling/v2', 'HorizontalPodAutoscaler', NS, 'securevote-frontend')) as KObject & { spec: { minReplicas: number; maxReplicas: number; scaleTargetRef: { name: string } } };
    expect(hpa.spec).toMatchObject({ minReplicas: 1, maxReplicas: 4, scaleTargetRef: { name: 'securevote-frontend' } });
    expect(hpa.metadata.ownerReferences?.[0]?.kind).toBe('SecureVote');
    // spec.frontend.replicas (2) is not applied while autoscaled.
    expect((await frontend()).spec.replicas).toBe(1);
    // What the autoscaler does when the load rises (this control plane has no metrics API to make it).
    await cp.kubectl(['-n', NS, 'scale', 'deployment/securevote-frontend', '--replicas=3']);
    const before = await reconciles();
    await waitFor('several reconciles after the scale', async () => (await reconciles()) >= before + 5);
    expect((await frontend()).spec.replicas).toBe(3);
    await waitFor('status wants the 3 pods', async () => {
      const c = ((await api.sv(NS, 'securevote'))?.status as { components?: { frontend?: { desired?: number } } }).components;
      return c?.frontend?.desired === 3;
    });
  });

  it('autoscaling off: the spec owns the replicas again and the autoscaler is pruned', async () => {
    const generation = await applySpec({});
    await waitReady(api, NS, 'securevote', generation);
    await waitFor('frontend back to 1 replica', async () => (await frontend()).spec.replicas === 1);
    await waitFor('autoscaler pruned', async () => (await api.get('autoscaling/v2', 'HorizontalPodAutoscaler', NS, 'securevote-frontend')) === undefined);
  });
});

describe('refusals', () => {
  it('invalid resources are refused by the API server, with messages that name the field', async () => {
    const bad: Array<[object, RegExp]> = [
      [{ backend: { replicas: 11 } }, /spec\.backend\.replicas/],
      [{ logLevel: 'loud' }, /spec\.logLevel/],
      [{ proxy: { serviceType: 'Ingress' } }, /spec\.proxy\.serviceType/],
      [{ options: [] }, /spec\.options/],
    ];
    for (const [spec, field] of bad) {
      const r = await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('bad', spec), check: false });
      expect(r.code, JSON.stringify(spec)).not.toBe(0);
      expect(r.stderr).toMatch(field);
    }
    expect(await api.sv(NS, 'bad')).toBeUndefined();
  });

  it('an apply the API server refuses shows up as Degraded with its message, and clears when fixed', async () => {
    // A real refusal by the API server: a ValidatingAdmissionPolicy (what a
    // cluster admin would write) that caps Deployments at 3 replicas here.
    const policy = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'max-three-replicas' },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] }] },
        validations: [{ expression: 'object.spec.replicas <= 3', message: 'at most 3 replicas per Deployment in this namespace' }],
      },
    };
    const binding = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: 'max-three-replicas' },
      spec: {
        policyName: 'max-three-replicas',
        validationActions: ['Deny'],
        matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } } },
      },
    };
    await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [policy, binding] }) });
    // The policy takes a moment to be loaded: wait until the server enforces it.
    const probe = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'probe', namespace: NS }, spec: { replicas: 5, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } };
    await waitFor('policy enforced', async () => (await cp.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: JSON.stringify(probe), check: false })).code !== 0);

    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('refused', { frontend: { replicas: 5 } }) });
    const sv = await waitFor('Degraded', async () => {
      const s = await api.sv(NS, 'refused');
      return condition(s, 'Degraded')?.status === 'True' ? s : undefined;
    });
    const degraded = condition(sv, 'Degraded');
    expect(degraded?.reason).toBe('ApplyRejected');
    expect(degraded?.message).toMatch(/Deployment\/refused-frontend/);
    expect(degraded?.message).toMatch(/at most 3 replicas per Deployment in this namespace/);
    expect((sv.status as { phase: string }).phase).toBe('Degraded');
    // The Event follows the status write: under load it lands a moment after the condition.
    const warnings = async (): Promise<string[]> =>
      (await api.list('v1', 'Event', NS)).filter((e) => (e.involvedObject as { name: string }).name === 'refused').map((e) => e.type as string);
    await waitFor('a Warning Event on refused', async () => (await warnings()).includes('Warning'), 10_000);
    expect(await warnings()).toContain('Warning');
    // The operator is still alive, and the other children were applied.
    expect((await op.get('/healthz')).status).toBe(200);
    expect(await api.get('apps/v1', 'Deployment', NS, 'refused-backend')).toBeDefined();
    expect(await op.metrics()).toMatch(/securevote_operator_api_errors_total\{class="rejected"\} [1-9]/);

    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('refused', {}) });
    await waitFor('Degraded cleared', async () => condition(await api.sv(NS, 'refused'), 'Degraded')?.status === 'False');
    await cp.kubectl(['delete', 'validatingadmissionpolicybinding/max-three-replicas', 'validatingadmissionpolicy/max-three-replicas']);
  });
});

describe('delete', () => {
  it('children go with the resource (garbage collection); the credentials and the volume stay when retainOnDelete', async () => {
    await waitReady(api, NS, 'refused');
    const uid = (await api.sv(NS, 'refused'))?.metadata.uid;
    await cp.kubectl(['-n', NS, 'delete', 'securevote/refused', '--wait=true']);
    await waitFor('owned children collected', async () => {
      const left = (await children('refused')).filter((k) => k.metadata.ownerReferences?.some((r) => r.uid === uid));
      return left.length === 0;
    });
    expect(await api.get('v1', 'Secret', NS, 'refused-credentials')).toBeDefined();
    expect(await api.get('v1', 'PersistentVolumeClaim', NS, 'data-refused-database-0')).toBeDefined();
  });

  it('with retainOnDelete: false the volume and the credentials go too', async () => {
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('ephemeral', { database: { storage: { retainOnDelete: false } } }) });
    await waitReady(api, NS, 'ephemeral');
    expect(await api.get('v1', 'PersistentVolumeClaim', NS, 'data-ephemeral-database-0')).toBeDefined();
    await cp.kubectl(['-n', NS, 'delete', 'securevote/ephemeral', '--wait=true']);
    await waitFor('volume claim and credentials collected', async () =>
      (await api.get('v1', 'PersistentVolumeClaim', NS, 'data-ephemeral-database-0')) === undefined &&
      (await api.get('v1', 'Secret', NS, 'ephemeral-credentials')) === undefined,
    );
  });
});
