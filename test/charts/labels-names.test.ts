// Labels, selectors and names: the app.kubernetes.io/* set on every object,
// the seed's log labels on every pod, selectors that pick exactly their own
// pods, PodDisruptionBudgets only where replicas > 1, and children named from
// the instance so two SecureVotes share a namespace without a clash.
import { describe, expect, it } from 'vitest';
import { PORTS, seedLogLabels, type Component } from '../../charts/rules.ts';
import { IMAGE_TAG } from '../../charts/spec.ts';
import { find, mainContainer, matches, NAME, NAMESPACE, ofKind, podOf, podTemplates, render, type K8s } from './helpers.ts';

const objects = render();
const INSTANCE_WIDE = [`${NAME}-default-deny`, `${NAME}-allow-dns`];

describe('labels', () => {
  it.each(objects.map((o) => [`${o['kind']}/${o['metadata'].name}`, o] as const))('%s has the app.kubernetes.io labels', (_k, o) => {
    const labels = o['metadata'].labels as Record<string, string>;
    expect(labels).toMatchObject({
      'app.kubernetes.io/instance': NAME,
      'app.kubernetes.io/part-of': 'securevote',
      'app.kubernetes.io/managed-by': 'cdk8s',
      'app.kubernetes.io/version': IMAGE_TAG,
    });
    if (!INSTANCE_WIDE.includes(o['metadata'].name)) {
      expect(labels['app.kubernetes.io/name']).toMatch(/^[a-z-]+$/);
      expect(labels['app.kubernetes.io/component']).toMatch(/^(database|cache|backend|frontend|proxy|migration|backup)$/);
    }
    expect(o['metadata'].namespace).toBe(NAMESPACE);
  });

  it("every pod carries the seed's log labels service=<name>, env=production, and no cdk8s address label", () => {
    for (const pod of podTemplates(objects)) {
      expect(pod.labels).toMatchObject(seedLogLabels(pod.workload));
      expect(pod.labels['env']).toBe('production');
      expect(Object.keys(pod.labels).some((k) => k.startsWith('cdk8s.io/'))).toBe(false);
    }
  });

  it('every workload selector and Service selector picks exactly its own pods', () => {
    const pods = podTemplates(objects);
    for (const w of [...ofKind(objects, 'Deployment'), ...ofKind(objects, 'StatefulSet')]) {
      const selected = pods.filter((p) => matches(w['spec'].selector.matchLabels, p.labels));
      expect(selected.map((p) => p.owner)).toEqual([w]);
    }
    for (const s of ofKind(objects, 'Service')) {
      const selected = pods.filter((p) => matches(s['spec'].selector, p.labels));
      expect(selected.map((p) => p.workload), s['metadata'].name).toEqual([s['metadata'].labels['app.kubernetes.io/component']]);
      expect(Object.keys(s['spec'].selector)).not.toContain('app.kubernetes.io/version');
    }
  });
});

