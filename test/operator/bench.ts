// `make bench-operator`: the operator's benchmark on a real control plane
// with kwok nodes (pods simulated). Measures, for 1, 100 and 1,000
// SecureVotes: time from create to all children written (from the
// operator's own "children written" log line per resource) and to Ready
// (polled); reconciles per second; API requests per resource (a counting
// proxy sees every request the operator sends); the operator's peak RSS
// (VmHWM); and the writes sent at rest. Bounded: each phase has a deadline.
//
//   node test/operator/bench.ts [--sizes 1,100,1000] [--deadline-s 300]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpMethod } from '@kubernetes/client-node';
import { startControlPlane } from '../fixtures/controlplane.ts';
import { makeRawKubeApi } from '../../operator/kube.ts';
import { Api, SV_API, condition, createBigNode, createVolumes, installCrd } from './cluster.ts';
import { REPO, startCountingProxy, startOperator } from './helpers.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
};
const sizes = arg('sizes', '1,100,1000').split(',').map(Number);
const deadlineMs = Number(arg('deadline-s', '300')) * 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'sv-op-bench-'));
const cp = await startControlPlane({ controllers: true, scheduler: true, kwokNodes: 1 });
const results: Record<string, unknown>[] = [];
let peakRss = 0;
try {
  await installCrd(cp);
  await createBigNode(cp);
  await createVolumes(cp, sizes.reduce((a, b) => a + b, 0) + 5);
  const api = new Api(cp);
  const raw = makeRawKubeApi(cp.kubeConfig);
  const proxy = await startCountingProxy(cp.kubeConfig, dir);
  const op = await startOperator({ kubeconfigPath: proxy.kubeconfigPath, dir, name: 'bench', env: { LEADER_ELECT: 'false', LOG_LEVEL: 'info', RESYNC_SECONDS: '20' } });
  const rss = (): number => {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${op.pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  };
  const reconciles = async (): Promise<number> => {
    let n = 0;
    for (const m of (await op.metrics()).matchAll(/^securevote_operator_reconciles_total\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
    return n;
  };
  const svPath = async (ns: string): Promise<string> => raw.pathOf({ apiVersion: SV_API, kind: 'SecureVote', namespace: ns }, 'create');

  for (const size of sizes) {
    const ns = `bench-${size}`;
    await cp.kubectl(['create', 'namespace', ns]);
    const names = Array.from({ length: size }, (_, i) => `sv-${i}`);
    const reqFrom = proxy.requests.length;
    const recFrom = await reconciles();
    const logFrom = op.logs().length;
    const path = await svPath(ns);
    const t0 = Date.now();
    // Create them from here (no kubectl start-up in the measured time), 20 at a time.
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(
        names.slice(i, i + 20).map((name) => raw.send(HttpMethod.POST, path, { body: { apiVersion: SV_API, kind: 'SecureVote', metadata: { name, namespace: ns }, spec: {} } })),
      );
    }
    const created = Date.now() - t0;
    // Ready: poll the list every second.
    let readyAt = 0;
    let ready = 0;
    while (Date.now() - t0 < deadlineMs) {
      const list = await api.list(SV_API, 'SecureVote', ns);
      ready = list.filter((s) => condition(s, 'Ready')?.status === 'True').length;
      if (ready === size) {
        readyAt = Date.now() - t0;
        break;
      }
      await sleep(size === 1 ? 100 : 1000);
    }
    // Children written: the first "children written" line of each resource.
    const firstWrite = new Map<string, number>();
    for (const line of op.logs().slice(logFrom).split('\n')) {
      if (!line.includes('"children written"')) continue;
      const l = JSON.parse(line) as { key: string; time: number };
      if (l.key.startsWith(`${ns}/`) && !firstWrite.has(l.key)) firstWrite.set(l.key, l.time);
    }
    const childrenAt = firstWrite.size === size ? Math.max(...firstWrite.values()) - t0 : 0;
    const seconds = (Date.now() - t0) / 1000;
    const recs = (await reconciles()) - recFrom;
    const reqs = proxy.requests.slice(reqFrom).filter((r) => !r.watch);
    const writes = reqs.filter((r) => r.method !== 'GET');
    peakRss = Math.max(peakRss, rss());
    const row = {
      resources: size,
      createSeconds: created / 1000,
      allChildrenWrittenSeconds: childrenAt ? childrenAt / 1000 : null,
      allReadySeconds: readyAt ? readyAt / 1000 : null,
      readyAtDeadline: ready,
      reconciles: recs,
      reconcilesPerSecond: Math.round((recs / seconds) * 10) / 10,
      requestsPerResource: Math.round((reqs.length / size) * 10) / 10,
      writesPerResource: Math.round((writes.length / size) * 10) / 10,
      peakRssMiB: Math.round(peakRss / 2 ** 20),
    };
    results.push(row);
    console.log(JSON.stringify(row));
  }

  // At rest: every resource Ready, nothing changing. Writes in 15 s.
  await sleep(5000);
  const restFrom = proxy.requests.length;
  const recRest = await reconciles();
  await sleep(15_000);
  const restWrites = proxy.writes(restFrom);
  const atRest = { atRestSeconds: 15, writesAtRest: restWrites.length, reconcilesAtRest: (await reconciles()) - recRest, peakRssMiB: Math.round(Math.max(peakRss, rss()) / 2 ** 20) };
  console.log(JSON.stringify(atRest));
  results.push(atRest);
  await op.stop();
  await proxy.close();
} finally {
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
}

const work = process.env.SECUREVOTE_WORK ?? join(REPO, '.work');
mkdirSync(work, { recursive: true });
writeFileSync(join(work, 'bench-operator.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log('\n| resources | all children written | all Ready | reconciles/s | API requests / resource (writes) | peak RSS |');
console.log('|---|---|---|---|---|---|');
for (const r of results.filter((x) => 'resources' in x)) {
  const s = (v: unknown): string => (v === null ? 'deadline' : `${v} s`);
  console.log(`| ${r.resources} | ${s(r.allChildrenWrittenSeconds)} | ${s(r.allReadySeconds)} | ${r.reconcilesPerSecond} | ${r.requestsPerResource} (${r.writesPerResource}) | ${r.peakRssMiB} MiB |`);
}
const rest = results.find((x) => 'writesAtRest' in x);
console.log(`\nAt rest (${rest?.atRestSeconds} s, every resource Ready): ${rest?.writesAtRest} writes, ${rest?.reconcilesAtRest} reconciles. Results in ${join(work, 'bench-operator.json')}.`);
