/**
 * What every SecureVote pod shares: Pod Security `restricted` contexts,
 * probes from the seed's health checks, the init containers that wait for a
 * dependency's readiness, exact resource quantities, and the few
 * cdk8s-plus defaults we override. Component files use these; none sets a
 * security field, probe number or resource by itself.
 */
import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import type { Construct } from 'constructs';
import { DATA_PRIORITY } from './priority.ts';
import type { ResourcesSpec } from './spec.ts';
import {
  EPHEMERAL_STORAGE,
  HEALTH_CHECKS,
  RUN_AS,
  SECRETS_DIR,
  SHUTDOWN,
  startBudgetSeconds,
  STARTUP_PROBE_PERIOD_SECONDS,
  startupFailureThreshold,
  terminationGracePeriodSeconds,
  type HttpComponent,
  WAIT_RESOURCES,
  type Component,
  type ResourceRule,
} from './rules.ts';

/** Pod-level security: numeric non-root uid/gid, volumes group-owned by it. */
export function podSecurityContext(uid: number): kplus.PodSecurityContextProps {
  return {
    ensureNonRoot: true,
    user: uid,
    group: uid,
    fsGroup: uid,
    // Only walk the volume when its root isn't ours yet (a big PVC stays fast to mount).
    fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH,
  };
}

/** Container-level security, Pod Security `restricted` and a read-only root filesystem. */
export function containerSecurityContext(uid: number): kplus.ContainerSecurityContextProps {
  return {
    ensureNonRoot: true,
    user: uid,
    group: uid,
    privileged: false,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: [kplus.Capability.ALL] },
    seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
  };
}

/** How a probe asks its question. */
export type ProbeCheck = { readonly http: string; readonly port: number } | { readonly command: readonly string[] };

function probe(check: ProbeCheck, options: kplus.ProbeOptions): kplus.Probe {
  return 'http' in check
    ? kplus.Probe.fromHttpGet(check.http, { ...options, port: check.port })
    : kplus.Probe.fromCommand([...check.command], options);
}

/**
 * The seed's health check of a component as three probes. Readiness may
 * check dependencies; liveness (and startup, which guards it) only the
 * process itself.
 */
export function probes(component: Component, checks: { readonly readiness: ProbeCheck; readonly liveness: ProbeCheck }) {
  const h = HEALTH_CHECKS[component];
  const steady: kplus.ProbeOptions = {
    periodSeconds: Duration.seconds(h.intervalSeconds),
    timeoutSeconds: Duration.seconds(h.timeoutSeconds),
    failureThreshold: h.retries,
  };
  return {
    startup: probe(checks.liveness, {
      periodSeconds: Duration.seconds(STARTUP_PROBE_PERIOD_SECONDS),
      timeoutSeconds: Duration.seconds(h.timeoutSeconds),
      failureThreshold: startupFailureThreshold(component),
    }),
    readiness: probe(checks.readiness, steady),
    liveness: probe(checks.liveness, steady),
  };
}

/**
 * An init container that waits until `host` (a headless Service of the
 * dependency) resolves: cluster DNS lists only ready endpoints there, so
 * this waits for the dependency's readiness with no credentials and no
 * network edge but DNS. It runs in the pod's own image (Debian: sh, getent).
 *
 * The wait is bounded by the dependency's own start budget (rules.ts
 * startBudgetSeconds: start_period + interval × retries, what Docker allows
 * it before "unhealthy"), then the main container starts anyway. On a fresh
 * install that keeps the seed's order (every dependency starts within its
 * budget); on a restart during an outage (a backend rescheduled while the
 * cache, which the app treats as optional, or the database is away) the pod
 * is not held back forever: the app's own retry with backoff takes over and
 * its readiness says when it can serve.
 */
