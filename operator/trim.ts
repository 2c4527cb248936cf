// What the informers' cache keeps of the kind the operator only reads
// (owned-kinds.ts READ_ONLY_KINDS): the database's claims. The reconcile
// reads only their identity, labels, phase and where their volume is
// (status.ts diagnoseClaim / diagnoseCordoned); the rest (managedFields,
// the spec's resources and selectors) is dropped as each arrives, as
// controller-runtime's cache DefaultTransform strips managedFields. The kinds
// it writes are cached whole (less managedFields), compressed (packed.ts):
// drift detection compares their specs.
//
// The trim is in place: client-node's informer keeps the very object it
// hands to its event handlers. A field read from a read-only object must be
// kept here first; trim.test.ts checks the diagnosis of a trimmed claim
// against that of the whole one.
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

function spec(kind: string, s: unknown): Obj | undefined {
  const src = (s ?? {}) as Obj;
  if (kind === 'PersistentVolumeClaim') return pick(src, ['storageClassName']);
  return undefined;
}

function status(kind: string, s: unknown): Obj | undefined {
  const src = (s ?? {}) as Obj;
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
  // table (V8's dictionary mode), a few hundred bytes more for each.
  for (const k of Object.keys(o)) if (k !== 'apiVersion' && k !== 'kind') o[k] = undefined;
  o.metadata = metadata;
  if (s) o.spec = s;
  if (st) o.status = st;
}
