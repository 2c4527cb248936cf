// The rollout against a faked Context: an upgrade rolls only what changed, in
// the seed's start order, the backend only after the migration Job of its new
// image succeeded; the Job waits for a Ready database, is keyed by the
// backend image alone, and a failed one is re-created after a capped backoff.
// Also: the claim templates of an existing StatefulSet are never changed.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { migrationHash } from '../../charts/migration.ts';
import { DEFAULT_IMAGES, MAX_REPLICAS, type SecureVoteStatus } from '../../charts/spec.ts';
import { WriteMemo } from '../../operator/apply.ts';
import { type Context, type KObject, type KubeApi, type ObjectCache, type ObjectRef, defaultConfig } from '../../operator/context.ts';
import { reconcile } from '../../operator/controller.ts';
import { DesiredCache } from '../../operator/desired-cache.ts';
import { Metrics } from '../../operator/metrics.ts';
import { migrationBackoffMs } from '../../operator/rollout.ts';
import { Reason } from '../../operator/status.ts';

const key = (r: { kind: string; namespace?: string; name: string }): string => `${r.kind}/${r.namespace ?? ''}/${r.name}`;

class World implements ObjectCache {
  readonly objects = new Map<string, KObject>();
  private rv = 100;
  put(obj: KObject): KObject {
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    stored.metadata.uid ??= `uid-${this.rv}`;
    const old = this.objects.get(key({ kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name }));
    if (old?.status && obj.kind !== 'SecureVote') stored.status = old.status;
    stored.metadata.generation = (old?.metadata.generation ?? 0) + 1;
    this.objects.set(key({ kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name }), stored);
    return stored;
  }
  get(ref: ObjectRef): KObject | undefined {
    return this.objects.get(key(ref));
  }
  listOwned(_a: string, kind: string, namespace: string, uid: string): KObject[] {
    return [...this.objects.values()].filter((o) => o.kind === kind && o.metadata.namespace === namespace && o.metadata.ownerReferences?.some((r) => r.uid === uid && r.controller));
  }
  list(kind: { kind: string }, namespace?: string): KObject[] {
    return [...this.objects.values()].filter((o) => o.kind === kind.kind && (namespace === undefined || o.metadata.namespace === namespace));
  }
}

class FakeKube implements KubeApi {
  /** No monitoring.coreos.com here, as on a cluster without the Prometheus Operator. */
  async serves(): Promise<boolean> {
    return false;
  }
  readonly calls: string[] = [];
  private readonly world: World;
  constructor(world: World) {
    this.world = world;
  }
  async apply(obj: KObject): Promise<KObject> {
    this.calls.push(`apply ${obj.kind}/${obj.metadata.name}`);
    return this.world.put(obj);
  }
  async create(obj: KObject): Promise<KObject> {
    this.calls.push(`create ${obj.kind}/${obj.metadata.name}`);
    return this.world.put(obj);
  }
  async delete(ref: ObjectRef): Promise<void> {
    this.calls.push(`delete ${ref.kind}/${ref.name}`);
    this.world.objects.delete(key(ref));
  }
  async get(ref: ObjectRef): Promise<KObject | undefined> {
    return this.world.get(ref);
  }
  /** LIST by a `k=v,k=v` selector, as the API server answers it. */
  async list(kind: { kind: string }, namespace: string, selector: string): Promise<KObject[]> {
    this.calls.push(`list ${kind.kind} ${selector}`);
    const want = selector.split(',').map((p) => p.split('='));
    return [...this.world.objects.values()].filter((o) => o.kind === kind.kind && o.metadata.namespace === namespace && want.every(([k, v]) => o.metadata.labels?.[k ?? ''] === v));
  }
  async applyStatus(ref: ObjectRef, status: Record<string, unknown>): Promise<KObject> {
    const sv = this.world.get(ref) as KObject;
    const stored = structuredClone({ ...sv, status });
    this.world.objects.set(key(ref), stored);
    return stored;
  }
  async jsonPatch(ref: ObjectRef): Promise<KObject> {
    return this.world.get(ref) as KObject;
  }
}

const T0 = Date.parse('2026-01-01T00:00:00Z');

