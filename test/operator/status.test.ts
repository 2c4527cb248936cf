import { describe, expect, it } from 'vitest';
import { COMPONENTS, type Component } from '../../charts/rules.ts';
import type { SecureVoteStatus } from '../../charts/spec.ts';
import type { KObject } from '../../operator/context.ts';
import { ErrorClass, ReconcileError } from '../../operator/errors.ts';
import {
  type Observation,
  Reason,
  computeStatus,
  diagnose,
  diagnoseClaim,
  diagnoseCordoned,
  diagnosePod,
  jobState,
  statusChanged,
  transitions,
  urlOf,
  workloadState,
} from '../../operator/status.ts';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const T1 = new Date('2026-01-01T00:01:00.000Z');

/** Small chained builder of observations. */
class Obs {
  private o: { -readonly [K in keyof Observation]: Observation[K] } = { generation: 1, components: {}, url: 'http://sv-proxy.ns.svc:8080' };
  gen(g: number): this {
    this.o.generation = g;
    return this;
  }
  all(ready: number, desired = 1, rolledOut = ready >= desired): this {
    for (const c of COMPONENTS) this.o.components = { ...this.o.components, [c]: { ready, desired, rolledOut } };
    return this;
  }
  one(c: Component, ready: number, desired = 1): this {
    this.o.components = { ...this.o.components, [c]: { ready, desired, rolledOut: ready >= desired } };
    return this;
  }
  migration(m: Observation['migration']): this {
    this.o.migration = m;
    return this;
  }
  fail(e: ReconcileError): this {
    this.o.failure = e;
    return this;
  }
  build(): Observation {
    return { ...this.o };
  }
}

const cond = (s: SecureVoteStatus, type: string) => s.conditions?.find((c) => c.type === type);

describe('computeStatus', () => {
  it('nothing there yet: Pending, not Ready, Progressing', () => {
    const s = computeStatus(undefined, new Obs().build(), T0);
    expect(s.phase).toBe('Pending');
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: Reason.ComponentsNotReady, observedGeneration: 1 });
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'True', reason: Reason.RollingOut });
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'False', reason: Reason.AsExpected });
    expect(s.components?.backend).toEqual({ ready: 0, desired: 0 });
  });

  it('some pods ready: Progressing, and the message names who is missing', () => {
    const s = computeStatus(undefined, new Obs().all(1).one('backend', 0, 2).migration('done').build(), T0);
    expect(s.phase).toBe('Progressing');
    expect(cond(s, 'Ready')?.message).toBe('not ready: backend 0/2');
    expect(s.components?.backend).toEqual({ ready: 0, desired: 2 });
    expect(s.components?.database).toEqual({ ready: 1, desired: 1 });
  });

  it('every component ready and the migration done: Ready, not Progressing', () => {
    const s = computeStatus(undefined, new Obs().gen(3).all(1).migration('done').build(), T0);
    expect(s.phase).toBe('Ready');
    expect(s.observedGeneration).toBe(3);
    expect(cond(s, 'Ready')).toMatchObject({ status: 'True', reason: Reason.AllComponentsReady, observedGeneration: 3 });
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'False', reason: Reason.RolloutComplete });
    expect(s.url).toBe('http://sv-proxy.ns.svc:8080');
  });

  it('a refused apply: Degraded with the server message, not Ready', () => {
    const err = new ReconcileError(ErrorClass.Rejected, 'apply Deployment/x: Deployment.apps "x" is invalid: spec.replicas: Invalid value: -1', { status: 422 });
    const s = computeStatus(undefined, new Obs().all(1).migration('done').fail(err).build(), T0);
    expect(s.phase).toBe('Degraded');
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: Reason.ApplyRejected, message: err.detail });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: Reason.ReconcileFailed });
  });

  it('a transient failure does not mark Degraded', () => {
    const err = new ReconcileError(ErrorClass.Transient, 'connection reset');
    const s = computeStatus(undefined, new Obs().all(1).migration('done').fail(err).build(), T0);
    expect(cond(s, 'Degraded')?.status).toBe('False');
  });

  it('a failed migration is Degraded', () => {
    const s = computeStatus(undefined, new Obs().all(1).migration('failed').build(), T0);
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: Reason.MigrationFailed });
  });

  it('keeps lastTransitionTime while a status holds, moves it on a flip', () => {
    const a = computeStatus(undefined, new Obs().all(0).build(), T0);
    const b = computeStatus(a, new Obs().all(0).build(), T1);
    expect(cond(b, 'Ready')?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    const c = computeStatus(b, new Obs().all(1).migration('done').build(), T1);
    expect(cond(c, 'Ready')?.lastTransitionTime).toBe('2026-01-01T00:01:00Z');
    expect(cond(c, 'Degraded')?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
  });
});

