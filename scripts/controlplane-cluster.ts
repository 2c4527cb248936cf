// `make cluster-up` / `make cluster-down`: the local default cluster (etcd,
// kube-apiserver, controller manager, scheduler, kwok nodes) left running in
// the background, its state in one directory.
//
//   node scripts/controlplane-cluster.ts up <dir> [nodes]
//   node scripts/controlplane-cluster.ts down <dir>
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pidAlive, startControlPlane, stopDetachedControlPlane } from '../test/fixtures/controlplane.ts';

const [verb, dirArg, nodesArg] = process.argv.slice(2);
if (!dirArg || (verb !== 'up' && verb !== 'down')) {
  console.error('usage: controlplane-cluster.ts up|down <dir> [nodes]');
  process.exit(2);
}
const dir = resolve(dirArg);
const kubeconfig = join(dir, 'kubeconfig');

if (verb === 'down') {
  const stopped = await stopDetachedControlPlane(dir);
  console.log(stopped.length ? `stopped ${stopped.join(', ')}; removed ${dir}` : `nothing running; removed ${dir}`);
} else {
  const pidsFile = join(dir, 'pids.json');
  const running = existsSync(pidsFile) && Object.values(JSON.parse(readFileSync(pidsFile, 'utf8')) as Record<string, number>).every(pidAlive);
  if (running) {
    console.log(`cluster already running (state in ${dir})`);
  } else {
    // A half-dead cluster (a reboot, a killed process) is cleared and started afresh.
    await stopDetachedControlPlane(dir);
    const cp = await startControlPlane({ controllers: true, scheduler: true, kwokNodes: Number(nodesArg ?? 2), dir, detached: true });
    console.log(`cluster up in ${(cp.timings.total ?? 0) / 1000}s: ${cp.server}, pids ${JSON.stringify(cp.pids)}, logs in ${dir}`);
  }
  console.log(`KUBECONFIG=${kubeconfig}`);
}
