// The last rendering of each SecureVote, so that a reconcile whose resource
// hasn't changed doesn't synthesize the construct again (~30 ms each; the
// reconcile's largest cost). Valid while the resource's uid and generation
// stay: the spec only changes with the generation, and nothing else the
// rendering depends on changes but name and uid.
//
// It must hold every resource a bring-up cycles through: the queue visits
// the resources in turn, so a bound below their number misses on every visit
// (least recently used is the worst policy for a cycle). Measured with 300
// resources and room for 256: 1,344 renders for 1,315 reconciles; with room
// for all, 300 renders and a fifth less of the operator's CPU
// (BENCHMARKS.md). So each rendering is kept small enough to keep them all:
// its children packed one by one against the template's rendering of their
// kind (packed.ts packRendered), ~4 KB a stack where the rendering is 68 KB
// of JSON (12 KB deflated whole).
import type { RestoreSource } from '../charts/names.ts';
import type { SecureVoteSpec } from '../charts/spec.ts';
import type { KObject } from './context.ts';
import { renderChildren } from './desired.ts';
import { packRendered, unpackRendered } from './packed.ts';

interface Rendering {
  readonly uid: string;
  readonly generation: number;
  /** Each child's kind and packed JSON, in the rendering's order. */
  readonly kinds: readonly string[];
  readonly packed: readonly string[];
}

/** Bounded, least recently used first out. */
export class DesiredCache {
  private readonly byKey = new Map<string, Rendering>();
  private readonly max: number;
  private readonly onRender: () => void;
  renders = 0;

  /** `onRender` counts each synthesis (a miss). */
  constructor(max = 2000, onRender: () => void = () => {}) {
    this.max = max;
    this.onRender = onRender;
  }

  /**
   * The resource's children as rendered: a fresh copy each call (callers may
   * change it). `restore` (spec.restore resolved) is fixed for a generation:
   * a backup's status no longer changes once it is verified.
   */
  get(sv: KObject, spec: SecureVoteSpec, restore?: RestoreSource): KObject[] {
    const key = `${sv.metadata.namespace ?? ''}/${sv.metadata.name}`;
    const uid = sv.metadata.uid ?? '';
    const generation = sv.metadata.generation ?? 0;
    const hit = this.byKey.get(key);
    if (hit && hit.uid === uid && hit.generation === generation) {
      // Map order is insertion order: re-insert to mark it recently used.
      this.byKey.delete(key);
      this.byKey.set(key, hit);
      return hit.packed.map((p, i) => unpackRendered(p, hit.kinds[i] as string));
    }
    const objects = renderChildren(sv, spec, restore);
    this.renders++;
    this.onRender();
    this.byKey.delete(key);
    this.byKey.set(key, { uid, generation, kinds: objects.map((o) => o.kind), packed: objects.map(packRendered) });
    while (this.byKey.size > this.max) this.byKey.delete(this.byKey.keys().next().value as string);
    return objects;
  }

  /** The resource is gone: drop its rendering. */
  forget(key: string): void {
    this.byKey.delete(key);
  }

  size(): number {
    return this.byKey.size;
  }

  /** The packed bytes its renderings keep. */
  bytes(): number {
    let n = 0;
    for (const e of this.byKey.values()) for (const p of e.packed) n += p.length;
    return n;
  }
}
