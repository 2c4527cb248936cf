// How the informers' cache keeps the children the operator writes: whole
// (drift detection, diff.ts covers(), compares every field we apply with the
// live object), but compressed. A stack's 25 children are ~80 KB of JSON and
// several times that as objects on the heap; a thousand stacks whole don't
// fit the operator's own memory limit. Children of different stacks differ
// in little but names, uids and a few numbers, so each is deflated against a
// dictionary: the same kind rendered for a template SecureVote (~3 KB a
// stack instead of ~20 KB with plain deflate). Reading one back (every get
// and list of the cache) inflates it: tens of microseconds.
//
// The object the informer holds keeps, readable, what the informer itself
// and the owner index read (name, namespace, uid, resourceVersion, owner
// references, the instance label, deletionTimestamp); the rest is in PACKED.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { KObject } from './context.ts';
import { INSTANCE_LABEL, renderChildren } from './desired.ts';
import { defaultSpec, SECUREVOTE_API } from '../charts/spec.ts';

const PACKED = Symbol('packed');

type Packed = KObject & { [PACKED]?: Buffer };

/** zlib keeps the last 32 KB of a dictionary. */
const DICTIONARY_MAX = 32 * 1024;

let dictionaries: Map<string, Buffer> | undefined;

/** Per kind: the JSON of every child of that kind rendered for a template SecureVote. */
function dictionaryOf(kind: string): Buffer | undefined {
  if (!dictionaries) {
    dictionaries = new Map();
    const template: KObject = {
      apiVersion: SECUREVOTE_API.apiVersion,
      kind: SECUREVOTE_API.kind,
      metadata: { name: 'securevote', namespace: 'default', uid: '00000000-0000-0000-0000-000000000000', generation: 1 },
      spec: {},
    };
    const byKind = new Map<string, string[]>();
    for (const c of renderChildren(template, defaultSpec())) byKind.set(c.kind, [...(byKind.get(c.kind) ?? []), JSON.stringify(c)]);
    for (const [k, parts] of byKind) {
      const all = Buffer.from(parts.join(''));
      dictionaries.set(k, all.length > DICTIONARY_MAX ? all.subarray(all.length - DICTIONARY_MAX) : all);
    }
  }
  return dictionaries.get(kind);
}

/**
 * Packs a child of `kind`, in place (the informer keeps this very object):
 * the whole object compressed, its identity left readable. Packing a packed
 * object does nothing.
 */
export function packChild(obj: KObject, kind: string): void {
  const o = obj as Packed;
  if (o[PACKED]) return;
  const dictionary = dictionaryOf(kind);
  // A copy of exactly its size, outside Node's 8 KB Buffer pool: zlib's
  // result sits in a buffer of its chunk size (16 KB or more), and a pooled
  // copy would keep its whole pool slab alive, with the garbage around it
  // (the JSON's own bytes, written to the same slab just before).
  const out = deflateRawSync(JSON.stringify(obj), dictionary ? { dictionary } : {});
  const packed = Buffer.allocUnsafeSlow(out.length);
  out.copy(packed);
  const m = obj.metadata;
  const metadata: KObject['metadata'] = { name: m.name };
  if (m.namespace !== undefined) metadata.namespace = m.namespace;
  if (m.uid !== undefined) metadata.uid = m.uid;
  if (m.resourceVersion !== undefined) metadata.resourceVersion = m.resourceVersion;
  const instance = m.labels?.[INSTANCE_LABEL];
  if (instance !== undefined) metadata.labels = { [INSTANCE_LABEL]: instance };
  if (m.ownerReferences !== undefined) metadata.ownerReferences = m.ownerReferences;
  if (m.deletionTimestamp !== undefined) metadata.deletionTimestamp = m.deletionTimestamp;
  const rec = o as unknown as Record<string, unknown>;
  // Emptied, not deleted: a deleted property turns the object into a hash
  // table (V8's dictionary mode), ~350 bytes more for each of 25,000 children.
  for (const k of Object.keys(rec)) if (k !== 'apiVersion' && k !== 'kind') rec[k] = undefined;
  rec.metadata = metadata;
  o[PACKED] = packed;
}

/** The whole object of a packed child (a new copy each time), or the object itself. */
export function unpack(obj: KObject, kind: string): KObject {
  const packed = (obj as Packed)[PACKED];
  if (!packed) return obj;
  const dictionary = dictionaryOf(kind);
  return JSON.parse(inflateRawSync(packed, dictionary ? { dictionary } : {}).toString('utf8')) as KObject;
}

/**
 * The memory a packed child keeps: the whole buffer behind its compressed
 * bytes (a slice of a shared pool would keep the pool's every byte).
 */
export function packedBytes(obj: KObject): number {
  return (obj as Packed)[PACKED]?.buffer.byteLength ?? 0;
}
