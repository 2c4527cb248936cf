import { defineConfig } from 'vitest/config';

// Tests start real servers (PostgreSQL, Redis, nginx, kube-apiserver...), so
// they run in child processes with generous hook timeouts; no test is timed
// for speed (speed lives in `make bench`).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Four files at a time: the tests mostly wait on the servers they start,
    // and vitest's default (CPUs - 1) runs one file at a time on 2 cores.
    // On 2 cores the main run takes 3 min 18 s with four, 3 min 52 s with
    // three, 5 min 29 s with two, 10 min 20 s with one (BENCHMARKS.md).
    maxWorkers: 4,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    reporters: ['default'],
  },
});
