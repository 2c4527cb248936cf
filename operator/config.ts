// The operator's settings, read once from the environment and checked: a bad
// value stops the process at start with the variable's name, never later.
//
// Environment (all optional):
//   KUBECONFIG          kubeconfig file; in a pod the ServiceAccount is used
//   POD_NAMESPACE       namespace of the Lease (default securevote-system)
//   POD_NAME            identity in the Lease (default <hostname>-<pid>)
//   LEADER_ELECT        "false" to run without election (one local replica)
//   LEASE_NAME          default securevote-operator
//   LEASE_DURATION_MS   how long a candidate waits on an unrenewed lease (8000)
//   RENEW_DEADLINE_MS   a leader that couldn't renew this long stops writing (6000)
//   RETRY_PERIOD_MS     time between lease tries (2000)
//   REQUEST_TIMEOUT_MS  deadline of every API request but watches (5000)
//   HEALTH_ADDR         host:port of the HTTP endpoints (default 0.0.0.0:8081)
//   CONCURRENCY         resources reconciled at once (default 8)
//   RESYNC_SECONDS      periodic requeue of a Ready resource (default 300)
//   DESIRED_CACHE_SIZE  renderings kept in memory (default 2000; ~4 KB each)
//   LOG_LEVEL           pino level (default info)
import { hostname } from 'node:os';
import { type OperatorConfig, defaultConfig } from './context.ts';

export interface ElectionConfig {
  readonly enabled: boolean;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

export interface ProcessConfig {
  readonly operator: OperatorConfig;
  readonly election: ElectionConfig;
  /** Deadline of each API request (watches excepted: they have their idle timeout). */
  readonly requestTimeoutMs: number;
  readonly healthHost: string;
  readonly healthPort: number;
  readonly desiredCacheSize: number;
  readonly logLevel: string;
}

type Env = Readonly<Record<string, string | undefined>>;

function intEnv(env: Env, name: string, def: number): number {
  const v = env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** Parse and check the environment; throws naming the variable and its value. */
export function loadConfig(env: Env, defaultIdentity: string = `${hostname()}-${process.pid}`): ProcessConfig {
  const addr = env.HEALTH_ADDR || '0.0.0.0:8081';
  const i = addr.lastIndexOf(':');
  const healthPort = Number(addr.slice(i + 1));
  if (i <= 0 || !Number.isInteger(healthPort) || healthPort < 0 || healthPort > 65535) {
    throw new Error(`HEALTH_ADDR must be host:port, got ${JSON.stringify(addr)}`);
  }
  const election: ElectionConfig = {
    enabled: env.LEADER_ELECT !== 'false',
    namespace: env.POD_NAMESPACE || 'securevote-system',
    name: env.LEASE_NAME || 'securevote-operator',
    identity: env.POD_NAME || defaultIdentity,
    leaseDurationMs: intEnv(env, 'LEASE_DURATION_MS', 8000),
    renewDeadlineMs: intEnv(env, 'RENEW_DEADLINE_MS', 6000),
    retryPeriodMs: intEnv(env, 'RETRY_PERIOD_MS', 2000),
  };
  const requestTimeoutMs = intEnv(env, 'REQUEST_TIMEOUT_MS', 5000);
  // The fence rests on this order: a write can't outlast the term that
  // allowed it, and the term ends before another replica may take over.
  if (election.renewDeadlineMs >= election.leaseDurationMs) {
    throw new Error(`RENEW_DEADLINE_MS (${election.renewDeadlineMs}) must be less than LEASE_DURATION_MS (${election.leaseDurationMs})`);
  }
  if (election.retryPeriodMs >= election.renewDeadlineMs) {
    throw new Error(`RETRY_PERIOD_MS (${election.retryPeriodMs}) must be less than RENEW_DEADLINE_MS (${election.renewDeadlineMs})`);
  }
  if (election.enabled && requestTimeoutMs >= election.renewDeadlineMs) {
    throw new Error(`REQUEST_TIMEOUT_MS (${requestTimeoutMs}) must be less than RENEW_DEADLINE_MS (${election.renewDeadlineMs})`);
  }
  return {
    operator: {
      ...defaultConfig,
      concurrency: intEnv(env, 'CONCURRENCY', defaultConfig.concurrency),
      resyncMs: intEnv(env, 'RESYNC_SECONDS', defaultConfig.resyncMs / 1000) * 1000,
      discoveryMs: intEnv(env, 'DISCOVERY_SECONDS', defaultConfig.discoveryMs / 1000) * 1000,
    },
    election,
    requestTimeoutMs,
    healthHost: addr.slice(0, i),
    healthPort,
    desiredCacheSize: intEnv(env, 'DESIRED_CACHE_SIZE', 2000),
    logLevel: env.LOG_LEVEL ?? 'info',
  };
}