describe('PodDisruptionBudgets', () => {
  it('none at one replica (the default)', () => {
    expect(ofKind(objects, 'PodDisruptionBudget')).toEqual([]);
  });

  it('one per component with replicas > 1: a drain evicts one pod at a time, and never waits on a pod that is not ready', () => {
    const ha = render({ backend: { replicas: 3 }, frontend: { replicas: 2 }, proxy: { replicas: 2 } });
    const pdbs = ofKind(ha, 'PodDisruptionBudget');
    expect(pdbs.map((p) => p['metadata'].name).sort()).toEqual([`${NAME}-backend`, `${NAME}-frontend`, `${NAME}-proxy`]);
    for (const pdb of pdbs) {
      // maxUnavailable, not minAvailable: with 3 backends, minAvailable 1 would let a drain take two at once.
      expect(pdb['spec'].maxUnavailable).toBe(1);
      expect(pdb['spec'].minAvailable).toBeUndefined();
      // A crash-looping pod must not hold a node drain forever.
      expect(pdb['spec'].unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
      const selected = podTemplates(ha).filter((p) => matches(pdb['spec'].selector.matchLabels, p.labels));
      expect(selected.map((p) => p.workload)).toEqual([pdb['metadata'].labels['app.kubernetes.io/component']]);
    }
  });
});

describe('spread over nodes', () => {
  it('each replicated component spreads its pods over nodes, softly (a one-node cluster still schedules them all)', () => {
    for (const c of ['backend', 'frontend', 'proxy'] as const) {
      const p = podOf(objects, c);
      expect(p.spec['topologySpreadConstraints'], c).toEqual([
        expect.objectContaining({ topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', maxSkew: 1, labelSelector: { matchLabels: expect.objectContaining({ 'app.kubernetes.io/component': c }) } }),
      ]);
      expect(matches(p.spec['topologySpreadConstraints'][0].labelSelector.matchLabels, p.labels)).toBe(true);
    }
    // One pod each, nothing to spread: the database and the cache.
    expect(podOf(objects, 'database').spec['topologySpreadConstraints']).toBeUndefined();
    expect(podOf(objects, 'cache').spec['topologySpreadConstraints']).toBeUndefined();
  });

  it('scaling changes no pod template (no restart to scale)', () => {
    const ha = render({ backend: { replicas: 3 }, frontend: { replicas: 2 }, proxy: { replicas: 2 } });
    const auto = render({ backend: { autoscaling: { minReplicas: 2, maxReplicas: 6 } } });
    for (const c of ['backend', 'frontend', 'proxy'] as const) {
      expect(podOf(ha, c).spec, c).toEqual(podOf(objects, c).spec);
      expect(podOf(auto, c).spec, c).toEqual(podOf(objects, c).spec);
    }
  });
});

describe('autoscaling', () => {
  it('none unless asked', () => {
    expect(ofKind(objects, 'HorizontalPodAutoscaler')).toEqual([]);
  });

  it('spec.backend.autoscaling: a CPU autoscaler on the backend Deployment, which then has no replicas for anyone to write back', () => {
    const auto = render({ backend: { replicas: 3, autoscaling: { minReplicas: 1, maxReplicas: 4, targetCPUUtilizationPercentage: 60 } } });
    const [hpa, ...more] = ofKind(auto, 'HorizontalPodAutoscaler');
    expect(more).toEqual([]);
    expect(hpa!['apiVersion']).toBe('autoscaling/v2');
    const backend = find(auto, 'Deployment', `${NAME}-backend`);
    expect(hpa!['spec'].scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: backend['metadata'].name });
    expect(hpa!['spec']).toMatchObject({ minReplicas: 1, maxReplicas: 4, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }] });
    expect('replicas' in backend['spec']).toBe(false);
    // The CPU target is a share of the request: the main container has one.
    expect(mainContainer(auto, 'backend').resources.requests.cpu).toBeDefined();
    // Down: one pod a minute at most, after five minutes of lower use.
    const down = hpa!['spec'].behavior.scaleDown;
    expect(down.stabilizationWindowSeconds).toBeGreaterThanOrEqual(300);
    expect(down.policies).toEqual([{ type: 'Pods', value: 1, periodSeconds: 60 }]);
    // Several pods possible, so a budget, even at minReplicas 1.
    expect(ofKind(auto, 'PodDisruptionBudget').map((p) => p['metadata'].name)).toEqual([`${NAME}-backend`]);
    // The others keep their replicas.
    expect(find(auto, 'Deployment', `${NAME}-frontend`)['spec'].replicas).toBe(1);
  });

  it('scaleDownStabilizationSeconds: how long lower use must last before a pod goes; still one pod a minute', () => {
    const auto = render({ frontend: { autoscaling: { minReplicas: 1, maxReplicas: 2, scaleDownStabilizationSeconds: 20 } } });
    const down = ofKind(auto, 'HorizontalPodAutoscaler')[0]!['spec'].behavior.scaleDown;
    expect(down).toMatchObject({ stabilizationWindowSeconds: 20, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] });
  });
});

describe('names', () => {
  it('every child is named <instance>-...', () => {
    for (const o of objects) expect(o['metadata'].name.startsWith(`${NAME}-`)).toBe(true);
  });

  it('two instances in one namespace: no name clash, no shared selector', () => {
    const a = render({}, 'vote-a');
    const b = render({}, 'vote-b');
    const key = (o: K8s) => `${o['kind']}/${o['metadata'].name}`;
    const keys = [...a, ...b].map(key);
    expect(new Set(keys).size).toBe(keys.length);
    const podsB = podTemplates(b);
    for (const o of a) {
      const sel = o['spec']?.selector?.matchLabels ?? (o['kind'] === 'Service' ? o['spec'].selector : o['spec']?.podSelector?.matchLabels);
      if (sel !== undefined) for (const p of podsB) expect(matches(sel, p.labels), key(o)).toBe(false);
    }
  });

  it('the longest instance name keeps every name and label value within 63 characters', () => {
    const long = 'v'.repeat(30);
    for (const o of render({ backend: { replicas: 2 } }, long)) {
      expect(o['metadata'].name.length).toBeLessThanOrEqual(63 - 2); // StatefulSet pods add -0
      for (const v of Object.values(o['metadata'].labels as Record<string, string>)) expect(v.length).toBeLessThanOrEqual(63);
    }
  });
});

describe('ports', () => {
  it("every Service port is its component's container port, same name", () => {
    for (const s of ofKind(objects, 'Service')) {
      const pod = podTemplates(objects).find((p) => matches(s['spec'].selector, p.labels))!;
      const containerPorts = (pod.spec['containers'][0]['ports'] as K8s[]).map((p) => [p['name'], p['containerPort']]);
      expect(s['spec'].ports.map((p: K8s) => [p['name'], p['targetPort']])).toEqual(containerPorts);
      expect(s['spec'].ports[0].port).toBe(PORTS[pod.workload as Component]);
    }
  });
});
