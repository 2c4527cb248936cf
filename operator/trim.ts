// What the informers' cache keeps of the kinds the operator only reads
// (owned-kinds.ts READ_ONLY_KINDS): pods, their ReplicaSets and the database's
// claims. They are most of what it watches (a stack has ~8 pods and ~6
// ReplicaSets for ~25 children of its own), a pod arrives as ~8 KB of JSON,
// and the reconcile reads only its identity, its owner and why it isn't
// running (status.ts diagnosePod / diagnoseClaim, controller.ts
// diagnoseInstance). The kinds it writes are cached whole (less
// managedFields), compressed (packed.ts): drift detection compares their
// specs. client-go offers
// the same as an informer's transform (controller-runtime's cache
// DefaultTransform strips managedFields the same way).
//
// The trim is in place: client-node's informer keeps the very object it
// hands to its event handlers. A field read from a read-only object must be
// kept here first; trim.test.ts checks the diagnoses of a trimmed object
// against those of the whole one.
import type { KObject } from './context.ts';
import { INSTANCE_LABEL } from './desired.ts';

type Obj = Record<string, unknown>;

const pick = (o: unknown, keys: readonly string[]): Obj | undefined => {
  if (!o || typeof o !== 'object') return undefined;
  const out: Obj = {};
  for (const k of keys) if ((o as Obj)[k] !== undefined) out[k] = (o as Obj)[k];
  return Object.keys(out).length > 0 ? out : undefined;
};

/** The labels the operator reads: the component (diagnoses) and the instance (the owning SecureVote's key). */
const LABELS = ['app.kubernetes.io/component', 'app.kubernetes.io/instance', 'app.kubernetes.io/part-of', INSTANCE_LABEL];
/** The annotations read: a pending claim's provisioner, and the node a claim's volume lives on. */
const ANNOTATIONS = ['volume.kubernetes.io/storage-provisioner', 'volume.kubernetes.io/selected-node'];

function containerStatus(c: unknown): Obj {
  const s = (c ?? {}) as { name?: string; image?: string; restartCount?: number; state?: Obj; lastState?: { terminated?: unknown } };
  const out: Obj = { name: s.name, image: s.image, restartCount: s.restartCount };
  if (s.state) out.state = s.state;
  // The message: a restore's refusal (charts/restore.sh) says why there.
  const last = pick(s.lastState?.terminated, ['exitCode', 'reason', 'message']);
  if (last) out.lastState = { terminated: last };
  return out;
}

function containers(list: unknown): Obj[] | undefined {
  return Array.isArray(list) ? list.map((c: unknown) => pick(c, ['name', 'image']) ?? {}) : undefined;
}

function spec(kind: string, s: unknown): Obj | undefined {
  const src = (s ?? {}) as Obj;
  if (kind === 'Pod') return pick({ containers: containers(src.containers), initContainers: containers(src.initContainers) }, ['containers', 'initContainers']);
  if (kind === 'PersistentVolumeClaim') return pick(src, ['storageClassName']);
  return undefined;
}

function status(kind: string, s: unknown): Obj | undefined {
  const src = (s ?? {}) as Obj;
  if (kind === 'Pod') {
    const conditions = Array.isArray(src.conditions) ? src.conditions.map((c: unknown) => pick(c, ['type', 'status', 'reason', 'message']) ?? {}) : undefined;
    const list = (l: unknown): Obj[] | undefined => (Array.isArray(l) ? l.map(containerStatus) : undefined);
    return pick({ phase: src.phase, conditions, containerStatuses: list(src.containerStatuses), initContainerStatuses: list(src.initContainerStatuses) },
      ['phase', 'conditions', 'containerStatuses', 'initContainerStatuses']);
  }
  if (kind === 'PersistentVolumeClaim') return pick(src, ['phase']);
  return undefined;
}

/**
 * Trims a read-only object of `kind`, in place, to what the reconcile reads
 * of it. (A list's items carry no kind: the informer knows it.)
 */
export function trimReadOnly(obj: KObject, kind: string): void {
  const m = obj.metadata;
  const metadata: KObject['metadata'] = { name: m.name };
  if (m.namespace !== undefined) metadata.namespace = m.namespace;
  if (m.uid !== undefined) metadata.uid = m.uid;
  // client-node's informer compares resource versions; the queue ignores nothing else.
  if (m.resourceVersion !== undefined) metadata.resourceVersion = m.resourceVersion;
  const labels = pick(m.labels, LABELS) as Record<string, string> | undefined;
  if (labels) metadata.labels = labels;
  const annotations = pick(m.annotations, ANNOTATIONS) as Record<string, string> | undefined;
  if (annotations) metadata.annotations = annotations;
  if (m.ownerReferences !== undefined) metadata.ownerReferences = m.ownerReferences.map((r) => ({ apiVersion: r.apiVersion, kind: r.kind, name: r.name, uid: r.uid, ...(r.controller !== undefined ? { controller: r.controller } : {}) }));
  if (m.deletionTimestamp !== undefined) metadata.deletionTimestamp = m.deletionTimestamp;
  const s = spec(kind, obj.spec);
  const st = status(kind, obj.status);
  const o = obj as unknown as Obj;
  // Emptied, not deleted: a deleted property turns the object into a hash
  // table (V8's dictionary mode), ~400 bytes more for each of 8,000 pods.
  for (const k of Object.keys(o)) if (k !== 'apiVersion' && k !== 'kind') o[k] = undefined;
  o.metadata = metadata;
  if (s) o.spec = s;
  if (st) o.status = st;
}
