// The credentials and the data they open, on a real control plane (garbage
// collection and the StatefulSet's volume-claim retention run in the
// controller manager), with the operator running as its own ServiceAccount
// (the install chart's RBAC) under OwnerReferencesPermissionEnforcement.
// Every combination of retainOnDelete (kept, dropped, flipped either way
// before the delete) and existingSecret: after delete and re-create, a kept
// volume meets the password it was initialized with; a dropped one takes
// its credentials along; a user's Secret is never touched.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../fixtures/controlplane.ts';
import type { KObject } from '../../operator/context.ts';
import { INSTANCE_LABEL } from '../../operator/desired.ts';
import { Api, createNamespace, createVolumes, installCrd, startOperatorAsInstalled, svYaml } from './cluster.ts';
import { makeRawKubeApi } from '../../operator/kube.ts';
import { HttpMethod } from '@kubernetes/client-node';
import { type OperatorProcess, waitFor } from './helpers.ts';

let cp: ControlPlane;
let dir: string;
let api: Api;
let op: OperatorProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sv-op-credentials-'));
  cp = await startControlPlane({ controllers: true, scheduler: true, kwokNodes: 1 });
  await installCrd(cp);
  await createVolumes(cp, 16);
  api = new Api(cp);
  op = await startOperatorAsInstalled(cp, dir, 'op-credentials');
}, 120_000);

afterAll(async () => {
  await op?.stop();
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Spec = { database: { storage: { retainOnDelete: boolean } }; existingSecret?: string };

interface Case {
  readonly name: string;
  /** The spec at creation, then (when two) the spec the resource is changed to before the delete. */
  readonly specs: readonly Spec[];
  /** The data volume (and so its password) outlives the resource. */
  readonly kept: boolean;
}

const spec = (retainOnDelete: boolean, existingSecret?: string): Spec => ({
  database: { storage: { retainOnDelete } },
  ...(existingSecret ? { existingSecret } : {}),
});

const CASES: readonly Case[] = [
  { name: 'kept', specs: [spec(true)], kept: true },
  { name: 'dropped', specs: [spec(false)], kept: false },
  { name: 'flip-to-kept', specs: [spec(false), spec(true)], kept: true },
  { name: 'flip-to-dropped', specs: [spec(true), spec(false)], kept: false },
  { name: 'own-kept', specs: [spec(true, 'mine')], kept: true },
  { name: 'own-dropped', specs: [spec(false, 'mine')], kept: false },
  // Generated first, then the spec names another Secret and keeps the volume:
  // ours may be what the data was initialized with, so it is kept too.
  { name: 'own-later-kept', specs: [spec(false), spec(true, 'mine')], kept: true },
];

const secret = (ns: string, name: string): Promise<KObject | undefined> => api.get('v1', 'Secret', ns, name);
const claim = (ns: string, name: string): Promise<KObject | undefined> => api.get('v1', 'PersistentVolumeClaim', ns, `data-${name}-database-0`);
const svOwners = (s: KObject | undefined): string[] => (s?.metadata.ownerReferences ?? []).filter((r) => r.kind === 'SecureVote').map((r) => r.uid);
const generation = async (ns: string, name: string): Promise<number | undefined> =>
  ((await api.sv(ns, name))?.status as { observedGeneration?: number } | undefined)?.observedGeneration;

/** Apply `s` and wait until the operator has reconciled it: observedGeneration, and the credentials' owner as the flag says. */
async function applyAndSettle(ns: string, name: string, s: Spec, gen: number): Promise<KObject> {
  await cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: svYaml(name, s) });
  const sv = await waitFor(`${ns}/${name} reconciled at generation ${gen}`, async () => {
    const o = await api.sv(ns, name);
    return o && (await generation(ns, name)) === gen ? o : undefined;
  }, 60_000);
  const uid = sv.metadata.uid as string;
  await waitFor(`${name}-credentials owned as retainOnDelete=${s.database.storage.retainOnDelete} says`, async () => {
    const c = await secret(ns, `${name}-credentials`);
    if (!c) return s.existingSecret !== undefined; // only an existingSecret spares the generated one
    return JSON.stringify(svOwners(c)) === JSON.stringify(s.database.storage.retainOnDelete ? [] : [uid]);
  });
  await waitFor(`${ns}/${name}'s volume claim`, async () => (await claim(ns, name)) !== undefined);
  return sv;
}

describe('the API server enforces owner-reference permissions', () => {
  it('without update on securevotes/finalizers, a child with blockOwnerDeletion is Forbidden (what the install grants)', async () => {
    const ns = 'cred-enforced';
    await createNamespace(cp, ns);
    await cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: svYaml('owner', spec(true)) });
    const owner = await api.sv(ns, 'owner');
    // A ServiceAccount that may create ConfigMaps, and nothing on SecureVotes.
    await cp.kubectl(['-n', ns, 'create', 'serviceaccount', 'plain']);
    await cp.kubectl(['-n', ns, 'create', 'role', 'plain', '--verb=create', '--resource=configmaps']);
    await cp.kubectl(['-n', ns, 'create', 'rolebinding', 'plain', '--role=plain', `--serviceaccount=${ns}:plain`]);
    const raw = makeRawKubeApi(await cp.serviceAccountKubeConfig(ns, 'plain'));
    const child = (name: string, block: boolean): object => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        ownerReferences: [{ apiVersion: 'securevote.dev/v1alpha1', kind: 'SecureVote', name: 'owner', uid: owner?.metadata.uid, controller: true, blockOwnerDeletion: block }],
      },
    });
    const path = await raw.pathOf({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns }, 'create');
    await raw.send(HttpMethod.POST, path, { body: child('unblocking', false) });
    await expect(raw.send(HttpMethod.POST, path, { body: child('blocking', true) })).rejects.toMatchObject({ code: 403 });
  });
});