describe('statusChanged and transitions', () => {
  it('the same observation twice: no write, no event', () => {
    const a = computeStatus(undefined, new Obs().all(1).migration('done').build(), T0);
    const b = computeStatus(a, new Obs().all(1).migration('done').build(), T1);
    expect(statusChanged(a, b)).toBe(false);
    expect(transitions(a, b)).toEqual([]);
    const reordered = { ...a, conditions: [...(a.conditions ?? [])].reverse() };
    expect(statusChanged(reordered, b)).toBe(false);
  });

  it('a new generation is a change even when nothing else moved', () => {
    const a = computeStatus(undefined, new Obs().all(1).migration('done').build(), T0);
    const b = computeStatus(a, new Obs().gen(2).all(1).migration('done').build(), T1);
    expect(statusChanged(a, b)).toBe(true);
  });

  it('events: Ready becoming True is Normal, Degraded becoming True a Warning', () => {
    const a = computeStatus(undefined, new Obs().all(0).build(), T0);
    const b = computeStatus(a, new Obs().all(1).migration('done').build(), T1);
    expect(transitions(a, b)).toContainEqual(expect.objectContaining({ type: 'Normal', reason: Reason.AllComponentsReady }));
    const c = computeStatus(b, new Obs().all(1).migration('done').fail(new ReconcileError(ErrorClass.Rejected, 'no')).build(), T1);
    const t = transitions(b, c);
    expect(t).toContainEqual(expect.objectContaining({ type: 'Warning', reason: Reason.ApplyRejected }));
    expect(t).toContainEqual(expect.objectContaining({ type: 'Warning', reason: Reason.ReconcileFailed }));
  });
});

describe('reading children', () => {
  const dep = (spec: object, status: object, generation = 2): KObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', generation },
    spec,
    status,
  });
  it('a Deployment is rolled out only when its controller saw the latest generation', () => {
    expect(workloadState(dep({ replicas: 2 }, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2 }))).toEqual({
      ready: 2,
      desired: 2,
      rolledOut: true,
    });
    expect(workloadState(dep({ replicas: 2 }, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2 }))?.rolledOut).toBe(false);
    expect(workloadState(dep({ replicas: 2 }, { observedGeneration: 2, replicas: 3, updatedReplicas: 2, readyReplicas: 2 }))?.rolledOut).toBe(false);
    expect(workloadState(dep({}, {}))).toEqual({ ready: 0, desired: 1, rolledOut: false });
    expect(workloadState(undefined)).toBeUndefined();
  });
  it('a Job is done, failed or running', () => {
    const job = (status: object): KObject => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, status });
    expect(jobState(job({ succeeded: 1 }))).toBe('done');
    expect(jobState(job({ conditions: [{ type: 'Failed', status: 'True' }] }))).toBe('failed');
    expect(jobState(job({ active: 1 }))).toBe('running');
    expect(jobState(undefined)).toBeUndefined();
  });
  it('the URL is the proxy Service, or its load balancer when it has one', () => {
    expect(urlOf(undefined, 'sv-proxy', 'ns')).toBe('http://sv-proxy.ns.svc:8080');
    const svc: KObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'p' }, status: { loadBalancer: { ingress: [{ ip: '10.0.0.9' }] } } };
    expect(urlOf(svc, 'x', 'ns')).toBe('http://10.0.0.9:8080');
  });
});

