/**
 * The seed's isolated networks: deny everything to and from the instance's
 * pods, then allow exactly the edges of rules.ts (each on both ends: egress
 * at the client, ingress at the server), ingress to the public entry from
 * anywhere, and DNS egress to the cluster's DNS.
 */
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { instanceLabels, instanceSelector, objectLabels, selectorLabels } from './labels.ts';
import type { StackContext } from './names.ts';
import { DEFAULT_SCRAPER_NAMESPACE_LABELS } from './spec.ts';
import { COMPONENTS, DNS, METRICS, NETWORK_EDGES, PORTS, PUBLIC_ENTRY, type Component, type Workload } from './rules.ts';

const WORKLOADS: readonly Workload[] = [...COMPONENTS, 'migration', 'backup'];
const isComponent = (w: Workload): w is Component => (COMPONENTS as readonly string[]).includes(w);

export interface NetworkPoliciesProps {
  readonly context: StackContext;
}

export class NetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, props: NetworkPoliciesProps) {
    super(scope, id);
    const ctx = props.context;
    const k8s = kplus.k8s;
    const tcp = (port: number) => ({ protocol: 'TCP', port: k8s.IntOrString.fromNumber(port) });

    new k8s.KubeNetworkPolicy(this, 'default-deny', {
      metadata: { name: ctx.names.policy('default-deny'), labels: instanceLabels(ctx.identity) },
      spec: { podSelector: { matchLabels: instanceSelector(ctx.identity) }, policyTypes: ['Ingress', 'Egress'] },
    });

    new k8s.KubeNetworkPolicy(this, 'dns', {
      metadata: { name: ctx.names.policy('allow-dns'), labels: instanceLabels(ctx.identity) },
      spec: {
        podSelector: { matchLabels: instanceSelector(ctx.identity) },
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': DNS.namespace } },
                podSelector: { matchLabels: { ...DNS.podLabels } },
              },
            ],
            ports: [
              { protocol: 'UDP', port: k8s.IntOrString.fromNumber(DNS.port) },
              { protocol: 'TCP', port: k8s.IntOrString.fromNumber(DNS.port) },
            ],
          },
        ],
      },
    });

    for (const w of WORKLOADS) {
      const ingress: kplus.k8s.NetworkPolicyIngressRule[] = NETWORK_EDGES.filter((e) => e.to === w).map((e) => ({
        from: [{ podSelector: { matchLabels: selectorLabels(ctx.identity, e.from) } }],
        ports: [tcp(PORTS[e.to])],
      }));
      // No `from`: any source, in or out of the cluster.
      if (w === PUBLIC_ENTRY) ingress.push({ ports: [tcp(PORTS[PUBLIC_ENTRY])] });
      // The scraper's namespace, to the metrics port only.
      if (ctx.spec.monitoring.enabled && isComponent(w)) {
        ingress.push({ from: [{ namespaceSelector: { matchLabels: { ...(ctx.spec.monitoring.scraperNamespaceLabels ?? DEFAULT_SCRAPER_NAMESPACE_LABELS) } } }], ports: [tcp(METRICS.ports[w])] });
      }
      const egress = NETWORK_EDGES.filter((e) => e.from === w).map((e) => ({
        to: [{ podSelector: { matchLabels: selectorLabels(ctx.identity, e.to) } }],
        ports: [tcp(PORTS[e.to])],
      }));
      if (ingress.length === 0 && egress.length === 0) continue;
      new k8s.KubeNetworkPolicy(this, w, {
        metadata: { name: ctx.names.policy(`allow-${w}`), labels: objectLabels(ctx.identity, w) },
        spec: {
          podSelector: { matchLabels: selectorLabels(ctx.identity, w) },
          policyTypes: [...(ingress.length > 0 ? ['Ingress'] : []), ...(egress.length > 0 ? ['Egress'] : [])],
          ...(ingress.length > 0 ? { ingress } : {}),
          ...(egress.length > 0 ? { egress } : {}),
        },
      });
    }
  }
}
