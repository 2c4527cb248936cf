// What a reconcile is given: built once in main.ts, faked in tests. Nothing
// here is a module singleton; every collaborator is an interface.
import type { Logger } from 'pino';
import type { WriteMemo } from './apply.ts';
import type { DesiredCache } from './desired-cache.ts';
import type { Metrics } from './metrics.ts';

/** A Kubernetes object as JSON, the way the API server sends it. */
export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
    finalizers?: string[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
    managedFields?: unknown[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export type JsonPatchOp =
  | { op: 'test' | 'add' | 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/** The API calls the operator makes, and nothing else (RBAC mirrors this list). */
export interface KubeApi {
  /** Server-side apply with the operator's field manager (force: we own what we apply). */
  apply(obj: KObject): Promise<KObject>;
  /** POST; throws a 409 AlreadyExists if it is there. */
  create(obj: KObject): Promise<KObject>;
  /** DELETE with a uid precondition, so a recreated namesake survives. */
  delete(ref: ObjectRef, uid?: string): Promise<void>;
  /** GET; undefined when it is not there. */
  get(ref: ObjectRef): Promise<KObject | undefined>;
  /** LIST in one namespace by label selector: read when needed, never cached (pods: owned-kinds.ts POD_KIND). */
  list(kind: { apiVersion: string; kind: string }, namespace: string, labelSelector: string): Promise<KObject[]>;
  /** Server-side apply of the status subresource. */
  applyStatus(ref: ObjectRef, status: Record<string, unknown>): Promise<KObject>;
  /** JSON Patch (for finalizers: with a `test` op first). */
  jsonPatch(ref: ObjectRef, ops: JsonPatchOp[]): Promise<KObject>;
  /** Whether the API server serves this kind (discovery; an answer may be a minute old). */
  serves(apiVersion: string, kind: string): Promise<boolean>;
}

/** The informers' view of the world: reads cost no request. */
export interface ObjectCache {
  get(ref: ObjectRef): KObject | undefined;
  /** Every cached object of a kind, in one namespace or all. */
  list(kind: { apiVersion: string; kind: string }, namespace?: string): KObject[];
  /**
   * Objects of a kind in a namespace that a given owner controls. Shallow:
   * only what the cache keeps readable of a packed object (name, namespace,
   * uid, resourceVersion, instance label, owner references, deletion).
   */
  listOwned(apiVersion: string, kind: string, namespace: string, ownerUid: string, opts?: { shallow?: boolean }): KObject[];
}

export interface EventRecorder {
  /** Best effort: a failed Event never fails a reconcile. */
  publish(regarding: KObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export interface OperatorConfig {
  /** Field manager for every write. */
  readonly fieldManager: string;
  /** Requeue of a healthy resource (repairs what events missed). */
  readonly resyncMs: number;
  /** Requeue while children are not yet ready. */
  readonly progressingRequeueMs: number;
  /** Retry after a permanent failure (the server refused our apply). */
  readonly permanentRetryMs: number;
  /** Workers in the queue. */
  readonly concurrency: number;
  /** How long an answer of discovery holds (whether the cluster serves the monitoring kinds), and the requeue of a skipped instance. */
  readonly discoveryMs: number;
}

export const defaultConfig: OperatorConfig = {
  fieldManager: 'securevote-operator',
  resyncMs: 5 * 60_000,
  progressingRequeueMs: 10_000,
  permanentRetryMs: 5 * 60_000,
  concurrency: 8,
  discoveryMs: 60_000,
};

export interface Context {
  readonly kube: KubeApi;
  readonly cache: ObjectCache;
  readonly events: EventRecorder;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly config: OperatorConfig;
  /** The last rendering of each resource's children (a synth per generation, not per reconcile). */
  readonly desired: DesiredCache;
  /** Our recent writes, so a cache that lags behind them doesn't cause a second write. */
  readonly writes: WriteMemo;
  /** The clock, for condition timestamps. */
  now(): Date;
}
