// Upgrading, on a real API server (etcd + kube-apiserver, the real CRD):
// the CRD stores no image default; a SecureVote stored with the 0.1.0
// defaults (what the first CRD wrote into every resource) re-renders to the
// next release's images while a pinned image stays; and a database
// StatefulSet created under one release (or applied from dist/) accepts the
// next release's apply, where changing its claim template would be refused.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_NAMES, IMAGE_TABLE } from '../../charts/images.ts';
import { migrationHash } from '../../charts/migration.ts';
import { renderStack } from '../../charts/render.ts';
import { releaseTable } from '../../charts/release.ts';
import { DEFAULT_IMAGES, parseSpec } from '../../charts/spec.ts';
import type { KObject } from '../../operator/context.ts';
import { INSTANCE_LABEL, MANAGED_BY, renderChildren } from '../../operator/desired.ts';
import { KubeClient, makeRawKubeApi } from '../../operator/kube.ts';
import { planRollout } from '../../operator/rollout.ts';
import { type ControlPlane, startControlPlane } from '../fixtures/controlplane.ts';
import { Api, createNamespace, installCrd, svYaml } from './cluster.ts';

let cp: ControlPlane;
let api: Api;
let kube: KubeClient;
let dir: string;
const NS = 'upgrade';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sv-upgrade-'));
  cp = await startControlPlane({});
  await installCrd(cp);
  await createNamespace(cp, NS);
  api = new Api(cp);
  kube = new KubeClient(makeRawKubeApi(cp.kubeConfig), 'securevote-operator');
}, 120_000);

afterAll(async () => {
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The next release, where the backend's and postgres' inputs changed (a version no table of ours has had). */
const NEXT_VERSION = '9.9.9';
const NEXT = releaseTable(IMAGE_TABLE, NEXT_VERSION, {
  ...Object.fromEntries(IMAGE_NAMES.map((n) => [n, IMAGE_TABLE.images[n].inputs])),
  backend: 'changed',
  postgres: 'changed',
}).table;

const stsOf = (objects: readonly KObject[]): KObject => structuredClone(objects.find((o) => o.kind === 'StatefulSet') as KObject);
const liveOf = (o: KObject) => api.get(o.apiVersion, o.kind, NS, o.metadata.name);

describe('image defaults on a real API server', () => {
  it('the CRD stores no image: an empty spec keeps none, so the running operator picks them', async () => {
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('fresh', {}) });
    const stored = await api.sv(NS, 'fresh');
    const spec = stored?.spec as Record<string, { image?: string; resources?: unknown }>;
    for (const c of ['database', 'cache', 'backend', 'frontend', 'proxy']) {
      expect(spec[c]?.resources, c).toBeDefined(); // other defaults still stored
      expect(spec[c]?.image, c).toBeUndefined();
    }
  });

  it('a spec stored with the 0.1.0 defaults re-renders to the next release’s images; a pinned image stays', async () => {
    const old = {
      database: { image: 'securevote/postgres:0.1.0' },
      cache: { image: 'securevote/redis:0.1.0' },
      backend: { image: 'securevote/backend:0.1.0' },
      frontend: { image: 'registry.example/frontend:7' },
    };
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('old', old) });
    const stored = (await api.sv(NS, 'old')) as KObject;
    expect((stored.spec as typeof old).backend.image).toBe('securevote/backend:0.1.0');
    const parsed = parseSpec(stored.spec, NEXT);
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    expect(parsed.spec.backend.image).toBe(`securevote/backend:${NEXT_VERSION}`);
    expect(parsed.spec.database.image).toBe(`securevote/postgres:${NEXT_VERSION}`);
    expect(parsed.spec.cache.image).toBe(DEFAULT_IMAGES.cache);
    expect(parsed.spec.frontend.image).toBe('registry.example/frontend:7');
    const children = renderChildren(stored, parsed.spec);
    const backend = children.find((o) => o.kind === 'Deployment' && o.metadata.name === 'old-backend') as KObject;
    expect(backend.spec).toMatchObject({ template: { metadata: { labels: { 'app.kubernetes.io/version': NEXT_VERSION } }, spec: { containers: [{ image: `securevote/backend:${NEXT_VERSION}` }] } } });
    expect(children.find((o) => o.kind === 'Job')?.metadata.name).toBe(`old-migrate-${migrationHash(`securevote/backend:${NEXT_VERSION}`)}`);
    // The API server accepts every one of them.
    for (const o of children) await kube.apply(o);
  });
});

