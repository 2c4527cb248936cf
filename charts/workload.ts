/**
 * The shape four components share: a hardened Deployment whose pods wait for
 * their dependencies, a client Service, a headless "ready" Service that
 * others wait on, and a PodDisruptionBudget when there is more than one pod.
 */
import { createHash } from 'node:crypto';
import { Duration, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { objectLabels, podLabels, selectorLabels } from './labels.ts';
import type { StackContext } from './names.ts';
import { addPatchAfterL1, containerSecurityContext, finishPodTemplate, podSecurityContext, setGracefulShutdown, setResources, uidOf, waitContainer } from './pod.ts';
import { PORTS, START_ORDER, type Component, type StackWorkload } from './rules.ts';
import { DEFAULT_CPU_TARGET_PERCENT, DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS, type AutoscalingSpec, type ResourcesSpec } from './spec.ts';

export interface HardenedDeploymentOptions {
  readonly component: Component;
  /** Unset: an autoscaler owns them. */
  readonly replicas: number | undefined;
  readonly resources: ResourcesSpec;
  /** The main container (name, image, probes, env, mounts); security and resources are added. */
  readonly container: kplus.ContainerProps;
  /** Image of the wait-for init containers. @default the main container's image */
  readonly waitImage?: string;
  /** @default rolling update, 25% surge and unavailability (cdk8s-plus) */
  readonly strategy?: kplus.DeploymentStrategy;
  /** Files the pods read from a ConfigMap: their hash on the pod template rolls the pods when they change. @default none */
  readonly configFiles?: Readonly<Record<string, string>>;
}

/** Pod annotations that change when a mounted config file changes (Kubernetes never restarts pods for it). */
export function configHashAnnotations(files: Readonly<Record<string, string>> | undefined): Record<string, string> {
  if (files === undefined) return {};
  return { 'securevote.dev/config-sha256': createHash('sha256').update(JSON.stringify(files)).digest('hex') };
}

/** A Deployment with the instance's labels, Pod Security `restricted` and its start-order waits. */
export function hardenedDeployment(scope: Construct, ctx: StackContext, o: HardenedDeploymentOptions): kplus.Deployment {
  const uid = uidOf(o.component);
  const deployment = new kplus.Deployment(scope, 'deployment', {
    metadata: { name: ctx.names.service(o.component), labels: objectLabels(ctx.identity, o.component) },
    ...(o.replicas !== undefined ? { replicas: o.replicas } : {}),
    ...(o.strategy !== undefined ? { strategy: o.strategy } : {}),
    select: false,
    podMetadata: { labels: podLabels(ctx.identity, o.component, o.container.image), annotations: configHashAnnotations(o.configFiles) },
    securityContext: podSecurityContext(uid),
    automountServiceAccountToken: false,
    containers: [
      {
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        ...o.container,
        securityContext: containerSecurityContext(uid),
      },
    ],
  });
  deployment.select(kplus.LabelSelector.of({ labels: selectorLabels(ctx.identity, o.component) }));
  const waits = addWaits(deployment, ctx, o.component, o.waitImage ?? o.container.image, uid);
  const pod = { workload: deployment, path: '/spec/template' };
  setResources(pod, o.resources, waits);
  // The HTTP servers behind Services: preStop pause and a grace period covering their drain,
  // and their replicas spread over nodes.
  if (o.component !== 'cache' && o.component !== 'database') {
    setGracefulShutdown(pod, o.component);
    addPatchAfterL1(deployment, JsonPatch.add('/spec/template/spec/topologySpreadConstraints', spreadOverNodes(ctx, o.component)));
  }
  finishPodTemplate(pod);
  return deployment;
}

/**
 * Replicas spread over nodes, softly: a node lost or drained takes one
 * replica, not all, yet a one-node cluster (or one short of room) still
 * schedules them all. Skew is counted within one pod template revision
 * (pod-template-hash), so a rollout's new pods spread too. Always rendered,
 * whatever the replica count, so scaling never changes the pod template.
 */
function spreadOverNodes(ctx: StackContext, component: Component): unknown[] {
  return [
    {
      maxSkew: 1,
      topologyKey: 'kubernetes.io/hostname',
      whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector: { matchLabels: selectorLabels(ctx.identity, component) },
      matchLabelKeys: ['pod-template-hash'],
    },
  ];
}

/** Init containers waiting, in the seed's order, for each dependency's readiness. Returns how many. */
export function addWaits(pod: kplus.AbstractPod, ctx: StackContext, workload: StackWorkload, image: string, uid: number): number {
  const deps = START_ORDER[workload];
  for (const dep of deps) pod.addInitContainer(waitContainer(dep, ctx.names.ready(dep), image, uid));
  return deps.length;
}

/** Port names, the same on containers and Services (protocol hints for meshes and humans). */
export const PORT_NAMES: Readonly<Record<Component, string>> = {
  database: 'postgres',
  cache: 'redis',
  backend: 'http',
  frontend: 'http',
  proxy: 'http',
};

export interface ComponentServicesOptions {
  readonly component: Component;
  /** @default ClusterIP */
  readonly type?: kplus.ServiceType;
  /** Also create the headless Service others resolve to wait for readiness. @default true */
  readonly readyService?: boolean;
}

/** The client Service (and the headless "ready" one) of a component. */
export function componentServices(scope: Construct, ctx: StackContext, o: ComponentServicesOptions): kplus.Service {
  const port = PORTS[o.component];
  const selector = selectorLabels(ctx.identity, o.component);
  const service = new kplus.Service(scope, 'service', {
    metadata: { name: ctx.names.service(o.component), labels: objectLabels(ctx.identity, o.component) },
    type: o.type ?? kplus.ServiceType.CLUSTER_IP,
    ports: [{ name: PORT_NAMES[o.component], port, targetPort: port }],
  });
  for (const [k, v] of Object.entries(selector)) service.selectLabel(k, v);
  if (o.readyService ?? true) {
    const ready = new kplus.Service(scope, 'ready-service', {
      metadata: {
        name: ctx.names.ready(o.component),
        labels: objectLabels(ctx.identity, o.component),
        annotations: { 'securevote.dev/purpose': 'Headless: its DNS lists only ready pods; init containers resolve it to wait for readiness.' },
      },
      clusterIP: 'None',
      ports: [{ name: PORT_NAMES[o.component], port, targetPort: port }],
    });
    for (const [k, v] of Object.entries(selector)) ready.selectLabel(k, v);
  }
  return service;
}

/**
 * A PodDisruptionBudget when there may be several pods: a drain evicts them
 * one at a time (each drained as in a rollout), whatever their number, and a
 * pod that isn't ready can always be evicted, so a crash-looping pod never
 * holds a node drain forever.
 */
export function disruptionBudget(scope: Construct, ctx: StackContext, component: Component, mostPods: number): void {
  if (mostPods <= 1) return;
  new kplus.k8s.KubePodDisruptionBudget(scope, 'pdb', {
    metadata: { name: ctx.names.pdb(component), labels: objectLabels(ctx.identity, component) },
    spec: {
      maxUnavailable: kplus.k8s.IntOrString.fromNumber(1),
      selector: { matchLabels: selectorLabels(ctx.identity, component) },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  });
}

/** The most pods a replicated component may have: its replicas, or its autoscaler's ceiling. */
export function mostPods(spec: { readonly replicas: number; readonly autoscaling?: AutoscalingSpec }): number {
  return spec.autoscaling?.maxReplicas ?? spec.replicas;
}

/**
 * A HorizontalPodAutoscaler on CPU use (autoscaling/v2). The Deployment then
 * renders no replicas (cdk8s-plus leaves them to the autoscaler), so the
 * operator never writes them back. Scaling up follows load at once; scaling
 * down waits for lower use to last (five minutes unless the spec says) and removes one pod a minute, each
 * drained like a rollout's (preStop pause, then the app's drain).
 */
export function autoscaler(scope: Construct, ctx: StackContext, component: Component, target: kplus.Deployment, a: AutoscalingSpec): void {
  new kplus.HorizontalPodAutoscaler(scope, 'autoscaler', {
    metadata: { name: ctx.names.service(component), labels: objectLabels(ctx.identity, component) },
    target,
    minReplicas: a.minReplicas,
    maxReplicas: a.maxReplicas,
    metrics: [kplus.Metric.resourceCpu(kplus.MetricTarget.averageUtilization(a.targetCPUUtilizationPercentage ?? DEFAULT_CPU_TARGET_PERCENT))],
    scaleDown: {
      stabilizationWindow: Duration.seconds(a.scaleDownStabilizationSeconds ?? DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS),
      policies: [{ replicas: kplus.Replicas.absolute(1), duration: Duration.minutes(1) }],
    },
  });
}
