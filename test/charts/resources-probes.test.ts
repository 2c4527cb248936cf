// Exercises 4 and 5, rule by rule from charts/rules.ts: every container's
// requests and limits, every probe's numbers, and the processes sized to
// fit their limits.
import { describe, expect, it } from 'vitest';
import { postgresSettings } from '../../charts/database.ts';
import { MIGRATION_RESOURCES } from '../../charts/migration.ts';
import { mebibytes, quantityValue } from '../../charts/quantity.ts';
import {
  COMPONENTS,
  EPHEMERAL_STORAGE,
  HEALTH_CHECKS,
  PORTS,
  RESOURCES,
  RESTART,
  SHUTDOWN,
  STARTUP_PROBE_PERIOD_SECONDS,
  startupFailureThreshold,
  terminationGracePeriodSeconds,
  WAIT_RESOURCES,
} from '../../charts/rules.ts';
import { defaultSpec, MAX_REPLICAS } from '../../charts/spec.ts';
import { env, find, mainContainer, NAME, ofKind, podOf, podTemplates, render, type K8s } from './helpers.ts';

const objects = render();

describe('resources (exercise 4)', () => {
  it.each(COMPONENTS)('%s: requests and limits are the seed table', (c) => {
    expect(mainContainer(objects, c)['resources']).toEqual({
      requests: { cpu: RESOURCES[c].requests.cpu, memory: RESOURCES[c].requests.memory, 'ephemeral-storage': EPHEMERAL_STORAGE.main.request },
      limits: { cpu: RESOURCES[c].limits.cpu, memory: RESOURCES[c].limits.memory, 'ephemeral-storage': EPHEMERAL_STORAGE.main.limit },
    });
  });

  it("the migration Job requests little (it runs once) under the backend's seed limits, whatever the backend's resources", () => {
    expect(mainContainer(objects, 'migration')['resources']).toEqual({
      requests: { ...MIGRATION_RESOURCES.requests, 'ephemeral-storage': EPHEMERAL_STORAGE.main.request },
      limits: { ...MIGRATION_RESOURCES.limits, 'ephemeral-storage': EPHEMERAL_STORAGE.main.limit },
    });
    expect(MIGRATION_RESOURCES.limits).toEqual(RESOURCES.backend.limits);
    expect(quantityValue(MIGRATION_RESOURCES.requests.cpu)).toBeLessThan(quantityValue(RESOURCES.backend.requests.cpu));
  });

  it('every init container has the small fixed wait resources, and every container has requests and limits', () => {
    for (const pod of podTemplates(objects)) {
      for (const c of (pod.spec['initContainers'] ?? []) as K8s[]) {
        expect(c['resources']).toEqual({
          requests: { ...WAIT_RESOURCES.requests, 'ephemeral-storage': EPHEMERAL_STORAGE.wait.request },
          limits: { ...WAIT_RESOURCES.limits, 'ephemeral-storage': EPHEMERAL_STORAGE.wait.limit },
        });
      }
      for (const c of [...(pod.spec['initContainers'] ?? []), ...pod.spec['containers']] as K8s[]) {
        for (const k of ['cpu', 'memory', 'ephemeral-storage']) {
          expect(quantityValue(c['resources'].limits[k])).toBeGreaterThanOrEqual(quantityValue(c['resources'].requests[k]));
        }
      }
    }
  });
});

