/**
 * Each pod's part in monitoring (spec.monitoring.enabled): one port named
 * `metrics` per pod (rules.ts METRICS), served by the process itself (backend,
 * frontend: METRICS_PORT) or by an exporter beside it (PostgreSQL, Redis,
 * nginx), with the exporter's own requests and limits and the same
 * hardening as every container. No password on a command line: PostgreSQL's
 * exporter logs in over the pod's Unix socket as a role without one, Redis's
 * reads its password from the Secret through the environment.
 */
import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import type { Construct } from 'constructs';
import { MONITOR_ROLE } from '../app/backend/migrations.ts';
import type { StackContext } from './names.ts';
import { cdk8sPlusPlaceholderResources, containerSecurityContext, k8sResources, quantity } from './pod.ts';
import { DATABASE, EPHEMERAL_STORAGE, METRICS, PORTS, SECRET_KEYS, type Component } from './rules.ts';

export type ExportedComponent = keyof typeof METRICS.exporters;

/** The container port every metrics endpoint is found by (PodMonitor, NetworkPolicy). */
export function metricsPort(component: Component): kplus.ContainerPort {
  return { name: METRICS.portName, number: METRICS.ports[component] };
}

/** METRICS_PORT of a Node process that serves its own metrics (app/backend/metrics-server.ts). */
export function metricsEnv(component: Extract<Component, 'backend' | 'frontend'>): Record<string, kplus.EnvValue> {
  return { METRICS_PORT: kplus.EnvValue.fromValue(String(METRICS.ports[component])) };
}

/** What each exporter is told: where its process is, and where to listen. */
function exporterSettings(scope: Construct, ctx: StackContext, component: ExportedComponent, socketDir: string): { args: string[]; env: Record<string, kplus.EnvValue> } {
  const listen = `--web.listen-address=:${METRICS.ports[component]}`;
  switch (component) {
    case 'database':
      return {
        // The postmaster's start time: the dashboard's recovery panel (off by default in the exporter).
        args: [listen, '--no-collector.stat_bgwriter', '--collector.postmaster'],
        env: {
          // libpq's key=value form: the socket directory as host, no password (pg_hba trusts the socket).
          DATA_SOURCE_NAME: kplus.EnvValue.fromValue(`host=${socketDir} port=${PORTS.database} user=${MONITOR_ROLE} dbname=${DATABASE.name} sslmode=disable`),
        },
      };
    case 'cache':
      return {
        args: [listen, `--redis.addr=redis://127.0.0.1:${PORTS.cache}`],
        env: { REDIS_PASSWORD: kplus.EnvValue.fromSecretValue({ secret: kplus.Secret.fromSecretName(scope, 'exporter-secret', ctx.secretName), key: SECRET_KEYS.redisPassword }) },
      };
    case 'proxy':
      return { args: [listen, `--nginx.scrape-uri=http://127.0.0.1:${METRICS.stubStatusPort}/stub_status`], env: {} };
  }
}

export interface ExporterOptions {
  /** The pod's Unix socket directory (PostgreSQL's), mounted read-only into the exporter. */
  readonly socket?: { readonly path: string; readonly volume: kplus.Volume };
}

/**
 * The exporter beside a component's main container, as containers[1] of the
 * pod template at `/spec/template` of `workload`.
 */
export function addExporter(workload: kplus.Deployment | kplus.StatefulSet, ctx: StackContext, component: ExportedComponent, o: ExporterOptions = {}): void {
  const { args, env } = exporterSettings(workload, ctx, component, o.socket?.path ?? '');
  workload.addContainer({
    name: 'exporter',
    image: ctx.spec.monitoring.image,
    imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
    command: [METRICS.exporters[component]],
    args,
    envVariables: env,
    ports: [metricsPort(component)],
    securityContext: containerSecurityContext(METRICS.exporterUid),
    resources: cdk8sPlusPlaceholderResources(),
    ...(o.socket ? { volumeMounts: [{ path: o.socket.path, volume: o.socket.volume, readOnly: true }] } : {}),
  });
  const r = k8sResources(METRICS.exporterResources);
  ApiObject.of(workload).addJsonPatch(
    JsonPatch.replace('/spec/template/spec/containers/1/resources', {
      requests: { ...r.requests, 'ephemeral-storage': quantity(EPHEMERAL_STORAGE.wait.request) },
      limits: { ...r.limits, 'ephemeral-storage': quantity(EPHEMERAL_STORAGE.wait.limit) },
    }),
  );
}
