// The API client behind Context.kube, on @kubernetes/client-node 2.x: its
// configuration (TLS, auth), URL building (discovery) and transport, with
// plain JSON bodies both ways.
//
// Every request has a deadline (client-node sets none; undici's default is
// 300 s), so a hung API server can't hold a reconcile or a lease renewal
// past the lease's renew deadline. Watches aren't sent here: client-node's
// Watch has its own idle timeout (30 s without a byte) and reconnects. Every
// write (POST, PUT, PATCH, DELETE) also asks the write fence (fence.ts) just
// before it is sent, and is aborted when the leader's term ends.
//
// Why not client-node's `KubernetesObjectApi.patch()` for server-side apply:
// it does send `Content-Type: application/apply-patch+yaml` with fieldManager
// and force, but it first runs built-in kinds through its typed models, which
// read TypeScript property names: a NetworkPolicy rule's `from` is `_from`
// there, so a plain-JSON `from` is silently DROPPED and the applied policy
// allows ingress from everywhere (seen on a real API server; the reconcile
// test checks `from` survives). The same models turn timestamps into Dates.
// So apply is the same PATCH request, built here with the JSON untouched.
import {
  ApiException,
  HttpMethod,
  type KubeConfig,
  KubernetesObjectApi,
  type KubernetesObject,
  PatchStrategy,
  type RequestContext,
} from '@kubernetes/client-node';
import type { JsonPatchOp, KObject, KubeApi, ObjectRef } from './context.ts';
import { type WriteGuard, noFence } from './fence.ts';

type Action = 'create' | 'read' | 'patch' | 'delete' | 'list' | 'replace';

/** KubernetesObjectApi with its URL building and transport opened up to raw JSON calls. */
export class RawKubeApi extends KubernetesObjectApi {
  private dispatcher: ReturnType<RequestContext['getDispatcher']>;
  /** Deadline of each request, discovery included. */
  timeoutMs = 5000;
  /** Asked before every write. */
  fence: WriteGuard = noFence;

  // Discovery (the resource paths) goes through here, not through send().
  protected override requestPromise<T extends KubernetesObject>(ctx: RequestContext, type?: string, options?: Parameters<KubernetesObjectApi['create']>[4]): Promise<T> {
    ctx.setSignal(AbortSignal.timeout(this.timeoutMs));
    return super.requestPromise<T>(ctx, type, options);
  }

  /** Discovery of one kind: its resource, or undefined when its group/version has no such kind (a 404 when the group/version is not served). */
  async discover(apiVersion: string, kind: string): Promise<unknown> {
    return this.resource(apiVersion, kind);
  }

  /** The resource path for an object (discovery is cached per group/version). */
  async pathOf(ref: { apiVersion: string; kind: string; namespace?: string; name?: string }, action: Action): Promise<string> {
    const spec: KubernetesObject = {
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      metadata: { name: ref.name, namespace: ref.namespace },
    };
    return this.specUriPath(spec, action);
  }

  async send(
    method: HttpMethod,
    path: string,
    opts: { query?: Record<string, string>; body?: unknown; contentType?: string } = {},
  ): Promise<unknown> {
    const ctx = this.configuration.baseServer.makeRequestContext(path, method);
    ctx.setHeaderParam('Accept', 'application/json');
    for (const [k, v] of Object.entries(opts.query ?? {})) ctx.setQueryParam(k, v);
    if (opts.body !== undefined) {
      ctx.setHeaderParam('Content-Type', opts.contentType ?? 'application/json');
      ctx.setBody(JSON.stringify(opts.body));
    }
    const auth = this.configuration.authMethods.default;
    if (auth?.applySecurityAuthentication) await auth.applySecurityAuthentication(ctx);
    const signals = [AbortSignal.timeout(this.timeoutMs)];
    // Asked last, after every await: nothing between the check and the send.
    if (method !== HttpMethod.GET) signals.push(this.fence.admit());
    ctx.setSignal(AbortSignal.any(signals));
    // client-node builds a new undici Agent (a new TLS connection) for every
    // request; one agent for all keeps connections alive. The TLS options
    // are the kubeconfig's and don't change (tokens travel in headers).
    const made = ctx.getDispatcher();
    if (made) {
      this.dispatcher ??= made;
      if (made !== this.dispatcher) void made.close().catch(() => {});
      ctx.setDispatcher(this.dispatcher);
    }
    const rsp = await this.configuration.httpApi.send(ctx).toPromise();
    const text = await rsp.body.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = { message: text };
    }
    if (rsp.httpStatusCode < 200 || rsp.httpStatusCode > 299) {
      throw new ApiException(rsp.httpStatusCode, `HTTP ${rsp.httpStatusCode} ${method} ${path}`, json, rsp.headers);
    }
    return json;
  }

  /**
   * A raw JSON list (for the informers; in one namespace when given: the
   * reconcile's pods), read in pages of `pageSize` so that
   * each request fits its deadline and `each` (the cache's shrink) sees every
   * item as its page arrives, before the next is read. A continue token that
   * expires midway (410) starts the list over, as client-go's pager does.
   */
  async listRaw(
    apiVersion: string,
    kind: string,
    labelSelector?: string,
    each?: (obj: KObject) => void,
    pageSize = 500,
    namespace?: string,
  ): Promise<{ items: KObject[]; metadata: { resourceVersion?: string } }> {
    const path = await this.pathOf({ apiVersion, kind, namespace }, 'list');
    for (let restarts = 0; ; restarts++) {
      const items: KObject[] = [];
      let token: string | undefined;
      try {
        for (;;) {
          const query: Record<string, string> = { limit: String(pageSize) };
          if (labelSelector) query.labelSelector = labelSelector;
          if (token) query.continue = token;
          const page = (await this.send(HttpMethod.GET, path, { query })) as { items?: KObject[]; metadata?: { resourceVersion?: string; continue?: string } };
          for (const o of page.items ?? []) {
            // List items carry no apiVersion/kind; the cache and the reconcile want them.
            o.apiVersion = apiVersion;
            o.kind = kind;
            delete (o.metadata as { managedFields?: unknown }).managedFields;
            each?.(o);
            items.push(o);
          }
          token = page.metadata?.continue || undefined;
          if (!token) return { items, metadata: { resourceVersion: page.metadata?.resourceVersion } };
        }
      } catch (err) {
        if (token && restarts < 3 && err instanceof ApiException && err.code === 410) continue;
        throw err;
      }
    }
  }
}

