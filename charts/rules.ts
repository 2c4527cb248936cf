/**
 * The seed's rules, as data: the ONE module that holds the numbers of
 * ../shared/design/phase3-on-kubernetes.md (resources, health checks, start
 * order, restart policies, log rotation and labels, ports, network edges).
 * The spec defaults, the constructs, the kind config and the tests all read
 * them from here; where this file and the design page disagree, one is a bug.
 */

/** The five services of the seed, in the seed's order. */
export const COMPONENTS = ['database', 'cache', 'backend', 'frontend', 'proxy'] as const;
export type Component = (typeof COMPONENTS)[number];

/** The stack's pods: the five services and the one-shot schema migration. */
export type StackWorkload = Component | 'migration';
/** Every pod of an instance: the stack's and the backups' (a Job per SecureVoteBackup, rendered apart). */
export type Workload = StackWorkload | 'backup';

/** The product name: `app.kubernetes.io/part-of` and the CRD's group stem. */
export const PART_OF = 'securevote';

/** Each service's port (the seed's stack table). */
export const PORTS: Readonly<Record<Component, number>> = {
  database: 5432,
  cache: 6379,
  backend: 5000,
  frontend: 3000,
  proxy: 8080,
};

export interface ResourceRule {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu: string; readonly memory: string };
}

/**
 * Exercise 4: requests = the seed's reservations, limits = its limits.
 * The seed's `M` (Compose megabytes) is written `Mi`; its CPU fractions in
 * millicores (0.25 → 250m).
 */
