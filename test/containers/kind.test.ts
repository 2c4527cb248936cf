// `make demo` on a kind cluster (test/fixtures/demo.ts runs demo/main.ts as a
// user would: its own cluster, the operator, the sample, the page on a port
// of 127.0.0.1), then, on what it left running: the page in headless
// Chromium (a vote, the chart, the duplicate message), `make load`,
// `make status`, a second `make demo` that changes nothing, and, last,
// `make demo-down` leaving nothing behind. On the same stack:
// Ready, the kubelet's log rotation, the seed's load 300/30 through the proxy, the backend pod deleted and
// its container killed under load (back within 30 s, no acknowledged vote
// lost), every pod within the seed's limits, each component started after the
// ones it waits for (from the pods' events), and NetworkPolicies that let
// through only the seed's edges (kube-router's policy engine on our node
// image; kindnetd's on kind's own), a Service address no Service holds
// answered as unreachable on the node (never routed off it), 60 connects at
// once to a pod address no pod holds each refused (no SYN left waiting), and `kubectl
// top` for every component (the metrics API autoscalers read). Skips with one line (the reason
// and the command to run) where kind, kubectl or a node image is missing: on
// the build machine no kind node image can be pulled (scripts/kind-image.sh builds one).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPONENTS, LOG_ROTATION, PORTS, RESOURCES, RUN_AS, START_ORDER, type Component } from '../../charts/rules.ts';
import { childNames } from '../../charts/names.ts';
import { quantityValue } from '../../charts/quantity.ts';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { parse } from 'yaml';
import { DEFAULT_IMAGES } from '../../charts/spec.ts';
import { KIND_IMAGES, kindReadiness, kubernetesVersion } from '../fixtures/containers-kind.ts';
import { type Demo, startDemo } from '../fixtures/demo.ts';
import { REPO } from '../fixtures/docker-engine.ts';
import { runKill } from '../load/kill.ts';
import type { Ack } from '../load/load.ts';
import { compareWithRecord, votesInClusterDatabase } from '../load/votes-in-postgres.ts';

const { pre, engine } = await kindReadiness();

interface EventList {
  items: {
    reason: string;
    firstTimestamp?: string;
    eventTime?: string;
    involvedObject: { kind: string; name: string; fieldPath?: string };
  }[];
}

// Connects to host:port from inside a pod and prints 'open' or why not (a
// dropped SYN times out; a rejected one is refused).
const PROBE = `const s = require('node:net').connect({ host: process.argv[1], port: Number(process.argv[2]), timeout: 4000 });
s.on('connect', () => { console.log('open'); process.exit(0); });
s.on('timeout', () => { console.log('timeout'); process.exit(0); });
s.on('error', (e) => { console.log(e.code ?? e.message); process.exit(0); });`;

// Opens n connections to host:port at once from inside a pod and prints how
// they ended, counted: {"ECONNREFUSED":60}, {"timeout":55,"EHOSTUNREACH":5}.
const BURST = `const net = require('node:net');
const [host, port, n] = process.argv.slice(1); const out = {}; let left = Number(n);
for (let i = 0; i < Number(n); i++) {
  const s = net.connect({ host, port: Number(port), timeout: 4000 }); let done = false;
  const end = (k) => { if (done) return; done = true; s.destroy(); out[k] = (out[k] ?? 0) + 1; if (--left === 0) console.log(JSON.stringify(out)); };
  s.on('connect', () => end('open')); s.on('timeout', () => end('timeout')); s.on('error', (e) => end(e.code ?? e.message));
}`;

/** The highest host address of an IPv4 range ("10.96.0.0/16" -> "10.96.255.254"). */
function lastAddress(cidr: string): string {
  const [ip = '', bits] = cidr.split('/');
  const n = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const last = n + 2 ** (32 - Number(bits)) - 2;
  return [24, 16, 8, 0].map((s) => Math.floor(last / 2 ** s) % 256).join('.');
}

interface PodList {
  items: {
    metadata: { name: string; labels?: Record<string, string> };
    spec: { containers: { name: string; resources?: { limits?: Record<string, string>; requests?: Record<string, string> } }[] };
  }[];
}