describe('reading a workload against its desired object', () => {
  it('counts the desired replicas of our spec, not of a stale cached copy', () => {
    const want: KObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', annotations: { 'securevote.dev/desired-hash': 'new' } }, spec: { replicas: 2 } };
    const stale: KObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', generation: 1, annotations: { 'securevote.dev/desired-hash': 'old' } },
      spec: { replicas: 1 },
      status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1 },
    };
    expect(workloadState(stale, want)).toEqual({ ready: 1, desired: 2, rolledOut: false });
    const fresh = { ...stale, metadata: { ...stale.metadata, generation: 2, annotations: { 'securevote.dev/desired-hash': 'new' } }, spec: { replicas: 2 }, status: { observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2 } };
    expect(workloadState(fresh, want)).toEqual({ ready: 2, desired: 2, rolledOut: true });
  });
  it('an autoscaled workload (no replicas in our spec) wants what its autoscaler set', () => {
    const want: KObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', annotations: { 'securevote.dev/desired-hash': 'h' } }, spec: {} };
    const live: KObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', generation: 3, annotations: { 'securevote.dev/desired-hash': 'h' } },
      spec: { replicas: 4 },
      status: { observedGeneration: 3, replicas: 4, updatedReplicas: 4, readyReplicas: 3 },
    };
    expect(workloadState(live, want)).toEqual({ ready: 3, desired: 4, rolledOut: false });
  });
});

// ---- why a component is not ready: pod and claim fixtures -----------------------

const pod = (name: string, component: string, status: object, spec: object = {}): KObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { 'app.kubernetes.io/component': component, 'app.kubernetes.io/instance': 'sv' } },
  spec,
  status,
});
const claim = (name: string, status: object, spec: object = {}, annotations: Record<string, string> = {}): KObject => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name, annotations, labels: { 'app.kubernetes.io/component': 'database', 'app.kubernetes.io/instance': 'sv' } },
  spec,
  status,
});

