// `make demo`: the README's main command.
//
// No KUBECONFIG: the real thing on this machine. A kind cluster built here
// (node image and images built from source when missing, the cluster reused
// when it exists), the operator installed as `make deploy` does, the sample
// SecureVote applied, a live view until it settles, then the vote page on
// http://127.0.0.1:8080 through the proxy's pods (a NodePort that kind maps
// to the host's loopback: no port-forward to babysit). Everything is left
// running; `make demo-down` removes it. Run again, it changes nothing that
// already runs (every apply is server-side and identical).
//
// KUBECONFIG set: that cluster, named on the first line. The operator and
// the sample are applied; a pod that can't pull its image stops the demo at
// once with how to publish the images.
//
// Where no container can run at all (or with DEMO_ENGINE=none): demo/kwok.ts
// (a local control plane with kwok nodes; pods simulated, no page), said on
// the first and last line.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, relative } from 'node:path';
import { kindClusterYaml, ENTRY_NODE_PORT } from '../charts/kind.ts';
import { selectorLabels } from '../charts/labels.ts';
import { OPERATOR_NAME, OPERATOR_NAMESPACE } from '../charts/operator-install.ts';
import { PORTS } from '../charts/rules.ts';
import { ImagePullError, plan, say, sh, step, watchUntilSettled } from './progress.ts';
import { DEMO, demoKubeconfig, kindImages } from './settings.ts';

const REPO = join(import.meta.dirname, '..');
const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string =>
  execFileSync(cmd, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'] }).trim();
const script = (name: string, ...args: string[]): string => run(join(REPO, 'scripts', name), args);

/** Something answers on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** What a cold run will build, for the estimate on the first screen. */
function coldParts(clusterExists: boolean): string[] {
  const parts: string[] = [];
  const has = (image: string): boolean => {
    try {
      execFileSync('docker', ['image', 'inspect', image], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!kindImages().every(has)) parts.push('the images (~4 min)');
  if (!has(script('kind-cluster.sh', 'image-name'))) parts.push('the kind node image (~15 min)');
  if (!clusterExists) parts.push('the cluster (~1 min)');
  return parts;
}

async function onKind(kubectl: string): Promise<void> {
  const kubeconfig = demoKubeconfig();
  const k = (args: string[], input?: string): string =>
    execFileSync(kubectl, ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'inherit'] }).trim();
  const kind = script('kind-cluster.sh', 'kind');
  const exists = run(kind, ['get', 'clusters']).split('\n').includes(DEMO.cluster);
  const cold = coldParts(exists);
  say(cold.length ? `To build first: ${cold.join(', ')}; a run with everything built takes under a minute` : 'Everything is built: reusing it');
  // Images, the cluster when missing, loading, the operator; then the wait for Ready.
  plan(exists ? 3 : 4);
  await step('Images (scripts/docker-images.sh: built once, reused while their inputs stay)', () => sh(join(REPO, 'scripts/docker-images.sh'), []));
  if (!exists) {
    if (await listening(DEMO.port)) throw new Error(`127.0.0.1:${DEMO.port} is taken by something else; free it, or DEMO_PORT=<port> make demo`);
    const cfg = join(DEMO.work, 'kind-cluster.yaml');
    if (!Number.isInteger(DEMO.nodes) || DEMO.nodes < 1 || DEMO.nodes > 5) throw new Error(`NODES must be a whole number from 1 to 5, got ${process.env.NODES}`);
    writeFileSync(cfg, kindClusterYaml(DEMO.cluster, { entryHostPort: DEMO.port, nodes: DEMO.nodes }));
    await step(`kind cluster ${DEMO.cluster} (the node image is built here when missing)`, () =>
      sh(join(REPO, 'scripts/kind-cluster.sh'), ['up', DEMO.cluster], { ...process.env, KIND: kind, KIND_CONFIG: cfg }));
  } else {
    say(`kind cluster ${DEMO.cluster} exists: reusing it`);
  }
  writeFileSync(kubeconfig, run(kind, ['get', 'kubeconfig', '--name', DEMO.cluster]));
  // An image the node already has (same ID) is skipped.
  await step('Loading the images into the node', () => sh(join(REPO, 'scripts/kind-load.sh'), [DEMO.cluster, ...kindImages()], { ...process.env, KIND: kind }));
  await installAndApply(k);
  const url = `http://127.0.0.1:${DEMO.port}/`;
  const page = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!page.ok) throw new Error(`the vote page answered ${page.status} at ${url}`);
  console.log(`\n${k(['get', 'sv', '-n', DEMO.namespace])}\n`);
  say(`The vote page: ${url}`);
  console.log([
    'Next:',
    `  make load VOTES=300 PARALLEL=30   # the seed's load through the proxy`,
    '  make status                      # each component: pods, health, restarts, CPU and memory against its limit',
    '  make kill-test                   # kill one component under load: time to healthy, every vote kept',
    `  KUBECONFIG=${kubeconfig} $(scripts/kind-cluster.sh kubectl) get sv -A`,
    '  make demo-down                   # remove the cluster (and the Docker engine make demo started)',
  ].join('\n'));
}

