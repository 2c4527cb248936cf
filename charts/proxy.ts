/**
 * nginx, the single entry: a Deployment waiting for the frontend and the
 * backend, a Service of the spec's type, and the config rendered from the
 * project's one template (app/proxy/render.ts) into a ConfigMap.
 */
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { renderNginxConf } from '../app/proxy/render.ts';
import { objectLabels } from './labels.ts';
import type { StackContext } from './names.ts';
import { emptyDir, probes } from './pod.ts';
import { addExporter } from './metrics.ts';
import { METRICS, PORTS, SHUTDOWN } from './rules.ts';
import { componentServices, disruptionBudget, hardenedDeployment, PORT_NAMES } from './workload.ts';

const CONFIG_DIR = '/etc/securevote';
const TEMP_DIR = '/tmp/nginx';

export function proxyConf(ctx: StackContext): string {
  return renderNginxConf({
    listenPort: PORTS.proxy,
    frontend: { host: ctx.names.service('frontend'), port: PORTS.frontend },
    backend: { host: ctx.names.service('backend'), port: PORTS.backend },
    pidPath: `${TEMP_DIR}/nginx.pid`,
    tempDir: TEMP_DIR,
    shutdownTimeoutSeconds: SHUTDOWN.drainSeconds.proxy,
    ...(ctx.spec.monitoring.enabled ? { stubStatusPort: METRICS.stubStatusPort } : {}),
  });
}

export interface ProxyProps {
  readonly context: StackContext;
}

export class Proxy extends Construct {
  readonly deployment: kplus.Deployment;
  readonly service: kplus.Service;

  constructor(scope: Construct, id: string, props: ProxyProps) {
    super(scope, id);
    const ctx = props.context;
    const spec = ctx.spec.proxy;
    const port = PORTS.proxy;
    const files = { 'nginx.conf': proxyConf(ctx) };
    const config = new kplus.ConfigMap(this, 'config', {
      metadata: { name: ctx.names.config('proxy'), labels: objectLabels(ctx.identity, 'proxy') },
      data: files,
    });
    // Readiness on nginx's own /nginx-health: /health goes through to the
    // backend, so a database outage would take every proxy (the whole site,
    // the page included) out of its Service.
    const p = probes('proxy', { readiness: { http: '/nginx-health', port }, liveness: { http: '/nginx-health', port } });
    this.deployment = hardenedDeployment(this, ctx, {
      component: 'proxy',
      replicas: spec.replicas,
      resources: spec.resources,
      configFiles: files,
      container: {
        name: 'nginx',
        image: spec.image,
        command: ['nginx', '-e', 'stderr', '-c', `${CONFIG_DIR}/nginx.conf`, '-g', 'daemon off;'],
        ports: [{ name: PORT_NAMES.proxy, number: port }],
        startup: p.startup,
        readiness: p.readiness,
        liveness: p.liveness,
        volumeMounts: [
          { path: CONFIG_DIR, volume: kplus.Volume.fromConfigMap(this, 'config-volume', config, { name: 'config' }), readOnly: true },
          { path: TEMP_DIR, volume: emptyDir(this, 'tmp', 'tmp', 64) },
        ],
      },
    });
    if (ctx.spec.monitoring.enabled) addExporter(this.deployment, ctx, 'proxy');
    this.service = componentServices(this, ctx, {
      component: 'proxy',
      type: spec.serviceType as kplus.ServiceType,
      // Nothing waits for the proxy.
      readyService: false,
    });
    disruptionBudget(this, ctx, 'proxy', spec.replicas);
  }
}
