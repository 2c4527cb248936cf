// How the informers' cache keeps the children the operator writes (and the
// SecureVotes themselves, ~3 KB each as objects): whole (drift detection,
// diff.ts covers(), compares every field we apply with the live object), but
// compressed. A stack's 25 children are ~80 KB of JSON and
// several times that as objects on the heap; a thousand stacks whole don't
// fit the operator's own memory limit. Children of different stacks differ
// in little but names, uids and a few numbers, so each is deflated against a
// dictionary: the same kind rendered for a template SecureVote, and the
// first object of the kind the API server sent (~3 KB a stack instead of
// ~20 KB with plain deflate). Reading one back (every get and list of the
// cache) inflates it: tens of microseconds.
//
// The object the informer holds keeps, readable, what the informer itself
// and the owner index read (name, namespace, uid, resourceVersion, owner
// references, the instance label, deletionTimestamp); the rest is in PACKED,
// a one-byte string (16 bytes of header, where a Buffer costs ~300 bytes of
// JavaScript objects and malloc'd bookkeeping). What a stack's 25 children
// have in common (namespace, instance label, owner references) is one shared,
// frozen record, not 25 copies: about half of what a packed child cost.
//
// The rendering cache (desired-cache.ts) keeps rendered children packed the
// same way, against the template's rendering alone (packRendered).
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { KObject } from './context.ts';
import { INSTANCE_LABEL, renderChildren } from './desired.ts';
import { defaultSpec, SECUREVOTE_API } from '../charts/spec.ts';

const PACKED = Symbol('packed');
/** The shared record a packed child's metadata points into: held, so it lives as long as the child. */
const SHARED = Symbol('shared');

type Packed = KObject & { [PACKED]?: string; [SHARED]?: Shared };

/** zlib keeps the last 32 KB of a dictionary. */
const DICTIONARY_MAX = 32 * 1024;

/** The part of a dictionary zlib uses (a copy: not a view keeping the whole). */
const lastWindow = (all: Buffer): Buffer => (all.length > DICTIONARY_MAX ? Buffer.from(all.subarray(all.length - DICTIONARY_MAX)) : all);

/** Per kind: the JSON of every child of that kind rendered for a template SecureVote (and of the SecureVote). */
let rendered: Map<string, string> | undefined;

function renderedOf(kind: string): string {
  if (!rendered) {
    const template: KObject = {
      apiVersion: SECUREVOTE_API.apiVersion,
      kind: SECUREVOTE_API.kind,
      metadata: { name: 'securevote', namespace: 'default', uid: '00000000-0000-0000-0000-000000000000', generation: 1 },
      spec: {},
    };
    const byKind = new Map<string, string>();
    for (const c of renderChildren(template, defaultSpec())) byKind.set(c.kind, (byKind.get(c.kind) ?? '') + JSON.stringify(c));
    // The resource itself, its spec as the API server fills it in (the schema's defaults).
    byKind.set(SECUREVOTE_API.kind, JSON.stringify({ ...template, spec: defaultSpec() }));
    rendered = byKind;
  }
  return rendered.get(kind) ?? '';
}

/**
 * Per kind, the dictionary its objects are packed against, fixed when the
 * first one is packed: the template's rendering, then that first object as
 * the API server returned it. What our rendering lacks (the server's
 * defaults, uids, timestamps, status) then has a match too: a stack's
 * children with uids, timestamps and status but no server defaults pack to
 * 4.2 KB against 6.1 KB with the rendering alone.
 */
const dictionaries = new Map<string, Buffer>();

function dictionaryOf(kind: string, first?: string): Buffer | undefined {
  let d = dictionaries.get(kind);
  if (!d && first !== undefined) {
    d = lastWindow(Buffer.from(renderedOf(kind) + first));
    dictionaries.set(kind, d);
  }
  return d;
}

/** JSON deflated against a dictionary, as a one-byte string (see above: not a Buffer). */
function deflate(json: string, dictionary: Buffer | undefined): string {
  return deflateRawSync(json, dictionary ? { dictionary } : {}).toString('latin1');
}

function inflate(packed: string, dictionary: Buffer | undefined): string {
  return inflateRawSync(Buffer.from(packed, 'latin1'), dictionary ? { dictionary } : {}).toString('utf8');
}

/**
 * Per kind, the dictionary rendered children are packed against: the
 * template's rendering alone (a rendering has none of the server's fields,
 * and packing one must not fix the live objects' dictionary, which ends
 * with what the server sent).
 */
const renderedDictionaries = new Map<string, Buffer>();