class Fixture {
  readonly world = new World();
  readonly kube = new FakeKube(this.world);
  clock = T0;
  readonly ctx: Context = {
    kube: this.kube,
    cache: this.world,
    events: { publish: async () => {} },
    metrics: new Metrics(),
    log: pino({ level: 'silent' }),
    config: defaultConfig,
    desired: new DesiredCache(),
    writes: new WriteMemo(0),
    now: () => new Date(this.clock),
  };
  private generation = 0;
  spec(spec: unknown): this {
    const old = this.sv();
    this.world.objects.set(key({ kind: 'SecureVote', namespace: 'ns', name: 'demo' }), {
      apiVersion: 'securevote.dev/v1alpha1',
      kind: 'SecureVote',
      metadata: { name: 'demo', namespace: 'ns', uid: 'sv-uid', generation: ++this.generation },
      spec,
      ...(old?.status ? { status: old.status } : {}),
    });
    return this;
  }
  sv(): KObject {
    return this.world.get({ apiVersion: 'securevote.dev/v1alpha1', kind: 'SecureVote', namespace: 'ns', name: 'demo' }) as KObject;
  }
  status(): SecureVoteStatus {
    return this.sv().status as SecureVoteStatus;
  }
  cond(type: string) {
    return this.status().conditions?.find((c) => c.type === type);
  }
  async reconcile(): Promise<string[]> {
    this.kube.calls.length = 0;
    const action = await reconcile(this.sv(), this.ctx);
    this.lastAction = action;
    // Writes only: the pods listed while not ready are reads.
    return this.kube.calls.filter((c) => !c.startsWith('create Secret') && !c.startsWith('list '));
  }
  lastAction: unknown;
  /** The workload controllers rolled everything out: each workload reports its replicas updated and ready. */
  rolled(...names: string[]): this {
    for (const o of this.world.objects.values()) {
      if (o.kind !== 'Deployment' && o.kind !== 'StatefulSet') continue;
      if (names.length > 0 && !names.some((n) => o.metadata.name === `demo-${n}`)) continue;
      const n = (o.spec as { replicas?: number }).replicas ?? 1;
      o.status = { observedGeneration: o.metadata.generation, replicas: n, updatedReplicas: n, readyReplicas: n };
    }
    return this;
  }
  job(image = DEFAULT_IMAGES.backend): KObject | undefined {
    return this.world.get({ apiVersion: 'batch/v1', kind: 'Job', namespace: 'ns', name: `demo-migrate-${migrationHash(image)}` });
  }
  jobSucceeded(image?: string): this {
    this.job(image)!.status = { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] };
    return this;
  }
  jobFailed(at: number, image?: string): this {
    this.job(image)!.status = {
      failed: 6,
      conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: new Date(at).toISOString() }],
    };
    return this;
  }
  /** A running instance of `spec`: every workload rolled out and Ready, the migration done. */
  async steady(spec: unknown = {}): Promise<this> {
    this.spec(spec);
    await this.reconcile();
    this.rolled();
    await this.reconcile();
    this.jobSucceeded(((spec as { backend?: { image?: string } }).backend?.image) ?? DEFAULT_IMAGES.backend);
    await this.reconcile();
    expect(this.cond('Ready')?.status).toBe('True');
    return this;
  }
}

const applied = (calls: string[]) => calls.filter((c) => c.startsWith('apply') && /Deployment|StatefulSet|Job/.test(c)).sort();

