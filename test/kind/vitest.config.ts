import { fileURLToPath } from 'node:url';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The files in the order they run. The cluster starts under the previous
 * release's operator (cluster.setup.ts): the upgrade scenario runs first,
 * the others on this release's operator; the multi-node ones after the rest
 * (their drains move every pod); monitoring last (it leaves monitoring on,
 * and a Prometheus running).
 */
const ORDER = [
  'scenarios/operator-upgrade',
  'scenarios/backup-restore',
  'scenarios/database-outage',
  'scenarios/migration-failure',
  'scenarios/node-limits',
  'scenarios/rollout',
  'scenarios/scale',
  'scenarios/stale-endpoint',
  'nodes/drain',
  'nodes/autoscale',
  'nodes/chaos',
  'scenarios/monitoring',
];

/** A file not in ORDER runs after the others, by name: a new scenario is never left out for want of a place. */
class InOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification): string => {
      const i = ORDER.findIndex((o) => f.moduleId.endsWith(`/test/kind/${o}.test.ts`));
      return i >= 0 ? String(i).padStart(3, '0') : `999${f.moduleId}`;
    };
    return [...files].sort((a, b) => rank(a).localeCompare(rank(b)));
  }
}

// The day-two scenarios, single- and multi-node: one kind cluster of three
// nodes for all (cluster.setup.ts), the files one after another, since each
// changes the one stack and leaves it Ready.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/kind/scenarios/**/*.test.ts', 'test/kind/nodes/**/*.test.ts'],
    // SECUREVOTE_UPGRADE_SCENARIO=no: the cluster starts on this release, no upgrade.
    exclude: process.env.SECUREVOTE_UPGRADE_SCENARIO === 'no' ? ['**/operator-upgrade.test.ts'] : [],
    globalSetup: ['test/kind/cluster.setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    sequence: { sequencer: InOrder },
    testTimeout: 900_000,
    hookTimeout: 1_500_000,
    teardownTimeout: 300_000,
    reporters: ['default'],
  },
});
