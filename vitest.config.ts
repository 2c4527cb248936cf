import { defineConfig } from 'vitest/config';

// Tests start real servers (PostgreSQL, Redis, nginx, kube-apiserver...), so
// they run in child processes with generous hook timeouts; no test is timed
// for speed (speed lives in `make bench`).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    reporters: ['default'],
  },
});
