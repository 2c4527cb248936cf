// Three nodes, the HA sample's replica counts, the seed's load throughout.
// Replicas spread one pod per node; a backend reaches the database on another
// node while a pod outside the NetworkPolicies' edges can't; `kubectl drain`
// of each node without the database completes, one pod of a component at a
// time, with no failed vote; draining the database's node (its volume is
// bound there, so its pod waits for the uncordon) refuses votes with 503 and
// Retry-After, loses none, keeps the page up, has status name the cordoned
// node, and takes votes again within 30 s of the uncordon.
import { afterAll, expect, it } from 'vitest';
import { KIND_IMAGES } from '../../fixtures/containers-kind.ts';
import { DEFAULT_REPLICAS, REPLICATED, haReplicas } from '../scenarios/stack-spec.ts';
import { checkStoredOk, connectFrom, describeScenario, figures, patchSpec, podsOf, probe, secureVote, underLoad, waitReady, type Probe, type Stack } from '../scenarios/stack.ts';

const HA = haReplicas();

const PROBE_NAMESPACE = 'drain-probe';
const BACKEND_IMAGE = KIND_IMAGES.find((i) => i.includes('/backend:')) ?? 'securevote/backend';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function nodes(s: Stack): Promise<string[]> {
  return (await s.kubectl(['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ').filter(Boolean);
}

/** `kubectl drain`: evicts every pod but the DaemonSets', honouring the disruption budgets; its exit says whether it completed. */
async function drain(s: Stack, node: string): Promise<void> {
  await s.kubectl(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=300s'], { timeoutMs: 320_000 });
}

/** A pod of the backend image on a given node, in the probe namespace (no NetworkPolicy there); `listen`: a TCP server on 8080. */
function probePod(name: string, node: string, listen: boolean): string {
  const js = listen ? "require('net').createServer((c)=>c.end('hi')).listen(8080)" : 'setInterval(()=>{},1e9)';
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: PROBE_NAMESPACE, labels: { probe: name } },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': node }, terminationGracePeriodSeconds: 1, automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{
        name: 'main', image: BACKEND_IMAGE, imagePullPolicy: 'Never', command: ['node', '-e', js],
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        resources: { requests: { cpu: '0', memory: '32Mi' }, limits: { memory: '96Mi' } },
      }],
    },
  });
}