describe('volume claim templates across releases (no 422)', () => {
  it('created by 0.1.0 (version and managed-by labels on the claim template): the next apply is refused unless the live template is kept, and the operator keeps it', async () => {
    const sv = (await api.sv(NS, 'fresh')) as KObject;
    const parsed = parseSpec(sv.spec);
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    // What 0.1.0's operator applied: the claim template carried every object label.
    const old = stsOf(renderChildren(sv, parsed.spec));
    const claims = (old.spec as { volumeClaimTemplates: Array<{ metadata: { labels: Record<string, string> } }> }).volumeClaimTemplates;
    claims[0]!.metadata.labels = {
      'app.kubernetes.io/name': 'postgresql',
      'app.kubernetes.io/part-of': 'securevote',
      'app.kubernetes.io/instance': 'fresh',
      'app.kubernetes.io/component': 'database',
      'app.kubernetes.io/managed-by': MANAGED_BY,
      'app.kubernetes.io/version': '0.1.0',
    };
    await kube.apply(old);

    const nextSpec = parseSpec(sv.spec, NEXT);
    if (!nextSpec.ok) throw new Error(nextSpec.errors.join('; '));
    const next = stsOf(renderChildren(sv, nextSpec.spec));
    // The control: sending the new claim template is what a 422 is made of.
    const refused = await kube.apply(next).then(
      () => undefined,
      (e: unknown) => e as { code?: number; body?: unknown },
    );
    expect(refused?.code).toBe(422);
    expect(JSON.stringify(refused?.body)).toContain('updates to statefulset spec for fields other than');
    const live = await liveOf(next);
    const withLive = planRollout({ desired: [next], live: (r) => (r.name === next.metadata.name && r.kind === 'StatefulSet' ? live : undefined), now: new Date() });
    await kube.apply(withLive.apply[0] as KObject);
    const after = (await liveOf(next)) as KObject;
    expect((after.spec as { volumeClaimTemplates: Array<{ metadata: { labels: object } }> }).volumeClaimTemplates[0]!.metadata.labels).toEqual(claims[0]!.metadata.labels);
    expect((after.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0]!.image).toBe(`securevote/postgres:${NEXT_VERSION}`);
  });

  it('applied from dist/ (managed-by cdk8s, no instance label): adopted by the operator without a 422', async () => {
    const dist = stsOf(renderStack({ name: 'piped', namespace: NS, version: '0.1.0' }) as KObject[]);
    await cp.kubectl(['apply', '--server-side', '--field-manager=kubectl', '-n', NS, '-f', '-'], { input: JSON.stringify(dist) });
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('piped', {}) });
    const sv = (await api.sv(NS, 'piped')) as KObject;
    const parsed = parseSpec(sv.spec);
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const desired = stsOf(renderChildren(sv, parsed.spec));
    const live = await liveOf(desired);
    const plan = planRollout({ desired: [desired], live: (r) => (r.kind === 'StatefulSet' ? live : undefined), now: new Date() });
    await kube.apply(plan.apply[0] as KObject);
    const after = (await liveOf(desired)) as KObject;
    expect(after.metadata.labels?.[INSTANCE_LABEL]).toBe('piped');
  });

  it('created by this release: the next release (another project version) sends the very same claim template', async () => {
    const a = stsOf(renderStack({ name: 'same', namespace: NS, version: '0.1.0', managedBy: MANAGED_BY }) as KObject[]);
    const b = stsOf(renderStack({ name: 'same', namespace: NS, version: '0.2.0', managedBy: MANAGED_BY }) as KObject[]);
    expect((b.spec as { volumeClaimTemplates: unknown }).volumeClaimTemplates).toEqual((a.spec as { volumeClaimTemplates: unknown }).volumeClaimTemplates);
    await kube.apply(a);
    await kube.apply(b);
  });
});
