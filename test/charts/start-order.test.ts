// Exercise 6, the start order, as a graph: each pod's init containers wait
// for exactly the dependencies of rules.ts, in order, through a headless
// Service that lists only that dependency's ready pods, and hold no
// credentials.
import { describe, expect, it } from 'vitest';
import { childNames } from '../../charts/names.ts';
import { COMPONENTS, HEALTH_CHECKS, START_ORDER, startBudgetSeconds, type Component, type StackWorkload } from '../../charts/rules.ts';
import { allContainers, env, find, matches, NAME, podOf, podTemplates, render, type K8s } from './helpers.ts';

const objects = render();
const names = childNames(NAME);

/** The Service an init container resolves, and the component whose pods it selects. */
function waitedComponent(container: K8s): Component {
  const host = env(container)['WAIT_HOST'];
  const svc = find(objects, 'Service', host!);
  expect(svc['spec'].clusterIP).toBe('None'); // headless: DNS lists only ready endpoints
  expect(svc['spec'].publishNotReadyAddresses ?? false).toBe(false);
  const selected = podTemplates(objects).filter((p) => matches(svc['spec'].selector, p.labels));
  expect(selected).toHaveLength(1);
  return selected[0]!.workload as Component;
}

describe('start order (exercise 6)', () => {
  it("the wait graph is the seed's order: database, cache → backend → frontend → proxy; database → migration", () => {
    const graph: Record<string, Component[]> = {};
    for (const pod of podTemplates(objects)) {
      graph[pod.workload] = ((pod.spec['initContainers'] ?? []) as K8s[]).map(waitedComponent);
    }
    expect(graph).toEqual(START_ORDER);
  });

  it('the graph has no cycle and a topological order exists', () => {
    const order: StackWorkload[] = [];
    const pending = new Set<StackWorkload>([...COMPONENTS, 'migration']);
    while (pending.size > 0) {
      const next = [...pending].find((w) => START_ORDER[w].every((d) => order.includes(d)));
      expect(next).toBeDefined();
      order.push(next!);
      pending.delete(next!);
    }
    expect(order.indexOf('proxy')).toBeGreaterThan(order.indexOf('frontend'));
  });

  it('wait containers carry no credentials: no secret volume, no password variable', () => {
    for (const pod of podTemplates(objects)) {
      for (const c of (pod.spec['initContainers'] ?? []) as K8s[]) {
        expect(c['volumeMounts'] ?? []).toEqual([]);
        expect(Object.keys(env(c))).toEqual(['WAIT_HOST', 'WAIT_SECONDS']);
        expect(c['image']).toBe((pod.spec['containers'] as K8s[])[0]!['image']);
      }
    }
  });

  it("each wait is bounded by the dependency's own start budget (start_period + interval × retries)", () => {
    for (const pod of podTemplates(objects)) {
      for (const c of (pod.spec['initContainers'] ?? []) as K8s[]) {
        const dep = waitedComponent(c);
        expect(c['name']).toBe(`wait-for-${dep}`);
        expect(Number(env(c)['WAIT_SECONDS'])).toBe(startBudgetSeconds(dep));
        expect(startBudgetSeconds(dep)).toBe(HEALTH_CHECKS[dep].startPeriodSeconds + HEALTH_CHECKS[dep].intervalSeconds * HEALTH_CHECKS[dep].retries);
      }
    }
  });

  it('every waited-on component has its ready Service; the database reuses its headless one', () => {
    for (const dep of new Set(Object.values(START_ORDER).flat())) {
      expect(find(objects, 'Service', names.ready(dep))['spec'].clusterIP).toBe('None');
    }
    expect(names.ready('database')).toBe(names.service('database'));
  });

  it('init containers are the only extra containers: one main container per pod', () => {
    for (const pod of podTemplates(objects)) expect(allContainers(pod).length).toBe(1 + START_ORDER[pod.workload as StackWorkload].length);
    expect(podOf(objects, 'database').spec['initContainers']).toBeUndefined();
  });
});

it('every wait container runs the same command (tested for real in processes.test.ts)', () => {
  const commands = podTemplates(objects).flatMap((p) => ((p.spec['initContainers'] ?? []) as K8s[]).map((c) => JSON.stringify(c['command'])));
  expect(new Set(commands).size).toBe(1);
});
