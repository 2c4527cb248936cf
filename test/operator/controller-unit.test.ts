// The reconcile against a faked Context (no cluster): what it writes on a
// first pass, that a second pass over an up-to-date cache writes nothing,
// how it answers failures, and that the Controller treats a vanished key as
// done. The real API server's side of this is in reconcile.test.ts.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { WriteMemo } from '../../operator/apply.ts';
import {
  type Context,
  type EventRecorder,
  type JsonPatchOp,
  type KObject,
  type KubeApi,
  type ObjectCache,
  type ObjectRef,
  defaultConfig,
} from '../../operator/context.ts';
import { migrationHash } from '../../charts/migration.ts';
import { DEFAULT_IMAGES } from '../../charts/spec.ts';
import { Action, Controller, errorPolicy, reconcile } from '../../operator/controller.ts';
import { DesiredCache } from '../../operator/desired-cache.ts';
import { ErrorClass, ReconcileError } from '../../operator/errors.ts';
import { Metrics } from '../../operator/metrics.ts';
import { WorkQueue } from '../../operator/queue.ts';

const key = (r: { kind: string; namespace?: string; name: string }): string => `${r.kind}/${r.namespace ?? ''}/${r.name}`;

/** The cluster as the fake sees it: objects by kind/ns/name. */
class World implements ObjectCache {
  readonly objects = new Map<string, KObject>();
  private rv = 100;
  put(obj: KObject): KObject {
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    stored.metadata.uid ??= `uid-${this.rv}`;
    this.objects.set(key({ kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name }), stored);
    return stored;
  }
  get(ref: ObjectRef): KObject | undefined {
    return this.objects.get(key(ref));
  }
  list(kind: { apiVersion: string; kind: string }, namespace?: string): KObject[] {
    return [...this.objects.values()].filter((o) => o.kind === kind.kind && (namespace === undefined || o.metadata.namespace === namespace));
  }
  listOwned(_apiVersion: string, kind: string, namespace: string, ownerUid: string): KObject[] {
    return [...this.objects.values()].filter(
      (o) => o.kind === kind && o.metadata.namespace === namespace && o.metadata.ownerReferences?.some((r) => r.uid === ownerUid && r.controller),
    );
  }
}

class FakeKube implements KubeApi {
  /** No monitoring.coreos.com here, as on a cluster without the Prometheus Operator. */
  async serves(): Promise<boolean> {
    return false;
  }
  readonly calls: string[] = [];
  refuse: ((obj: KObject) => Error | undefined) | undefined;
  private readonly world: World;
  constructor(world: World) {
    this.world = world;
  }
  async apply(obj: KObject): Promise<KObject> {
    this.calls.push(`apply ${obj.kind}/${obj.metadata.name}`);
    const err = this.refuse?.(obj);
    if (err) throw err;
    return this.world.put(obj);
  }
  async create(obj: KObject): Promise<KObject> {
    this.calls.push(`create ${obj.kind}/${obj.metadata.name}`);
    if (this.world.get({ ...obj, namespace: obj.metadata.namespace, name: obj.metadata.name })) {
      throw Object.assign(new Error('exists'), { code: 409, body: { reason: 'AlreadyExists', message: 'already exists' } });
    }
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
    this.calls.push(`status ${ref.name}`);
    const sv = this.world.get(ref);
    if (!sv) throw Object.assign(new Error('gone'), { code: 404 });
    return this.world.put({ ...sv, status });
  }
  readonly patches: JsonPatchOp[][] = [];
  async jsonPatch(ref: ObjectRef, ops: JsonPatchOp[]): Promise<KObject> {
    this.calls.push(`json-patch ${ref.kind}/${ref.name}`);
    this.patches.push(ops);
    const obj = structuredClone(this.world.get(ref) as KObject);
    // The two ops the credentials use: a resourceVersion test, an add of the owner references.
    for (const op of ops) {
      if (op.op === 'test' && op.path === '/metadata/resourceVersion' && op.value !== obj.metadata.resourceVersion) {
        throw Object.assign(new Error('422'), { code: 422, body: { message: 'the server rejected our request: test operation does not apply' } });
      }
      if (op.op === 'add' && op.path === '/metadata/ownerReferences') obj.metadata.ownerReferences = op.value as KObject['metadata']['ownerReferences'];
    }
    return this.world.put(obj);
  }
}

