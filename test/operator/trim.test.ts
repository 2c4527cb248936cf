// The read-only kinds' trim (operator/trim.ts) keeps every field the
// reconcile reads: a trimmed pod or claim gives the same diagnoses, the same
// owner and the same resource key as the whole object the API server sent,
// and is several times smaller.
import { describe, expect, it } from 'vitest';
import type { KObject } from '../../operator/context.ts';
import { Controller } from '../../operator/controller.ts';
import { diagnose, diagnoseClaim, diagnosePod } from '../../operator/status.ts';
import { trimReadOnly } from '../../operator/trim.ts';

const clone = <T>(o: T): T => structuredClone(o);

/** A backend pod as a 1.33 API server returns it (list item: no kind), with the state under test. */
function wholePod(containerStatus: object, extra: { phase?: string; conditions?: object[]; init?: object[] } = {}): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'sv-backend-7d9f8b6c5-x2x9q',
      generateName: 'sv-backend-7d9f8b6c5-',
      namespace: 'votes',
      uid: '0b6f4a8e-9c1d-4d8e-8f5a-1b2c3d4e5f60',
      resourceVersion: '48213',
      creationTimestamp: '2026-12-01T10:00:00Z',
      labels: {
        'app.kubernetes.io/name': 'securevote',
        'app.kubernetes.io/instance': 'sv',
        'app.kubernetes.io/component': 'backend',
        'app.kubernetes.io/part-of': 'securevote',
        'app.kubernetes.io/version': '0.2.0',
        'pod-template-hash': '7d9f8b6c5',
      },
      annotations: { 'securevote.dev/config-hash': 'f00d', 'kubectl.kubernetes.io/default-container': 'backend' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'sv-backend-7d9f8b6c5', uid: 'rs-uid-1', controller: true, blockOwnerDeletion: true }],
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': {} } }],
    },
    spec: {
      initContainers: [{ name: 'wait-for-database', image: 'securevote/backend:0.2.0', command: ['sh', '-c', 'until nc -z db 5432; do sleep 1; done'], resources: { requests: { cpu: '10m' } } }],
      containers: [{
        name: 'backend', image: 'securevote/backend:0.2.0', ports: [{ containerPort: 3000, protocol: 'TCP' }],
        env: [{ name: 'PGHOST', value: 'sv-database' }, { name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: 'sv-credentials', key: 'password' } } }],
        resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '256Mi' } },
        readinessProbe: { httpGet: { path: '/readyz', port: 3000 }, periodSeconds: 5 },
        securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
      }],
      volumes: [{ name: 'tmp', emptyDir: { medium: 'Memory' } }],
      nodeName: 'kind-control-plane', serviceAccountName: 'sv-backend', tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
    },
    status: {
      phase: extra.phase ?? 'Running',
      conditions: extra.conditions ?? [
        { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-12-01T10:00:00Z' },
        { type: 'Ready', status: 'False', lastProbeTime: null, lastTransitionTime: '2026-12-01T10:00:05Z', reason: 'ContainersNotReady', message: 'containers with unready status: [backend]' },
      ],
      hostIP: '172.18.0.2', podIP: '10.244.0.17', podIPs: [{ ip: '10.244.0.17' }], qosClass: 'Burstable', startTime: '2026-12-01T10:00:00Z',
      initContainerStatuses: extra.init ?? [{ name: 'wait-for-database', image: 'securevote/backend:0.2.0', imageID: 'sha256:abc', ready: true, restartCount: 0, started: false, state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: 'x', finishedAt: 'y', containerID: 'containerd://1' } } }],
      containerStatuses: [{ name: 'backend', image: 'securevote/backend:0.2.0', imageID: 'sha256:def', ready: false, started: false, containerID: 'containerd://2', ...containerStatus }],
    },
  };
}

const CASES: Array<[string, KObject]> = [
  ['running', wholePod({ restartCount: 0, state: { running: { startedAt: 'x' } } })],
  ['crash loop', wholePod({ restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', startedAt: 'a', finishedAt: 'b', containerID: 'c' } } })],
  ['image pull', wholePod({ image: 'securevote/backend:9', restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } } })],
  ['config error', wholePod({ restartCount: 0, state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "sv-credentials" not found' } } })],
  ['failed run', wholePod({ restartCount: 0, state: { terminated: { exitCode: 1, reason: 'Error', message: 'connecting\nrelation "votes" already exists\n' } } }, { phase: 'Failed' })],
  ['waiting for a dependency', wholePod({ restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } }, { phase: 'Pending', init: [{ name: 'wait-for-database', image: 'i', ready: false, restartCount: 0, state: { running: { startedAt: 'x' } } }] })],
  ['unschedulable', wholePod({ restartCount: 0, state: { waiting: { reason: 'Pending' } } }, { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient cpu.', lastTransitionTime: 'x' }] })],
];

describe('trimming what the operator only reads', () => {
  it.each(CASES)('a pod (%s): same diagnoses, owner and resource key as the whole pod, a fraction of its size', (_name, whole) => {
    const trimmed = clone(whole);
    trimReadOnly(trimmed, 'Pod');
    expect(diagnosePod(trimmed)).toEqual(diagnosePod(whole));
    expect(diagnose([trimmed], [])).toEqual(diagnose([whole], []));
    expect(Controller.ownerKey(trimmed)).toBe(Controller.ownerKey(whole));
    expect(Controller.ownerKey(trimmed)).toBe('votes/sv');
    expect(trimmed.metadata.ownerReferences?.[0]).toMatchObject({ uid: 'rs-uid-1', controller: true });
    expect(trimmed.metadata).toMatchObject({ name: whole.metadata.name, namespace: 'votes', uid: whole.metadata.uid, resourceVersion: '48213' });
    expect(JSON.stringify(trimmed).length).toBeLessThan(JSON.stringify(whole).length / 2);
    // Nothing a Secret reference or an environment could leak is kept.
    expect(JSON.stringify(trimmed)).not.toContain('PGPASSWORD');
    expect(trimmed.metadata.managedFields).toBeUndefined();
  });

  it('the diagnoses are not empty where the whole pod shows a problem (the comparison is not vacuous)', () => {
    expect(CASES.filter(([, p]) => diagnosePod(p).length > 0).map(([n]) => n)).toEqual(['crash loop', 'image pull', 'config error', 'failed run', 'waiting for a dependency', 'unschedulable']);
  });

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

  it('a ReplicaSet keeps its identity and owner: the walk Deployment → ReplicaSet → Pod still finds the pods', () => {
    const rs: KObject = {
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: {
        name: 'sv-backend-7d9f8b6c5', namespace: 'votes', uid: 'rs-uid-1', resourceVersion: '5',
        labels: { 'app.kubernetes.io/instance': 'sv', 'app.kubernetes.io/part-of': 'securevote', 'pod-template-hash': '7d9f8b6c5' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'sv-backend', uid: 'dep-1', controller: true, blockOwnerDeletion: true }],
      },
      spec: { replicas: 1, template: { metadata: {}, spec: { containers: [{ name: 'backend', image: 'b' }] } } },
      status: { replicas: 1, readyReplicas: 1 },
    };
    trimReadOnly(rs, 'ReplicaSet');
    expect(rs).toEqual({
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: {
        name: 'sv-backend-7d9f8b6c5', namespace: 'votes', uid: 'rs-uid-1', resourceVersion: '5',
        labels: { 'app.kubernetes.io/instance': 'sv', 'app.kubernetes.io/part-of': 'securevote' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'sv-backend', uid: 'dep-1', controller: true }],
      },
    });
  });
});
