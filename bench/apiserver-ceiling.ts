// `make bench-ceiling`: how fast the benchmark's control plane takes the
// operator's writes when no operator does the work. The same local control
// plane and kwok node as bench/operator.ts, N SecureVotes created (no
// operator runs), then every child the operator would render for them
// server-side applied by a bare client, as many at once as the operator's
// workers do (8 reconciles × 4 applies). The time to the last apply is a
// floor for the operator's "all children written" at that size on this
// machine: no operator can write them faster than the API server takes them.
//
//   node bench/apiserver-ceiling.ts [--size 1000] [--parallel 32]
import { readFileSync } from 'node:fs';
import { HttpMethod } from '@kubernetes/client-node';
import { parseSpec } from '../charts/spec.ts';
import { defaultConfig, type KObject } from '../operator/context.ts';
import { renderChildren } from '../operator/desired.ts';
import { KubeClient, makeRawKubeApi } from '../operator/kube.ts';
import { startControlPlane } from '../test/fixtures/controlplane.ts';
import { machineCpuSeconds } from './machine-cpu.ts';
import { SV_API, createBigNode, createVolumes, installCrd } from '../test/operator/cluster.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
};
const size = Number(arg('size', '1000'));
const parallel = Number(arg('parallel', String(defaultConfig.concurrency * 4)));

for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => process.exit(143));
const cp = await startControlPlane({ controllers: true, scheduler: true, kwokNodes: 1 });
try {
  await installCrd(cp);
  await createBigNode(cp);
  await createVolumes(cp, size + 5);
  const raw = makeRawKubeApi(cp.kubeConfig);
  const kube = new KubeClient(raw, defaultConfig.fieldManager);
  const ns = `ceiling-${size}`;
  await cp.kubectl(['create', 'namespace', ns]);
  const path = await raw.pathOf({ apiVersion: SV_API, kind: 'SecureVote', namespace: ns }, 'create');
  // The owners exist (the garbage collector would delete children of a missing one).
  const owners: KObject[] = [];
  for (let i = 0; i < size; i += 20) {
    const batch = Array.from({ length: Math.min(20, size - i) }, (_, j) => `sv-${i + j}`);
    owners.push(...((await Promise.all(batch.map((name) => raw.send(HttpMethod.POST, path, { body: { apiVersion: SV_API, kind: 'SecureVote', metadata: { name, namespace: ns }, spec: {} } })))) as KObject[]));
  }
  const children = owners.flatMap((sv) => {
    const parsed = parseSpec(sv.spec);
    if (!parsed.ok) throw new Error(`spec of ${sv.metadata.name}: ${parsed.errors.join('; ')}`);
    return renderChildren(sv, parsed.spec);
  });
  const cpuFrom = machineCpuSeconds();
  const t0 = Date.now();
  let next = 0;
  // A refused or timed-out apply is tried again, as the operator's queue
  // would (with its deadline per request), and counted.
  const retries: Record<string, number> = {};
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < children.length) {
      const child = children[next++] as KObject;
      for (let attempt = 1; ; attempt++) {
        try {
          await kube.apply(child);
          break;
        } catch (err) {
          const why = (err as { name?: string; code?: number }).name === 'TimeoutError' ? 'timeout' : String((err as { code?: number }).code ?? 'error');
          retries[why] = (retries[why] ?? 0) + 1;
          if (attempt >= 10) throw err;
        }
      }
    }
  }));
  const seconds = (Date.now() - t0) / 1000;
  const row = {
    resources: size,
    applies: children.length,
    parallel,
    allAppliedSeconds: Math.round(seconds * 10) / 10,
    appliesPerSecond: Math.round(children.length / seconds),
    retries,
    machineCpuSeconds: Math.round(machineCpuSeconds() - cpuFrom),
    loadAverage: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
  };
  console.log(JSON.stringify(row));
  console.log(`\n${size} resources' ${children.length} children applied by a bare client, ${parallel} at once: ${row.allAppliedSeconds} s (${row.appliesPerSecond}/s, retried ${JSON.stringify(retries)}), the machine busy ${row.machineCpuSeconds} CPU s, load ${row.loadAverage}.`);
} finally {
  await cp.stop();
}