/** Operator (as make deploy), namespace, sample, entry Service; then the live view. */
async function installAndApply(k: (args: string[], input?: string) => string): Promise<void> {
  const dist = join(DEMO.work, 'operator');
  await step('Installing the operator (as make deploy)', () => {
    run('node', [join(REPO, 'charts/operator-install-main.ts')], { ...process.env, OPERATOR_DIST: dist });
    // Server-side apply says "serverside-applied" for every object, changed or not; an unchanged one keeps its resourceVersion.
    const lines = k(['apply', '--server-side', '--field-manager=securevote-install', '-f', dist]).split('\n').filter(Boolean);
    console.log(`    ${lines.length} objects applied (CRD, namespace, RBAC, Deployment, NetworkPolicy, PodDisruptionBudget)`);
    k(['wait', '--for=condition=Established', 'crd/securevotes.securevote.dev', '--timeout=60s']);
    k(['-n', OPERATOR_NAMESPACE, 'wait', '--for=condition=Available', `deployment/${OPERATOR_NAME}`, '--timeout=180s']);
  });
  say(`Applying ${relative(REPO, DEMO.sample)} in namespace ${DEMO.namespace}`);
  k(['apply', '--server-side', '--field-manager=securevote-demo', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEMO.namespace } }));
  k(['apply', '--server-side', '--field-manager=securevote-demo', '-n', DEMO.namespace, '-f', DEMO.sample]);
  if (!process.env.KUBECONFIG) {
    // The page on the host: a NodePort on the proxy's pods, which kind maps to 127.0.0.1.
    const selector = selectorLabels({ name: 'securevote', version: '', managedBy: '' }, 'proxy');
    k(['apply', '--server-side', '--field-manager=securevote-demo', '-n', DEMO.namespace, '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'securevote-demo-entry', namespace: DEMO.namespace },
      spec: { type: 'NodePort', selector, ports: [{ port: PORTS.proxy, targetPort: PORTS.proxy, nodePort: ENTRY_NODE_PORT }] },
    }));
  }
  say('Waiting until the SecureVote is Ready (status: phase, each component ready/desired)');
  await watchUntilSettled(() => k(['get', 'securevote/securevote', '-n', DEMO.namespace, '-o', 'json']), 420_000);
}

/** Starts (or finds) a Docker engine; why not, when none can run. */
function startEngine(): string | undefined {
  try {
    execFileSync(join(REPO, 'scripts/docker-engine.sh'), ['up', '--privileged'], { stdio: ['ignore', 'inherit', 'inherit'] });
    return undefined;
  } catch {
    return 'No container can run here (no Docker engine could start)';
  }
}

async function main(): Promise<number> {
  mkdirSync(DEMO.work, { recursive: true });
  const kubectl = script('kind-cluster.sh', 'kubectl');
  if (process.env.KUBECONFIG) {
    const ctx = run(kubectl, ['config', 'current-context']);
    const server = run(kubectl, ['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}']);
    say(`make demo will change the cluster of KUBECONFIG=${process.env.KUBECONFIG}: context ${ctx}, API server ${server}`);
    await installAndApply((args, input) => execFileSync(kubectl, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'inherit'] }).trim());
    console.log(run(kubectl, ['get', 'sv', '-n', DEMO.namespace]));
    say(`Ready. The page: kubectl -n ${DEMO.namespace} port-forward svc/securevote-proxy ${PORTS.proxy}:${PORTS.proxy}, then http://127.0.0.1:${PORTS.proxy}/`);
    return 0;
  }
  const why = DEMO.engine === 'none' ? 'DEMO_ENGINE=none: no container engine is used' : startEngine();
  if (why) {
    // Only where no container can run at all (or the user says so).
    say(`${why}: falling back to a local control plane with kwok nodes; pods are SIMULATED, there is no vote page`);
    execFileSync(join(REPO, 'scripts/controlplane-build.sh'), [], { stdio: ['ignore', 'inherit', 'inherit'] });
    execFileSync(process.execPath, [join(REPO, 'demo/kwok.ts')], { stdio: ['ignore', 'inherit', 'inherit'] });
    say('That was the kwok fallback: real objects, simulated pods, no page. With a Docker engine, make demo runs the stack on kind.');
    return 0;
  }
  await onKind(kubectl);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`\nmake demo failed: ${err instanceof ImagePullError ? '' : 'error: '}${(err as Error).message}`);
    process.exit(1);
  },
);