class Events implements EventRecorder {
  readonly seen: string[] = [];
  async publish(_o: KObject, type: string, reason: string): Promise<void> {
    this.seen.push(`${type}/${reason}`);
  }
}

/** Small chained builder for a test's world. */
class Fixture {
  readonly world = new World();
  readonly kube = new FakeKube(this.world);
  readonly events = new Events();
  readonly ctx: Context = {
    kube: this.kube,
    cache: this.world,
    events: this.events,
    metrics: new Metrics(),
    log: pino({ level: 'silent' }),
    config: defaultConfig,
    desired: new DesiredCache(),
    writes: new WriteMemo(),
    now: () => new Date('2026-01-01T00:00:00Z'),
  };
  withSecureVote(name: string, spec: unknown = {}, generation = 1): this {
    this.world.put({ apiVersion: 'securevote.dev/v1alpha1', kind: 'SecureVote', metadata: { name, namespace: 'ns', generation, uid: `sv-${name}` }, spec });
    return this;
  }
  /** The workload controllers did their job: every Deployment/StatefulSet reports its replicas ready. */
  allPodsReady(): this {
    for (const o of this.world.objects.values()) {
      if (o.kind !== 'Deployment' && o.kind !== 'StatefulSet') continue;
      const n = ((o.spec as { replicas?: number }).replicas ?? 1);
      o.metadata.generation = 1;
      o.status = { observedGeneration: 1, replicas: n, updatedReplicas: n, readyReplicas: n, availableReplicas: n };
    }
    return this;
  }
  sv(name: string): KObject {
    return this.world.get({ apiVersion: 'securevote.dev/v1alpha1', kind: 'SecureVote', namespace: 'ns', name }) as KObject;
  }
}