export function makeRawKubeApi(kc: KubeConfig, opts: { timeoutMs?: number; fence?: WriteGuard } = {}): RawKubeApi {
  const api = kc.makeApiClient(RawKubeApi);
  // KubernetesObjectApi.makeApiClient does this too: honour the context's namespace.
  (api as unknown as { setDefaultNamespace(k: KubeConfig): string }).setDefaultNamespace(kc);
  if (opts.timeoutMs !== undefined) api.timeoutMs = opts.timeoutMs;
  if (opts.fence) api.fence = opts.fence;
  return api;
}

export type Verb = 'apply' | 'create' | 'delete' | 'get' | 'list' | 'apply-status' | 'json-patch';

export class KubeClient implements KubeApi {
  private readonly raw: RawKubeApi;
  private readonly fieldManager: string;
  private readonly onRequest: (verb: Verb) => void;

  private readonly discoveryMs: number;

  constructor(raw: RawKubeApi, fieldManager: string, onRequest: (verb: Verb) => void = () => {}, discoveryMs = 60_000) {
    this.raw = raw;
    this.fieldManager = fieldManager;
    this.onRequest = onRequest;
    this.discoveryMs = discoveryMs;
  }

  async apply(obj: KObject): Promise<KObject> {
    this.onRequest('apply');
    const path = await this.raw.pathOf({ apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name }, 'patch');
    return (await this.raw.send(HttpMethod.PATCH, path, {
      body: obj,
      contentType: PatchStrategy.ServerSideApply,
      // force: the operator owns every field it applies; a hand edit of one
      // of them is drift to undo, not a conflict to report.
      query: { fieldManager: this.fieldManager, force: 'true' },
    })) as KObject;
  }

  async create(obj: KObject): Promise<KObject> {
    this.onRequest('create');
    const path = await this.raw.pathOf({ apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace }, 'create');
    return (await this.raw.send(HttpMethod.POST, path, { body: obj, query: { fieldManager: this.fieldManager } })) as KObject;
  }

  async delete(ref: ObjectRef, uid?: string): Promise<void> {
    this.onRequest('delete');
    const path = await this.raw.pathOf(ref, 'delete');
    const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' };
    if (uid) body.preconditions = { uid };
    await this.raw.send(HttpMethod.DELETE, path, { body });
  }

  async get(ref: ObjectRef): Promise<KObject | undefined> {
    this.onRequest('get');
    const path = await this.raw.pathOf(ref, 'read');
    try {
      const obj = (await this.raw.send(HttpMethod.GET, path)) as KObject;
      return obj;
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw err;
    }
  }

  async list(kind: { apiVersion: string; kind: string }, namespace: string, labelSelector: string): Promise<KObject[]> {
    this.onRequest('list');
    return (await this.raw.listRaw(kind.apiVersion, kind.kind, labelSelector, undefined, 500, namespace)).items;
  }

  async applyStatus(ref: ObjectRef, status: Record<string, unknown>): Promise<KObject> {
    this.onRequest('apply-status');
    const path = (await this.raw.pathOf(ref, 'patch')) + '/status';
    const body = { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace }, status };
    return (await this.raw.send(HttpMethod.PATCH, path, {
      body,
      contentType: PatchStrategy.ServerSideApply,
      query: { fieldManager: this.fieldManager, force: 'true' },
    })) as KObject;
  }

  private readonly discovered = new Map<string, { serves: boolean; at: number }>();

  async serves(apiVersion: string, kind: string): Promise<boolean> {
    const key = `${apiVersion}/${kind}`;
    const hit = this.discovered.get(key);
    // A minute by default: CRDs installed after the operator are found soon, and a thousand reconciles cost one discovery request.
    if (hit && Date.now() - hit.at < this.discoveryMs) return hit.serves;
    this.onRequest('get');
    let serves: boolean;
    try {
      serves = (await this.raw.discover(apiVersion, kind)) !== undefined;
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404)) throw err;
      serves = false;
    }
    this.discovered.set(key, { serves, at: Date.now() });
    return serves;
  }

  async jsonPatch(ref: ObjectRef, ops: JsonPatchOp[]): Promise<KObject> {
    this.onRequest('json-patch');
    const path = await this.raw.pathOf(ref, 'patch');
    return (await this.raw.send(HttpMethod.PATCH, path, {
      body: ops,
      contentType: PatchStrategy.JsonPatch,
      query: { fieldManager: this.fieldManager },
    })) as KObject;
  }
}