describe('diagnosing pods and claims', () => {
  it('unschedulable: the PodScheduled=False message', () => {
    const p = pod('sv-database-0', 'database', {
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/2 nodes are available: 2 Insufficient memory.' }],
    });
    expect(diagnosePod(p)).toEqual([{ reason: Reason.Unschedulable, message: 'pod sv-database-0 unschedulable: 0/2 nodes are available: 2 Insufficient memory.' }]);
  });

  it('an image that cannot be pulled names the image', () => {
    const p = pod(
      'sv-backend-1',
      'backend',
      { containerStatuses: [{ name: 'backend', image: 'securevote/backend:9', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "securevote/backend:9"' } } }] },
      { containers: [{ name: 'backend', image: 'securevote/backend:9' }] },
    );
    expect(diagnosePod(p)).toEqual([
      { reason: Reason.ImagePullFailed, message: `pod sv-backend-1: image securevote/backend:9 can't be pulled (ImagePullBackOff: Back-off pulling image "securevote/backend:9")` },
    ]);
  });

  it('a crash loop gives the last exit code and reason', () => {
    const p = pod('sv-cache-1', 'cache', {
      containerStatuses: [{ name: 'redis', restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }],
    });
    expect(diagnosePod(p)).toEqual([{ reason: Reason.CrashLooping, message: 'pod sv-cache-1: container redis crash-looping (last exit code 137, OOMKilled; 4 restarts)' }]);
  });

  it("a refused restore is the database pod's own words, and Degraded: RestoreRefused while the database is not ready", () => {
    const said = "restore refused: backup nightly failed verification: its file's sha256 is 00, the backup recorded 11 (the file changed after it was written)";
    const p = pod('sv-database-0', 'database', {
      initContainerStatuses: [{ name: 'restore', restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, reason: 'Error', message: `${said}\n` } } }],
    });
    expect(diagnosePod(p)).toEqual([{ reason: Reason.RestoreRefused, message: `pod sv-database-0: ${said}` }]);
    const obs = new Obs().all(1).build();
    const s = computeStatus(undefined, { ...obs, components: { ...obs.components, database: { ready: 0, desired: 1, rolledOut: true } }, diagnoses: diagnose([p], []) }, T0);
    expect(s.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: Reason.RestoreRefused, message: `pod sv-database-0: ${said}` });
  });

  it('a failed run-once pod (the migration Job) gives its exit code and its last message line', () => {
    const p = pod('sv-migrate-1-abc', 'migration', {
      phase: 'Failed',
      containerStatuses: [{ name: 'migrate', state: { terminated: { exitCode: 1, reason: 'Error', message: 'connecting\nrelation "votes" already exists\n' } } }],
    });
    expect(diagnosePod(p)).toEqual([{ reason: Reason.ContainerFailed, message: 'pod sv-migrate-1-abc: container migrate exited with code 1 (Error): relation "votes" already exists' }]);
    const s = computeStatus(
      undefined,
      { ...new Obs().all(1).migration('failed').build(), diagnoses: diagnose([p], []), migrationJob: { job: 'sv-migrate-1', image: 'b', attempts: 0, lastFailure: 'BackoffLimitExceeded: Job has reached the specified backoff limit' } },
      T0,
    );
    expect(s.conditions?.find((c) => c.type === 'Degraded')?.message).toContain('pod sv-migrate-1-abc: container migrate exited with code 1 (Error): relation "votes" already exists');
  });

  it('an init container waiting on a dependency', () => {
    const p = pod('sv-frontend-1', 'frontend', { phase: 'Pending', initContainerStatuses: [{ name: 'wait-for-backend', state: { running: {} } }] });
    expect(diagnosePod(p)).toEqual([{ reason: Reason.WaitingForDependency, message: 'pod sv-frontend-1: waiting for the backend (init container wait-for-backend)' }]);
  });

  it('a claim Pending: its storage class, and that no provisioner picked it up', () => {
    expect(diagnoseClaim(claim('data-sv-database-0', { phase: 'Pending' }, { storageClassName: 'fast' }))).toEqual({
      reason: Reason.ClaimPending,
      message: 'claim data-sv-database-0 Pending (storage class "fast"; no provisioner has picked it up)',
    });
    expect(diagnoseClaim(claim('c', { phase: 'Pending' }, {}, { 'volume.kubernetes.io/storage-provisioner': 'rancher.io/local-path' }))?.message).toBe(
      'claim c Pending (storage class default; waiting for provisioner rancher.io/local-path)',
    );
    expect(diagnoseClaim(claim('c', { phase: 'Bound' }))).toBeUndefined();
  });

  it("a claim on a cordoned node (its node drained): names the node and what brings the pod back; the Ready reason", () => {
    const bound = claim('data-sv-database-0', { phase: 'Bound' }, {}, { 'volume.kubernetes.io/selected-node': 'kind-worker' });
    const node = (unschedulable: boolean): KObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'kind-worker' }, spec: unschedulable ? { unschedulable } : {} });
    const said = diagnoseCordoned(bound, node(true));
    expect(said).toEqual({
      reason: Reason.NodeCordoned,
      message: "claim data-sv-database-0's volume is on node kind-worker, which is cordoned: the pod waits there until it is uncordoned (kubectl uncordon kind-worker)",
    });
    expect(diagnoseCordoned(bound, node(false))).toBeUndefined();
    expect(diagnoseCordoned(claim('c', { phase: 'Bound' }), node(true)), 'no node named on the claim').toBeUndefined();
    expect(diagnoseCordoned(bound, undefined)?.message).toBe("claim data-sv-database-0's volume is on node kind-worker, which is gone: the data can't move with the pod");
    // Worse than the scheduler's own words beside it: the Ready condition's reason.
    const unschedulable = diagnosePod(pod('sv-database-0', 'database', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' }] }));
    const s = computeStatus(undefined, { ...new Obs().all(1).one('database', 0, 1).migration('done').build(), diagnoses: { database: [said!, ...unschedulable] } }, T0);
    expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: Reason.NodeCordoned });
  });

  it('a running healthy pod says nothing', () => {
    expect(diagnosePod(pod('p', 'proxy', { phase: 'Running', containerStatuses: [{ name: 'nginx', state: { running: {} } }] }))).toEqual([]);
  });

  it('the Ready condition names what the pods and claims show, its reason the worst of them', () => {
    const d = diagnose(
      [pod('sv-backend-1', 'backend', { containerStatuses: [{ name: 'backend', image: 'b:9', state: { waiting: { reason: 'ErrImagePull' } } }] })],
      [claim('data-sv-database-0', { phase: 'Pending' })],
    );
    const s = computeStatus(undefined, { ...new Obs().all(1).one('backend', 0, 1).one('database', 0, 1).migration('done').build(), diagnoses: d }, T0);
    const ready = s.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: Reason.ClaimPending });
    expect(ready?.message).toBe(
      "not ready: database 0/1 (claim data-sv-database-0 Pending (storage class default; no provisioner has picked it up)), backend 0/1 (pod sv-backend-1: image b:9 can't be pulled (ErrImagePull))",
    );
    // A new reason is a transition: an Event says it.
    const fixed = computeStatus(s, { ...new Obs().all(1).one('backend', 0, 1).migration('done').build(), diagnoses: { backend: d.backend ?? [] } }, T1);
    expect(transitions(s, fixed)).toContainEqual(expect.objectContaining({ type: 'Normal', reason: Reason.ImagePullFailed }));
  });
});