describe('reconcile', () => {
  it('first pass: the credentials (create), every child (apply) but the migration Job, the status; second pass: nothing; the Job once the database is Ready', async () => {
    const f = new Fixture().withSecureVote('demo');
    // Pods are listed (a read) only while something is not ready: before new credentials, and to say why.
    const writes = (): string[] => f.kube.calls.filter((c) => !c.startsWith('list '));
    const podLists = (): number => f.kube.calls.filter((c) => c.startsWith('list Pod ')).length;
    const action = await reconcile(f.sv('demo'), f.ctx);
    expect(action).toEqual(Action.requeue(defaultConfig.progressingRequeueMs));
    expect(writes()[0]).toBe('create Secret/demo-credentials');
    expect(writes().filter((c) => c.startsWith('apply')).length).toBeGreaterThan(15);
    // The Job waits for a Ready database: it must not hold CPU while it waits.
    expect(writes().filter((c) => c.startsWith('apply Job'))).toEqual([]);
    expect(writes().at(-1)).toBe('status demo');
    expect(podLists()).toBe(2);
    expect(f.sv('demo').status).toMatchObject({ phase: 'Progressing', observedGeneration: 1 });

    f.kube.calls.length = 0;
    await reconcile(f.sv('demo'), f.ctx);
    expect(writes()).toEqual([]);
    expect(podLists()).toBe(1);

    f.allPodsReady();
    await reconcile(f.sv('demo'), f.ctx);
    expect(writes()).toEqual([`apply Job/demo-migrate-${migrationHash(DEFAULT_IMAGES.backend)}`, 'status demo']);
    expect(f.sv('demo').status).toMatchObject({ phase: 'Ready' });
    expect(f.events.seen).toContain('Normal/AllComponentsReady');

    // The migration done, then settled: no request at all, not even a read.
    f.world.get({ apiVersion: 'batch/v1', kind: 'Job', namespace: 'ns', name: `demo-migrate-${migrationHash(DEFAULT_IMAGES.backend)}` })!.status = { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] };
    await reconcile(f.sv('demo'), f.ctx);
    f.kube.calls.length = 0;
    const again = await reconcile(f.sv('demo'), f.ctx);
    expect(f.kube.calls).toEqual([]);
    expect(again).toEqual(Action.requeue(defaultConfig.resyncMs));
  });

  it('a child edited by hand is re-applied, and only that one', async () => {
    const f = new Fixture().withSecureVote('demo');
    await reconcile(f.sv('demo'), f.ctx);
    const dep = f.world.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns', name: 'demo-frontend' }) as KObject & { spec: { replicas: number } };
    dep.spec.replicas = 7;
    dep.metadata.resourceVersion = '99999';
    f.kube.calls.length = 0;
    await reconcile(f.sv('demo'), f.ctx);
    expect(f.kube.calls.filter((c) => c.startsWith('apply'))).toEqual(['apply Deployment/demo-frontend']);
  });

  it('a child the spec no longer wants is pruned', async () => {
    const f = new Fixture().withSecureVote('demo', { backend: { replicas: 2 } });
    await reconcile(f.sv('demo'), f.ctx);
    expect(f.world.get({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', namespace: 'ns', name: 'demo-backend' })).toBeDefined();
    f.withSecureVote('demo', {}, 2);
    f.kube.calls.length = 0;
    await reconcile(f.sv('demo'), f.ctx);
    expect(f.kube.calls).toContain('delete PodDisruptionBudget/demo-backend');
    expect(f.kube.calls).not.toContain('delete Secret/demo-credentials');
  });

  it('the credentials: owned while the volume goes with the resource, unowned while it is kept, moved when the flag flips; data never sent again', async () => {
    const secretRef = { apiVersion: 'v1', kind: 'Secret', namespace: 'ns', name: 'demo-credentials' };
    const owners = (): unknown => f.world.get(secretRef)?.metadata.ownerReferences;
    const f = new Fixture().withSecureVote('demo', { database: { storage: { retainOnDelete: false } } });
    await reconcile(f.sv('demo'), f.ctx);
    expect(owners()).toEqual([expect.objectContaining({ kind: 'SecureVote', name: 'demo', uid: 'sv-demo', controller: true, blockOwnerDeletion: true })]);
    const data = structuredClone(f.world.get(secretRef)?.data);

    f.withSecureVote('demo', { database: { storage: { retainOnDelete: true } } }, 2);
    f.kube.calls.length = 0;
    await reconcile(f.sv('demo'), f.ctx);
    expect(f.kube.calls.filter((c) => c.includes('Secret/'))).toEqual(['json-patch Secret/demo-credentials']);
    expect(owners()).toEqual([]);
    const ops = f.kube.patches.at(-1) ?? [];
    expect(ops[0]).toMatchObject({ op: 'test', path: '/metadata/resourceVersion' });
    expect(ops.map((o) => o.path)).toEqual(['/metadata/resourceVersion', '/metadata/ownerReferences']);

    // At rest: nothing more.
    f.kube.calls.length = 0;
    await reconcile(f.sv('demo'), f.ctx);
    expect(f.kube.calls.filter((c) => c.includes('Secret/'))).toEqual([]);

    // existingSecret set: ours is not re-created if gone, but while there it still follows the flag.
    f.withSecureVote('demo', { existingSecret: 'mine', database: { storage: { retainOnDelete: false } } }, 3);
    await reconcile(f.sv('demo'), f.ctx);
    expect(owners()).toEqual([expect.objectContaining({ uid: 'sv-demo' })]);
    expect(f.world.get(secretRef)?.data).toEqual(data);
    f.world.objects.delete('Secret/ns/demo-credentials');
    f.kube.calls.length = 0;
    await reconcile(f.sv('demo'), f.ctx);
    expect(f.kube.calls.filter((c) => c.includes('Secret/'))).toEqual([]);
  });

  it('a hand-made <name>-credentials (without our label) is never touched', async () => {
    const f = new Fixture().withSecureVote('demo', { database: { storage: { retainOnDelete: false } } });
    f.world.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'demo-credentials', namespace: 'ns' }, data: { x: 'eQ==' } });
    await reconcile(f.sv('demo'), f.ctx);
    expect(f.kube.calls.filter((c) => c.includes('Secret/'))).toEqual([]);
  });

  it('a credentials owner patch that loses a race is a conflict (retried), not a refusal', async () => {
    const f = new Fixture().withSecureVote('demo', { database: { storage: { retainOnDelete: false } } });
    await reconcile(f.sv('demo'), f.ctx);
    f.withSecureVote('demo', {}, 2);
    const realGet = f.kube.get.bind(f.kube);
    // The copy we read is older than the server's by the time we patch.
    f.kube.get = async (ref) => {
      const o = await realGet(ref);
      return o && ref.kind === 'Secret' ? { ...o, metadata: { ...o.metadata, resourceVersion: '1' } } : o;
    };
    await expect(reconcile(f.sv('demo'), f.ctx)).rejects.toMatchObject({ errorClass: ErrorClass.Conflict });
  });

  it('a resource being deleted is left to garbage collection', async () => {
    const f = new Fixture().withSecureVote('demo');
    const sv = { ...f.sv('demo'), metadata: { ...f.sv('demo').metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } };
    expect(await reconcile(sv, f.ctx)).toEqual(Action.awaitChange());
    expect(f.kube.calls).toEqual([]);
  });

  it('a refused apply: errorPolicy marks Degraded with the message and retries slowly', async () => {
    const f = new Fixture().withSecureVote('demo');
    f.kube.refuse = (o) =>
      o.kind === 'Deployment' && o.metadata.name === 'demo-proxy'
        ? Object.assign(new Error('422'), { code: 422, body: { message: 'Deployment.apps "demo-proxy" is invalid: spec.x: Invalid value' } })
        : undefined;
    let err: unknown;
    try {
      await reconcile(f.sv('demo'), f.ctx);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ReconcileError);
    expect((err as ReconcileError).errorClass).toBe(ErrorClass.Rejected);
    const action = await errorPolicy(f.sv('demo'), err as ReconcileError, f.ctx);
    expect(action).toEqual(Action.requeue(defaultConfig.permanentRetryMs));
    const deg = (f.sv('demo').status as { conditions: Array<{ type: string; status: string; message: string }> }).conditions.find((c) => c.type === 'Degraded');
    expect(deg).toMatchObject({ status: 'True' });
    expect(deg?.message).toContain('spec.x: Invalid value');
    expect(f.events.seen).toContain('Warning/ApplyRejected');
  });

  it('a transient failure backs off without touching the status', async () => {
    const f = new Fixture().withSecureVote('demo');
    const action = await errorPolicy(f.sv('demo'), new ReconcileError(ErrorClass.Transient, 'ECONNRESET'), f.ctx);
    expect(action).toEqual(Action.backoff());
    expect(f.kube.calls).toEqual([]);
  });

  it('a spec the schema let through but the stack refuses is Degraded (InvalidSpec), not a crash', async () => {
    const f = new Fixture().withSecureVote('demo', { backend: { replicas: 'many' } });
    await expect(reconcile(f.sv('demo'), f.ctx)).rejects.toMatchObject({ errorClass: ErrorClass.InvalidSpec });
  });
});