describe('an upgrade rolls what changed, in the start order, the backend after its migration', () => {
  const NEXT = {
    database: { image: 'securevote/postgres:9.0.0' },
    backend: { image: 'securevote/backend:9.0.0' },
    frontend: { image: 'securevote/frontend:9.0.0' },
  };

  it('database first; the Job once the database is Ready; the backend once the Job succeeded; the frontend last; the unchanged proxy and cache never', async () => {
    const f = await new Fixture().steady();
    f.spec(NEXT);
    expect(applied(await f.reconcile())).toEqual(['apply StatefulSet/demo-database']);
    expect(f.cond('Progressing')).toMatchObject({ status: 'True' });
    expect(f.cond('Progressing')?.message).toContain('holding frontend until backend is rolled out and Ready');
    expect(f.cond('Progressing')?.message).toContain('waits for the database to be Ready');

    // The database isn't rolled out yet: nothing else moves.
    expect(applied(await f.reconcile())).toEqual([]);

    f.rolled('database');
    const newJob = `demo-migrate-${migrationHash(NEXT.backend.image)}`;
    expect(applied(await f.reconcile())).toEqual([`apply Job/${newJob}`]);
    expect(f.cond('Progressing')).toMatchObject({ reason: Reason.Migrating });
    expect(f.cond('Progressing')?.message).toContain(`holding backend until the migration Job ${newJob} has succeeded`);
    expect(f.world.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns', name: 'demo-backend' })!.spec).toMatchObject({
      template: { spec: { containers: [{ image: DEFAULT_IMAGES.backend }] } },
    });

    f.jobSucceeded(NEXT.backend.image);
    expect(applied(await f.reconcile())).toEqual(['apply Deployment/demo-backend']);
    expect(f.cond('Progressing')?.message).toMatch(/rolling out backend: 0 of 1 updated|holding frontend/);

    f.rolled('backend');
    expect(applied(await f.reconcile())).toEqual(['apply Deployment/demo-frontend']);
    f.rolled('frontend');
    expect(applied(await f.reconcile())).toEqual([]);
    expect(f.cond('Ready')?.status).toBe('True');
    expect(f.cond('Progressing')).toMatchObject({ status: 'False', reason: Reason.RolloutComplete });
    expect(f.status().components?.backend?.image).toBe(NEXT.backend.image);
    expect(f.status().components?.proxy?.image).toBe(DEFAULT_IMAGES.proxy);
    expect(f.status().operatorVersion).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('a change that keeps the backend image neither re-runs nor re-applies the migration Job (resources, replicas, log level)', async () => {
    const f = await new Fixture().steady();
    f.spec({ backend: { replicas: 2, resources: { limits: { memory: '1Gi' } } }, logLevel: 'debug' });
    const calls = await f.reconcile();
    expect(calls.filter((c) => c.includes('Job/'))).toEqual([]);
    expect(f.job()?.status).toMatchObject({ succeeded: 1 });
    // Scaling and resizing the backend touch the backend only (PostgreSQL's connection budget is sized for the most backends).
    expect(applied(calls)).toEqual(['apply Deployment/demo-backend']);
  });

  it('a fresh instance creates every workload at once (the init containers order the first start), the Job only when the database is Ready', async () => {
    const f = new Fixture().spec({});
    const calls = applied(await f.reconcile());
    expect(calls).toEqual(['apply Deployment/demo-backend', 'apply Deployment/demo-cache', 'apply Deployment/demo-frontend', 'apply Deployment/demo-proxy', 'apply StatefulSet/demo-database']);
    f.rolled('cache', 'backend');
    expect(applied(await f.reconcile())).toEqual([]);
    f.rolled('database');
    expect(applied(await f.reconcile())).toEqual([`apply Job/demo-migrate-${migrationHash(DEFAULT_IMAGES.backend)}`]);
  });
});

describe('a failed migration', () => {
  it('is Degraded at the first failed pod, while the Job still retries, with no re-creation yet', async () => {
    const f = await new Fixture().steady();
    const bad = 'securevote/backend:9.0.0-broken';
    f.spec({ backend: { image: bad } });
    await f.reconcile();
    const name = `demo-migrate-${migrationHash(bad)}`;
    f.job(bad)!.status = { active: 1, failed: 2 };
    const calls = await f.reconcile();
    expect(calls).not.toContain(`delete Job/${name}`);
    expect(f.cond('Degraded')).toMatchObject({ status: 'True', reason: Reason.MigrationFailed });
    expect(f.cond('Degraded')?.message).toContain(`the schema migration Job ${name} is failing: 2 of its pods failed`);
    expect(f.cond('Progressing')?.message).toContain('holding backend');
    // It recovers on its own: a later pod succeeds.
    f.jobSucceeded(bad);
    await f.reconcile();
    expect(f.cond('Degraded')).toMatchObject({ status: 'False' });
  });

  it('is Degraded (MigrationFailed, the Job’s message), then re-created after 30 s, 60 s, ... up to 5 min; a fixed image ends Ready', async () => {
    const f = await new Fixture().steady();
    const bad = 'securevote/backend:9.0.0-broken';
    f.spec({ backend: { image: bad } });
    await f.reconcile();
    const name = `demo-migrate-${migrationHash(bad)}`;
    expect(f.job(bad)).toBeDefined();
    f.jobFailed(f.clock, bad);
    f.clock += 10_000;
    let calls = await f.reconcile();
    expect(calls).not.toContain(`delete Job/${name}`);
    expect(f.cond('Degraded')).toMatchObject({ status: 'True', reason: Reason.MigrationFailed });
    expect(f.cond('Degraded')?.message).toContain('BackoffLimitExceeded: Job has reached the specified backoff limit');
    expect(f.cond('Degraded')?.message).toContain(name);
    // Back no later than the retry is due.
    expect((f.lastAction as { afterMs: number }).afterMs).toBeLessThanOrEqual(20_000);
    // The old backend keeps serving: its template is held.
    expect(f.cond('Progressing')?.message).toContain('holding backend');

    f.clock += 20_000;
    calls = await f.reconcile();
    expect(calls).toContain(`delete Job/${name}`);
    expect(f.status().migration).toMatchObject({ job: name, attempts: 1, lastFailure: expect.stringContaining('BackoffLimitExceeded') });
    calls = await f.reconcile();
    expect(calls).toContain(`apply Job/${name}`);

    // Fails again: now 60 s.
    f.jobFailed(f.clock, bad);
    f.clock += 59_000;
    expect(await f.reconcile()).not.toContain(`delete Job/${name}`);
    f.clock += 1_000;
    expect(await f.reconcile()).toContain(`delete Job/${name}`);
    expect(f.status().migration?.attempts).toBe(2);

    // A fixed image: a new Job (attempts start over), then the backend rolls and all is Ready.
    const good = 'securevote/backend:9.0.1';
    f.spec({ backend: { image: good } });
    calls = await f.reconcile();
    expect(calls).toContain(`apply Job/demo-migrate-${migrationHash(good)}`);
    expect(f.status().migration).toMatchObject({ attempts: 0 });
    expect(f.cond('Degraded')?.status).toBe('False');
    f.jobSucceeded(good);
    expect(applied(await f.reconcile())).toContain('apply Deployment/demo-backend');
    f.rolled();
    await f.reconcile();
    expect(f.cond('Ready')?.status).toBe('True');
    expect(f.status().components?.backend?.image).toBe(good);
  });

  it('the backoff doubles from 30 s and stops at 5 min', () => {
    expect([0, 1, 2, 3, 4, 5, 9].map(migrationBackoffMs)).toEqual([30_000, 60_000, 120_000, 240_000, 300_000, 300_000, 300_000]);
  });
});

describe('volume claim templates', () => {
  it('an existing StatefulSet keeps its live claim templates (an older release’s labels), so the apply is never refused', async () => {
    const f = await new Fixture().steady();
    const ref = { apiVersion: 'apps/v1', kind: 'StatefulSet', namespace: 'ns', name: 'demo-database' };
    const sts = f.world.get(ref)!;
    const old = [{ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', labels: { 'app.kubernetes.io/version': '0.1.0', 'app.kubernetes.io/managed-by': 'cdk8s' } }, spec: { accessModes: ['ReadWriteOnce'] }, status: { phase: 'Pending' } }];
    (sts.spec as { volumeClaimTemplates: unknown }).volumeClaimTemplates = old;
    sts.metadata.annotations = { ...sts.metadata.annotations, 'securevote.dev/template-hash': 'old' };
    // A change of the database's own spec, so the StatefulSet is applied.
    f.spec({ database: { resources: { limits: { memory: '640Mi' } } } });
    expect(applied(await f.reconcile())).toEqual(['apply StatefulSet/demo-database']);
    const after = f.world.get(ref)!;
    expect((after.spec as { volumeClaimTemplates: unknown }).volumeClaimTemplates).toEqual([{ ...old[0], status: undefined }].map(({ status: _s, ...r }) => r));
  });
});

describe("why not ready, from the instance's pods, listed only then", () => {
  const labels = (c: string, instance = 'demo') => ({ 'app.kubernetes.io/component': c, 'app.kubernetes.io/instance': instance, 'app.kubernetes.io/part-of': 'securevote' });
  const lists = (f: Fixture) => f.kube.calls.filter((c) => c.startsWith('list '));

  it("lists the instance's pods by its labels while components are not ready, and names each one's trouble", async () => {
    const f = await new Fixture().steady();
    const sts = f.world.get({ apiVersion: 'apps/v1', kind: 'StatefulSet', namespace: 'ns', name: 'demo-database' })!;
    const dep = f.world.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns', name: 'demo-frontend' })!;
    sts.status = { ...(sts.status as object), readyReplicas: 0 };
    dep.status = { ...(dep.status as object), readyReplicas: 0 };
    f.world.put({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'demo-database-0', namespace: 'ns', labels: labels('database') },
      status: { containerStatuses: [{ name: 'postgres', restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, reason: 'Error' } } }] },
    });
    f.world.put({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'demo-frontend-abc-x', namespace: 'ns', labels: labels('frontend') },
      spec: { containers: [{ name: 'frontend', image: 'securevote/frontend:nope' }] },
      status: { containerStatuses: [{ name: 'frontend', state: { waiting: { reason: 'ErrImagePull' } } }] },
    });
    // Another instance's pod in the namespace is not this one's trouble.
    f.world.put({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'other-backend-1', namespace: 'ns', labels: labels('backend', 'other') },
      status: { containerStatuses: [{ name: 'backend', restartCount: 9, state: { waiting: { reason: 'CrashLoopBackOff' } } }] },
    });
    f.world.put({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data-demo-database-0', namespace: 'ns', labels: labels('database') }, spec: {}, status: { phase: 'Bound' } });
    f.kube.calls.length = 0;
    await f.reconcile();
    expect(lists(f)).toEqual(['list Pod app.kubernetes.io/part-of=securevote,app.kubernetes.io/instance=demo']);
    expect(f.cond('Ready')).toMatchObject({ status: 'False', reason: Reason.ImagePullFailed });
    expect(f.cond('Ready')?.message).toContain('database 0/1 (pod demo-database-0: container postgres crash-looping (last exit code 1, Error; 3 restarts))');
    expect(f.cond('Ready')?.message).toContain("frontend 0/1 (pod demo-frontend-abc-x: image securevote/frontend:nope can't be pulled (ErrImagePull))");
    expect(f.cond('Ready')?.message).not.toContain('other-backend-1');
  });

  it('reads no pod once every workload is ready and rolled out', async () => {
    const f = await new Fixture().steady();
    f.world.put({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: 'demo-backend-1', namespace: 'ns', labels: labels('backend') },
      status: { containerStatuses: [{ name: 'backend', restartCount: 9, state: { waiting: { reason: 'CrashLoopBackOff' } } }] },
    });
    f.kube.calls.length = 0;
    await f.reconcile();
    expect(lists(f)).toEqual([]);
    expect(f.cond('Ready')).toMatchObject({ status: 'True' });
  });
});