export const RESOURCES: Readonly<Record<Component, ResourceRule>> = {
  database: { limits: { cpu: '500m', memory: '512Mi' }, requests: { cpu: '250m', memory: '256Mi' } },
  cache: { limits: { cpu: '250m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
  backend: { limits: { cpu: '1000m', memory: '512Mi' }, requests: { cpu: '250m', memory: '256Mi' } },
  frontend: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
  proxy: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m', memory: '64Mi' } },
};

export interface HealthCheckRule {
  /** The seed's check, for the README and the probe's comment. */
  readonly seedCheck: string;
  /** interval → periodSeconds of readiness and liveness. */
  readonly intervalSeconds: number;
  /** timeout → timeoutSeconds of every probe. */
  readonly timeoutSeconds: number;
  /** retries → failureThreshold of readiness and liveness. */
  readonly retries: number;
  /** start_period → covered by the startupProbe. */
  readonly startPeriodSeconds: number;
}

/** Exercise 5: the seed's health checks. */
export const HEALTH_CHECKS: Readonly<Record<Component, HealthCheckRule>> = {
  database: { seedCheck: 'pg_isready -U user -d securevote', intervalSeconds: 10, timeoutSeconds: 5, retries: 5, startPeriodSeconds: 10 },
  cache: { seedCheck: 'redis-cli ... ping (with the password)', intervalSeconds: 10, timeoutSeconds: 3, retries: 5, startPeriodSeconds: 5 },
  backend: { seedCheck: 'HTTP GET :5000/health', intervalSeconds: 30, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 40 },
  frontend: { seedCheck: 'HTTP GET :3000/', intervalSeconds: 30, timeoutSeconds: 10, retries: 3, startPeriodSeconds: 30 },
  proxy: { seedCheck: 'HTTP GET :8080/health', intervalSeconds: 30, timeoutSeconds: 5, retries: 3, startPeriodSeconds: 10 },
};

/**
 * The startup probe polls often so a pod turns ready as soon as it is up
 * (the seed's recovery target is < 30 s), and its budget covers what Docker
 * allows before "unhealthy": start_period, then `retries` failed checks one
 * interval apart.
 */
export const STARTUP_PROBE_PERIOD_SECONDS = 2;

/**
 * How long a component may take to start before Docker would call it
 * unhealthy: start_period, then `retries` failed checks one interval apart.
 */
export function startBudgetSeconds(component: Component): number {
  const h = HEALTH_CHECKS[component];
  return h.startPeriodSeconds + h.intervalSeconds * h.retries;
}

/** The startup probe's failureThreshold for a component (period × threshold ≥ budget ≥ start_period). */
export function startupFailureThreshold(component: Component): number {
  return Math.ceil(startBudgetSeconds(component) / STARTUP_PROBE_PERIOD_SECONDS);
}

/** The components that serve HTTP and shut down gracefully behind a Service. */
export type HttpComponent = Extract<Component, 'backend' | 'frontend' | 'proxy'>;

/**
 * Graceful shutdown (rollouts, scale-downs, node drains). Kubernetes marks a
 * terminating pod not ready in its Services and runs preStop at the same
 * time; the stop signal comes only after preStop. So:
 * - preStop pauses `preStopSeconds` (lifecycle.preStop.sleep) while the pod
 *   still serves as usual: endpoints, kube-proxy's rules and nginx's
 *   keepalive pools forget the pod before it stops accepting anything;
 * - then the app drains: the Node servers stay unready but still accept for
 *   `lingerSeconds` (DRAIN_LINGER_MS), then finish in-flight requests within
 *   `drainSeconds` (DRAIN_TIMEOUT_MS); nginx gets SIGQUIT (its graceful stop,
 *   STOPSIGNAL of app/proxy/Dockerfile) and `worker_shutdown_timeout`;
 * - terminationGracePeriodSeconds covers all of it, plus a margin.
 */
export const SHUTDOWN = {
  preStopSeconds: 10,
  lingerSeconds: { backend: 2, frontend: 2, proxy: 0 },
  drainSeconds: { backend: 20, frontend: 10, proxy: 20 },
  marginSeconds: 5,
} as const satisfies {
  preStopSeconds: number;
  lingerSeconds: Record<HttpComponent, number>;
  drainSeconds: Record<HttpComponent, number>;
  marginSeconds: number;
};

/** terminationGracePeriodSeconds of a component's pods: preStop + linger + drain + margin. */
export function terminationGracePeriodSeconds(component: HttpComponent): number {
  return SHUTDOWN.preStopSeconds + SHUTDOWN.lingerSeconds[component] + SHUTDOWN.drainSeconds[component] + SHUTDOWN.marginSeconds;
}

/**
 * Exercise 6: who waits for whom to be ready. backend waits for database and
 * cache; frontend for backend; proxy for frontend and backend. The migration
 * Job needs the database.
 */
export const START_ORDER: Readonly<Record<StackWorkload, readonly Component[]>> = {
  database: [],
  cache: [],
  backend: ['database', 'cache'],
  frontend: ['backend'],
  proxy: ['frontend', 'backend'],
  migration: ['database'],
};

/** The seed's Compose restart policies. */
export const SEED_RESTART: Readonly<Record<Component, string>> = {
  database: 'unless-stopped',
  cache: 'unless-stopped',
  backend: 'on-failure:5',
  frontend: 'on-failure',
  proxy: 'unless-stopped',
};

/**
 * Kubernetes long-running pods only know `restartPolicy: Always` (with
 * CrashLoopBackOff's growing delay); the seed's bounded retry (`on-failure:5`)
 * becomes a Job's `backoffLimit` on the one-shot schema migration.
 */
export const RESTART = {
  services: 'Always',
  migration: { restartPolicy: 'Never', backoffLimit: 5 },
} as const;

/** Exercise 7: log rotation, the kubelet's job on Kubernetes (kind's KubeletConfiguration). */
export const LOG_ROTATION = { containerLogMaxSize: '10Mi', containerLogMaxFiles: 3 } as const;

/** Exercise 7: the seed's log labels, as pod labels. */
export function seedLogLabels(component: Workload): Record<string, string> {
  return { service: component, env: 'production' };
}

/** A network edge: `from` pods may open TCP connections to `to` pods on `to`'s port. */
export interface NetworkEdge {
  readonly from: Workload;
  readonly to: Component;
}

/**
 * The seed's isolated networks: default deny, then exactly these edges
 * (plus DNS egress for every pod and ingress to the proxy from anywhere).
 */
export const NETWORK_EDGES: readonly NetworkEdge[] = [
  { from: 'proxy', to: 'frontend' },
  { from: 'proxy', to: 'backend' },
  { from: 'backend', to: 'database' },
  { from: 'backend', to: 'cache' },
  { from: 'migration', to: 'database' },
  { from: 'backup', to: 'database' },
];

/** The one component reachable from outside the instance. */
export const PUBLIC_ENTRY: Component = 'proxy';

/** Cluster DNS, the only egress every pod gets (CoreDNS's standard labels). */
export const DNS = {
  namespace: 'kube-system',
  podLabels: { 'k8s-app': 'kube-dns' },
  port: 53,
} as const;

/**
 * Numeric uid/gid per image (Pod Security `restricted` wants runAsNonRoot,
 * checkable only with a number). database and cache follow the official
 * postgres/redis images (999); the project's Node and nginx images run as
 * 10001 (app/<component>/Dockerfile).
 */
export const RUN_AS: Readonly<Record<Component, number>> = {
  database: 999,
  cache: 999,
  backend: 10001,
  frontend: 10001,
  proxy: 10001,
};

/**
 * How much of its memory limit a process may take for itself, the rest
 * left to the runtime, connections and the kernel: Redis `maxmemory`, Node's
 * `--max-old-space-size`, PostgreSQL `shared_buffers` / `effective_cache_size`.
 */
export const MEMORY_FIT = {
  redisMaxmemory: 0.75,
  nodeHeap: 0.75,
  postgresSharedBuffers: 0.25,
  postgresEffectiveCache: 0.5,
} as const;

/** The database the app uses (runtime contract): user and database name. */
export const DATABASE = { user: 'securevote', name: 'securevote', storage: '1Gi' } as const;

/**
 * Connections per backend pod (PG_POOL_MAX, runtime contract). PostgreSQL's
 * max_connections is sized from it for the most backend pods there can ever
 * be (charts/database.ts): pool × (MAX_REPLICAS + rollout surge + draining
 * pods) + the migration Job + maintenance headroom, never from the current
 * replicas (scaling the backend must not restart PostgreSQL).
 */
export const BACKEND_PG_POOL_MAX = 10;
/** The migration Job's pool (app/backend/migrate.ts: poolMax 1). */
export const MIGRATION_PG_CONNECTIONS = 1;
export const POSTGRES_CONNECTION_HEADROOM = 10;

/** The small, fixed resources of the init containers that wait for a dependency. */
export const WAIT_RESOURCES: ResourceRule = {
  requests: { cpu: '10m', memory: '32Mi' },
  limits: { cpu: '100m', memory: '96Mi' },
};

/**
 * Ephemeral storage (not in the seed; a node's disk is shared, and the kubelet
 * evicts a pod over its limit, so every container states it). A main
 * container holds its rotated logs (LOG_ROTATION: 3 × 10Mi; a kubelet's
 * defaults: 5 × 10Mi) and its share of the pod's disk emptyDirs (the largest
 * is a 64Mi /tmp): 128Mi covers both. A wait-for init container writes one
 * log line a minute and nothing else.
 */
export const EPHEMERAL_STORAGE = {
  main: { request: '64Mi', limit: '128Mi' },
  wait: { request: '8Mi', limit: '32Mi' },
} as const;

/** The keys of the one Secret (runtime contract), mounted as files. */
export const SECRET_KEYS = {
  databasePassword: 'database-password',
  redisPassword: 'redis-password',
  cookieSecret: 'cookie-secret',
} as const;

/** Where secret files are mounted in every container that reads one. */
export const SECRETS_DIR = '/run/secrets/securevote';

/**
 * Backups (not in the seed; its "go further" list): a Job per backup in the
 * database image (pg_dump, then a throwaway PostgreSQL to verify the dump).
 * The throwaway server takes little (16MB shared buffers), so the Job gets
 * the database's requests and a limit that holds pg_dump and it side by side.
 * No retry inside the Job: a failed backup is reported as failed, and the
 * next one (schedule or kubectl) starts clean.
 */
export const BACKUP = {
  /** Verified backups kept per instance when the spec says nothing. */
  retain: 7,
  /** The backup volume the operator creates when the spec names none. */
  volumeSize: '2Gi',
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '512Mi' } } satisfies ResourceRule,
  /** The throwaway database's disk (an emptyDir, in Mi): a fresh cluster (~40 MB), the restored votes, their indexes and WAL. */
  scratchMi: 1024,
  /** The Job's ephemeral storage: the scratch disk above and its logs. */
  ephemeralStorage: { request: '256Mi', limit: '1152Mi' },
  /** A backup still running after this is failed by Kubernetes (activeDeadlineSeconds). */
  deadlineSeconds: 1800,
  /** Where the backup volume is mounted in the Job and the restore init container. */
  mountPath: '/var/lib/securevote/backups',
} as const;

