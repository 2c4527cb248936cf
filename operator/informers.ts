// Informers (list + watch + cache, from client-node) on the SecureVote
// resources and on every kind they own, label-selected. They feed the queue
// with keys and answer the reconcile's reads. Every event, whatever its type,
// becomes "look at this key again": the reconcile reads the world itself.
// client-node's informer reconnects a dropped watch, but stops on any other
// error; here it is restarted with a capped backoff (never a process exit).
import { type Informer, type KubeConfig, makeInformer } from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KObject, ObjectCache, ObjectRef } from './context.ts';
import type { RawKubeApi } from './kube.ts';

export interface Kind {
  readonly apiVersion: string;
  readonly kind: string;
}

type CachingInformer = Informer<KubernetesObject> & {
  get(name: string, namespace?: string): KubernetesObject | undefined;
  list(namespace?: string): ReadonlyArray<KubernetesObject>;
};

export const kindKey = (k: Kind): string => `${k.apiVersion}/${k.kind}`;

export class Informers implements ObjectCache {
  private readonly informers = new Map<string, CachingInformer>();
  private readonly synced = new Map<string, boolean>();
  private readonly restarts = new Map<string, NodeJS.Timeout>();
  private stopped = false;
  private readonly log: Logger;

  constructor(
    kc: KubeConfig,
    raw: RawKubeApi,
    log: Logger,
    kinds: { readonly kind: Kind; readonly labelSelector?: string; readonly onObject: (obj: KObject) => void }[],
    private_paths: Record<string, string>,
  ) {
    this.log = log;
    for (const { kind, labelSelector, onObject } of kinds) {
      const key = kindKey(kind);
      const path = private_paths[key];
      if (!path) throw new Error(`no watch path for ${key}`);
      const inf = makeInformer<KubernetesObject>(
        kc,
        path,
        () => raw.listRaw(kind.apiVersion, kind.kind, labelSelector) as never,
        labelSelector,
      ) as CachingInformer;
      const handler = (obj: KubernetesObject): void => {
        // The cache keeps this very object: managedFields are a large share
        // of it and nothing here reads them.
        if (obj.metadata) delete (obj.metadata as { managedFields?: unknown }).managedFields;
        try {
          // Watch events carry apiVersion/kind; keep them uniform anyway.
          onObject({ ...(obj as KObject), apiVersion: kind.apiVersion, kind: kind.kind });
        } catch (err) {
          this.log.error({ err, kind: key }, 'event handler failed');
        }
      };
      inf.on('add', handler);
      inf.on('update', handler);
      inf.on('delete', handler);
      inf.on('connect', () => this.synced.set(key, true));
      inf.on('error', (err: unknown) => this.restart(key, err));
      this.informers.set(key, inf);
    }
  }

  /** The watch paths (cluster-wide) for these kinds, found by discovery. */
  static async paths(raw: RawKubeApi, kinds: readonly Kind[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const k of kinds) out[kindKey(k)] = await raw.pathOf({ apiVersion: k.apiVersion, kind: k.kind }, 'list');
    return out;
  }

  async start(): Promise<void> {
    this.stopped = false;
    // start() resolves once the first list is in the cache and the watch is open.
    await Promise.all([...this.informers.values()].map((i) => i.start()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.restarts.values()) clearTimeout(t);
    this.restarts.clear();
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }

  private restart(key: string, err: unknown): void {
    if (this.stopped || this.restarts.has(key)) return;
    const attempt = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, attempt);
    const ms = Math.min(30_000, 500 * 2 ** (attempt - 1));
    this.log.warn({ kind: key, err: errText(err), retryMs: ms }, 'informer stopped; restarting');
    const t = setTimeout(() => {
      this.restarts.delete(key);
      const inf = this.informers.get(key);
      if (!inf || this.stopped) return;
      inf.start().then(
        () => this.failures.delete(key),
        (e: unknown) => this.restart(key, e),
      );
    }, ms);
    t.unref();
    this.restarts.set(key, t);
  }

  private readonly failures = new Map<string, number>();

  get(ref: ObjectRef): KObject | undefined {
    const inf = this.informers.get(kindKey(ref));
    const obj = inf?.get(ref.name, ref.namespace);
    return obj ? ({ ...(obj as KObject), apiVersion: ref.apiVersion, kind: ref.kind }) : undefined;
  }

  list(kind: Kind, namespace?: string): KObject[] {
    const inf = this.informers.get(kindKey(kind));
    return (inf?.list(namespace) ?? []).map((o) => ({ ...(o as KObject), apiVersion: kind.apiVersion, kind: kind.kind }));
  }

  listOwned(apiVersion: string, kind: string, namespace: string, ownerUid: string): KObject[] {
    return this.list({ apiVersion, kind }, namespace).filter((o) =>
      (o.metadata.ownerReferences ?? []).some((r) => r.controller === true && r.uid === ownerUid),
    );
  }
}

function errText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
