// The stack on a kind cluster through the operator (test/fixtures/containers-kind.ts):
// Ready, the seed's load 300/30 through the proxy, the backend pod deleted and
// its container killed under load (back within 30 s, no acknowledged vote
// lost), every pod within the seed's limits, each component started after the
// ones it waits for (from the pods' events), and NetworkPolicies that let
// through only the seed's edges (kube-router's policy engine on our node
// image; kindnetd's on kind's own). Skips with one line (the reason
// and the command to run) where kind, kubectl or a node image is missing: on
// the build machine no kind node image can be pulled (scripts/kind-image.sh builds one).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPONENTS, DATABASE, PORTS, RESOURCES, RUN_AS, START_ORDER, type Component } from '../../charts/rules.ts';
import { childNames } from '../../charts/names.ts';
import { quantityValue } from '../../charts/quantity.ts';
import { KIND_IMAGES, kindReadiness, startKind, type KindStack } from '../fixtures/containers-kind.ts';
import { runKill } from '../load/kill.ts';
import { runLoad, type Ack } from '../load/load.ts';

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
  let k: KindStack | undefined;
  const live = (): KindStack => {
    if (k === undefined) throw new Error('the kind cluster did not start');
    return k;
  };
  const votes = async (): Promise<Map<string, string>> => {
    const s = live();
    const pod = await s.kubectl(['-n', s.namespace, 'get', 'pods', '-l', 'app.kubernetes.io/component=database', '-o', 'jsonpath={.items[0].metadata.name}']);
    const out = await s.kubectl(['-n', s.namespace, 'exec', pod, '--', 'psql', '-X', '-q', '-A', '-t', '-F', ' ', '-h', '/var/run/postgresql',
      '-U', DATABASE.user, '-d', DATABASE.name, '-c', 'SELECT voter_id, option_id FROM votes']);
    return new Map(out.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
  };
  const check = async (acks: readonly Ack[]): Promise<{ missing: string[]; wrongOption: string[] }> => {
    const record = await votes();
    return {
      missing: acks.filter((a) => !record.has(a.voterId)).map((a) => a.voterId),
      wrongOption: acks.filter((a) => record.has(a.voterId) && record.get(a.voterId) !== a.optionId).map((a) => a.voterId),
    };
  };

  describe('the stack on kind, through the operator', () => {
    beforeAll(async () => {
      k = await startKind(ready);
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
      await s.kubectl(['-n', other, 'wait', '--for=condition=Ready', 'pod/outsider', '--timeout=120s'], { timeoutMs: 130_000 });
      await s.kubectl(['-n', s.namespace, 'wait', '--for=condition=Ready', 'pod/outsider', '--timeout=120s'], { timeoutMs: 130_000 });
      const backendPod = await s.kubectl(['-n', s.namespace, 'get', 'pods', '-l', 'app.kubernetes.io/component=backend', '-o', 'jsonpath={.items[0].metadata.name}']);
      const probe = async (namespace: string, pod: string, to: Component): Promise<string> =>
        s.kubectl(['-n', namespace, 'exec', pod, '--', 'node', '-e', PROBE, host(to), String(PORTS[to])], { timeoutMs: 30_000 });

      const seen = {
        'backend → database (an edge)': await probe(s.namespace, backendPod, 'database'),
        'backend → cache (an edge)': await probe(s.namespace, backendPod, 'cache'),
        'backend → frontend': await probe(s.namespace, backendPod, 'frontend'),
        'outsider → proxy (the public entry)': await probe(other, 'outsider', 'proxy'),
        'outsider → database': await probe(other, 'outsider', 'database'),
        'outsider → cache': await probe(other, 'outsider', 'cache'),
        'outsider → backend': await probe(other, 'outsider', 'backend'),
        'stack-namespace stranger → database': await probe(s.namespace, 'outsider', 'database'),
      };
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
      await s.kubectl(['-n', s.namespace, 'delete', 'pod', 'outsider', '--wait=false']);
      await s.kubectl(['delete', 'namespace', other, '--wait=false']);
    }, 300_000);

    it('takes the seed\'s load 300/30 through the proxy with zero failures', async () => {
      const s = live();
      const r = await runLoad({ url: s.url, votes: 300, parallel: 30, progress: false });
      expect(r.failures).toEqual({});
      expect(await check(r.acknowledged)).toEqual({ missing: [], wrongOption: [] });
    }, 180_000);

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
  });
}
