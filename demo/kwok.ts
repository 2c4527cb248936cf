// The fallback of `make demo` where no container can run (demo/main.ts):
// a local control plane (etcd, kube-apiserver, controller manager,
// scheduler) with kwok nodes, built from source by `make controlplane`; the
// CRD installed, the operator run from its sources, samples/securevote.yaml
// applied, until Ready; what the operator created printed. Objects are real
// and validated; pods are SIMULATED (no container runs), so there is no page.
// Everything it started is stopped at the end (DEMO_KEEP=1 keeps the control
// plane: `make cluster-down` removes it).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ControlPlane, binaryPath, startControlPlane } from '../test/fixtures/controlplane.ts';
import { dataPriorityClass } from '../charts/priority.ts';
import { DEMO } from './settings.ts';

const REPO = join(import.meta.dirname, '..');

const demoDir = join(DEMO.work, 'kwok');
const work = DEMO.work;
mkdirSync(demoDir, { recursive: true });
const ns = DEMO.namespace;
const keep = process.env.DEMO_KEEP === '1';
const say = (s: string): void => console.log(`\n==> ${s}`);

let cp: ControlPlane | undefined;
let operator: ChildProcess | undefined;
let kubeconfig: string | undefined;
// The project's own kubectl (the pinned release), never PATH's.
const kubectlBin = binaryPath('kubectl');

const kubectl = (args: string[], input?: string): string =>
  execFileSync(kubectlBin, args, { input, encoding: 'utf8', env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['pipe', 'pipe', 'inherit'] });

async function main(): Promise<void> {
  {
    say('Starting a local control plane (etcd, kube-apiserver, controller manager, scheduler) with 2 kwok nodes');
    cp = await startControlPlane({ controllers: true, scheduler: true, kwokNodes: 2, ...(keep ? { dir: join(work, 'cluster'), detached: true } : {}) });
    kubeconfig = cp.kubeconfigPath;
    console.log(`    up in ${((cp.timings.total ?? 0) / 1000).toFixed(1)} s at ${cp.server}`);
    console.log('    NOTE: kwok SIMULATES the nodes: pods are scheduled and reported Running/Ready, but no container runs.');
    // No storage provisioner on kwok nodes: one volume for the database's claim.
    kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'securevote-demo-pv' },
      spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', hostPath: { path: '/tmp/securevote-demo' } },
    }));
  }

  say('Installing the SecureVote CRD (crds/securevote.yaml) and the PriorityClass its database and cache name');
  process.stdout.write(kubectl(['apply', '--server-side', '--field-manager=securevote-install', '-f', join(REPO, 'crds/securevote.yaml')]));
  process.stdout.write(kubectl(['apply', '--server-side', '--field-manager=securevote-install', '-f', '-'], JSON.stringify(dataPriorityClass())));
  kubectl(['wait', '--for=condition=Established', 'crd/securevotes.securevote.dev', '--timeout=60s']);

  say(`Running the operator (node operator/main.ts, log in ${join(demoDir, 'operator.log')})`);
  const log = createWriteStream(join(demoDir, 'operator.log'));
  operator = spawn(process.execPath, [join(REPO, 'operator/main.ts')], {
    cwd: REPO,
    env: { ...process.env, KUBECONFIG: kubeconfig, LEADER_ELECT: 'false', HEALTH_ADDR: '127.0.0.1:0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  operator.stdout?.pipe(log);
  operator.stderr?.pipe(log);

  say(`Applying samples/securevote.yaml in namespace ${ns}`);
  process.stdout.write(kubectl(['apply', '-f', '-'], kubectl(['create', 'namespace', ns, '--dry-run=client', '-o', 'json'])));
  const started = Date.now();
  process.stdout.write(kubectl(['apply', '-n', ns, '-f', join(REPO, 'samples/securevote.yaml')]));

  say('Waiting for Ready');
  kubectl(['wait', '-n', ns, '--for=condition=Ready', 'securevote/securevote', '--timeout=180s']);
  console.log(`    Ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);

  say('kubectl get sv');
  process.stdout.write(kubectl(['get', 'sv', '-n', ns]));
  say('What the operator created (label securevote.dev/instance=securevote)');
  process.stdout.write(
    kubectl(['get', 'statefulsets,deployments,jobs,services,configmaps,secrets,networkpolicies,poddisruptionbudgets', '-n', ns, '-l', 'securevote.dev/instance=securevote']),
  );
  say('Pods and the database volume claim');
  process.stdout.write(kubectl(['get', 'pods,pvc', '-n', ns, '-o', 'wide']));
  console.log('\n    Again: these pods run on kwok\'s SIMULATED nodes; no container runs, so there is no page.');
}

async function cleanup(): Promise<void> {
  if (operator && operator.exitCode === null) {
    operator.kill('SIGTERM');
    await new Promise((r) => operator?.once('exit', r));
  }
  if (cp && !keep) {
    say('Stopping the local control plane');
    await cp.stop();
  } else if (cp && keep) {
    console.log(`\n    Cluster kept: KUBECONFIG=${cp.kubeconfigPath} (make cluster-down CLUSTER_DIR=${join(work, 'cluster')} stops it; make run runs the operator)`);
  }
}

let failed = false;
try {
  if (!existsSync(join(REPO, 'crds/securevote.yaml'))) throw new Error('crds/securevote.yaml is missing');
  await main();
} catch (err) {
  failed = true;
  console.error(`\ndemo failed: ${(err as Error).message}`);
} finally {
  await cleanup();
}
process.exit(failed ? 1 : 0);