/**
 * Monitoring (not in the seed; its "go further" list). Every pod of a
 * component serves Prometheus metrics on one port, named `metrics`, apart
 * from the port it serves users on (a scraper let in reaches metrics only):
 * the backend and frontend from their own process, PostgreSQL, Redis and
 * nginx from an exporter beside them. A sidecar, not a Deployment of its
 * own: it comes and goes with the one process it watches, reaches it on a
 * Unix socket or 127.0.0.1 (no network edge, and PostgreSQL's exporter needs
 * no password), and `up` then says which pod is gone. An exporter's requests
 * and limits are its own, on top of the seed's budget for the main container.
 */
export const METRICS = {
  portName: 'metrics',
  path: '/metrics',
  ports: { database: 9187, cache: 9121, backend: 9464, frontend: 9465, proxy: 9113 } satisfies Record<Component, number>,
  /** The sidecar of the components whose process is not ours, and its command in the exporters image. */
  exporters: { database: 'postgres_exporter', cache: 'redis_exporter', proxy: 'nginx-prometheus-exporter' } as const,
  exporterResources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } } satisfies ResourceRule,
  /** Exporters are static Go binaries run as nobody. */
  exporterUid: 65534,
  /** nginx's stub_status, on 127.0.0.1 only: the exporter beside it reads it. */
  stubStatusPort: 8081,
  /** The namespace a scraper runs in when the spec names none (kube-prometheus and most installs use it). */
  scraperNamespace: 'monitoring',
} as const;

/**
 * The alerts' thresholds (charts/alerts.ts). The seed's success metrics give
 * two: availability above 99% (so more than 1% of votes failing is an
 * outage) and recovery under 30 s (so a component down for a minute is
 * more than a restart). The others are ours, said in the README's runbooks.
 */
export const ALERTS = {
  /** Share of votes answered 5xx, over 5 minutes, above which voters are hurt (the seed's > 99%). */
  voteErrorRatio: 0.01,
  /** p99 of POST /api/vote above this (seconds), for 10 minutes, is slow. */
  voteP99Seconds: 0.5,
  /** A component down longer than the seed's recovery target (< 30 s) is an outage, not a restart. */
  downFor: '30s',
  /** Container restarts in 15 minutes that make a crash loop. */
  restartsIn15m: 3,
  /** Working set over this share of the memory limit, for 5 minutes. */
  memoryNearLimit: 0.9,
  /** Degraded this long before anyone is paged. */
  degradedFor: '10m',
} as const;
