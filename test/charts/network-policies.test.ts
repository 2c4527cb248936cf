// The seed's isolated networks as a graph: from the synthesized
// NetworkPolicies alone, compute who can open a connection to whom (and on
// which port), and compare with rules.ts: nothing more, nothing less. Two
// instances share the namespace to show they are isolated from each other.
import { describe, expect, it } from 'vitest';
import { renderBackupJob } from '../../charts/backup.ts';
import { DNS, NETWORK_EDGES, PORTS, PUBLIC_ENTRY, type Workload } from '../../charts/rules.ts';
import { defaultSpec, IMAGE_TAG } from '../../charts/spec.ts';
import { matches, NAMESPACE, ofKind, podTemplates, render, type K8s } from './helpers.ts';

interface Endpoint {
  readonly id: string;
  /** undefined: an address outside the cluster. */
  readonly namespace?: string;
  readonly labels: Record<string, string>;
  readonly instance?: string;
}

const INSTANCES = ['vote-a', 'vote-b'];
// Each instance's stack, and a backup Job of it as the operator renders one.
const backupJob = (name: string) =>
  renderBackupJob({ instance: name, namespace: NAMESPACE, spec: defaultSpec(), identity: { name, version: IMAGE_TAG, managedBy: 'cdk8s' }, backup: `${name}-now`, claim: `${name}-backups`, keep: 1 }) as K8s;
const objects = INSTANCES.flatMap((name) => [...render({}, name, NAMESPACE), backupJob(name)]);
const policies = ofKind(objects, 'NetworkPolicy');

const instancePods: Endpoint[] = podTemplates(objects).map((p) => ({
  id: `${p.labels['app.kubernetes.io/instance']}/${p.workload}`,
  namespace: p.owner['metadata'].namespace,
  labels: p.labels,
  instance: p.labels['app.kubernetes.io/instance'],
}));
const strangers: Endpoint[] = [
  { id: 'internet', labels: {} },
  { id: 'same-namespace-pod', namespace: NAMESPACE, labels: { app: 'other' } },
  { id: 'other-namespace-pod', namespace: 'elsewhere', labels: { app: 'other' } },
  { id: 'kube-dns', namespace: DNS.namespace, labels: { ...DNS.podLabels } },
];
const endpoints = [...instancePods, ...strangers];
const PORT_SET = [...new Set([...Object.values(PORTS), DNS.port, 443])];
const PROTOCOLS = ['TCP', 'UDP'];

function nsLabels(ns: string): Record<string, string> {
  return { 'kubernetes.io/metadata.name': ns };
}

function peerMatches(peer: K8s, e: Endpoint, policyNs: string): boolean {
  if (peer['ipBlock']) return e.namespace === undefined;
  if (e.namespace === undefined) return false;
  expect(peer['podSelector']?.matchExpressions ?? peer['namespaceSelector']?.matchExpressions).toBeUndefined();
  const nsOk = peer['namespaceSelector'] ? matches(peer['namespaceSelector'].matchLabels, nsLabels(e.namespace)) : e.namespace === policyNs;
  const podOk = peer['podSelector'] ? matches(peer['podSelector'].matchLabels, e.labels) : true;
  return nsOk && podOk;
}

function ruleMatches(rule: K8s, peers: K8s[] | undefined, e: Endpoint, port: number, protocol: string, ns: string): boolean {
  const peerOk = peers === undefined || peers.length === 0 || peers.some((p) => peerMatches(p, e, ns));
  const ports = rule['ports'] as K8s[] | undefined;
  const portOk = ports === undefined || ports.length === 0 || ports.some((p) => (p['protocol'] ?? 'TCP') === protocol && p['port'] === port);
  return peerOk && portOk;
}

/** Does `direction` traffic of `subject` to/from `peer` pass the policies selecting `subject`? */
function allowed(direction: 'Ingress' | 'Egress', subject: Endpoint, peer: Endpoint, port: number, protocol: string): boolean {
  if (subject.namespace === undefined) return true;
  const selecting = policies.filter(
    (p) => p['metadata'].namespace === subject.namespace && matches(p['spec'].podSelector.matchLabels, subject.labels) && p['spec'].policyTypes.includes(direction),
  );
  if (selecting.length === 0) return true; // not isolated in this direction
  return selecting.some((p) =>
    ((direction === 'Ingress' ? p['spec'].ingress : p['spec'].egress) ?? []).some((r: K8s) =>
      ruleMatches(r, direction === 'Ingress' ? r['from'] : r['to'], peer, port, protocol, p['metadata'].namespace),
    ),
  );
}

function reachable(): Set<string> {
  const out = new Set<string>();
  for (const src of endpoints) {
    for (const dst of endpoints) {
      if (src === dst || (src.instance === undefined && dst.instance === undefined)) continue;
      for (const port of PORT_SET) {
        for (const protocol of PROTOCOLS) {
          if (allowed('Egress', src, dst, port, protocol) && allowed('Ingress', dst, src, port, protocol)) {
            out.add(`${src.id} -> ${dst.id}:${port}/${protocol}`);
          }
        }
      }
    }
  }
  return out;
}

function expected(): Set<string> {
  const out = new Set<string>();
  for (const i of INSTANCES) {
    for (const e of NETWORK_EDGES) out.add(`${i}/${e.from} -> ${i}/${e.to}:${PORTS[e.to]}/TCP`);
    // Anything outside the instance (kube-dns included) may reach the public entry.
    for (const s of strangers) out.add(`${s.id} -> ${i}/${PUBLIC_ENTRY}:${PORTS[PUBLIC_ENTRY]}/TCP`);
    for (const w of ['database', 'cache', 'backend', 'frontend', 'proxy', 'migration', 'backup'] as Workload[]) {
      out.add(`${i}/${w} -> kube-dns:${DNS.port}/UDP`);
      out.add(`${i}/${w} -> kube-dns:${DNS.port}/TCP`);
    }
  }
  return out;
}

describe('NetworkPolicies (phase 2: isolated networks)', () => {
  it('allow exactly the seed edges, ingress to the proxy, and DNS: nothing more, nothing less', () => {
    expect([...reachable()].sort()).toEqual([...expected()].sort());
  });

  it('default deny selects every pod of the instance, both directions', () => {
    for (const name of INSTANCES) {
      const deny = policies.find((p) => p['metadata'].name === `${name}-default-deny`)!;
      expect(deny['spec'].policyTypes).toEqual(['Ingress', 'Egress']);
      expect(deny['spec'].ingress ?? []).toEqual([]);
      expect(deny['spec'].egress ?? []).toEqual([]);
      for (const pod of instancePods.filter((p) => p.instance === name)) expect(matches(deny['spec'].podSelector.matchLabels, pod.labels)).toBe(true);
      for (const pod of instancePods.filter((p) => p.instance !== name)) expect(matches(deny['spec'].podSelector.matchLabels, pod.labels)).toBe(false);
    }
  });

  it('the graph test can fail: a policy opening frontend → backend shows up as an extra edge', () => {
    const extra = {
      kind: 'NetworkPolicy',
      metadata: { name: 'leak', namespace: NAMESPACE },
      spec: { podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'vote-a' } }, policyTypes: ['Ingress', 'Egress'], ingress: [{}], egress: [{}] },
    };
    policies.push(extra);
    try {
      const diff = [...reachable()].filter((e) => !expected().has(e));
      expect(diff).toContain(`vote-a/frontend -> vote-a/backend:${PORTS.backend}/TCP`);
    } finally {
      policies.pop();
    }
  });
});