function renderedDictionaryOf(kind: string): Buffer {
  let d = renderedDictionaries.get(kind);
  if (!d) {
    d = lastWindow(Buffer.from(renderedOf(kind)));
    renderedDictionaries.set(kind, d);
  }
  return d;
}

/**
 * A rendered child of `kind`, packed: its JSON deflated against the
 * template's rendering of that kind. A stack's rendering differs from the
 * template's in little but names, uids and hashes: ~4 KB a stack packed
 * child by child, against ~12 KB for its 68 KB of JSON deflated whole
 * (zlib's 32 KB window keeps a whole rendering from matching a dictionary).
 */
export function packRendered(obj: KObject): string {
  return deflate(JSON.stringify(obj), renderedDictionaryOf(obj.kind));
}

/** A rendered child packed by packRendered (a new copy each time). */
export function unpackRendered(packed: string, kind: string): KObject {
  return JSON.parse(inflate(packed, renderedDictionaryOf(kind))) as KObject;
}

type Metadata = KObject['metadata'];

/** What every child of one owner shares, in the cache. */
interface Shared {
  readonly namespace: string | undefined;
  readonly labels: Readonly<Record<string, string>> | undefined;
  readonly ownerReferences: Metadata['ownerReferences'];
}

/**
 * Shared records by their content, held weakly: a record lives as long as a
 * cached child holds it (SHARED), and its entry goes with it.
 */
const shared = new Map<string, WeakRef<Shared>>();
const forget = new FinalizationRegistry<string>((key) => {
  if (shared.get(key)?.deref() === undefined) shared.delete(key);
});

function sharedOf(namespace: string | undefined, instance: string | undefined, owners: Metadata['ownerReferences']): Shared {
  const key = JSON.stringify([namespace, instance, owners]);
  const found = shared.get(key)?.deref();
  if (found) return found;
  const rec: Shared = Object.freeze({
    namespace,
    labels: instance === undefined ? undefined : Object.freeze({ [INSTANCE_LABEL]: instance }),
    // Frozen all the way down: every child of the owner reads this one array.
    ownerReferences: owners === undefined ? undefined : Object.freeze(owners.map((r) => Object.freeze({ ...r }))) as Metadata['ownerReferences'],
  });
  shared.set(key, new WeakRef(rec));
  forget.register(rec, key);
  return rec;
}

/** How many shared records the table holds (tests: none once their children are gone). */
export function sharedRecords(): number {
  return shared.size;
}

/**
 * Packs a child of `kind`, in place (the informer keeps this very object):
 * the whole object compressed, its identity left readable. Packing a packed
 * object does nothing.
 */
export function packChild(obj: KObject, kind: string): void {
  const o = obj as Packed;
  if (o[PACKED] !== undefined) return;
  const json = JSON.stringify(obj);
  const dictionary = dictionaryOf(kind, json);
  const packed = deflate(json, dictionary);
  const m = obj.metadata;
  const common = sharedOf(m.namespace, m.labels?.[INSTANCE_LABEL], m.ownerReferences);
  const metadata: Metadata = { name: m.name };
  if (common.namespace !== undefined) metadata.namespace = common.namespace;
  if (m.uid !== undefined) metadata.uid = m.uid;
  if (m.resourceVersion !== undefined) metadata.resourceVersion = m.resourceVersion;
  if (common.labels !== undefined) metadata.labels = common.labels as Record<string, string>;
  if (common.ownerReferences !== undefined) metadata.ownerReferences = common.ownerReferences;
  if (m.deletionTimestamp !== undefined) metadata.deletionTimestamp = m.deletionTimestamp;
  const rec = o as unknown as Record<string, unknown>;
  // Emptied, not deleted: a deleted property turns the object into a hash
  // table (V8's dictionary mode), ~350 bytes more for each of 25,000 children.
  for (const k of Object.keys(rec)) if (k !== 'apiVersion' && k !== 'kind') rec[k] = undefined;
  rec.metadata = metadata;
  o[PACKED] = packed;
  o[SHARED] = common;
}

/** The whole object of a packed child (a new copy each time), or the object itself. */
export function unpack(obj: KObject, kind: string): KObject {
  const packed = (obj as Packed)[PACKED];
  if (packed === undefined) return obj;
  return JSON.parse(inflate(packed, dictionaryOf(kind))) as KObject;
}

/** The compressed bytes a packed child keeps (0 for one never packed). */
export function packedBytes(obj: KObject): number {
  return (obj as Packed)[PACKED]?.length ?? 0;
}