describe('processes fit their limits', () => {
  const spec = defaultSpec();

  it('Redis maxmemory is below the cache limit, with an eviction policy', () => {
    const conf = find(objects, 'ConfigMap', `${NAME}-cache-config`)['data']['redis.conf'] as string;
    const maxmemory = Number(/^maxmemory (\d+)mb$/m.exec(conf)?.[1]);
    expect(maxmemory).toBeGreaterThan(0);
    expect(maxmemory).toBeLessThan(mebibytes(RESOURCES.cache.limits.memory));
    expect(conf).toMatch(/^maxmemory-policy allkeys-lru$/m);
  });

  it.each(['backend', 'frontend', 'migration'] as const)("%s: Node's heap is below the container's memory limit", (w) => {
    const c = mainContainer(objects, w);
    const heap = Number(/--max-old-space-size=(\d+)/.exec(env(c)['NODE_OPTIONS'] ?? '')?.[1]);
    expect(heap).toBeGreaterThan(0);
    expect(heap).toBeLessThan(mebibytes(c['resources'].limits.memory));
  });

  it('PostgreSQL: shared_buffers plus every connection working is within the limit; connections cover the pools', () => {
    const conf = find(objects, 'ConfigMap', `${NAME}-database-config`)['data']['postgresql.conf'] as string;
    const setting = (k: string) => new RegExp(`^${k} = (.*)$`, 'm').exec(conf)?.[1];
    const mb = (k: string) => Number(/^(\d+)MB$/.exec(String(setting(k)))?.[1]);
    const limit = mebibytes(RESOURCES.database.limits.memory);
    const connections = Number(setting('max_connections'));
    expect(mb('shared_buffers')).toBeLessThanOrEqual(limit / 4);
    expect(mb('shared_buffers') + connections * mb('work_mem') * 2).toBeLessThan(limit);
    // Every backend there can be (MAX_REPLICAS, plus a rollout's surge), whatever the spec's replicas.
    expect(connections).toBeGreaterThanOrEqual(MAX_REPLICAS * 1.25 * Number(env(mainContainer(objects, 'backend'))['PG_POOL_MAX']) + 1);
    expect(setting('huge_pages')).toBe('off');
    expect(conf).toContain(`port = ${PORTS.database}`);
    expect(postgresSettings(spec)['max_connections']).toBe(connections);
  });

  it('PostgreSQL: scaling any component changes nothing on the database (no restart to add capacity)', () => {
    const database = (objs: K8s[]) =>
      objs.filter((o) => o['metadata'].labels?.['app.kubernetes.io/component'] === 'database').map((o) => JSON.stringify(o));
    const base = database(objects);
    expect(base.length).toBeGreaterThan(0);
    for (const replicas of [2, MAX_REPLICAS]) {
      expect(database(render({ backend: { replicas } }))).toEqual(base);
      expect(database(render({ frontend: { replicas }, proxy: { replicas } }))).toEqual(base);
    }
  });
});

describe('probes (exercise 5)', () => {
  it.each(COMPONENTS)("%s: readiness and liveness use the seed's interval, timeout and retries", (c) => {
    const h = HEALTH_CHECKS[c];
    const main = mainContainer(objects, c);
    for (const probe of ['readinessProbe', 'livenessProbe']) {
      expect(main[probe]).toMatchObject({ periodSeconds: h.intervalSeconds, timeoutSeconds: h.timeoutSeconds, failureThreshold: h.retries });
      expect(main[probe].initialDelaySeconds ?? 0).toBe(0);
    }
  });

  it.each(COMPONENTS)('%s: a startup probe covers start_period, then the retries', (c) => {
    const h = HEALTH_CHECKS[c];
    const startup = mainContainer(objects, c)['startupProbe'];
    expect(startup.periodSeconds).toBe(STARTUP_PROBE_PERIOD_SECONDS);
    expect(startup.timeoutSeconds).toBe(h.timeoutSeconds);
    expect(startup.failureThreshold).toBe(startupFailureThreshold(c));
    expect(startup.periodSeconds * startup.failureThreshold).toBeGreaterThanOrEqual(h.startPeriodSeconds + h.intervalSeconds * h.retries);
  });

  it('HTTP checks: readiness is "this pod can serve its own part" (never a dependency), liveness and startup only the process', () => {
    const http = (c: 'backend' | 'frontend' | 'proxy', probe: string) => mainContainer(objects, c)[probe].httpGet;
    // Not /health (503 while PostgreSQL is down) nor anything nginx passes on:
    // a database outage must not take every backend and every proxy out of service.
    expect(http('backend', 'readinessProbe')).toMatchObject({ path: '/readyz', port: PORTS.backend });
    expect(http('frontend', 'readinessProbe')).toMatchObject({ path: '/readyz', port: PORTS.frontend });
    expect(http('proxy', 'readinessProbe')).toMatchObject({ path: '/nginx-health', port: PORTS.proxy });
    expect(http('backend', 'livenessProbe')).toMatchObject({ path: '/livez', port: PORTS.backend });
    expect(http('frontend', 'livenessProbe')).toMatchObject({ path: '/healthz', port: PORTS.frontend });
    expect(http('proxy', 'livenessProbe')).toMatchObject({ path: '/nginx-health', port: PORTS.proxy });
    for (const c of ['backend', 'frontend', 'proxy'] as const) {
      expect(http(c, 'startupProbe')).toEqual(http(c, 'livenessProbe'));
    }
  });

  it('database: pg_isready on the local socket; cache: redis ping with the password from its file, never -a', () => {
    const db = mainContainer(objects, 'database');
    for (const p of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      expect(db[p].exec.command).toEqual(['pg_isready', '-q', '-h', '/var/run/postgresql', '-p', '5432', '-U', 'securevote', '-d', 'securevote']);
    }
    const cache = mainContainer(objects, 'cache');
    for (const p of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      const cmd = (cache[p].exec.command as string[]).join(' ');
      expect(cmd).toContain('REDISCLI_AUTH="$(cat "$REDIS_PASSWORD_FILE")" redis-cli -h 127.0.0.1 -p 6379 ping');
      expect(cmd).not.toMatch(/ -a /);
    }
  });

  it('the proxy ConfigMap routes nothing of its readiness to an upstream', () => {
    const conf = find(objects, 'ConfigMap', `${NAME}-proxy-config`)['data']['nginx.conf'] as string;
    expect(conf).toMatch(/location = \/nginx-health \{[^}]*return 200/);
  });

  it('the migration Job has no probes (it runs to completion)', () => {
    const m = mainContainer(objects, 'migration');
    expect(m['readinessProbe'] ?? m['livenessProbe'] ?? m['startupProbe']).toBeUndefined();
  });
});

