/** The vote page: a Deployment waiting for the backend, and its Services. */
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { nodeOptions } from './backend.ts';
import type { StackContext } from './names.ts';
import { metricsEnv, metricsPort } from './metrics.ts';
import { drainEnv, emptyDir, probes } from './pod.ts';
import { PORTS } from './rules.ts';
import { autoscaler, componentServices, disruptionBudget, hardenedDeployment, mostPods, PORT_NAMES } from './workload.ts';

export interface FrontendProps {
  readonly context: StackContext;
}

export class Frontend extends Construct {
  readonly deployment: kplus.Deployment;
  readonly service: kplus.Service;

  constructor(scope: Construct, id: string, props: FrontendProps) {
    super(scope, id);
    const ctx = props.context;
    const spec = ctx.spec.frontend;
    const port = PORTS.frontend;
    // /readyz: 503 only while this pod drains; the page never asks the backend.
    const p = probes('frontend', { readiness: { http: '/readyz', port }, liveness: { http: '/healthz', port } });
    this.deployment = hardenedDeployment(this, ctx, {
      component: 'frontend',
      replicas: spec.autoscaling ? undefined : spec.replicas,
      resources: spec.resources,
      container: {
        name: 'frontend',
        image: spec.image,
        command: ['node', 'app/frontend/server.ts'],
        ports: [{ name: PORT_NAMES.frontend, number: port }, ...(ctx.spec.monitoring.enabled ? [metricsPort('frontend')] : [])],
        envVariables: {
          PORT: kplus.EnvValue.fromValue(String(port)),
          HOST: kplus.EnvValue.fromValue('0.0.0.0'),
          LOG_LEVEL: kplus.EnvValue.fromValue(ctx.spec.logLevel),
          NODE_OPTIONS: kplus.EnvValue.fromValue(nodeOptions(ctx.spec, 'frontend')),
          ...drainEnv('frontend'),
          ...(ctx.spec.monitoring.enabled ? metricsEnv('frontend') : {}),
        },
        startup: p.startup,
        readiness: p.readiness,
        liveness: p.liveness,
        volumeMounts: [{ path: '/tmp', volume: emptyDir(this, 'tmp', 'tmp', 16) }],
      },
    });
    this.service = componentServices(this, ctx, { component: 'frontend' });
    if (spec.autoscaling) autoscaler(this, ctx, 'frontend', this.deployment, spec.autoscaling);
    disruptionBudget(this, ctx, 'frontend', mostPods(spec));
  }
}