export function waitContainer(dependency: Component, host: string, image: string, uid: number): kplus.ContainerProps {
  return {
    name: `wait-for-${dependency}`,
    image,
    imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
    command: [
      'sh',
      '-c',
      // One log line per minute at most; never "connection refused"; exit 0 after WAIT_SECONDS in any case
      // (-gt: date +%s counts whole seconds, so -ge could give up to a second early).
      'start=$(date +%s); i=0; until getent hosts "$WAIT_HOST" >/dev/null; do if [ $(($(date +%s) - start)) -gt "${WAIT_SECONDS:-120}" ]; then echo "{\\"msg\\":\\"not ready within its start budget; starting anyway, the app retries\\",\\"host\\":\\"$WAIT_HOST\\",\\"seconds\\":${WAIT_SECONDS:-120}}"; exit 0; fi; [ $((i % 30)) -eq 0 ] && echo "{\\"msg\\":\\"waiting for a ready endpoint\\",\\"host\\":\\"$WAIT_HOST\\"}"; i=$((i + 1)); sleep 2; done; echo "{\\"msg\\":\\"ready\\",\\"host\\":\\"$WAIT_HOST\\"}"',
    ],
    envVariables: { WAIT_HOST: kplus.EnvValue.fromValue(host), WAIT_SECONDS: kplus.EnvValue.fromValue(String(startBudgetSeconds(dependency))) },
    securityContext: containerSecurityContext(uid),
    resources: cdk8sPlusPlaceholderResources(),
  };
}

/**
 * cdk8s-plus renders memory through whole mebibytes and would round a
 * quantity like `500M`; containers get this placeholder and `setResources`
 * writes the exact quantities of the spec over it.
 */
export function cdk8sPlusPlaceholderResources(): kplus.ContainerResources {
  return { cpu: { request: kplus.Cpu.millis(1), limit: kplus.Cpu.millis(1) }, memory: { request: Size.mebibytes(1), limit: Size.mebibytes(1) } };
}

/**
 * A quantity for a JSON patch on a cdk8s-plus object: its L1 renders
 * quantities from `Quantity` objects after the patches are applied, so a
 * plain string would come out null.
 */
export function quantity(q: string | number): kplus.k8s.Quantity {
  return kplus.k8s.Quantity.fromString(String(q));
}

/** The exact quantities, as written in the spec (or in rules.ts). */
export function k8sResources(r: ResourcesSpec | ResourceRule) {
  return {
    requests: { cpu: quantity(r.requests.cpu), memory: quantity(r.requests.memory) },
    limits: { cpu: quantity(r.limits.cpu), memory: quantity(r.limits.memory) },
  };
}

/** A pod template inside a workload: where its JSON lives, for the escape-hatch patches. */
export interface PodTemplateRef {
  readonly workload: Construct;
  /** JSON pointer of the pod template (`/spec/template`). */
  readonly path: string;
}

/** k8sResources plus the fixed ephemeral storage of EPHEMERAL_STORAGE. */
function withEphemeralStorage(r: ReturnType<typeof k8sResources>, e: { readonly request: string; readonly limit: string }) {
  return {
    requests: { ...r.requests, 'ephemeral-storage': quantity(e.request) },
    limits: { ...r.limits, 'ephemeral-storage': quantity(e.limit) },
  };
}

/**
 * Write the spec's quantities into the pod template: `containers[0]` gets
 * `main`, every init container the small fixed WAIT_RESOURCES (or
 * `init`: a restore's is PostgreSQL's own work); each its EPHEMERAL_STORAGE
 * (the main container's unless `ephemeral` says more).
 */
export function setResources(
  pod: PodTemplateRef,
  main: ResourcesSpec | ResourceRule,
  initContainers: number,
  extra: { readonly ephemeral?: { readonly request: string; readonly limit: string }; readonly init?: ResourcesSpec | ResourceRule } = {},
): void {
  const obj = ApiObject.of(pod.workload);
  obj.addJsonPatch(JsonPatch.replace(`${pod.path}/spec/containers/0/resources`, withEphemeralStorage(k8sResources(main), extra.ephemeral ?? EPHEMERAL_STORAGE.main)));
  const init = extra.init ? withEphemeralStorage(k8sResources(extra.init), EPHEMERAL_STORAGE.main) : withEphemeralStorage(k8sResources(WAIT_RESOURCES), EPHEMERAL_STORAGE.wait);
  for (let i = 0; i < initContainers; i++) {
    obj.addJsonPatch(JsonPatch.replace(`${pod.path}/spec/initContainers/${i}/resources`, init));
  }
}

/**
 * The last touches on a pod template that cdk8s-plus has no prop for:
 * - drop the `cdk8s.io/metadata.addr` label it puts on every pod template:
 *   our selectors are the app.kubernetes.io labels, and a label derived from
 *   the construct path would differ between `cdk8s synth` and the operator;
 * - `enableServiceLinks: false`: no `<SERVICE>_PORT`-style variables from
 *   every Service of the namespace (the apps read only the contract's env).
 */
