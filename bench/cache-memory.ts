// `make bench-cache`: what the operator's cache holds per SecureVote, in one
// process, in seconds (the kwok benchmark, bench/operator.ts, takes a quarter
// of an hour at 1,000 and measures the whole process). The operator's own
// Manager and Informers, on client-node's ListWatch, are fed by a scripted
// watch what a bring-up of N stacks sends: each SecureVote with its spec as
// the API server fills it in and a Ready status, and its children as the
// API server returns them (uid, resourceVersion, managedFields, a status on
// the workloads). The reconcile does nothing here; the condition gauge gets
// each resource's conditions, as the reconcile would set them. Heap and
// external memory are read after gc(), before and after, and per resource.
//
//   node --expose-gc bench/cache-memory.ts [--sizes 100,1000]
import { randomUUID } from 'node:crypto';
import { type KubernetesObject, ListWatch, type Watch } from '@kubernetes/client-node';
import { pino } from 'pino';
import { COMPONENTS } from '../charts/rules.ts';
import { defaultSpec } from '../charts/spec.ts';
import type { Context, KObject } from '../operator/context.ts';
import { renderChildren } from '../operator/desired.ts';
import { type CachingInformer, Informers, kindKey } from '../operator/informers.ts';
import { Manager, WATCHED_KINDS } from '../operator/manager.ts';
import { Metrics } from '../operator/metrics.ts';
import { computeStatus } from '../operator/status.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('usage: node --expose-gc bench/cache-memory.ts [--sizes 100,1000]');
  process.exit(2);
}
const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const sizes = arg('sizes', '100,1000').split(',').map(Number);

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};
const memory = async (): Promise<{ heap: number; external: number }> => {
  for (let i = 0; i < 3; i++) {
    gc();
    await settle();
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external };
};

/** One watch per kind; `send` delivers an event on it as the API server's stream would (a fresh parse). */
class BenchWatch {
  private readonly open = new Map<string, (type: string, obj: unknown) => void>();
  async watch(path: string, _q: unknown, cb: (type: string, obj: unknown) => void): Promise<AbortController> {
    this.open.set(path, cb);
    return new AbortController();
  }
  send(path: string, text: string): void {
    this.open.get(path)?.('ADDED', JSON.parse(text));
  }
}

/** The stacks' objects as JSON texts, by kind key, as the API server would send them. */
function texts(n: number, run: number): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (o: KObject): void => {
    const k = kindKey(o);
    out.set(k, [...(out.get(k) ?? []), JSON.stringify(o)]);
  };
  let rv = 1000;
  const now = '2026-12-04T10:00:00Z';
  const components = Object.fromEntries(COMPONENTS.map((c) => [c, { ready: 1, desired: 1, rolledOut: true }]));
  for (let i = 0; i < n; i++) {
    const name = `sv-${run}-${i}`;
    const namespace = `bench-${run}-${i}`;
    const sv: KObject = { apiVersion: 'securevote.dev/v1alpha1', kind: 'SecureVote', metadata: { name, namespace, uid: randomUUID(), generation: 1 }, spec: defaultSpec() };
    for (const c of renderChildren(sv, defaultSpec())) {
      Object.assign(c.metadata, { uid: randomUUID(), resourceVersion: String(rv++), creationTimestamp: now, managedFields: [{ manager: 'securevote-operator', operation: 'Apply', apiVersion: c.apiVersion, time: now, fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': {}, 'f:spec': {} } }] });
      if (c.kind === 'Deployment' || c.kind === 'StatefulSet') c.status = { observedGeneration: 1, replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1, conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', lastTransitionTime: now }] };
      add(c);
    }
    sv.status = computeStatus(undefined, { generation: 1, components, url: `http://${name}-proxy.${namespace}.svc:8080`, migration: 'done' } as never, new Date(now));
    sv.metadata.resourceVersion = String(rv++);
    add(sv);
  }
  return out;
}

async function measure(n: number, run: number): Promise<{ n: number; heapMiB: number; externalMiB: number; perResourceKiB: number }> {
  const byKind = texts(n, run);
  const watch = new BenchWatch();
  const metrics = new Metrics();
  const log = pino({ level: 'silent' });
  const paths = Object.fromEntries(WATCHED_KINDS.map((k) => [kindKey(k), `/watch/${kindKey(k)}`]));
  const manager = new Manager({
    base: { log, metrics, config: { concurrency: 1 } } as unknown as Omit<Context, 'cache'>,
    paths: async () => paths,
    informers: (specs, p) => new Informers(specs, p, () => async () => ({ items: [], metadata: { resourceVersion: '1' } }) as never,
      (path, list, selector) => new ListWatch<KubernetesObject>(path, watch as unknown as Watch, list, false, selector) as unknown as CachingInformer, { log }),
    reconciler: () => ({ queue: undefined, handle: async () => {} }),
  });
  await manager.start();
  const before = await memory();
  for (const [k, items] of byKind) {
    for (const t of items) watch.send(`/watch/${k}`, t);
    await settle();
  }
  for (const t of byKind.get('securevote.dev/v1alpha1/SecureVote') ?? []) {
    const sv = JSON.parse(t) as KObject;
    metrics.setConditions(sv.metadata.namespace ?? '', sv.metadata.name, (sv.status as { conditions: { type: string; status: string }[] }).conditions);
  }
  const after = await memory();
  const cached = manager.ctx?.cache.list({ apiVersion: 'v1', kind: 'ConfigMap' }).length ?? 0;
  if (cached === 0) throw new Error('nothing reached the cache');
  await manager.stop();
  const heap = after.heap - before.heap;
  const external = after.external - before.external;
  // The texts are alive in both readings: only what the cache and the gauge hold is counted.
  byKind.clear();
  return { n, heapMiB: heap / 2 ** 20, externalMiB: external / 2 ** 20, perResourceKiB: (heap + external) / 1024 / n };
}

console.log('| SecureVotes | heap | external | per SecureVote |');
console.log('|---:|---:|---:|---:|');
for (const [run, n] of sizes.entries()) {
  const r = await measure(n, run);
  console.log(`| ${r.n.toLocaleString('en')} | ${r.heapMiB.toFixed(1)} MiB | ${r.externalMiB.toFixed(1)} MiB | ${r.perResourceKiB.toFixed(1)} KiB |`);
}
