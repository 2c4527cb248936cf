import { defineConfig } from 'vitest/config';

// Tests start real servers (PostgreSQL, Redis, nginx, kube-apiserver...), so
// they run in child processes with generous hook timeouts; no test is timed
// for speed (speed lives in `make bench`).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Two files at a time: the tests mostly wait on the servers they start,
    // and vitest's default (CPUs - 1) runs one file at a time on 2 cores.
    // The main run takes 5 min 22 s instead of 10 min 20 s here (BENCHMARKS.md).
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    reporters: ['default'],
  },
});
