// The read-only kind's trim (operator/trim.ts) keeps every field the
// reconcile reads: a trimmed claim gives the same diagnosis and the same
// resource key as the whole object the API server sent.
import { describe, expect, it } from 'vitest';
import type { KObject } from '../../operator/context.ts';
import { Controller } from '../../operator/controller.ts';
import { diagnoseClaim } from '../../operator/status.ts';
import { trimReadOnly } from '../../operator/trim.ts';

const clone = <T>(o: T): T => structuredClone(o);

describe('trimming what the operator only reads', () => {
  it('a claim: phase, storage class and provisioner kept; the same diagnosis', () => {
    const whole: KObject = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: 'data-sv-database-0', namespace: 'votes', uid: 'pvc-1', resourceVersion: '9',
        labels: { 'app.kubernetes.io/component': 'database', 'app.kubernetes.io/instance': 'sv', 'app.kubernetes.io/part-of': 'securevote' },
        annotations: { 'volume.kubernetes.io/storage-provisioner': 'rancher.io/local-path', 'volume.kubernetes.io/selected-node': 'kind-control-plane' },
        finalizers: ['kubernetes.io/pvc-protection'],
      },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'standard', volumeMode: 'Filesystem' },
      status: { phase: 'Pending' },
    };
    const trimmed = clone(whole);
    trimReadOnly(trimmed, 'PersistentVolumeClaim');
    expect(diagnoseClaim(trimmed)).toEqual(diagnoseClaim(whole));
    expect(diagnoseClaim(trimmed)?.message).toContain('"standard"');
    expect(diagnoseClaim(trimmed)?.message).toContain('rancher.io/local-path');
    expect(Controller.ownerKey(trimmed)).toBe('votes/sv');
  });

});
