// Cluster set-up shared by the operator's integration tests: the real CRD,
// PersistentVolumes for the database claims (no provisioner runs on kwok
// nodes), a roomy kwok node, and typed reads of SecureVotes and children.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlPlane } from '../fixtures/controlplane.ts';
import { kwokNode } from '../fixtures/controlplane.ts';
import type { KObject } from '../../operator/context.ts';
import { makeRawKubeApi } from '../../operator/kube.ts';
import { HttpMethod } from '@kubernetes/client-node';
import { App } from 'cdk8s';
import { OPERATOR_NAME, OPERATOR_NAMESPACE, OperatorInstall } from '../../charts/operator-install.ts';
import { dataPriorityClass } from '../../charts/priority.ts';
import { type OperatorProcess, REPO, startOperator, waitFor, writeKubeconfig } from './helpers.ts';

export const SV_API = 'securevote.dev/v1alpha1';

export async function installCrd(cp: ControlPlane): Promise<void> {
  await cp.kubectl(['apply', '--server-side', '--field-manager=securevote-install', '-f', join(REPO, 'crds/securevote.yaml')]);
  // What the install also holds cluster-wide: the class the database and cache pods name (refused without it).
  await cp.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=securevote-install', '-f', '-'], { input: JSON.stringify(dataPriorityClass()) });
  await cp.kubectl(['wait', '--for=condition=Established', 'crd/securevotes.securevote.dev', 'crd/securevotebackups.securevote.dev', '--timeout=60s']);
}

/** `count` 1Gi PersistentVolumes (hostPath, never used by a real kubelet) for database claims to bind. */
export async function createVolumes(cp: ControlPlane, count: number, prefix = 'pv'): Promise<void> {
  const items = Array.from({ length: count }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: `${prefix}-${i}` },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      hostPath: { path: `/tmp/securevote-${prefix}-${i}` },
    },
  }));
  for (let i = 0; i < items.length; i += 200) {
    await cp.kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: items.slice(i, i + 200) }) });
  }
}

/** One kwok node big enough for many stacks (the fixture's nodes hold 110 pods each). */
export async function createBigNode(cp: ControlPlane, name = 'kwok-big'): Promise<void> {
  const node = kwokNode(name, { cpu: '4000', memory: '16Ti', pods: '20000', 'ephemeral-storage': '100Ti' });
  await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(node) });
}

export class Api {
  private readonly raw: ReturnType<typeof makeRawKubeApi>;
  constructor(cp: ControlPlane) {
    this.raw = makeRawKubeApi(cp.kubeConfig);
  }
  async get(apiVersion: string, kind: string, namespace: string, name: string): Promise<KObject | undefined> {
    try {
      return (await this.raw.send(HttpMethod.GET, await this.raw.pathOf({ apiVersion, kind, namespace, name }, 'read'))) as KObject;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }
  async list(apiVersion: string, kind: string, namespace: string, labelSelector?: string): Promise<KObject[]> {
    const path = await this.raw.pathOf({ apiVersion, kind, namespace }, 'list');
    const r = (await this.raw.send(HttpMethod.GET, path, { query: labelSelector ? { labelSelector } : {} })) as { items: KObject[] };
    return r.items.map((o) => ({ ...o, apiVersion, kind }));
  }
  sv(namespace: string, name: string): Promise<KObject | undefined> {
    return this.get(SV_API, 'SecureVote', namespace, name);
  }
}

export function condition(sv: KObject | undefined, type: string): { status: string; reason: string; message: string; observedGeneration: number } | undefined {
  const conds = (sv?.status as { conditions?: Array<{ type: string; status: string; reason: string; message: string; observedGeneration: number }> } | undefined)
    ?.conditions;
  return conds?.find((c) => c.type === type);
}

export async function waitReady(api: Api, ns: string, name: string, generation?: number, timeoutMs = 90_000): Promise<KObject> {
  return waitFor(`${ns}/${name} Ready${generation ? ` at generation ${generation}` : ''}`, async () => {
    const sv = await api.sv(ns, name);
    const ready = condition(sv, 'Ready');
    if (ready?.status !== 'True') return undefined;
    if (generation !== undefined && ready.observedGeneration !== generation) return undefined;
    return sv;
  }, timeoutMs);
}

export function svYaml(name: string, spec: object = {}): string {
  return JSON.stringify({ apiVersion: SV_API, kind: 'SecureVote', metadata: { name }, spec });
}

export async function createNamespace(cp: ControlPlane, ns: string): Promise<void> {
  await cp.kubectl(['create', 'namespace', ns]);
}

export const sampleYaml = (): string => readFileSync(join(REPO, 'samples/securevote.yaml'), 'utf8');

/**
 * The operator as its own ServiceAccount: the install manifests minus the
 * CRD and the PriorityClass (installCrd put them there) and the Deployment (no image runs here), then
 * the operator from its sources with that account's token, one replica.
 */
export async function startOperatorAsInstalled(cp: ControlPlane, dir: string, name: string, env: Record<string, string> = {}): Promise<OperatorProcess> {
  const chart = new OperatorInstall(new App(), 'install', { includeCrd: false });
  const objects = chart.toJson().filter((o: { kind: string }) => o.kind !== 'Deployment' && o.kind !== 'PodDisruptionBudget' && o.kind !== 'PriorityClass');
  await cp.kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
  const kc = await cp.serviceAccountKubeConfig(OPERATOR_NAMESPACE, OPERATOR_NAME);
  return startOperator({ kubeconfigPath: writeKubeconfig(kc, join(dir, `${name}.kubeconfig`)), dir, name, env: { LEADER_ELECT: 'false', ...env } });
}