export function finishPodTemplate(pod: PodTemplateRef): void {
  const obj = ApiObject.of(pod.workload);
  obj.addJsonPatch(JsonPatch.remove(`${pod.path}/metadata/labels/cdk8s.io~1metadata.addr`));
  obj.addJsonPatch(JsonPatch.add(`${pod.path}/spec/enableServiceLinks`, false));
}

/** The PriorityClass of a pod everything else waits on (charts/priority.ts): the spec's, else securevote-data. */
export function setDataPriority(pod: PodTemplateRef, priorityClassName: string | undefined): void {
  ApiObject.of(pod.workload).addJsonPatch(JsonPatch.add(`${pod.path}/spec/priorityClassName`, priorityClassName ?? DATA_PRIORITY.name));
}

/**
 * Graceful shutdown on a pod template (rules.ts SHUTDOWN): the main
 * container pauses in preStop while the pod leaves its Services' endpoints,
 * and the grace period covers that pause plus the app's own drain.
 * `lifecycle.preStop.sleep` is the kubelet's own pause (Kubernetes 1.30+, no
 * sleep binary in the image); cdk8s-plus-28 has no prop for it.
 */
export function setGracefulShutdown(pod: PodTemplateRef, component: HttpComponent): void {
  addPatchAfterL1(
    pod.workload,
    JsonPatch.add(`${pod.path}/spec/containers/0/lifecycle`, { preStop: { sleep: { seconds: SHUTDOWN.preStopSeconds } } }),
    JsonPatch.add(`${pod.path}/spec/terminationGracePeriodSeconds`, terminationGracePeriodSeconds(component)),
  );
}

/**
 * A JSON patch applied to the object's final JSON. addJsonPatch runs before
 * cdk8s-plus-28's L1 serializer, which keeps only the fields of its
 * Kubernetes 1.28 types and so drops newer ones (`lifecycle.preStop.sleep`).
 * Both `cdk8s synth` and the operator render through toJson, so both get it.
 */
export function addPatchAfterL1(workload: Construct, ...ops: JsonPatch[]): void {
  const obj = ApiObject.of(workload);
  const render = obj.toJson.bind(obj);
  obj.toJson = () => JsonPatch.apply(render(), ...ops);
}

/** DRAIN_LINGER_MS and DRAIN_TIMEOUT_MS of a Node server (app/backend/drain.ts), from rules.ts SHUTDOWN. */
export function drainEnv(component: Extract<HttpComponent, 'backend' | 'frontend'>): Record<string, kplus.EnvValue> {
  return {
    DRAIN_LINGER_MS: kplus.EnvValue.fromValue(String(SHUTDOWN.lingerSeconds[component] * 1000)),
    DRAIN_TIMEOUT_MS: kplus.EnvValue.fromValue(String(SHUTDOWN.drainSeconds[component] * 1000)),
  };
}

/** Volumes shared by the component files. */
export function emptyDir(scope: Construct, id: string, name: string, sizeMi: number, memory = false): kplus.Volume {
  return kplus.Volume.fromEmptyDir(scope, id, name, {
    sizeLimit: Size.mebibytes(sizeMi),
    ...(memory ? { medium: kplus.EmptyDirMedium.MEMORY } : {}),
  });
}

/**
 * The Secret's keys a container needs, as files under SECRETS_DIR, readable
 * by the pod's group only. The Secret is referenced by name, never created here.
 */
export function secretFiles(scope: Construct, id: string, secretName: string, keys: readonly string[]): kplus.Volume {
  const secret = kplus.Secret.fromSecretName(scope, `${id}-ref`, secretName);
  return kplus.Volume.fromSecret(scope, id, secret, {
    name: 'secrets',
    defaultMode: 0o440,
    items: Object.fromEntries(keys.map((k) => [k, { path: k }])),
  });
}

/** The path of a secret key's file inside a container. */
export function secretPath(key: string): string {
  return `${SECRETS_DIR}/${key}`;
}

/** The uid a component's pod runs as. */
export function uidOf(component: Component): number {
  return RUN_AS[component];
}
