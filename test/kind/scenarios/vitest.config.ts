import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The day-two scenarios: one kind cluster for all (cluster.setup.ts), the
// files one after another, since each changes the one stack and leaves it Ready.
export default defineConfig({
  root: fileURLToPath(new URL('../../..', import.meta.url)),
  test: {
    include: ['test/kind/scenarios/**/*.test.ts'],
    globalSetup: ['test/kind/scenarios/cluster.setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 1_500_000,
    teardownTimeout: 300_000,
    reporters: ['default'],
  },
});
