// Scheduling order on a cluster short of CPU: the database and the cache run
// at a PriorityClass above the replicas that wait on them, so the scheduler
// preempts a replica instead of leaving PostgreSQL Pending behind pods that
// hold CPU in their init containers. The class itself ships with both
// entrances (the operator's install and dist/), since pods naming a class
// that doesn't exist are refused.
import { App } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../charts/main.ts';
import { OperatorInstall } from '../../charts/operator-install.ts';
import { ofKind, podOf, render, type K8s } from './helpers.ts';

const objects = render();
const classes = (all: readonly K8s[]): K8s[] => ofKind(all, 'PriorityClass');
const distObjects = (): K8s[] => buildApp('/nonexistent').charts.flatMap((c) => c.toJson() as K8s[]);

describe('priority', () => {
  it('the database and the cache name a class that both entrances carry, above the replicas (which name none: priority 0)', () => {
    const name = podOf(objects, 'database').spec['priorityClassName'] as string;
    expect(name).toBeDefined();
    expect(podOf(objects, 'cache').spec['priorityClassName']).toBe(name);
    for (const c of ['backend', 'frontend', 'proxy', 'migration'] as const) expect(podOf(objects, c).spec['priorityClassName'], c).toBeUndefined();
    for (const [entrance, all] of [['install', new OperatorInstall(new App(), 'install').toJson() as K8s[]], ['dist', distObjects()]] as const) {
      const [pc, ...more] = classes(all);
      expect(more, entrance).toEqual([]);
      expect(pc!['metadata'].name, entrance).toBe(name);
      expect(pc!['value'], entrance).toBeGreaterThan(0);
      // Never the cluster's default, and below the system classes (2,000,000,000).
      expect(pc!['globalDefault'], entrance).toBe(false);
      expect(pc!['value'], entrance).toBeLessThan(1_000_000_000);
      expect(pc!['preemptionPolicy'], entrance).toBe('PreemptLowerPriority');
    }
  });

  it('spec.<database|cache>.priorityClassName names another class', () => {
    const own = render({ database: { priorityClassName: 'critical-data' }, cache: { priorityClassName: 'cache-tier' } });
    expect(podOf(own, 'database').spec['priorityClassName']).toBe('critical-data');
    expect(podOf(own, 'cache').spec['priorityClassName']).toBe('cache-tier');
  });
});
