/**
 * The vote API: a Deployment waiting for the database and the cache, its
 * Services, and the environment of the runtime contract with every secret
 * as a file (*_FILE). Node's heap is sized below the container's limit.
 */
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { metricsEnv, metricsPort } from './metrics.ts';
import type { StackContext } from './names.ts';
import { drainEnv, emptyDir, probes, secretFiles, secretPath } from './pod.ts';
import { mebibytes } from './quantity.ts';
import { BACKEND_PG_POOL_MAX, DATABASE, MEMORY_FIT, PORTS, SECRET_KEYS, SECRETS_DIR, type Component } from './rules.ts';
import type { SecureVoteSpec } from './spec.ts';
import { autoscaler, componentServices, disruptionBudget, hardenedDeployment, mostPods, PORT_NAMES } from './workload.ts';

/** NODE_OPTIONS for a Node container: the old-space heap below the memory limit. */
export function nodeOptions(spec: SecureVoteSpec, component: Extract<Component, 'backend' | 'frontend'>): string {
  return `--max-old-space-size=${Math.floor(mebibytes(spec[component].resources.limits.memory) * MEMORY_FIT.nodeHeap)}`;
}

/** Where a PostgreSQL client finds the database, libpq's variables (the backend, the migration and backup Jobs). */
export function postgresClientEnv(ctx: StackContext): Record<string, kplus.EnvValue> {
  return {
    PGHOST: kplus.EnvValue.fromValue(ctx.names.service('database')),
    PGPORT: kplus.EnvValue.fromValue(String(PORTS.database)),
    PGDATABASE: kplus.EnvValue.fromValue(DATABASE.name),
    PGUSER: kplus.EnvValue.fromValue(DATABASE.user),
    PGPASSWORD_FILE: kplus.EnvValue.fromValue(secretPath(SECRET_KEYS.databasePassword)),
  };
}

/** The database part of the contract's environment (the backend and the migration Job). */
export function databaseEnv(ctx: StackContext): Record<string, kplus.EnvValue> {
  return {
    ...postgresClientEnv(ctx),
    LOG_LEVEL: kplus.EnvValue.fromValue(ctx.spec.logLevel),
    NODE_OPTIONS: kplus.EnvValue.fromValue(nodeOptions(ctx.spec, 'backend')),
  };
}

export interface BackendProps {
  readonly context: StackContext;
}

export class Backend extends Construct {
  readonly deployment: kplus.Deployment;
  readonly service: kplus.Service;

  constructor(scope: Construct, id: string, props: BackendProps) {
    super(scope, id);
    const ctx = props.context;
    const spec = ctx.spec.backend;
    const port = PORTS.backend;
    // Readiness is /readyz, "this pod can serve its part", not /health: /health is
    // 503 while PostgreSQL is down, and a database outage must not take every
    // backend (and so every proxy route to it) out of its Service.
    const p = probes('backend', { readiness: { http: '/readyz', port }, liveness: { http: '/livez', port } });
    this.deployment = hardenedDeployment(this, ctx, {
      component: 'backend',
      replicas: spec.autoscaling ? undefined : spec.replicas,
      resources: spec.resources,
      container: {
        name: 'backend',
        image: spec.image,
        command: ['node', 'app/backend/main.ts'],
        ports: [{ name: PORT_NAMES.backend, number: port }, ...(ctx.spec.monitoring.enabled ? [metricsPort('backend')] : [])],
        envVariables: {
          PORT: kplus.EnvValue.fromValue(String(port)),
          HOST: kplus.EnvValue.fromValue('0.0.0.0'),
          ...databaseEnv(ctx),
          PG_POOL_MAX: kplus.EnvValue.fromValue(String(BACKEND_PG_POOL_MAX)),
          REDIS_HOST: kplus.EnvValue.fromValue(ctx.names.service('cache')),
          REDIS_PORT: kplus.EnvValue.fromValue(String(PORTS.cache)),
          REDIS_PASSWORD_FILE: kplus.EnvValue.fromValue(secretPath(SECRET_KEYS.redisPassword)),
          COOKIE_SECRET_FILE: kplus.EnvValue.fromValue(secretPath(SECRET_KEYS.cookieSecret)),
          VOTE_OPTIONS: kplus.EnvValue.fromValue(JSON.stringify(ctx.spec.options.map((o) => ({ id: o.id, label: o.label })))),
          ...drainEnv('backend'),
          ...(ctx.spec.monitoring.enabled ? metricsEnv('backend') : {}),
        },
        startup: p.startup,
        readiness: p.readiness,
        liveness: p.liveness,
        volumeMounts: [
          {
            path: SECRETS_DIR,
            volume: secretFiles(this, 'secrets', ctx.secretName, [SECRET_KEYS.databasePassword, SECRET_KEYS.redisPassword, SECRET_KEYS.cookieSecret]),
            readOnly: true,
          },
          { path: '/tmp', volume: emptyDir(this, 'tmp', 'tmp', 64) },
        ],
      },
    });
    this.service = componentServices(this, ctx, { component: 'backend' });
    if (spec.autoscaling) autoscaler(this, ctx, 'backend', this.deployment, spec.autoscaling);
    disruptionBudget(this, ctx, 'backend', mostPods(spec));
  }
}