if (!pre.ok) {
  const line = `kind tests skipped: ${pre.reason}; to run them: ${pre.command}`;
  console.warn(line);
  describe('the stack on kind', () => {
    it.skip(line, () => {});
    afterAll(async () => { await engine?.release(); });
  });
} else {
  const ready = pre;
  let k: Demo | undefined;
  const live = (): Demo => {
    if (k === undefined) throw new Error('the kind cluster did not start');
    return k;
  };
  const check = async (acks: readonly Ack[]): Promise<{ missing: string[]; wrongOption: string[] }> =>
    compareWithRecord(acks, await votesInClusterDatabase((args) => live().kubectl(args), live().namespace));

  describe('the stack on kind, through the operator', () => {
    beforeAll(async () => {
      k = await startDemo(ready);
    }, 1_500_000);
    afterAll(async () => {
      await k?.stop();
      await engine?.release();
    }, 300_000);

    it('reports the SecureVote Ready (kubectl get sv)', async () => {
      const s = live();
      const status = await s.kubectl(['-n', s.namespace, 'get', 'sv', 'securevote', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
      expect(status).toBe('True');
    });

    it('runs the kubelet with the seed\'s log rotation (and failCgroupV1: false on cgroup v1), at the pinned release', async () => {
      const s = live();
      const node = `${s.name}-control-plane`;
      const config = parse((await promisify(execFile)('docker', ['exec', node, 'cat', '/var/lib/kubelet/config.yaml'])).stdout) as Record<string, unknown>;
      expect(config.containerLogMaxSize).toBe(LOG_ROTATION.containerLogMaxSize);
      expect(config.containerLogMaxFiles).toBe(LOG_ROTATION.containerLogMaxFiles);
      if (!existsSync('/sys/fs/cgroup/cgroup.controllers')) expect(config.failCgroupV1).toBe(false);
      expect(await s.kubectl(['get', 'node', node, '-o', 'jsonpath={.status.nodeInfo.kubeletVersion}'])).toBe(kubernetesVersion());
    });

    it('runs every pod within the seed\'s limits', async () => {
      const s = live();
      const pods = JSON.parse(await s.kubectl(['-n', s.namespace, 'get', 'pods', '-o', 'json'])) as PodList;
      for (const c of COMPONENTS) {
        const pod = pods.items.find((p) => p.metadata.labels?.['app.kubernetes.io/component'] === c);
        expect(pod, c).toBeDefined();
        const main = pod?.spec.containers[0];
        // Compared as quantities: the API server writes 1000m back as 1.
        const amounts = (r: { readonly cpu?: string | number; readonly memory?: string | number } | undefined) =>
          r && { cpu: quantityValue(r.cpu ?? 0), memory: quantityValue(r.memory ?? 0) };
        expect(amounts(main?.resources?.limits), c).toEqual(amounts(RESOURCES[c].limits));
        expect(amounts(main?.resources?.requests), c).toEqual(amounts(RESOURCES[c].requests));
      }
    });

    it('starts each component after the ones it waits for, as the pods\' events show', async () => {
      const s = live();
      const events = JSON.parse(await s.kubectl(['-n', s.namespace, 'get', 'events', '-o', 'json'])) as EventList;
      const pods = JSON.parse(await s.kubectl(['-n', s.namespace, 'get', 'pods', '-o', 'json'])) as PodList;
      const podOf = (c: Component) => pods.items.find((p) => p.metadata.labels?.['app.kubernetes.io/component'] === c);
      // When the kubelet reported a container Started (its events carry whole seconds).
      const started = (c: Component, container: 'main' | `wait-for-${Component}`): number => {
        const pod = podOf(c);
        const fieldPath = container === 'main' ? `spec.containers{${pod?.spec.containers[0]?.name}}` : `spec.initContainers{${container}}`;
        const e = events.items.find((ev) => ev.reason === 'Started' && ev.involvedObject.kind === 'Pod'
          && ev.involvedObject.name === pod?.metadata.name && ev.involvedObject.fieldPath === fieldPath);
        expect(e, `Started event of ${c}'s ${fieldPath}`).toBeDefined();
        return Date.parse(e?.eventTime ?? e?.firstTimestamp ?? '');
      };
      for (const c of COMPONENTS) {
        for (const dep of START_ORDER[c]) {
          // The dependency's own container first, then this pod's wait for it, then this pod's container.
          expect(started(c, `wait-for-${dep}`), `${c} waits for ${dep} before it starts`).toBeLessThanOrEqual(started(c, 'main'));
          expect(started(dep, 'main'), `${dep} starts before ${c}`).toBeLessThanOrEqual(started(c, 'main'));
        }
      }
      // The seed's longest chain: database, backend, frontend, proxy. Each step
      // waits for a readiness probe, so the ends are seconds apart.
      expect(started('database', 'main')).toBeLessThan(started('proxy', 'main'));
    });

    it('lets only the seed\'s edges through its NetworkPolicies: a pod outside them cannot reach the database', async () => {
      const s = live();
      const names = childNames('securevote');
      const host = (c: Component) => `${names.service(c)}.${s.namespace}.svc.cluster.local`;
      const backendImage = KIND_IMAGES.find((i) => i.includes('/backend:'));
      // Pods that are no component: one in a namespace without policies, one in the stack's.
      const outsider = (namespace: string) => JSON.stringify({
        apiVersion: 'v1', kind: 'Pod', metadata: { name: 'outsider', namespace, labels: { 'app.kubernetes.io/name': 'outsider' } },
        spec: {
          terminationGracePeriodSeconds: 0,
          securityContext: { runAsNonRoot: true, runAsUser: RUN_AS.backend, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{
            name: 'main', image: backendImage, imagePullPolicy: 'Never', command: ['node', '-e', 'setInterval(() => {}, 2 ** 30)'],
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            resources: { requests: { cpu: '0', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
          }],
        },
      });
      const other = 'securevote-outside';
      await s.kubectl(['create', 'namespace', other]);
      await s.kubectl(['apply', '-f', '-'], { input: outsider(other) });
      await s.kubectl(['apply', '-f', '-'], { input: outsider(s.namespace) });
      await Promise.all([other, s.namespace].map((ns) => s.kubectl(['-n', ns, 'wait', '--for=condition=Ready', 'pod/outsider', '--timeout=120s'], { timeoutMs: 130_000 })));
      const backendPod = await s.kubectl(['-n', s.namespace, 'get', 'pods', '-l', 'app.kubernetes.io/component=backend', '-o', 'jsonpath={.items[0].metadata.name}']);
      const probe = async (namespace: string, pod: string, to: Component): Promise<string> =>
        s.kubectl(['-n', namespace, 'exec', pod, '--', 'node', '-e', PROBE, host(to), String(PORTS[to])], { timeoutMs: 30_000 });

      // All at once: each refused edge waits out its 4 s connect timeout.
      const probes = {
        'backend → database (an edge)': probe(s.namespace, backendPod, 'database'),
        'backend → cache (an edge)': probe(s.namespace, backendPod, 'cache'),
        'backend → frontend': probe(s.namespace, backendPod, 'frontend'),
        'outsider → proxy (the public entry)': probe(other, 'outsider', 'proxy'),
        'outsider → database': probe(other, 'outsider', 'database'),
        'outsider → cache': probe(other, 'outsider', 'cache'),
        'outsider → backend': probe(other, 'outsider', 'backend'),
        'stack-namespace stranger → database': probe(s.namespace, 'outsider', 'database'),
      };
      const seen = Object.fromEntries(await Promise.all(Object.entries(probes).map(async ([k, p]) => [k, await p] as const)));
      // A Service address no Service holds: kube-proxy has no rule for it, and
      // the node answers that it is unreachable rather than route it off the cluster.
      const range = JSON.parse(await s.kubectl(['get', 'servicecidrs', 'kubernetes', '-o', 'json'])) as { spec: { cidrs: string[] } };
      const unused = lastAddress(range.spec.cidrs.find((c) => !c.includes(':')) ?? '');
      expect(await s.kubectl(['get', 'ipaddresses', unused, '--ignore-not-found', '-o', 'name'])).toBe('');
      const unserved = await s.kubectl(['-n', other, 'exec', 'outsider', '--', 'node', '-e', PROBE, unused, '443'], { timeoutMs: 30_000 });
      const open = Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v === 'open']));
      expect(open, JSON.stringify(seen)).toEqual({
        'backend → database (an edge)': true,
        'backend → cache (an edge)': true,
        'backend → frontend': false,
        'outsider → proxy (the public entry)': true,
        'outsider → database': false,
        'outsider → cache': false,
        'outsider → backend': false,
        'stack-namespace stranger → database': false,
      });
      expect(unserved, `${unused}:443`).toBe('ENETUNREACH');
      // A pod address no pod holds (a gone pod kube-proxy still names): every
      // connect refused at once, however many arrive together. Answered by the
      // routing error's ICMP alone, the kernel's limit (about one a second to
      // each source) left most of them to wait out their SYN retransmits.
      const podRange = await s.kubectl(['get', 'nodes', '-o', 'jsonpath={.items[0].spec.podCIDR}']);
      const gone = lastAddress(podRange);
      expect((await s.kubectl(['get', 'pods', '-A', '-o', 'jsonpath={..podIP}'])).split(' ')).not.toContain(gone);
      const burst = await s.kubectl(['-n', other, 'exec', 'outsider', '--', 'node', '-e', BURST, gone, String(PORTS.proxy), '60'], { timeoutMs: 30_000 });
      expect(JSON.parse(burst), `60 connects to ${gone}:${PORTS.proxy}`).toEqual({ ECONNREFUSED: 60 });
      await s.kubectl(['-n', s.namespace, 'delete', 'pod', 'outsider', '--wait=false']);
      await s.kubectl(['delete', 'namespace', other, '--wait=false']);
    }, 300_000);

    it('make demo prints the page\'s URL, kubectl get sv and the next commands', () => {
      const s = live();
      expect(s.first.output).toContain(`The vote page: ${s.url}/`);
      expect(s.first.output).toMatch(/NAME\s+READY\s+PHASE/);
      for (const verb of ['make load', 'make status', 'make kill-test', 'make demo-down']) expect(s.first.output).toContain(verb);
    });

    it('serves the vote page at that URL: Chromium votes, sees the chart change, then the duplicate message', async () => {
      const s = live();
      const shots = join(REPO, 'test-results');
      mkdirSync(shots, { recursive: true });
      const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
      try {
        const page = await (await browser.newContext({ viewport: { width: 900, height: 760 } })).newPage();
        await page.goto(`${s.url}/`);
        await expect.poll(() => page.locator('button.vote').count()).toBe(2);
        const before = Number(await page.locator('#chart li[data-option-id="cats"]').getAttribute('data-votes'));
        await page.getByRole('button', { name: 'Cats' }).click();
        await expect.poll(() => page.locator('#message').getAttribute('data-kind')).toBe('success');
        await expect.poll(async () => Number(await page.locator('#chart li[data-option-id="cats"]').getAttribute('data-votes'))).toBe(before + 1);
        await page.waitForTimeout(500);
        await page.screenshot({ path: join(shots, 'demo-voted.png'), fullPage: true });
        await page.reload();
        await expect.poll(() => page.locator('button.vote').count()).toBe(2);
        await page.getByRole('button', { name: 'Dogs' }).click();
        await expect.poll(() => page.locator('#message').getAttribute('data-kind')).toBe('duplicate');
        await page.screenshot({ path: join(shots, 'demo-duplicate.png'), fullPage: true });
      } finally {
        await browser.close();
      }
    }, 120_000);

    it('make load VOTES=300 PARALLEL=30 through the page\'s URL: zero failures, every vote stored', async () => {
      const s = live();
      const acks = join(s.env.SECUREVOTE_WORK ?? '', 'acks.json');
      // What `make load` runs, with the acknowledged votes written out for the check.
      const out = await promisify(execFile)(process.execPath, [join(REPO, 'test/load/load.ts'), s.url, '300', '30', '--json', '--acks', acks], { cwd: REPO, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 });
      const r = JSON.parse(out.stdout) as { failures: Record<string, number>; succeeded: number };
      expect(r.failures).toEqual({});
      expect(r.succeeded).toBe(300);
      expect(await check(JSON.parse(readFileSync(acks, 'utf8')) as Ack[])).toEqual({ missing: [], wrongOption: [] });
    }, 180_000);

    it('make status lists the five components healthy, with their limits', async () => {
      const s = live();
      const r = await s.verb('status', 120_000);
      expect(r.code, r.output).toBe(0);
      for (const c of COMPONENTS) {
        const row = r.output.split('\n').find((l) => l.startsWith(`${c} `));
        expect(row, `${c} in:\n${r.output}`).toBeDefined();
        expect(row).toContain(' yes ');
        expect(row).toContain(String(RESOURCES[c].limits.memory));
      }
      expect(r.output).toContain('healthy: every component has a ready pod');
    });

    it('kubectl top shows each component\'s CPU and memory (the metrics API an autoscaler reads)', async () => {
      const s = live();
      const prefix = (c: Component) => `${childNames('securevote').service(c)}-`;
      let out = '';
      for (const until = Date.now() + 120_000; Date.now() < until; await new Promise((r) => setTimeout(r, 3_000))) {
        out = await s.kubectl(['-n', s.namespace, 'top', 'pods', '-l', 'app.kubernetes.io/component', '--no-headers']).catch((e: Error) => e.message);
        if (COMPONENTS.every((c) => out.split('\n').some((l) => l.startsWith(prefix(c))))) break;
      }
      for (const c of COMPONENTS) {
        const row = out.split('\n').find((l) => l.startsWith(prefix(c)));
        expect(row, `${c} in:\n${out}`).toMatch(/\s\d+m\s+\d+Mi\s*$/);
      }
    }, 150_000);

    it('a second make demo changes nothing that runs (no object\'s resourceVersion moves)', async () => {
      const s = live();
      const kinds = 'securevotes,deployments,statefulsets,services,configmaps,secrets,networkpolicies,poddisruptionbudgets,jobs,serviceaccounts,roles,rolebindings';
      const versions = async (): Promise<string> => [
        await s.kubectl(['get', kinds, '-n', s.namespace, '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion}{"\\n"}{end}']),
        await s.kubectl(['get', 'deployments,serviceaccounts,roles,rolebindings', '-n', 'securevote-system', '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion}{"\\n"}{end}']),
        await s.kubectl(['get', 'crd/securevotes.securevote.dev', '-o', 'jsonpath={.kind}/{.metadata.name}={.metadata.resourceVersion}']),
        await s.kubectl(['get', 'clusterroles,clusterrolebindings', '-l', 'app.kubernetes.io/part-of=securevote', '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion}{"\\n"}{end}']),
      ].join('\n');
      // At rest first: two readings 5 s apart agree (the load before it may still be settling statuses).
      let before = await versions();
      for (let i = 0; i < 24; i++) {
        await new Promise((r) => setTimeout(r, 5_000));
        const now = await versions();
        if (now === before) break;
        before = now;
      }
      const t0 = Date.now();
      const again = await s.verb('main');
      console.log(`second make demo: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      expect(again.code, again.output.slice(-3000)).toBe(0);
      expect(again.output).toContain('reusing it');
      expect(await versions()).toBe(before);
    }, 600_000);

    it('gets the backend back within 30 s after its pod is deleted under load, no acknowledged vote lost', async () => {
      const s = live();
      const backend = childNames('securevote').service('backend');
      const r = await runKill({
        url: s.url, votes: 2_000, parallel: 30, progress: false, recoveryTimeoutMs: 60_000,
        kill: async () => {
          await s.kubectl(['-n', s.namespace, 'delete', 'pod', '-l', 'app.kubernetes.io/component=backend', '--grace-period=0', '--force', '--wait=false']);
        },
        checkVotes: check,
      });
      expect(r.recoveryMs ?? Infinity, `${backend} back`).toBeLessThan(30_000);
      expect(r.check).toEqual({ missing: [], wrongOption: [] });
    }, 240_000);

    it('on a cluster that cannot pull an image, make demo stops within 60 s and says how to publish the images', async () => {
      const s = live();
      // The demo's own SecureVote, its database pointed at a registry that
      // refuses at once (a closed port on the node): the database rolls
      // (no surge, so it fits the node's CPU) and its pull fails in seconds.
      const image = `127.0.0.1:1/${DEFAULT_IMAGES.database}`;
      const sample = join(s.env.SECUREVOTE_WORK ?? '', 'unpullable.json');
      writeFileSync(sample, JSON.stringify({
        apiVersion: 'securevote.dev/v1alpha1', kind: 'SecureVote', metadata: { name: 'securevote' },
        spec: { database: { image } },
      }));
      const env = { ...s.env, KUBECONFIG: s.kubeconfig, DEMO_SAMPLE: sample };
      const t0 = Date.now();
      const r = await promisify(execFile)(process.execPath, [join(REPO, 'demo/main.ts')], { env, cwd: REPO, timeout: 240_000 })
        .then(() => ({ code: 0, output: '' }), (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }));
      const seconds = (Date.now() - t0) / 1000;
      expect(r.code, r.output.slice(-3000)).toBe(1);
      expect(r.output).toContain(`context kind-${s.name}`);
      expect(r.output).toContain(`image ${image} can't be pulled`);
      expect(r.output).toContain('make push REGISTRY=');
      // Noticed, not timed out: without the check the demo would wait its 420 s for Ready.
      console.log(`unpullable image: make demo stopped after ${seconds.toFixed(1)} s`);
      expect(seconds).toBeLessThan(120);
    }, 300_000);

    it('make demo-down leaves no cluster, no engine hold and no open port behind', async () => {
      const s = live();
      const r = await s.verb('down', 300_000);
      expect(r.code, r.output).toBe(0);
      const clusters = (await promisify(execFile)(ready.kind, ['get', 'clusters'])).stdout.split('\n');
      expect(clusters).not.toContain(s.name);
      const port = Number(new URL(s.url).port);
      const open = await new Promise<boolean>((resolve) => {
        const c = createConnection({ host: '127.0.0.1', port }, () => { c.destroy(); resolve(true); });
        c.on('error', () => resolve(false));
      });
      expect(open).toBe(false);
    }, 300_000);
  });
}
