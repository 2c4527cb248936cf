// `make status`: the seed's `docker compose ps` and `docker stats` for the
// stack make demo runs (or KUBECONFIG's, namespace DEMO_NAMESPACE): per
// component, its pods, whether they are ready, their restarts, and the CPU
// and memory each uses against its limit, read from the kubelet's stats
// (/stats/summary through the API server's node proxy: no metrics-server
// needed).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { COMPONENTS } from '../charts/rules.ts';
import { quantityValue } from '../charts/quantity.ts';
import { DEMO, demoKubeconfig } from './settings.ts';

const REPO = join(import.meta.dirname, '..');
const kubectl = execFileSync(join(REPO, 'scripts/kind-cluster.sh'), ['kubectl'], { encoding: 'utf8' }).trim();
const kubeconfig = process.env.KUBECONFIG ?? demoKubeconfig();
if (!existsSync(kubeconfig)) {
  console.error(`make status: no cluster: ${kubeconfig} is missing (run make demo, or set KUBECONFIG)`);
  process.exit(2);
}
const k = (args: string[]): string => execFileSync(kubectl, ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

interface Pod {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName?: string; containers: Array<{ name: string; resources?: { limits?: Record<string, string> } }> };
  status: { phase?: string; conditions?: Array<{ type: string; status: string }>; containerStatuses?: Array<{ restartCount: number }> };
}
interface Summary { pods?: Array<{ podRef: { name: string; namespace: string }; containers?: Array<{ name: string; cpu?: { usageNanoCores?: number }; memory?: { workingSetBytes?: number } }> }> }

const pods = (JSON.parse(k(['get', 'pods', '-n', DEMO.namespace, '-l', 'app.kubernetes.io/part-of=securevote', '-o', 'json'])) as { items: Pod[] }).items
  .filter((p) => !p.metadata.deletionTimestamp);
const usage = new Map<string, { cpu: number; mem: number }>();
for (const node of new Set(pods.map((p) => p.spec.nodeName).filter((n): n is string => !!n))) {
  const s = JSON.parse(k(['get', '--raw', `/api/v1/nodes/${node}/proxy/stats/summary`])) as Summary;
  for (const p of s.pods ?? []) {
    if (p.podRef.namespace !== DEMO.namespace) continue;
    for (const c of p.containers ?? []) usage.set(`${p.podRef.name}/${c.name}`, { cpu: (c.cpu?.usageNanoCores ?? 0) / 1e9, mem: c.memory?.workingSetBytes ?? 0 });
  }
}

const pct = (used: number, limit: number | undefined): string => (limit ? `${((100 * used) / limit).toFixed(0)}%` : '-');
const rows: string[][] = [['COMPONENT', 'POD', 'READY', 'RESTARTS', 'CPU', 'CPU LIMIT', 'CPU %', 'MEMORY', 'MEM LIMIT', 'MEM %']];
for (const c of COMPONENTS) {
  const mine = pods.filter((p) => p.metadata.labels?.['app.kubernetes.io/component'] === c);
  if (mine.length === 0) rows.push([c, '(no pod)', 'no', '-', '-', '-', '-', '-', '-', '-']);
  for (const p of mine) {
    const main = p.spec.containers[0];
    const u = usage.get(`${p.metadata.name}/${main?.name}`) ?? { cpu: 0, mem: 0 };
    const cpuLimit = main?.resources?.limits?.cpu;
    const memLimit = main?.resources?.limits?.memory;
    const ready = p.status.conditions?.find((x) => x.type === 'Ready')?.status === 'True';
    rows.push([
      c, p.metadata.name, ready ? 'yes' : `no (${p.status.phase ?? '?'})`, String((p.status.containerStatuses ?? []).reduce((n, s) => n + s.restartCount, 0)),
      `${(u.cpu * 1000).toFixed(0)}m`, cpuLimit ?? '-', pct(u.cpu, cpuLimit ? quantityValue(cpuLimit) : undefined),
      `${(u.mem / 2 ** 20).toFixed(0)}Mi`, memLimit ?? '-', pct(u.mem, memLimit ? quantityValue(memLimit) : undefined),
    ]);
  }
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
for (const r of rows) console.log(r.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
const healthy = COMPONENTS.every((c) => pods.some((p) => p.metadata.labels?.['app.kubernetes.io/component'] === c && p.status.conditions?.find((x) => x.type === 'Ready')?.status === 'True'));
console.log(`\n${healthy ? 'healthy: every component has a ready pod' : 'NOT healthy: a component has no ready pod'} (namespace ${DEMO.namespace}; usage from the kubelet, main container of each pod)`);
process.exit(healthy ? 0 : 1);