describe('credentials follow the data', () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.specs.map((s) => `retainOnDelete=${s.database.storage.retainOnDelete}${s.existingSecret ? ' +existingSecret' : ''}`).join(' → ')}, delete, re-create`, async () => {
      const ns = `cred-${c.name}`;
      const name = 'sv';
      const last = c.specs.at(-1) as Spec;
      await createNamespace(cp, ns);
      const users = c.specs.some((s) => s.existingSecret);
      if (users) {
        await cp.kubectl(['-n', ns, 'create', 'secret', 'generic', 'mine',
          '--from-literal=database-password=user-db', '--from-literal=redis-password=user-redis', '--from-literal=cookie-secret=user-cookie-secret-0123456789']);
      }
      const mine = users ? await secret(ns, 'mine') : undefined;

      let sv: KObject | undefined;
      for (const [i, s] of c.specs.entries()) sv = await applyAndSettle(ns, name, s, i + 1);
      const generated = await secret(ns, `${name}-credentials`);
      const volume = await claim(ns, name);

      await cp.kubectl(['-n', ns, 'delete', `securevote/${name}`, '--wait=true']);
      // Garbage collection has run once the StatefulSet (an owned child) is gone.
      await waitFor('children collected', async () => (await api.get('apps/v1', 'StatefulSet', ns, `${name}-database`)) === undefined);
      if (c.kept) {
        // Give the collector time to (wrongly) take the credentials too.
        await new Promise((r) => setTimeout(r, 2000));
        expect((await claim(ns, name))?.metadata.uid).toBe(volume?.metadata.uid);
        if (generated) expect((await secret(ns, `${name}-credentials`))?.data).toEqual(generated.data);
      } else {
        await waitFor('volume claim and credentials collected', async () =>
          (await claim(ns, name)) === undefined && (await secret(ns, `${name}-credentials`)) === undefined);
      }
      // A user's Secret is theirs: never owned, never changed.
      if (mine) {
        const now = await secret(ns, 'mine');
        expect(now?.metadata.ownerReferences).toBeUndefined();
        expect(now?.data).toEqual(mine.data);
      }

      // Re-created with the spec it ended with.
      const again = await applyAndSettle(ns, name, last, 1);
      expect(again.metadata.uid).not.toBe(sv?.metadata.uid);
      const after = await secret(ns, `${name}-credentials`);
      if (c.kept) {
        expect((await claim(ns, name))?.metadata.uid).toBe(volume?.metadata.uid);
        // The kept volume meets the password it was initialized with.
        if (generated) expect(after?.data).toEqual(generated.data);
      } else if (!last.existingSecret) {
        expect(after?.data).not.toEqual(generated?.data);
      }
      // The operator, as its ServiceAccount, met no Forbidden on the way.
      expect(op.logs()).not.toMatch(/forbidden/i);
    }, 180_000);
  }
});

describe('a namesake re-created before the collector took the old credentials', () => {
  it('is not given them: the operator waits until they are gone, creates nothing meanwhile, then makes new ones', async () => {
    const ns = 'cred-namesake';
    const name = 'sv';
    await createNamespace(cp, ns);
    // What a deleted namesake leaves while the collector is behind: its credentials, owned by
    // its uid, held here by a finalizer so the moment lasts until the test lets it go.
    await cp.kubectl(['create', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1', kind: 'Secret',
        metadata: {
          name: `${name}-credentials`, namespace: ns, finalizers: ['securevote.test/hold'],
          labels: { [INSTANCE_LABEL]: name },
          ownerReferences: [{ apiVersion: 'securevote.dev/v1alpha1', kind: 'SecureVote', name, uid: '00000000-0000-4000-8000-000000000000' }],
        },
        stringData: { 'database-password': 'stale-db', 'redis-password': 'stale-redis', 'cookie-secret': 'stale-cookie-secret-0123456789' },
      }),
    });
    const stale = await secret(ns, `${name}-credentials`);
    await cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: svYaml(name, spec(false)) });
    // The collector marks the stale Secret deleted (its owner is gone); the finalizer keeps it.
    await waitFor('the stale credentials marked for deletion', async () => (await secret(ns, `${name}-credentials`))?.metadata.deletionTimestamp !== undefined);
    await new Promise((r) => setTimeout(r, 3_000));
    const held = await secret(ns, `${name}-credentials`);
    expect(svOwners(held), 'the stale credentials adopted').toEqual(['00000000-0000-4000-8000-000000000000']);
    expect(await api.get('apps/v1', 'StatefulSet', ns, `${name}-database`), 'a database started on the stale password').toBeUndefined();
    expect(op.logs()).toMatch(/belongs to a deleted SecureVote of this name/);

    await cp.kubectl(['-n', ns, 'patch', 'secret', `${name}-credentials`, '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']);
    const sv = await applyAndSettle(ns, name, spec(false), 1);
    const fresh = await secret(ns, `${name}-credentials`);
    expect(fresh?.metadata.uid).not.toBe(stale?.metadata.uid);
    expect(svOwners(fresh)).toEqual([sv.metadata.uid]);
    expect(await api.get('apps/v1', 'StatefulSet', ns, `${name}-database`)).toBeDefined();
  }, 120_000);
});

