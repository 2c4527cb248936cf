// The operator process, wired: JSON logs (pino), /healthz /readyz /metrics,
// leader election on a Lease (leader.ts), and, while leading, one term of
// work (manager.ts). Settings: config.ts. Every write passes the fence the
// elector keeps (fence.ts); a lost lease ends the process with 1, SIGTERM
// (or SIGINT) with 0 after the reconcile in flight and the lease's release.
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { WriteMemo } from './apply.ts';
import { loadConfig } from './config.ts';
import type { Context } from './context.ts';
import { DesiredCache } from './desired-cache.ts';
import { KubeEventRecorder } from './events.ts';
import { type WriteGuard, noFence } from './fence.ts';
import { Informers } from './informers.ts';
import { KubeClient, makeRawKubeApi } from './kube.ts';
import { LeaderElector, Leadership } from './leader.ts';
import { kubeLeaseStore } from './lease-store.ts';
import { Manager, WATCHED_KINDS } from './manager.ts';
import { Metrics } from './metrics.ts';
import { startServer } from './server.ts';

const config = (() => {
  try {
    return loadConfig(process.env);
  } catch (err) {
    console.error(`securevote-operator: ${(err as Error).message}`);
    process.exit(2);
  }
})();
const log = pino({
  level: config.logLevel,
  base: { service: 'securevote-operator' },
  // Belt and braces: no Secret payload may reach a log line.
  redact: { paths: ['*.data', '*.stringData', 'data', 'stringData'], censor: '[redacted]' },
});

async function main(): Promise<void> {
  const { election } = config;
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const metrics = new Metrics({ processMetrics: true });

  let elector: LeaderElector | undefined;
  const fence: () => WriteGuard = () => elector?.fence ?? noFence;
  // The reconcile's client: every write asks the fence (resolved late: the elector is built below).
  const raw = makeRawKubeApi(kc, { timeoutMs: config.requestTimeoutMs, fence: { admit: () => fence().admit() } });
  const base: Omit<Context, 'cache'> = {
    kube: new KubeClient(raw, config.operator.fieldManager, (verb) => metrics.apiRequests.inc({ verb }), config.operator.discoveryMs),
    events: new KubeEventRecorder(raw, log, config.operator.fieldManager, election.identity, () => metrics.apiRequests.inc({ verb: 'event' })),
    metrics,
    log,
    config: config.operator,
    desired: new DesiredCache(config.desiredCacheSize, () => metrics.renders.inc()),
    writes: new WriteMemo(),
    now: () => new Date(),
  };
  const leadership = new Leadership({
    log,
    newTerm: () =>
      new Manager({
        base,
        paths: () => Informers.paths(raw, WATCHED_KINDS),
        informers: (specs, paths) => Informers.forCluster(kc, raw, specs, paths, { log, metrics }),
      }),
    exit: (code) => process.exit(code),
    onLeading: (on) => metrics.leader.set(on ? 1 : 0),
  });

  const server = await startServer({ host: config.healthHost, port: config.healthPort, metrics, probe: { ready: () => leadership.ready(), detail: () => leadership.detail() } });
  log.info({ addr: `${config.healthHost}:${server.port}`, identity: election.identity, leaderElect: election.enabled }, 'operator started');

  if (election.enabled) {
    // Its own client: no fence (it keeps the fence open), its own connections, a deadline per try.
    const leaseRaw = makeRawKubeApi(kc, { timeoutMs: election.retryPeriodMs });
    elector = new LeaderElector({
      store: kubeLeaseStore(leaseRaw, election.namespace, election.name),
      namespace: election.namespace,
      name: election.name,
      identity: election.identity,
      leaseDurationMs: election.leaseDurationMs,
      renewDeadlineMs: election.renewDeadlineMs,
      retryPeriodMs: election.retryPeriodMs,
      log,
      onStartedLeading: () => leadership.won(),
      onStoppedLeading: (reason) => {
        // A lost term isn't won back: this process exits and restarts as a fresh candidate.
        if (reason === 'lost') elector?.abandon();
        return leadership.stopped(reason);
      },
    });
    leadership.campaigning();
    elector.start();
  } else {
    void leadership.won().catch((err: unknown) => log.error({ err: (err as Error).message }, 'starting the work failed'));
  }

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: finishing the reconcile in flight');
    const hardStop = setTimeout(() => {
      log.error('shutdown took over 25 s; exiting');
      process.exit(1);
    }, 25_000);
    hardStop.unref();
    if (elector) await elector.stop(); // stops the work while renewing, then releases the lease
    else await leadership.stopTerm();
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
