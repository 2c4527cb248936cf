// The children the operator writes are cached compressed (operator/packed.ts):
// what the cache gives back is the very object the API server sent, the
// owner index still works on the packed form, and a stack's children take a
// small fraction of their JSON.
import { describe, expect, it } from 'vitest';
import { defaultSpec } from '../../charts/spec.ts';
import type { KObject } from '../../operator/context.ts';
import { Controller } from '../../operator/controller.ts';
import { renderChildren } from '../../operator/desired.ts';
import { upToDate } from '../../operator/diff.ts';
import { packChild, packedBytes, unpack } from '../../operator/packed.ts';

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

  it('an object that was never packed is given back as it is', () => {
    const w = whole[0] as KObject;
    expect(unpack(w, w.kind)).toBe(w);
  });
});