describe('an operator upgrade alone never restarts PostgreSQL or Redis', () => {
  const ref = (kind: string, name: string): ObjectRef => ({ apiVersion: 'apps/v1', kind, namespace: 'ns', name });
  const DB = ref('StatefulSet', 'demo-database');
  const CACHE = ref('Deployment', 'demo-cache');
  const BACKEND = ref('Deployment', 'demo-backend');

  /** What an older release left: the same spec rendered without the newest template field, and maybe no spec hash. */
  const olderRelease = (f: Fixture, r: ObjectRef, keepSpecHash: boolean): void => {
    const live = f.world.get(r)!;
    const main = (live.spec as { template: { spec: { containers: Array<{ resources: { limits: Record<string, string>; requests: Record<string, string> } }> } } }).template.spec.containers[0]!;
    delete main.resources.limits['ephemeral-storage'];
    delete main.resources.requests['ephemeral-storage'];
    live.metadata.annotations!['securevote.dev/template-hash'] = 'older-release';
    live.metadata.annotations!['securevote.dev/desired-hash'] = 'older-release';
    if (!keepSpecHash) delete live.metadata.annotations!['securevote.dev/spec-hash'];
  };

  for (const keepSpecHash of [true, false]) {
    it(`keeps the live database and cache when only the rendering changed (${keepSpecHash ? 'spec hash recorded' : 'written before the spec hash'}), and says what waits`, async () => {
      const f = await new Fixture().steady();
      for (const r of [DB, CACHE, BACKEND]) olderRelease(f, r, keepSpecHash);
      const calls = applied(await f.reconcile());
      // The backend (not a restart-costly component) takes the new rendering; the database and cache don't.
      expect(calls).toEqual(['apply Deployment/demo-backend']);
      expect(f.status().components?.database?.pendingTemplate).toMatch(/waits for the next change of spec\.database/);
      expect(f.status().components?.cache?.pendingTemplate).toMatch(/spec\.cache/);
      f.rolled('backend');
      await f.reconcile();
      expect(f.cond('Ready')?.status).toBe('True');
    });
  }

  it('rolls the database as soon as its own spec changes, pending rendering included', async () => {
    const f = await new Fixture().steady();
    olderRelease(f, DB, false);
    expect(applied(await f.reconcile())).toEqual([]);
    f.spec({ database: { resources: { limits: { memory: '640Mi' } } } });
    expect(applied(await f.reconcile())).toEqual(['apply StatefulSet/demo-database']);
    const main = (f.world.get(DB)!.spec as { template: { spec: { containers: Array<{ resources: { limits: Record<string, string> } }> } } }).template.spec.containers[0]!;
    expect(main.resources.limits).toMatchObject({ memory: '640Mi', 'ephemeral-storage': expect.any(String) });
    expect(f.status().components?.database?.pendingTemplate).toBeUndefined();
  });

  /** A release that sized PostgreSQL's connections for the backend's replicas of the day, and recorded nothing of it. */
  const budgetOfTheDay = (f: Fixture): void => {
    olderRelease(f, DB, true);
    delete f.world.get(DB)!.metadata.annotations!['securevote.dev/sized-for-backend-replicas'];
  };

  for (const [what, backend, want] of [
    ['scaled past it', { replicas: 3 }, 3],
    ['autoscaled past it', { autoscaling: { minReplicas: 1, maxReplicas: 4 } }, 4],
    ['changed but not grown', { replicas: 1, resources: { limits: { memory: '1Gi' } } }, undefined],
  ] as const) {
    const rolls = want !== undefined;
    it(`a database sized for the backend of the day: a backend ${what} ${rolls ? 'rolls the database first, saying why' : 'leaves it pending'}`, async () => {
      const f = await new Fixture().steady();
      budgetOfTheDay(f);
      expect(applied(await f.reconcile())).toEqual([]);
      f.spec({ backend });
      const calls = applied(await f.reconcile());
      expect(calls.includes('apply StatefulSet/demo-database')).toBe(rolls);
      if (rolls) {
        expect(f.status().components?.database?.pendingTemplate).toBeUndefined();
        expect(f.cond('Progressing')?.message).toContain(
          `restarting the database for its new connection budget: the running one serves 1 backend replica, spec.backend asks for up to ${want}`,
        );
        // The new rendering records what it serves: the next scale needs no restart.
        expect(f.world.get(DB)!.metadata.annotations?.['securevote.dev/sized-for-backend-replicas']).toBe(String(MAX_REPLICAS));
      } else {
        expect(f.status().components?.database?.pendingTemplate).toMatch(/waits for the next change of spec\.database/);
      }
    });
  }

  it('scaling the backend leaves a pending database rendering pending', async () => {
    const f = await new Fixture().steady();
    olderRelease(f, DB, true);
    await f.reconcile();
    f.spec({ backend: { replicas: 3 } });
    expect(applied(await f.reconcile())).toEqual(['apply Deployment/demo-backend']);
    expect(f.status().components?.database?.pendingTemplate).toBeDefined();
  });
});
