// The operator process: JSON logs (pino), /healthz /readyz /metrics, leader
// election on a Lease, and, while leading, the informers, the queue and the
// reconcile. SIGTERM (or SIGINT) lets the reconcile in flight finish, stops
// the watches, hands the lease back and exits 0.
//
// Environment (all optional):
//   KUBECONFIG          kubeconfig file; in a pod the ServiceAccount is used
//   POD_NAMESPACE       namespace of the Lease (default securevote-system)
//   POD_NAME            identity in the Lease (default <hostname>-<pid>)
//   LEADER_ELECT        "false" to run without election (one local replica)
//   LEASE_NAME          default securevote-operator
//   HEALTH_ADDR         host:port of the HTTP endpoints (default 0.0.0.0:8081)
//   CONCURRENCY         resources reconciled at once (default 8)
//   RESYNC_SECONDS      periodic requeue of a Ready resource (default 300)
//   DESIRED_CACHE_SIZE  renderings kept in memory (default 256; ~90 KB each)
//   LOG_LEVEL           pino level (default info)
import { hostname } from 'node:os';
import { HttpMethod, KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { SECUREVOTE_API } from '../charts/spec.ts';
import { WriteMemo } from './apply.ts';
import { type Context, type KObject, type OperatorConfig, defaultConfig } from './context.ts';
import { Controller, keyOf } from './controller.ts';
import { DesiredCache, INSTANCE_LABEL, OWNED_KINDS } from './desired.ts';
import { KubeEventRecorder } from './events.ts';
import { Informers, type Kind } from './informers.ts';
import { KubeClient, type RawKubeApi, makeRawKubeApi } from './kube.ts';
import { type Lease, LeaderElector, type LeaseStore } from './leader.ts';
import { Metrics } from './metrics.ts';
import { WorkQueue } from './queue.ts';
import { startServer } from './server.ts';

const env = process.env;
const intEnv = (name: string, def: number): number => {
  const v = env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
};

const log = pino({
  level: env.LOG_LEVEL ?? 'info',
  base: { service: 'securevote-operator' },
  // Belt and braces: no Secret payload may reach a log line.
  redact: { paths: ['*.data', '*.stringData', 'data', 'stringData'], censor: '[redacted]' },
});

const config: OperatorConfig = {
  ...defaultConfig,
  concurrency: intEnv('CONCURRENCY', defaultConfig.concurrency),
  resyncMs: intEnv('RESYNC_SECONDS', defaultConfig.resyncMs / 1000) * 1000,
};
const leaseNamespace = env.POD_NAMESPACE || 'securevote-system';
const leaseName = env.LEASE_NAME || 'securevote-operator';
const identity = env.POD_NAME || `${hostname()}-${process.pid}`;
const leaderElect = env.LEADER_ELECT !== 'false';
const [healthHost, healthPort] = (() => {
  const addr = env.HEALTH_ADDR || '0.0.0.0:8081';
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), Number(addr.slice(i + 1))] as const;
})();

const SV_KIND: Kind = { apiVersion: SECUREVOTE_API.apiVersion, kind: SECUREVOTE_API.kind };

function leaseStore(raw: RawKubeApi): LeaseStore {
  const ref = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: leaseNamespace, name: leaseName };
  return {
    get: async () => {
      try {
        return (await raw.send(HttpMethod.GET, await raw.pathOf(ref, 'read'))) as Lease;
      } catch (err) {
        if ((err as { code?: number }).code === 404) return undefined;
        throw err;
      }
    },
    create: async (l) => (await raw.send(HttpMethod.POST, await raw.pathOf(ref, 'create'), { body: l })) as Lease,
    replace: async (l) => (await raw.send(HttpMethod.PUT, await raw.pathOf(ref, 'replace'), { body: l })) as Lease,
  };
}

/** The work done while leading: informers, queue, reconcile. */
class Worker {
  private informers: Informers | undefined;
  private queue: WorkQueue | undefined;
  synced = false;
  private readonly kc: KubeConfig;
  private readonly raw: RawKubeApi;
  private readonly ctx: Context;

  constructor(kc: KubeConfig, raw: RawKubeApi, ctx: Context) {
    this.kc = kc;
    this.raw = raw;
    this.ctx = ctx;
  }

