// The children the operator writes are cached compressed (operator/packed.ts):
// what the cache gives back is the very object the API server sent, the
// owner index still works on the packed form, a stack's children take a
// small fraction of their JSON, and what they have in common is held once.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { defaultSpec } from '../../charts/spec.ts';
import type { KObject } from '../../operator/context.ts';
import { Controller } from '../../operator/controller.ts';
import { renderChildren } from '../../operator/desired.ts';
import { upToDate } from '../../operator/diff.ts';
import { packChild, packedBytes, sharedRecords, unpack } from '../../operator/packed.ts';

const sv = (name: string, uid: string): KObject => ({
  apiVersion: 'securevote.dev/v1alpha1',
  kind: 'SecureVote',
  metadata: { name, namespace: `team-${name}`, uid, generation: 3 },
  spec: {},
});

/** A rendered child as the API server returns it: defaults filled, status written, a resource version. */
function live(child: KObject, i: number): KObject {
  const o = structuredClone(child);
  o.metadata.uid = `c0ffee00-0000-4000-8000-${String(i).padStart(12, '0')}`;
  o.metadata.resourceVersion = String(1000 + i);
  o.metadata.creationTimestamp = '2026-12-01T10:00:00Z';
  if (o.kind === 'Deployment' || o.kind === 'StatefulSet') {
    o.status = { observedGeneration: 2, replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1, conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', lastTransitionTime: '2026-12-01T10:00:09Z' }] };
    (o.spec as Record<string, unknown>).revisionHistoryLimit = 10;
  }
  return o;
}

describe('packed children', () => {
  const whole = renderChildren(sv('ballot', '7f3e9a10-2b4c-4d5e-8f60-718293a4b5c6'), { ...defaultSpec(), backend: { ...defaultSpec().backend, replicas: 2 } }).map(live);

  it('unpack gives back exactly the object that was packed, for every kind the stack renders', () => {
    for (const w of whole) {
      const o = structuredClone(w);
      packChild(o, w.kind);
      expect(unpack(o, w.kind)).toEqual(w);
      // Drift detection reads the unpacked object: the same verdict as on the whole one.
      expect(upToDate(unpack(o, w.kind), w)).toBe(upToDate(w, w));
    }
    expect(new Set(whole.map((w) => w.kind)).size).toBeGreaterThanOrEqual(6);
  });

  it('the packed form keeps what the informer and the owner index read; packing twice changes nothing', () => {
    const w = whole.find((x) => x.kind === 'Deployment') as KObject;
    const o = structuredClone(w);
    packChild(o, 'Deployment');
    expect(o.metadata).toEqual({
      name: w.metadata.name, namespace: w.metadata.namespace, uid: w.metadata.uid, resourceVersion: w.metadata.resourceVersion,
      labels: { 'securevote.dev/instance': 'ballot' }, ownerReferences: w.metadata.ownerReferences,
    });
    expect(o.spec).toBeUndefined();
    expect(Controller.ownerKey(o)).toBe('team-ballot/ballot');
    const bytes = packedBytes(o);
    packChild(o, 'Deployment');
    expect(packedBytes(o)).toBe(bytes);
    expect(unpack(o, 'Deployment')).toEqual(w);
  });

  it('a stack’s children keep under a tenth of their JSON in memory', () => {
    let json = 0;
    let packed = 0;
    for (const w of whole) {
      json += JSON.stringify(w).length;
      const o = structuredClone(w);
      packChild(o, w.kind);
      packed += packedBytes(o);
    }
    expect(json).toBeGreaterThan(40_000);
    expect(packed).toBeLessThan(json / 10);
  });

  it('a SecureVote, as the API server returns it, packs and comes back whole', () => {
    const w = { ...sv('ballot', '7f3e9a10-2b4c-4d5e-8f60-718293a4b5c6'), spec: defaultSpec(), status: { observedGeneration: 3, conditions: [{ type: 'Ready', status: 'True', reason: 'AllComponentsReady', message: 'every component has its pods ready', lastTransitionTime: '2026-12-01T10:00:09Z', observedGeneration: 3 }] } };
    w.metadata.resourceVersion = '4242';
    const o = structuredClone(w);
    packChild(o, 'SecureVote');
    expect(o.spec).toBeUndefined();
    expect(o.metadata).toEqual({ name: 'ballot', namespace: 'team-ballot', uid: w.metadata.uid, resourceVersion: '4242' });
    expect(unpack(o, 'SecureVote')).toEqual(w);
    // Against its dictionary (the spec's defaults), a fifth of its JSON or less.
    expect(packedBytes(o)).toBeLessThan(JSON.stringify(w).length / 5);
  });

  it('an object that was never packed is given back as it is', () => {
    const w = whole[0] as KObject;
    expect(unpack(w, w.kind)).toBe(w);
  });

  it('the children of one stack share one frozen record of their owner; another stack’s children do not', () => {
    const other = renderChildren(sv('poll', '0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d'), defaultSpec()).map(live);
    const pack = (ws: KObject[]): KObject[] => ws.map((w) => {
      const o = structuredClone(w);
      packChild(o, w.kind);
      return o;
    });
    const [a, b] = [pack(whole), pack(other)];
    expect(new Set(a.map((o) => o.metadata.ownerReferences)).size).toBe(1);
    expect(new Set(a.map((o) => o.metadata.labels)).size).toBe(1);
    expect(a[0]?.metadata.ownerReferences).not.toBe(b[0]?.metadata.ownerReferences);
    expect(b[0]?.metadata.ownerReferences?.[0]?.name).toBe('poll');
    // Shared, so read-only: a write would change every sibling's owner.
    const ref = a[0]?.metadata.ownerReferences?.[0] as { name: string };
    expect(() => { ref.name = 'other'; }).toThrow(TypeError);
    expect(unpack(a[0] as KObject, whole[0]?.kind ?? '')).toEqual(whole[0]);
    // Each kind's dictionary was fixed by the first stack's objects: the second's come back whole too.
    expect(b.map((o, i) => unpack(o, other[i]?.kind ?? ''))).toEqual(other);
    expect(sharedRecords()).toBeGreaterThanOrEqual(2);
  });

  it('a shared record lives as long as its children are cached, and leaves the table with them', () => {
    // A process of its own, for V8's gc(): 40 stacks packed, dropped, collected.
    const script = `
      import { renderChildren } from './operator/desired.ts';
      import { packChild, sharedRecords } from './operator/packed.ts';
      import { defaultSpec } from './charts/spec.ts';
      // In functions: a module awaiting at its top keeps its loops' last values alive.
      const packed = (i) => renderChildren({ apiVersion: 'securevote.dev/v1alpha1', kind: 'SecureVote', metadata: { name: 'sv' + i, namespace: 'ns', uid: 'uid-' + i }, spec: {} }, defaultSpec())
        .map((c) => { packChild(c, c.kind); return c; });
      const collect = async (until) => { for (let i = 0; i < 20 && !until(); i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); } };
      let kept = Array.from({ length: 40 }, (_, i) => packed(i)).flat();
      const held = sharedRecords();
      // While its children are cached, a record stays, and a new child of the same owner shares it.
      await collect(() => false);
      const stillShared = sharedRecords() === 40 && packed(0)[0].metadata.ownerReferences === kept[0].metadata.ownerReferences;
      kept = [];
      await collect(() => sharedRecords() === 0);
      console.log(JSON.stringify({ held, stillShared, after: sharedRecords() }));`;
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url), encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ held: 40, stillShared: true, after: 0 });
  });
});
