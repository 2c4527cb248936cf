// The desired children of one SecureVote: the very construct `cdk8s synth`
// renders (charts/securevote-stack.ts), synthesized in-process from the
// resource's parsed spec, then made children: the resource's namespace, the
// instance labels (informers select on them, pruning trusts them), an owner
// reference (controller, blockOwnerDeletion: garbage collection deletes them
// with the resource) and the hash annotation that lets a steady-state
// reconcile skip the write.
import { App, Chart } from 'cdk8s';
import { SecureVoteStack } from '../charts/securevote-stack.ts';
import type { RestoreSource } from '../charts/names.ts';
import { COMPONENTS, type Component } from '../charts/rules.ts';
import { SECUREVOTE_API, type SecureVoteSpec } from '../charts/spec.ts';
import type { KObject, OwnerReference } from './context.ts';
import { canonicalJson, withHash } from './diff.ts';
import { createHash } from 'node:crypto';
import { ErrorClass, ReconcileError } from './errors.ts';
import { isOwnedKind } from './owned-kinds.ts';

export { OWNED_KINDS, WRITABLE_KINDS } from './owned-kinds.ts';

/**
 * On a workload: the hash of its pod template as rendered, so the rollout
 * planner (operator/rollout.ts) tells a template change (pods roll) from
 * any other change (replicas) without comparing server-defaulted JSON.
 */
export const TEMPLATE_HASH_ANNOTATION = 'securevote.dev/template-hash';

/**
 * On a workload: the hash of the part of the spec its component is rendered
 * from (spec.<component> and the Secret it reads). The rollout planner tells
 * by it a change the user asked for (pods roll) from a new operator
 * release's rendering of the same spec (operator/rollout.ts: PostgreSQL and
 * Redis keep their pods until the user changes their spec).
 */
export const SPEC_HASH_ANNOTATION = 'securevote.dev/spec-hash';

/**
 * The hash SPEC_HASH_ANNOTATION holds for one component. spec.monitoring
 * counts while it is on (it adds an exporter or a metrics port to every
 * component's pods: turning it on or off is the user's change, which rolls
 * PostgreSQL and Redis too); while off it is left out, so the hash of an
 * instance that never turned it on is what earlier releases wrote.
 */
export function componentSpecHash(spec: SecureVoteSpec, component: Component): string {
  const m = spec.monitoring;
  const monitoring = m.enabled ? { monitoring: { image: m.image } } : {};
  return createHash('sha256').update(canonicalJson({ component: spec[component], existingSecret: spec.existingSecret ?? null, ...monitoring })).digest('hex').slice(0, 16);
}

/** Every child carries it; its value is the SecureVote's name. */
export const INSTANCE_LABEL = 'securevote.dev/instance';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'securevote-operator';

export function ownerReferenceOf(sv: KObject): OwnerReference {
  if (!sv.metadata.uid) throw new ReconcileError(ErrorClass.Internal, `SecureVote ${sv.metadata.name} has no uid`);
  return {
    apiVersion: SECUREVOTE_API.apiVersion,
    kind: SECUREVOTE_API.kind,
    name: sv.metadata.name,
    uid: sv.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function instanceLabels(name: string): Record<string, string> {
  return { [INSTANCE_LABEL]: name, [MANAGED_BY_LABEL]: MANAGED_BY };
}

/** Synthesize the stack for a spec: plain JSON objects, as `cdk8s synth` would write them. */
export function synthesize(name: string, namespace: string, spec: SecureVoteSpec, restore?: RestoreSource): KObject[] {
  const app = new App();
  const chart = new Chart(app, name, { namespace, disableResourceNameHashes: true });
  new SecureVoteStack(chart, 'stack', { name, namespace, spec, managedBy: MANAGED_BY, ...(restore ? { restore } : {}) });
  return chart.toJson() as KObject[];
}

/** The children of one resource: synthesized, then labelled, owned and hashed. */
export function renderChildren(sv: KObject, spec: SecureVoteSpec, restore?: RestoreSource): KObject[] {
  const name = sv.metadata.name;
  const namespace = sv.metadata.namespace;
  if (!namespace) throw new ReconcileError(ErrorClass.Internal, `SecureVote ${name} has no namespace`);
  const owner = ownerReferenceOf(sv);
  const labels = instanceLabels(name);
  let objects: KObject[];
  try {
    objects = synthesize(name, namespace, spec, restore);
  } catch (err) {
    // The construct validates its props and names the one it refuses.
    throw new ReconcileError(ErrorClass.InvalidSpec, `the stack refused the spec: ${(err as Error).message}`, { cause: err });
  }
  return objects.map((o) => {
    if (!isOwnedKind(o.apiVersion, o.kind)) {
      throw new ReconcileError(ErrorClass.Internal, `the stack rendered ${o.apiVersion} ${o.kind}, which the operator does not own (OWNED_KINDS)`);
    }
    if (o.kind === 'Secret') {
      throw new ReconcileError(ErrorClass.Internal, `the stack rendered Secret ${o.metadata.name}; secrets are never rendered`);
    }
    const child: KObject = {
      ...o,
      metadata: {
        ...o.metadata,
        namespace,
        labels: { ...(o.metadata.labels ?? {}), ...labels },
        ownerReferences: [owner],
      },
    };
    const component = child.metadata.labels?.['app.kubernetes.io/component'];
    if (child.kind !== 'Job' && (COMPONENTS as readonly string[]).includes(component ?? '') && (child.spec as { template?: unknown } | undefined)?.template) {
      child.metadata.annotations = { ...(child.metadata.annotations ?? {}), [SPEC_HASH_ANNOTATION]: componentSpecHash(spec, component as Component) };
    }
    return withHash(withTemplateHash(child));
  });
}

/**
 * A workload gets the hash of its pod template (the rollout planner tells a
 * template change from a replicas change by it). The templates themselves get
 * nothing: a label added there would restart every pod of every instance on
 * the operator upgrade that adds it.
 */
function withTemplateHash(obj: KObject): KObject {
  const spec = obj.spec as { template?: unknown } | undefined;
  if (!spec?.template) return obj;
  const out = structuredClone(obj);
  out.metadata.annotations = { ...(out.metadata.annotations ?? {}), [TEMPLATE_HASH_ANNOTATION]: templateHash(spec.template) };
  return out;
}

/** The hash of a pod template (as rendered). */
export function templateHash(template: unknown): string {
  return createHash('sha256').update(canonicalJson(template)).digest('hex').slice(0, 16);
}