  async start(): Promise<void> {
    const ctx = this.ctx;
    const kinds: Kind[] = [SV_KIND, ...OWNED_KINDS.map((k) => ({ apiVersion: k.apiVersion, kind: k.kind }))];
    const paths = await Informers.paths(this.raw, kinds);
    // Keys seen before every cache is filled wait here: a reconcile against a
    // half-filled cache would re-apply children it can't see yet.
    const early = new Set<string>();
    let queue: WorkQueue | undefined;
    const enqueue = (key: string | undefined): void => {
      if (!key) return;
      if (queue) queue.add(key);
      else early.add(key);
    };
    const informers = new Informers(
      this.kc,
      this.raw,
      ctx.log,
      [
        { kind: SV_KIND, onObject: (o: KObject) => enqueue(keyOf(o.metadata.namespace, o.metadata.name)) },
        ...OWNED_KINDS.map((k) => ({
          kind: { apiVersion: k.apiVersion, kind: k.kind },
          labelSelector: INSTANCE_LABEL,
          onObject: (o: KObject) => enqueue(Controller.ownerKey(o)),
        })),
      ],
      paths,
    );
    this.informers = informers;
    const controller = new Controller(ctx, (ns, name) => informers.get({ ...SV_KIND, namespace: ns, name }));
    await informers.start();
    queue = new WorkQueue((key) => controller.handle(key), { concurrency: ctx.config.concurrency });
    controller.queue = queue;
    this.queue = queue;
    for (const key of early) queue.add(key);
    this.synced = true;
    ctx.log.info({ resources: informers.list(SV_KIND).length }, 'caches synced; reconciling');
  }

  /** The informers' cache while working. */
  get cache(): Informers | undefined {
    return this.informers;
  }

  async stop(): Promise<void> {
    this.synced = false;
    // The reconcile in flight finishes; nothing new starts.
    await this.queue?.shutdown();
    await this.informers?.stop();
    this.queue = undefined;
    this.informers = undefined;
  }
}

async function main(): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const raw = makeRawKubeApi(kc);
  const metrics = new Metrics({ processMetrics: true });
  const ctx: Context = {
    kube: new KubeClient(raw, config.fieldManager, (verb) => metrics.apiRequests.inc({ verb })),
    // Reads go to the informers of the current term of leadership.
    cache: {
      get: (ref) => worker?.cache?.get(ref),
      listOwned: (apiVersion, kind, ns, uid) => worker?.cache?.listOwned(apiVersion, kind, ns, uid) ?? [],
    },
    events: new KubeEventRecorder(raw, log, config.fieldManager, identity, () => metrics.apiRequests.inc({ verb: 'event' })),
    metrics,
    log,
    config,
    desired: new DesiredCache(intEnv('DESIRED_CACHE_SIZE', 256)),
    writes: new WriteMemo(),
    now: () => new Date(),
  };
  let worker: Worker | undefined;
  let leading = false;
  let campaigning = false;
  let retry: NodeJS.Timeout | undefined;
  const startWork = async (): Promise<void> => {
    leading = true;
    metrics.leader.set(1);
    const w = new Worker(kc, raw, ctx);
    worker = w;
    try {
      await w.start();
    } catch (err) {
      // E.g. the CRD isn't installed yet: keep the process, try again.
      log.error({ err: (err as Error).message }, 'could not start the informers; retrying in 5 s');
      await w.stop();
      if (worker === w) worker = undefined;
      retry = setTimeout(() => {
        if (leading && !worker) void startWork();
      }, 5_000);
    }
  };
  const stopWork = async (): Promise<void> => {
    leading = false;
    if (retry) clearTimeout(retry);
    metrics.leader.set(0);
    const w = worker;
    worker = undefined;
    await w?.stop();
  };

  const server = await startServer({
    host: healthHost,
    port: healthPort,
    metrics,
    probe: { ready: () => (leading ? (worker?.synced ?? false) : campaigning) },
  });
  log.info({ addr: `${healthHost}:${server.port}`, identity, leaderElect }, 'operator started');

  let elector: LeaderElector | undefined;
  if (leaderElect) {
    elector = new LeaderElector({
      store: leaseStore(raw),
      namespace: leaseNamespace,
      name: leaseName,
      identity,
      log,
      onStartedLeading: startWork,
      onStoppedLeading: stopWork,
    });
    elector.start();
    campaigning = true;
  } else {
    await startWork();
  }

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: finishing the reconcile in flight');
    campaigning = false;
    const hardStop = setTimeout(() => {
      log.error('shutdown took over 25 s; exiting');
      process.exit(1);
    }, 25_000);
    hardStop.unref();
    if (elector) await elector.stop(); // stops the work, then releases the lease
    else await stopWork();
    await server.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // The operator never dies of one bad object: log what escaped, keep going.
  process.on('unhandledRejection', (err) => log.error({ err: (err as Error)?.message ?? String(err) }, 'unhandled rejection'));
}

main().catch((err: unknown) => {
  log.fatal({ err: (err as Error).message }, 'operator failed to start');
  process.exit(1);
});
