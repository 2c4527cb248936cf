// `make bench-operator`: the operator's benchmark on a real control plane
// with kwok nodes (pods simulated). Measures, for 1, 100 and 1,000
// SecureVotes: time from create to all children written (from the
// operator's own "children written" log line per resource) and to Ready
// (polled with kubectl, so parsing a thousand objects doesn't load this
// process); reconciles per second; API requests per resource, by verb, from
// the operator's own request counter (informer list/watch not included; the
// exact count through a proxy is asserted in reconcile.test.ts); the
// operator's CPU time, peak RSS (VmHWM) and the peak of its used V8 heap
// (sampled from its /metrics at every poll); the writes sent at rest. The
// operator runs with the heap ceiling its install gives it
// (charts/operator-install.ts OPERATOR_ENV), so a cache that
// outgrows it shows here as garbage-collection time or a crash, not only as
// a bigger number. BENCH_OPERATOR_NODE_OPTIONS adds Node options (e.g.
// --heapsnapshot-signal=SIGUSR2 to look inside), BENCH_OPERATOR_NODE_ARGS
// V8 flags NODE_OPTIONS refuses (--optimize-for-size), and MALLOC_* variables and
// DESIRED_CACHE_SIZE in its environment reach the operator. Bounded: each phase has a
// deadline.
//
// The periodic resync is the install's (5 min) unless --resync-s says
// otherwise: a 20 s resync re-reconciles a thousand resources faster than
// two cores can, and the queue never drains (use it with 100 or fewer to
// count what a resync of settled resources costs at rest).
//
//   node bench/operator.ts [--sizes 1,100,1000] [--deadline-s 300] [--heap-mb 192] [--resync-s 300]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpMethod } from '@kubernetes/client-node';
import { OPERATOR_ENV } from '../charts/operator-install.ts';
import { startControlPlane } from '../test/fixtures/controlplane.ts';
import { defaultConfig } from '../operator/context.ts';
import { machineCpuSeconds } from './machine-cpu.ts';
import { makeRawKubeApi } from '../operator/kube.ts';
import { SV_API, createBigNode, createVolumes, installCrd } from '../test/operator/cluster.ts';
import { REPO, startOperator } from '../test/operator/helpers.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
};
const sizes = arg('sizes', '1,100,1000').split(',').map(Number);
const deadlineMs = Number(arg('deadline-s', '300')) * 1000;
const heapMb = Number(arg('heap-mb', '192'));
const resyncS = Number(arg('resync-s', String(defaultConfig.resyncMs / 1000)));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// A timeout's SIGTERM must still stop what we started ('exit' handlers: the
// operator child, the control plane's processes, the directories).
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => process.exit(143));
const dir = mkdtempSync(join(tmpdir(), 'sv-op-bench-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
const cp = await startControlPlane({ controllers: true, scheduler: true, kwokNodes: 1 });
const results: Record<string, unknown>[] = [];
let peakRss = 0;
try {
  await installCrd(cp);
  await createBigNode(cp);
  await createVolumes(cp, sizes.reduce((a, b) => a + b, 0) + 5);
  const raw = makeRawKubeApi(cp.kubeConfig);
  // What the image runs: the bundle (images/operator/bundle.ts), not the sources.
  const bundle = join(dir, 'bundle');
  execFileSync(process.execPath, [join(REPO, 'images/operator/bundle.ts'), bundle], { cwd: REPO, stdio: 'inherit' });
  const nodeArgs = (process.env.BENCH_OPERATOR_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const op = await startOperator({ kubeconfigPath: cp.kubeconfigPath, dir, name: 'bench', entry: join(bundle, 'operator.mjs'), nodeArgs, env: {
      LEADER_ELECT: 'false',
      LOG_LEVEL: 'info',
      RESYNC_SECONDS: String(resyncS),
      ...OPERATOR_ENV,
      NODE_OPTIONS: [OPERATOR_ENV.NODE_OPTIONS.replace(/--max-old-space-size=\d+/, `--max-old-space-size=${heapMb}`), process.env.BENCH_OPERATOR_NODE_OPTIONS ?? ''].join(' ').trim(),
      // glibc's tunables from the caller's environment (MALLOC_ARENA_MAX=4 …): what a malloc setting is worth.
      ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('MALLOC_') && e[1] !== undefined)),
      // The rendering cache's size, from the caller's environment: what a rendering kept is worth.
      ...(process.env.DESIRED_CACHE_SIZE ? { DESIRED_CACHE_SIZE: process.env.DESIRED_CACHE_SIZE } : {}),
    },
  });
  console.log(JSON.stringify({ operatorPid: op.pid, logFile: op.logFile }));
  /** The operator's request counter, by verb. */
  const requests = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const m of (await op.metrics()).matchAll(/^securevote_operator_api_requests_total\{verb="([^"]+)"\} (\d+)/gm)) out[m[1] as string] = Number(m[2]);
    return out;
  };
  const diff = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
  const sum = (r: Record<string, number>, writesOnly = false): number =>
    Object.entries(r).filter(([k]) => !writesOnly || (k !== 'get' && k !== 'list')).reduce((a, [, v]) => a + v, 0);
  /**
   * Resources settled: Ready and no longer Progressing (the migration Job
   * done), each condition at the current generation, as the scenario tests
   * wait for. Ready alone comes before the migration's end.
   */
  const readyCount = async (ns: string): Promise<number> => {
    const cond = (t: string): string => `{.status.conditions[?(@.type=="${t}")].status}/{.status.conditions[?(@.type=="${t}")].observedGeneration}`;
    const r = await cp.kubectl(['get', 'securevotes', '-n', ns, '-o', `jsonpath={range .items[*]}{.metadata.generation} ${cond('Ready')} ${cond('Progressing')}{"\\n"}{end}`], { check: false });
    return r.stdout.split('\n').filter((l) => {
      const [g, ready, progressing] = l.split(' ');
      return ready === `True/${g}` && progressing === `False/${g}`;
    }).length;
  };
  let peakHeap = 0;
  let lastHeap = 0;
  /**
   * The operator's used V8 heap now (prom-client's default metric), and the
   * peak so far. The peak counts garbage not yet collected; the last sample,
   * at rest, is closer to what the process keeps.
   */
  const sampleHeap = async (): Promise<void> => {
    const m = /^securevote_operator_nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)/m.exec(await op.metrics());
    if (m) lastHeap = Number(m[1]);
    peakHeap = Math.max(peakHeap, lastHeap);
  };
  const rss = (): number => {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${op.pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  };
  /** CPU seconds the operator used (user + system), to tell its share from the control plane's. */
  const cpuSeconds = (): number => {
    const f = readFileSync(`/proc/${op.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  const reconciles = async (): Promise<number> => {
    let n = 0;
    for (const m of (await op.metrics()).matchAll(/^securevote_operator_reconciles_total\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
    return n;
  };
  /** Renderings synthesized (the rendering cache's misses). */
  const renders = async (): Promise<number> => Number(/^securevote_operator_renders_total (\d+)/m.exec(await op.metrics())?.[1] ?? 0);
  const svPath = async (ns: string): Promise<string> => raw.pathOf({ apiVersion: SV_API, kind: 'SecureVote', namespace: ns }, 'create');

  for (const size of sizes) {
    const ns = `bench-${size}`;
    await cp.kubectl(['create', 'namespace', ns]);
    const names = Array.from({ length: size }, (_, i) => `sv-${i}`);
    const reqFrom = await requests();
    const cpuFrom = cpuSeconds();
    const machineFrom = machineCpuSeconds();
    const recFrom = await reconciles();
    const rendersFrom = await renders();
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
      await sampleHeap();
      ready = await readyCount(ns);
      if (ready === size) {
        readyAt = Date.now() - t0;
        break;
      }
      await sleep(size === 1 ? 100 : 2000);
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
    const reqs = diff(reqFrom, await requests());
    peakRss = Math.max(peakRss, rss());
    const row = {
      resources: size,
      createSeconds: created / 1000,
      allChildrenWrittenSeconds: childrenAt ? childrenAt / 1000 : null,
      allReadySeconds: readyAt ? readyAt / 1000 : null,
      readyAtDeadline: ready,
      reconciles: recs,
      reconcilesPerSecond: Math.round((recs / seconds) * 10) / 10,
      renders: (await renders()) - rendersFrom,
      requestsPerResource: Math.round((sum(reqs) / size) * 10) / 10,
      writesPerResource: Math.round((sum(reqs, true) / size) * 10) / 10,
      requestsByVerb: reqs,
      peakRssMiB: Math.round(peakRss / 2 ** 20),
      peakHeapUsedMiB: Math.round(peakHeap / 2 ** 20),
      operatorCpuSeconds: Math.round((cpuSeconds() - cpuFrom) * 10) / 10,
      machineCpuSeconds: Math.round(machineCpuSeconds() - machineFrom),
      loadAverage: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
    };
    results.push(row);
    console.log(JSON.stringify(row));
  }

  // At rest: every resource Ready, nothing changing. Writes in 15 s.
  await sleep(5000);
  const restFrom = await requests();
  const recRest = await reconciles();
  await sleep(15_000);
  await sampleHeap();
  const restRequests = diff(restFrom, await requests());
  const restWrites = sum(restRequests, true);
  const atRest = { atRestSeconds: 15, resyncSeconds: resyncS, writesAtRest: restWrites, requestsAtRestByVerb: restRequests, reconcilesAtRest: (await reconciles()) - recRest, peakRssMiB: Math.round(Math.max(peakRss, rss()) / 2 ** 20), peakHeapUsedMiB: Math.round(peakHeap / 2 ** 20), heapUsedAtRestMiB: Math.round(lastHeap / 2 ** 20), rssAtRestMiB: Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${op.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024) };
  console.log(JSON.stringify(atRest));
  results.push(atRest);
  await op.stop();
  // The operator's log, kept for a look after the run.
  const work = process.env.SECUREVOTE_WORK ?? join(REPO, '.work');
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'bench-operator.log'), op.logs());
} finally {
  await cp.stop();
  rmSync(dir, { recursive: true, force: true });
}

const work = process.env.SECUREVOTE_WORK ?? join(REPO, '.work');
mkdirSync(work, { recursive: true });
writeFileSync(join(work, 'bench-operator.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log('\n| resources | all children written | all Ready | reconciles/s | API requests / resource (writes) | operator CPU of the machine CPU | peak RSS | peak heap used | load avg |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of results.filter((x) => 'resources' in x)) {
  const s = (v: unknown): string => (v === null ? 'deadline' : `${v} s`);
  console.log(
    `| ${r.resources} | ${s(r.allChildrenWrittenSeconds)} | ${s(r.allReadySeconds)} | ${r.reconcilesPerSecond} | ${r.requestsPerResource} (${r.writesPerResource}) | ${r.operatorCpuSeconds} s of ${r.machineCpuSeconds} s | ${r.peakRssMiB} MiB | ${r.peakHeapUsedMiB} MiB | ${r.loadAverage} |`,
  );
}
const rest = results.find((x) => 'writesAtRest' in x);
console.log(`\nAt rest (${rest?.atRestSeconds} s after the last size, resync ${rest?.resyncSeconds} s): ${rest?.writesAtRest} writes, ${rest?.reconcilesAtRest} reconciles, heap used ${rest?.heapUsedAtRestMiB} MiB, RSS ${rest?.rssAtRestMiB} MiB. Results in ${join(work, 'bench-operator.json')}.`);
