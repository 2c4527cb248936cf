// The fuller fixture: controller manager, scheduler and kwok nodes, so
// workloads really roll out; and a test process killed mid-run leaves nothing.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, pidAlive, startControlPlane } from '../fixtures/controlplane.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/controlplane.ts', import.meta.url));

const DEPLOYMENT = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: rollout }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - { name: web, image: securevote/frontend:0.1.0 }
`;

const STATEFULSET = `
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db, namespace: rollout }
spec:
  replicas: 1
  serviceName: db
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec:
      initContainers:
        - { name: init, image: securevote/postgres:0.1.0 }
      containers:
        - { name: db, image: securevote/postgres:0.1.0 }
`;

describe('control plane with controllers, scheduler and kwok nodes', () => {
  let cp: ControlPlane;

  beforeAll(async () => {
    cp = await startControlPlane({ controllers: true, scheduler: true, kwokNodes: 2 });
    console.log(`full control plane up: ${JSON.stringify(cp.timings)} ms`);
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('registers the kwok nodes Ready', async () => {
    const { stdout } = await cp.kubectl(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}']);
    expect(stdout.trim().split(' ').sort()).toEqual(['kwok-node-0=True', 'kwok-node-1=True']);
  });

  it('rolls out a Deployment and a StatefulSet to Available / Ready, and garbage-collects them', async () => {
    await cp.kubectl(['create', 'namespace', 'rollout']);
    await cp.kubectl(['apply', '-f', '-'], { input: DEPLOYMENT + '---' + STATEFULSET });
    await cp.kubectl(['wait', '-n', 'rollout', '--for=condition=Available', '--timeout=90s', 'deployment/web']);
    await cp.kubectl(['rollout', 'status', '-n', 'rollout', '--timeout=90s', 'statefulset/db']);
    const { stdout } = await cp.kubectl(['get', 'pods', '-n', 'rollout', '-o', 'jsonpath={range .items[*]}{.spec.nodeName} {.status.phase}{"\\n"}{end}']);
    const pods = stdout.trim().split('\n');
    expect(pods).toHaveLength(3);
    for (const line of pods) expect(line).toMatch(/^kwok-node-\d Running$/);

    // Garbage collection: deleting the Deployment in the foreground removes its ReplicaSet and pods.
    await cp.kubectl(['delete', 'deployment', 'web', '-n', 'rollout', '--cascade=foreground', '--timeout=90s']);
    await cp.kubectl(['wait', '-n', 'rollout', '--for=delete', '--timeout=90s', 'pods', '-l', 'app=web']);
    const rs = await cp.kubectl(['get', 'replicasets', '-n', 'rollout', '-o', 'name']);
    expect(rs.stdout.trim()).toBe('');
  });

  it('gives a new namespace its default ServiceAccount and root CA (controllers at work)', async () => {
    await cp.kubectl(['create', 'namespace', 'fresh']);
    await cp.kubectl(['wait', '-n', 'fresh', '--for=create', '--timeout=60s', 'serviceaccount/default', 'configmap/kube-root-ca.crt']);
  });
});

describe('a test process that dies', () => {
  it('leaves no process and no directory behind (the guardian stops them)', async () => {
    // A separate Node process starts a control plane, prints it, then is SIGKILLed: no stop(), no exit handler.
    const script = `
      import { startControlPlane } from ${JSON.stringify(FIXTURE)};
      const cp = await startControlPlane();
      console.log(JSON.stringify({ dir: cp.dir, pids: Object.values(cp.pids) }));
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const started = await new Promise<{ dir: string; pids: number[] }>((ok, fail) => {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) ok(JSON.parse(line) as { dir: string; pids: number[] });
      });
      child.once('exit', (code) => fail(new Error(`child exited ${code} before starting`)));
    });
    expect(started.pids.every(pidAlive)).toBe(true);

    child.kill('SIGKILL');
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (started.pids.some(pidAlive) || existsSync(started.dir))) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(started.pids.filter(pidAlive)).toEqual([]);
    expect(existsSync(started.dir)).toBe(false);
  });
});
