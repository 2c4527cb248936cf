import { fileURLToPath } from 'node:url';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The cluster starts under the previous release's operator
 * (cluster.setup.ts): the upgrade scenario runs first, the others after it on
 * this release's operator, in name order; monitoring last (it leaves
 * monitoring on, and a Prometheus running).
 */
class UpgradeFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification): string =>
      f.moduleId.endsWith('/operator-upgrade.test.ts') ? '0' : f.moduleId.endsWith('/monitoring.test.ts') ? '2' : `1${f.moduleId}`;
    return [...files].sort((a, b) => rank(a).localeCompare(rank(b)));
  }
}

// The day-two scenarios: one kind cluster for all (cluster.setup.ts), the
// files one after another, since each changes the one stack and leaves it Ready.
export default defineConfig({
  root: fileURLToPath(new URL('../../..', import.meta.url)),
  test: {
    include: ['test/kind/scenarios/**/*.test.ts'],
    // SECUREVOTE_UPGRADE_SCENARIO=no: the cluster starts on this release, no upgrade.
    exclude: process.env.SECUREVOTE_UPGRADE_SCENARIO === 'no' ? ['**/operator-upgrade.test.ts'] : [],
    globalSetup: ['test/kind/scenarios/cluster.setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    sequence: { sequencer: UpgradeFirst },
    testTimeout: 900_000,
    hookTimeout: 1_500_000,
    teardownTimeout: 300_000,
    reporters: ['default'],
  },
});