describe('Controller', () => {
  it('a key whose resource is gone is done (NotFound is not an error); a failure goes to the backoff', async () => {
    const f = new Fixture().withSecureVote('demo');
    const c = new Controller(f.ctx, (ns, name) => f.world.get({ apiVersion: 'securevote.dev/v1alpha1', kind: 'SecureVote', namespace: ns, name }));
    const q = new WorkQueue((k) => c.handle(k), { baseDelayMs: 10_000 });
    c.queue = q;
    await c.handle('ns/absent');
    expect(q.failuresOf('ns/absent')).toBe(0);
    f.kube.refuse = () => Object.assign(new Error('503'), { code: 503, body: { message: 'etcdserver: leader changed' } });
    await c.handle('ns/demo');
    expect(q.failuresOf('ns/demo')).toBe(1);
    expect(await f.ctx.metrics.registry.getSingleMetricAsString('securevote_operator_api_errors_total')).toContain('class="transient"} 1');
    await q.shutdown();
  });

  it('maps a child to its owner, or by the instance label when it lost its owner reference', () => {
    const owned: KObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'x', namespace: 'ns', ownerReferences: [{ apiVersion: 'securevote.dev/v1alpha1', kind: 'SecureVote', name: 'demo', uid: 'u', controller: true }] },
    };
    expect(Controller.ownerKey(owned)).toBe('ns/demo');
    expect(Controller.ownerKey({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ns', labels: { 'securevote.dev/instance': 'demo' } } })).toBe('ns/demo');
    expect(Controller.ownerKey({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ns' } })).toBeUndefined();
  });
});
