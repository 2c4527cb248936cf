/**
 * The one helper for labels and selectors: every object of an instance gets
 * the app.kubernetes.io/* labels, pods also the seed's log labels
 * (service=<name>, env=production); selectors use only the stable subset.
 *
 * Versions: non-pod objects carry the project's version; a pod template
 * carries its image's version (so an operator release that leaves an image
 * alone leaves its pods alone); an immutable field (a StatefulSet's volume
 * claim template) carries only the stable selector labels, nothing that a
 * release or a different manager (cdk8s vs the operator) changes.
 */
import { imageVersion } from './images.ts';
import { PART_OF, seedLogLabels, type Workload } from './rules.ts';

/** What every label of one SecureVote instance derives from. */
export interface InstanceIdentity {
  /** The instance name (the SecureVote's metadata.name). */
  readonly name: string;
  /** app.kubernetes.io/version. */
  readonly version: string;
  /** app.kubernetes.io/managed-by (cdk8s for `make synth`, the operator when it renders). */
  readonly managedBy: string;
}

/** app.kubernetes.io/name: the software each workload runs. */
const APP_NAME: Readonly<Record<Workload, string>> = {
  database: 'postgresql',
  cache: 'redis',
  backend: 'securevote-backend',
  frontend: 'securevote-frontend',
  proxy: 'nginx',
  migration: 'securevote-migration',
  backup: 'securevote-backup',
};

/** Selects every pod of one instance (NetworkPolicy default deny). */
export function instanceSelector(id: InstanceIdentity): Record<string, string> {
  return { 'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/instance': id.name };
}

/** Selects the pods of one workload of one instance (immutable selectors: no version). */
export function selectorLabels(id: InstanceIdentity, workload: Workload): Record<string, string> {
  return { ...instanceSelector(id), 'app.kubernetes.io/component': workload };
}

/** Labels of every object of a workload (Services, ConfigMaps, policies...). */
export function objectLabels(id: InstanceIdentity, workload: Workload): Record<string, string> {
  return {
    'app.kubernetes.io/name': APP_NAME[workload],
    ...selectorLabels(id, workload),
    'app.kubernetes.io/managed-by': id.managedBy,
    'app.kubernetes.io/version': id.version,
  };
}

/**
 * Labels of a workload's pods: the object labels, with the version of the
 * image the pods run instead of the project's, plus the seed's log labels.
 */
export function podLabels(id: InstanceIdentity, workload: Workload, image: string): Record<string, string> {
  return { ...objectLabels(id, workload), 'app.kubernetes.io/version': imageVersion(image), ...seedLogLabels(workload) };
}

/**
 * Labels of a volume claim template: immutable once the StatefulSet exists,
 * so only what never changes for the instance (no version, no manager).
 */
export function claimTemplateLabels(id: InstanceIdentity, workload: Workload): Record<string, string> {
  return selectorLabels(id, workload);
}

/** Labels of instance-wide objects (network policies that span components). */
export function instanceLabels(id: InstanceIdentity): Record<string, string> {
  return {
    ...instanceSelector(id),
    'app.kubernetes.io/managed-by': id.managedBy,
    'app.kubernetes.io/version': id.version,
  };
}
