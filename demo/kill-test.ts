// `make kill-test [COMPONENT=backend]`: the seed's kill_test.sh against the
// stack make demo runs. The load goes through the page's URL; a second in,
// the component's pod is deleted at once (no grace period: a crash, not a
// rollout); then the time until /health answers 200 again, and whether every
// acknowledged vote is in PostgreSQL (read with psql inside the database pod: test/load/votes-in-postgres.ts).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { COMPONENTS, type Component } from '../charts/rules.ts';
import { formatKillResult, runKill } from '../test/load/kill.ts';
import type { Ack } from '../test/load/load.ts';
import { compareWithRecord, votesInClusterDatabase } from '../test/load/votes-in-postgres.ts';
import { DEMO, demoKubeconfig } from './settings.ts';

const REPO = join(import.meta.dirname, '..');
const component = (process.env.COMPONENT ?? 'backend') as Component;
if (!COMPONENTS.includes(component)) {
  console.error(`make kill-test: COMPONENT must be one of ${COMPONENTS.join(', ')}`);
  process.exit(2);
}
const kubeconfig = demoKubeconfig();
if (!existsSync(kubeconfig)) {
  console.error(`make kill-test: no demo cluster (${kubeconfig} is missing): run make demo first`);
  process.exit(2);
}
const kubectl = execFileSync(join(REPO, 'scripts/kind-cluster.sh'), ['kubectl'], { encoding: 'utf8' }).trim();
const k = (args: string[]): string => execFileSync(kubectl, ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).trim();

console.log(`==> kill-test: deleting the ${component} pod under the seed's load (2,000 votes, 30 in parallel) through http://127.0.0.1:${DEMO.port}`);
const r = await runKill({
  url: `http://127.0.0.1:${DEMO.port}`,
  votes: 2_000,
  parallel: 30,
  recoveryTimeoutMs: 90_000,
  kill: () => {
    k(['-n', DEMO.namespace, 'delete', 'pod', '-l', `app.kubernetes.io/component=${component}`, '--grace-period=0', '--force', '--wait=false']);
  },
  checkVotes: async (acks: Ack[]) => compareWithRecord(acks, await votesInClusterDatabase(k, DEMO.namespace)),
});
console.log(formatKillResult(r));
process.exit(r.ok ? 0 : 1);
