// "Does the live object already say what we would apply?" Answered without
// a request, so that a steady-state reconcile sends no write. Two checks:
//  - the hash of the desired object, stamped on it as an annotation when it
//    is applied, still matches: the spec didn't change, including fields the
//    new desired state no longer has (SSA would remove those);
//  - every field we set still has our value in the live object: nobody
//    edited it by hand (the server's defaults and other managers' extra
//    fields are fine, SSA leaves them alone too).
import { createHash } from 'node:crypto';
import { isQuantity, quantityValue } from '../charts/quantity.ts';
import type { KObject } from './context.ts';

export const HASH_ANNOTATION = 'securevote.dev/desired-hash';

/** JSON with sorted keys, so equal objects hash equally. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function desiredHash(obj: KObject): string {
  const copy = structuredClone(obj);
  if (copy.metadata.annotations) {
    delete copy.metadata.annotations[HASH_ANNOTATION];
    if (Object.keys(copy.metadata.annotations).length === 0) delete copy.metadata.annotations;
  }
  return createHash('sha256').update(canonicalJson(copy)).digest('hex').slice(0, 32);
}

/** Return a copy of the object carrying its own hash annotation. */
export function withHash(obj: KObject): KObject {
  const out = structuredClone(obj);
  out.metadata.annotations = { ...(out.metadata.annotations ?? {}), [HASH_ANNOTATION]: desiredHash(obj) };
  return out;
}

/** A Kubernetes quantity as a number ("0.5" and "500m" are equal), or undefined. */
export function parseQuantity(s: string): number | undefined {
  return isQuantity(s) ? quantityValue(s) : undefined;
}

function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  // Go's omitempty: the server drops zero values (minReadySeconds: 0, hostNetwork: false).
  if (v === 0 || v === false || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

/**
 * True when `live` holds every value of `want`. Empty objects and lists and
 * zero values (0, false, "") in `want` match a missing field (the server
 * omits them); quantities compare by value, since the server rewrites "0.5"
 * as "500m".
 */
export function covers(live: unknown, want: unknown): boolean {
  if (want === null || want === undefined) return true;
  if (Array.isArray(want)) {
    if (want.length === 0) return isEmpty(live);
    if (!Array.isArray(live) || live.length !== want.length) return false;
    return want.every((w, i) => covers(live[i], w));
  }
  if (typeof want === 'object') {
    if (isEmpty(want)) return live === undefined || (typeof live === 'object' && live !== null);
    if (!live || typeof live !== 'object' || Array.isArray(live)) return false;
    const l = live as Record<string, unknown>;
    return Object.entries(want as Record<string, unknown>).every(([k, w]) => covers(l[k], w));
  }
  if (want === live) return true;
  if (live === undefined && isEmpty(want)) return true;
  if (typeof want === 'string' && typeof live === 'string') {
    const a = parseQuantity(want);
    const b = parseQuantity(live);
    return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(a) * 1e-12;
  }
  return false;
}

/**
 * Nothing to write: the live object was applied from this very desired
 * state and still carries all of it.
 */
export function upToDate(live: KObject | undefined, desired: KObject): boolean {
  if (!live || live.metadata.deletionTimestamp) return false;
  const hash = desired.metadata.annotations?.[HASH_ANNOTATION] ?? desiredHash(desired);
  if (live.metadata.annotations?.[HASH_ANNOTATION] !== hash) return false;
  // Status is the server's; ownerReferences are compared like any field.
  const { status: _status, ...want } = desired as KObject & { status?: unknown };
  return covers(live, want);
}
