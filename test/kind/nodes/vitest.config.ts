import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The multi-node scenarios: one three-node kind cluster for all
// (cluster.setup.ts), the files one after another on the one stack.
export default defineConfig({
  root: fileURLToPath(new URL('../../..', import.meta.url)),
  test: {
    include: ['test/kind/nodes/**/*.test.ts'],
    globalSetup: ['test/kind/nodes/cluster.setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 900_000,
    teardownTimeout: 300_000,
    reporters: ['default'],
  },
});
