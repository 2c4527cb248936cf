import { describe, expect, it } from 'vitest';
import { COMPONENTS, type Component } from '../../charts/rules.ts';
import type { SecureVoteStatus } from '../../charts/spec.ts';
import type { KObject } from '../../operator/context.ts';
import { ErrorClass, ReconcileError } from '../../operator/errors.ts';
import {
  type Observation,
  Reason,
  computeStatus,
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
});
