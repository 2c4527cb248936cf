// The operator as a process on a real control plane: killed mid-reconcile
// and restarted it converges; two replicas elect one leader and the other
// takes over when it dies; SIGTERM finishes, hands the lease back and exits 0;
// run with its own ServiceAccount (the install chart's RBAC) it meets no
// Forbidden.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_NAME, OperatorInstall } from '../../charts/operator-install.ts';
import { type ControlPlane, startControlPlane } from '../fixtures/controlplane.ts';
import type { KObject } from '../../operator/context.ts';
import { Api, condition, createBigNode, createNamespace, createVolumes, installCrd, svYaml, waitReady } from './cluster.ts';
import { type OperatorProcess, startOperator, waitFor, writeKubeconfig } from './helpers.ts';

let cp: ControlPlane;
let dir: string;
let api: Api;
const running: OperatorProcess[] = [];
const LEASE_NS = 'securevote-system';

const spawnOp = async (name: string, env: Record<string, string> = {}, kubeconfigPath = cp.kubeconfigPath): Promise<OperatorProcess> => {
  const p = await startOperator({ kubeconfigPath, dir, name, env });
  running.push(p);
  return p;
};

const lease = async (): Promise<KObject | undefined> => api.get('coordination.k8s.io/v1', 'Lease', LEASE_NS, 'securevote-operator');
const holder = async (): Promise<string | null | undefined> => ((await lease())?.spec as { holderIdentity?: string | null } | undefined)?.holderIdentity;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sv-op-process-'));
  cp = await startControlPlane({ controllers: true, scheduler: true, kwokNodes: 1 });
  await installCrd(cp);
  await createBigNode(cp);
  await createVolumes(cp, 40);
  // The install manifests minus the CRD and the PriorityClass (already there) and the Deployment (no image to run here).
  const app = new App();
  const chart = new OperatorInstall(app, 'install', { includeCrd: false });
  const objects = chart.toJson().filter((o: { kind: string }) => o.kind !== 'Deployment' && o.kind !== 'PodDisruptionBudget' && o.kind !== 'PriorityClass');
  await cp.kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
  api = new Api(cp);
});

afterAll(async () => {
  for (const p of running) await p.kill();
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('crash and restart', () => {
  it('killed mid-reconcile (SIGKILL), a restarted operator converges', async () => {
    const ns = 'crash';
    await createNamespace(cp, ns);
    const a = await spawnOp('crash-a', { LEADER_ELECT: 'false' });
    const names = Array.from({ length: 10 }, (_, i) => `crash-${i}`);
    await cp.kubectl(['apply', '-n', ns, '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: names.map((n) => JSON.parse(svYaml(n))) }),
    });
    // Kill it as soon as it has written something, i.e. in the middle of the work.
    await waitFor('first children', async () => (await api.list('apps/v1', 'Deployment', ns)).length > 0, 30_000, 20);
    await a.kill();
    const partial = (await api.list('apps/v1', 'Deployment', ns)).length;
    expect(partial).toBeLessThan(names.length * 4);
    const b = await spawnOp('crash-b', { LEADER_ELECT: 'false' });
    for (const n of names) await waitReady(api, ns, n, 1, 120_000);
    for (const n of names) expect(await api.get('v1', 'Secret', ns, `${n}-credentials`)).toBeDefined();
    await b.stop();
  });
});

describe('leader election', () => {
  it('two replicas elect one leader; the other takes over when it dies', async () => {
    const ns = 'leader';
    await createNamespace(cp, ns);
    const one = await spawnOp('leader-one');
    const two = await spawnOp('leader-two');
    const first = await waitFor('a lease holder', async () => (await holder()) || undefined, 30_000);
    expect(['leader-one', 'leader-two']).toContain(first);
    const [leader, standby] = first === 'leader-one' ? [one, two] : [two, one];
    const gauge = async (p: OperatorProcess): Promise<string | undefined> => /^securevote_operator_leader (\d)/m.exec(await p.metrics())?.[1];
    await waitFor('leader gauge', async () => (await gauge(leader)) === '1');
    expect(await gauge(standby)).toBe('0');
    // Both report ready (a standby is ready to take over).
    expect((await standby.get('/readyz')).status).toBe(200);

    await cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: svYaml('elected') });
    await waitReady(api, ns, 'elected');
    // Only the leader reconciled.
    const reconciled = (p: OperatorProcess): boolean => p.logLines().some((l) => l.msg === 'children written');
    expect(reconciled(leader)).toBe(true);
    expect(reconciled(standby)).toBe(false);

    await leader.kill(); // no goodbye: the lease must expire
    const died = Date.now();
    const next = await waitFor('a new holder', async () => {
      const h = await holder();
      return h && h !== first ? h : undefined;
    }, 30_000);
    const takeoverMs = Date.now() - died;
    console.log(`leader takeover after SIGKILL: ${takeoverMs} ms`);
    expect(next).toBe(standby === one ? 'leader-one' : 'leader-two');
    expect(takeoverMs).toBeLessThan(15_000);
    // The new leader works: a spec change is applied.
    await cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: svYaml('elected', { frontend: { replicas: 2 } }) });
    await waitReady(api, ns, 'elected', 2);
    await standby.stop();
  });

  it('SIGTERM: the leader finishes, hands the lease back, exits 0; the standby takes over at once', async () => {
    const three = await spawnOp('leader-three');
    await waitFor('leader-three leads', async () => (await holder()) === 'leader-three', 30_000);
    const four = await spawnOp('leader-four');
    const stopped = await three.stop();
    expect(stopped.code).toBe(0);
    expect(three.logLines().map((l) => l.msg)).toEqual(expect.arrayContaining(['released the lease', 'stopped']));
    const released = Date.now();
    await waitFor('leader-four leads', async () => (await holder()) === 'leader-four', 10_000);
    console.log(`takeover after a released lease: ${Date.now() - released} ms`);
    await four.stop();
  });
});

describe('RBAC', () => {
  it("with its own ServiceAccount's credentials (the install chart's ClusterRole and Role) it meets no Forbidden", async () => {
    const ns = 'rbac';
    await createNamespace(cp, ns);
    const kc = await cp.serviceAccountKubeConfig(LEASE_NS, OPERATOR_NAME);
    const path = writeKubeconfig(kc, join(dir, 'sa.kubeconfig'));
    const op = await spawnOp('rbac-op', {}, path);
    await waitFor('rbac-op leads', async () => (await holder()) === 'rbac-op', 30_000);
    await cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: svYaml('rbac', { backend: { replicas: 2 } }) });
    await waitReady(api, ns, 'rbac');
    // Prune (delete) and status paths too.
    await cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: svYaml('rbac', {}) });
    await waitReady(api, ns, 'rbac', 2);
    await waitFor('PDB pruned', async () => (await api.get('policy/v1', 'PodDisruptionBudget', ns, 'rbac-backend')) === undefined);
    const sv = await api.sv(ns, 'rbac');
    expect(condition(sv, 'Degraded')?.status).toBe('False');
    const metrics = await op.metrics();
    expect(metrics).not.toMatch(/api_errors_total\{class="forbidden"\}/);
    expect(op.logs()).not.toMatch(/forbidden/i);
    await op.stop();
  });
});
