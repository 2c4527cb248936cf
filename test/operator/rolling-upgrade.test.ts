// Scenario, on a real control plane (controllers, scheduler, kwok nodes) with
// the operator as a child process: a new database and backend image roll in
// the start order, the backend only after the migration Job of its new image
// completed; the unchanged proxy is never restarted; status reports the
// images, the operator version and the Version column. Then: why a
// component isn't ready (a claim no provisioner binds, an unschedulable pod),
// read from the pods and claims the operator watches read-only.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationHash } from '../../charts/migration.ts';
import { DEFAULT_IMAGES, PROJECT_VERSION } from '../../charts/spec.ts';
import type { KObject } from '../../operator/context.ts';
import { type ControlPlane, startControlPlane } from '../fixtures/controlplane.ts';
import { Api, condition, createNamespace, createVolumes, installCrd, svYaml, waitReady } from './cluster.ts';
import { type OperatorProcess, startOperator, waitFor } from './helpers.ts';

let cp: ControlPlane;
let dir: string;
let op: OperatorProcess;
let api: Api;
const NS = 'rolling';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sv-op-rolling-'));
  cp = await startControlPlane({ controllers: true, scheduler: true, kwokNodes: 2 });
  await installCrd(cp);
  await createVolumes(cp, 4, 'rolling-pv');
  await createNamespace(cp, NS);
  api = new Api(cp);
  op = await startOperator({ kubeconfigPath: cp.kubeconfigPath, dir, name: 'op-rolling', env: { LEADER_ELECT: 'false', RESYNC_SECONDS: '2' } });
}, 180_000);

afterAll(async () => {
  await op?.stop();
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Any = KObject & { spec: any; status?: any }; // any: nested manifest JSON
const get = async (apiVersion: string, kind: string, name: string): Promise<Any | undefined> => (await api.get(apiVersion, kind, NS, name)) as Any | undefined;
const image = (o: Any | undefined): string | undefined => o?.spec.template.spec.containers[0].image;

describe('an image upgrade rolls in the start order, the migration first', () => {
  it('database, then the migration Job of the new backend image, then the backend; the proxy is left alone', async () => {
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('vote', {}) });
    const first = await waitReady(api, NS, 'vote');
    await waitFor('first rollout complete', async () => condition(await api.sv(NS, 'vote'), 'Progressing')?.status === 'False', 90_000);
    expect(first.status).toMatchObject({ operatorVersion: PROJECT_VERSION, components: { backend: { image: DEFAULT_IMAGES.backend }, proxy: { image: DEFAULT_IMAGES.proxy } } });
    const columns = await cp.kubectl(['get', 'sv', '-n', NS, 'vote']);
    expect(columns.stdout).toMatch(/VERSION/);
    expect(columns.stdout).toContain(PROJECT_VERSION);
    const proxyBefore = await get('apps/v1', 'Deployment', 'vote-proxy');

    const next = { database: { image: 'securevote/postgres:9.9.9' }, backend: { image: 'securevote/backend:9.9.9' } };
    const jobName = `vote-migrate-${migrationHash(next.backend.image)}`;
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('vote', next) });
    // Poll the order in which things happen.
    const seen: string[] = [];
    const note = (what: string): void => {
      if (!seen.includes(what)) seen.push(what);
    };
    await waitFor('the backend on its new image', async () => {
      const [db, job, backend] = await Promise.all([get('apps/v1', 'StatefulSet', 'vote-database'), get('batch/v1', 'Job', jobName), get('apps/v1', 'Deployment', 'vote-backend')]);
      if (image(db) === next.database.image) note('database template');
      if (db && db.status?.updateRevision === db.status?.currentRevision && (db.status?.readyReplicas ?? 0) >= 1 && image(db) === next.database.image) note('database rolled');
      if (job) note('job created');
      if ((job?.status?.succeeded ?? 0) > 0) note('job succeeded');
      if (image(backend) === next.backend.image) note('backend template');
      return image(backend) === next.backend.image;
    }, 120_000, 100);
    expect(seen.indexOf('database template')).toBe(0);
    expect(seen.indexOf('job created')).toBeGreaterThan(seen.indexOf('database template'));
    expect(seen.indexOf('job succeeded')).toBeGreaterThan(seen.indexOf('job created'));
    expect(seen.indexOf('backend template')).toBeGreaterThan(seen.indexOf('job succeeded'));

    const sv = await waitFor('rollout of generation 2 complete', async () => {
      const s = await api.sv(NS, 'vote');
      const p = condition(s, 'Progressing');
      return p?.status === 'False' && p.observedGeneration === 2 && condition(s, 'Ready')?.status === 'True' ? s : undefined;
    }, 120_000);
    expect(sv.status).toMatchObject({ components: { backend: { image: next.backend.image }, database: { image: next.database.image } }, migration: { job: jobName, attempts: 0 } });
    // The proxy's pod template never changed: no restart.
    const proxyAfter = await get('apps/v1', 'Deployment', 'vote-proxy');
    expect(proxyAfter?.spec.template).toEqual(proxyBefore?.spec.template);
    expect(proxyAfter?.metadata.generation).toBe(proxyBefore?.metadata.generation);
  });
});

describe('status says why a component is not ready', () => {
  it('a claim no provisioner binds: ClaimPending with its storage class', async () => {
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('nostore', { database: { storage: { storageClassName: 'missing-class' } } }) });
    const sv = await waitFor('Ready=False naming the pending claim', async () => {
      const s = await api.sv(NS, 'nostore');
      const r = condition(s, 'Ready');
      return r?.message.includes('claim data-nostore-database-0 Pending') ? s : undefined;
    }, 90_000);
    const ready = condition(sv, 'Ready');
    expect(ready?.message).toContain('storage class "missing-class"');
    expect(ready?.reason).toBe('ClaimPending');
  });

  it('a pod no node can hold: Unschedulable with the scheduler’s message, and an Event', async () => {
    const huge = { cpu: '500', memory: '1Ti' };
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('huge', { frontend: { resources: { requests: huge, limits: huge } } }) });
    const sv = await waitFor('Ready=False naming the unschedulable frontend pod', async () => {
      const s = await api.sv(NS, 'huge');
      return condition(s, 'Ready')?.message.includes('unschedulable') ? s : undefined;
    }, 90_000);
    expect(condition(sv, 'Ready')?.message).toMatch(/frontend 0\/1 \(pod huge-frontend-[a-z0-9-]+ unschedulable: 0\/2 nodes are available/);
    await waitFor('an Event says it', async () => {
      const events = await api.list('v1', 'Event', NS);
      return events.some((e) => e.reason === 'Unschedulable' && String(e.message).includes('huge-frontend'));
    }, 60_000);
  });
});
