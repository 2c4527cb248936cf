// Helpers for the chart tests: render the stack in-process and look into
// the objects. Kubernetes JSON is typed loosely (`any`) on purpose: the tests
// walk arbitrary manifests.
import { renderStack } from '../../charts/render.ts';
import { COMPONENTS, type Component, type Workload } from '../../charts/rules.ts';
import type { SecureVoteSpecInput } from '../../charts/spec.ts';

export type K8s = Record<string, any>; // any: arbitrary Kubernetes JSON

export const NAME = 'securevote';
export const NAMESPACE = 'securevote';

export function render(spec: SecureVoteSpecInput = {}, name = NAME, namespace = NAMESPACE): K8s[] {
  return renderStack({ name, namespace, spec }) as K8s[];
}

export function find(objects: readonly K8s[], kind: string, name: string): K8s {
  const o = objects.find((x) => x['kind'] === kind && x['metadata'].name === name);
  if (o === undefined) throw new Error(`no ${kind} ${name}`);
  return o;
}

export function ofKind(objects: readonly K8s[], kind: string): K8s[] {
  return objects.filter((x) => x['kind'] === kind);
}

export interface PodTemplate {
  readonly owner: K8s;
  readonly workload: Workload;
  readonly labels: Record<string, string>;
  readonly spec: K8s;
}

/** Every pod template (Deployments, the StatefulSet, the Job). */
export function podTemplates(objects: readonly K8s[]): PodTemplate[] {
  return objects
    .filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o['kind']))
    .map((o) => {
      const labels = o['spec'].template.metadata.labels as Record<string, string>;
      return { owner: o, workload: labels['app.kubernetes.io/component'] as Workload, labels, spec: o['spec'].template.spec };
    });
}

export function podOf(objects: readonly K8s[], workload: Workload): PodTemplate {
  const p = podTemplates(objects).find((t) => t.workload === workload);
  if (p === undefined) throw new Error(`no pod template for ${workload}`);
  return p;
}

/** The main container of a component's pod (the only one in `containers`). */
export function mainContainer(objects: readonly K8s[], workload: Workload): K8s {
  const c = podOf(objects, workload).spec['containers'] as K8s[];
  if (c.length !== 1) throw new Error(`${workload}: expected one container, got ${c.length}`);
  return c[0]!;
}

export function allContainers(pod: PodTemplate): K8s[] {
  return [...((pod.spec['initContainers'] ?? []) as K8s[]), ...(pod.spec['containers'] as K8s[])];
}

export function env(container: K8s): Record<string, string> {
  return Object.fromEntries(((container['env'] ?? []) as K8s[]).map((e) => [e['name'], e['value']]));
}

/** True when every pair of `selector` is in `labels`. */
export function matches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

export const SERVICES: readonly Component[] = COMPONENTS;