describeScenario('three nodes: spread, NetworkPolicies across nodes, drains under load', (stack) => {
  afterAll(async () => {
    const s = stack();
    await s.kubectl(['uncordon', ...(await nodes(s))]).catch(() => undefined);
    await patchSpec(s, DEFAULT_REPLICAS);
    await waitReady(s);
  }, 400_000);

  it('spreads the HA sample\'s replicas one pod per node, scaling up under load with no failed vote', async () => {
    const s = stack();
    await waitReady(s);
    expect((await nodes(s)).length, 'schedulable nodes').toBe(3);
    const r = await underLoad(s, async () => {
      await patchSpec(s, HA);
      await waitReady(s);
      return Object.fromEntries(await Promise.all(REPLICATED.map(async (c) => [c, (await podsOf(s, c)).map((p) => p.node)] as const)));
    });
    console.log(`${figures('scale to the HA sample', r.load)}; placement ${JSON.stringify(r.value)}`);
    for (const c of REPLICATED) {
      expect(r.value[c]?.length, `${c} pods`).toBe(HA[c].replicas);
      expect(new Set(r.value[c]).size, `${c} on distinct nodes: ${r.value[c]?.join(', ')}`).toBe(r.value[c]?.length);
    }
    expect(r.load.failures).toEqual({});
    expect(r.stored).toEqual(checkStoredOk);
  }, 600_000);

  it('a backend reaches the database on another node; a pod outside its edges, routed there as well, is refused', async () => {
    const s = stack();
    const [db] = await podsOf(s, 'database');
    if (!db) throw new Error('no database pod');
    const remote = (await podsOf(s, 'backend')).find((p) => p.node !== db.node && p.ready);
    if (!remote) throw new Error(`no ready backend off the database's node ${db.node}`);
    expect(await connectFrom(s, { namespace: s.namespace, pod: remote.name }, db.ip, 5432), `backend on ${remote.node} → database on ${db.node}`).toBe('open');

    // Outsiders: a client on a third node, a server on the database's node, in a namespace without policies.
    const third = (await nodes(s)).find((n) => n !== db.node && n !== remote.node) ?? remote.node;
    await s.kubectl(['create', 'namespace', PROBE_NAMESPACE]);
    try {
      await s.kubectl(['apply', '-f', '-'], { input: probePod('client', third, false) });
      await s.kubectl(['apply', '-f', '-'], { input: probePod('server', db.node, true) });
      await s.kubectl(['-n', PROBE_NAMESPACE, 'wait', '--for=condition=Ready', 'pod/client', 'pod/server', '--timeout=120s'], { timeoutMs: 130_000 });
      const serverIp = await s.kubectl(['-n', PROBE_NAMESPACE, 'get', 'pod', 'server', '-o', 'jsonpath={.status.podIP}']);
      // The route is there (the same pair of nodes, no policy in the way) ...
      expect(await connectFrom(s, { namespace: PROBE_NAMESPACE, pod: 'client' }, serverIp, 8080), `client on ${third} → server on ${db.node}`).toBe('open');
      // ... and the database's ingress policy, enforced on its node, refuses or drops the outsider's connection.
      expect(await connectFrom(s, { namespace: PROBE_NAMESPACE, pod: 'client' }, db.ip, 5432), `client on ${third} → database on ${db.node}`).not.toBe('open');
    } finally {
      // Bare pods: a drain would refuse to evict them.
      await s.kubectl(['delete', 'namespace', PROBE_NAMESPACE, '--timeout=120s'], { timeoutMs: 130_000 });
    }
  }, 300_000);

  it('drains each node without the database, one after another, with no failed vote', async () => {
    const s = stack();
    await waitReady(s);
    const [db] = await podsOf(s, 'database');
    if (!db) throw new Error('no database pod');
    const others = (await nodes(s)).filter((n) => n !== db.node);
    expect(others.length).toBe(2);
    const r = await underLoad(s, async () => {
      const took: Record<string, number> = {};
      for (const n of others) {
        const at = Date.now();
        await drain(s, n);
        took[n] = Date.now() - at;
        // Nothing of the stack is left there (DaemonSets aside).
        const left = (await Promise.all(REPLICATED.map((c) => podsOf(s, c)))).flat().filter((p) => p.node === n);
        expect(left.map((p) => p.name), `stack pods left on ${n}`).toEqual([]);
        await s.kubectl(['uncordon', n]);
        await waitReady(s);
      }
      return took;
    });
    console.log(`${figures('drain the two nodes without the database', r.load)}; drain ms ${JSON.stringify(r.value)}`);
    expect(r.load.failures).toEqual({});
    expect(r.stored).toEqual(checkStoredOk);
    // The database never moved.
    expect((await podsOf(s, 'database')).map((p) => p.uid)).toEqual([db.uid]);
  }, 900_000);

  it('drains the database\'s node: votes refused with 503 and Retry-After, none lost, status names the node, votes again within 30 s of the uncordon', async () => {
    const s = stack();
    await waitReady(s);
    const [db] = await podsOf(s, 'database');
    if (!db) throw new Error('no database pod');
    const probes: Probe[] = [];
    let cordonedAt = 0;
    let uncordonedAt = 0;
    let said = '';
    const r = await underLoad(s, async () => {
      let probing = true;
      const prober = (async () => {
        while (probing) {
          probes.push(await probe(s.url));
          await sleep(250);
        }
      })();
      try {
        cordonedAt = Date.now();
        await drain(s, db.node);
        // The database's pod waits for its node; status says which and why.
        const until = Date.now() + 60_000;
        for (;;) {
          const ready = (await secureVote(s)).status?.conditions?.find((c) => c.type === 'Ready');
          if (ready?.status === 'False' && ready.reason === 'NodeCordoned') {
            said = ready.message ?? '';
            break;
          }
          if (Date.now() > until) throw new Error(`status never named the cordoned node: ${JSON.stringify(ready)}`);
          await sleep(1_000);
        }
        uncordonedAt = Date.now();
        await s.kubectl(['uncordon', db.node]);
        const back = Date.now() + 60_000;
        while (Date.now() < back && !probes.some((p) => p.at > uncordonedAt && p.vote === 201)) await sleep(500);
      } finally {
        probing = false;
        await prober;
      }
      await waitReady(s);
    }, { maxDurationMs: 900_000 });
    console.log(`${figures('drain the database\'s node', r.load)}; status said "${said}"`);
    expect(said).toContain(db.node);
    expect(said).toContain('cordoned');
    const during = probes.filter((p) => p.at >= cordonedAt && p.at <= uncordonedAt);
    const refused = during.filter((p) => p.vote !== 201);
    expect(refused.length, 'votes refused while the database was away').toBeGreaterThan(0);
    expect(new Set(refused.map((p) => p.vote)), 'statuses of refused votes').toEqual(new Set([503]));
    expect(refused.every((p) => p.retryAfter !== null), 'every 503 carries Retry-After').toBe(true);
    expect(during.filter((p) => p.page !== 200).map((p) => p.page), 'page statuses other than 200').toEqual([]);
    const firstVote = probes.find((p) => p.at > uncordonedAt && p.vote === 201);
    expect(firstVote, 'a vote acknowledged after the uncordon').toBeDefined();
    console.log(`first acknowledged vote ${(firstVote?.at ?? NaN) - uncordonedAt} ms after the uncordon`);
    expect((firstVote?.at ?? Infinity) - uncordonedAt, 'ms from the uncordon to the first acknowledged vote').toBeLessThan(30_000);
    expect(Object.keys(r.load.failures).filter((k) => k !== '503'), 'failures other than 503').toEqual([]);
    expect(r.stored).toEqual(checkStoredOk);
    // The same data came back: the database's pod is new, on the same node.
    const [after] = await podsOf(s, 'database');
    expect(after?.node).toBe(db.node);
    expect(after?.uid).not.toBe(db.uid);
  }, 900_000);
});