describe('status: images, operator version, progress reasons', () => {
  it('reports each component’s running image and the operator version', () => {
    const o = new Obs().all(1).migration('done').build();
    const s = computeStatus(undefined, { ...o, operatorVersion: '0.2.0', components: { ...o.components, backend: { ready: 1, desired: 1, rolledOut: true, image: 'securevote/backend:0.2.0' } } }, T0);
    expect(s.operatorVersion).toBe('0.2.0');
    expect(s.components?.backend).toEqual({ ready: 1, desired: 1, image: 'securevote/backend:0.2.0' });
  });

  it('RollingOut says how far: "rolling out backend: 1 of 2 updated"', () => {
    const o = new Obs().all(1).migration('done').build();
    const s = computeStatus(undefined, { ...o, components: { ...o.components, backend: { ready: 2, desired: 2, rolledOut: false, updated: 1 } } }, T0);
    expect(s.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'True', reason: Reason.RollingOut, message: 'rolling out backend: 1 of 2 updated, 2 ready' });
  });

  it('Migrating while the backend waits for its migration; the Job and attempts in status', () => {
    const s = computeStatus(
      undefined,
      {
        ...new Obs().all(1).migration('running').build(),
        migrationJob: { job: 'sv-migrate-1234abcd', image: 'securevote/backend:0.2.0', attempts: 0 },
        held: [{ component: 'backend', message: 'holding backend until the migration Job sv-migrate-1234abcd has succeeded', migration: true }],
      },
      T0,
    );
    expect(s.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'True', reason: Reason.Migrating });
    expect(s.conditions?.find((c) => c.type === 'Progressing')?.message).toContain('migrating the schema for securevote/backend:0.2.0 (Job sv-migrate-1234abcd)');
    expect(s.migration).toEqual({ job: 'sv-migrate-1234abcd', attempts: 0 });
  });

  it('MigrationFailed names the Job, its failure and when it is re-created', () => {
    const s = computeStatus(
      undefined,
      { ...new Obs().all(1).migration('failed').build(), migrationJob: { job: 'sv-migrate-1', image: 'b', attempts: 1, lastFailure: 'BackoffLimitExceeded: Job has reached the specified backoff limit', retryInMs: 60_000 } },
      T0,
    );
    expect(s.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({
      status: 'True',
      reason: Reason.MigrationFailed,
      message: 'the schema migration Job sv-migrate-1 failed: BackoffLimitExceeded: Job has reached the specified backoff limit; failed attempts: 2; re-created at 2026-01-01T00:01:00Z',
    });
    expect(s.migration).toMatchObject({ attempts: 1, lastFailure: expect.stringContaining('BackoffLimitExceeded') });
  });
});