describe('restart policies', () => {
  it('services: restartPolicy Always (CrashLoopBackOff bounds the retries)', () => {
    for (const c of COMPONENTS) expect(podOf(objects, c).spec['restartPolicy']).toBe(RESTART.services);
  });

  it("the backend's on-failure:5 becomes the migration Job's backoffLimit 5, restartPolicy Never", () => {
    const [job] = ofKind(objects, 'Job');
    expect(job!['spec'].backoffLimit).toBe(RESTART.migration.backoffLimit);
    expect(job!['spec'].template.spec.restartPolicy).toBe(RESTART.migration.restartPolicy);
    expect(mainContainer(objects, 'migration')['command']).toEqual(['node', 'app/backend/migrate.ts']);
  });
});

describe('graceful shutdown (rollouts drop no request)', () => {
  const HTTP = ['backend', 'frontend', 'proxy'] as const;

  it.each(HTTP)('%s: a preStop pause while the pod leaves its endpoints, and a grace period covering pause + drain', (c) => {
    const pod = podOf(objects, c).spec;
    const main = mainContainer(objects, c);
    expect(main['lifecycle']).toEqual({ preStop: { sleep: { seconds: SHUTDOWN.preStopSeconds } } });
    expect(pod['terminationGracePeriodSeconds']).toBe(terminationGracePeriodSeconds(c));
    expect(pod['terminationGracePeriodSeconds']).toBeGreaterThan(SHUTDOWN.preStopSeconds + SHUTDOWN.lingerSeconds[c] + SHUTDOWN.drainSeconds[c]);
  });

  it.each(['backend', 'frontend'] as const)("%s: the app's drain (linger, then in-flight) comes from rules.ts", (c) => {
    const e = env(mainContainer(objects, c));
    expect(Number(e['DRAIN_LINGER_MS'])).toBe(SHUTDOWN.lingerSeconds[c] * 1000);
    expect(Number(e['DRAIN_TIMEOUT_MS'])).toBe(SHUTDOWN.drainSeconds[c] * 1000);
  });

  it("proxy: nginx's graceful stop is bounded by its drain, and a request that reached no pod is retried on a new connection", () => {
    const conf = find(objects, 'ConfigMap', `${NAME}-proxy-config`)['data']['nginx.conf'] as string;
    expect(conf).toMatch(new RegExp(`^worker_shutdown_timeout ${SHUTDOWN.drainSeconds.proxy}s;$`, 'm'));
    expect(conf).toMatch(/^\s*proxy_next_upstream error timeout;$/m);
    expect(conf).not.toMatch(/^\s*proxy_next_upstream [^;]*non_idempotent/m); // a sent POST is never replayed by nginx
    // The Service's one address, listed several times and never marked down: there is a next peer.
    const backend = /upstream securevote_backend \{([^}]*)\}/.exec(conf)?.[1] ?? '';
    const servers = backend.split('\n').filter((l) => l.trim().startsWith('server '));
    expect(servers.length).toBeGreaterThan(1);
    expect(new Set(servers.map((l) => l.trim())).size).toBe(1);
    expect(servers[0]).toMatch(new RegExp(`server ${NAME}-backend:${PORTS.backend} max_fails=0;`));
  });

  it('database and cache keep their default stop (no HTTP clients to drain)', () => {
    for (const c of ['database', 'cache'] as const) expect(mainContainer(objects, c)['lifecycle']).toBeUndefined();
  });
});
