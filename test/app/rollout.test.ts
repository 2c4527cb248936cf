// A rollout under load drops no vote: nginx in front of two real backends
// (real PostgreSQL and Redis), one backend SIGTERMed in the middle of a load.
// The load tool's own retries are off here, so every vote must succeed on
// the servers' behaviour alone: the drain (not ready, still accepting,
// Connection: close) and nginx trying the next backend for a request that
// reached none.
import type pg from 'pg';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginx, type NginxServer } from '../../app/local/nginx.ts';
import { runLoad } from '../load/load.ts';
import { scratch, sql, startBackend, startDeps, type Backend, type Deps } from './backend-fixture.ts';

const work = scratch('rollout');
let deps: Deps;
let backends: Backend[] = [];
let nginx: NginxServer | undefined;
let db: pg.Client | undefined;

beforeAll(async () => {
  try {
    deps = await startDeps(work.dir);
    const env = { ...deps.env(), DRAIN_LINGER_MS: '1000', DRAIN_TIMEOUT_MS: '5000', LOG_LEVEL: 'info' };
    backends = await Promise.all([startBackend(join(work.dir, 'b1'), env), startBackend(join(work.dir, 'b2'), env)]);
    nginx = await startNginx({
      dir: join(work.dir, 'nginx'),
      frontend: { host: '127.0.0.1', port: 9 }, // unused here
      backend: backends.map((b) => ({ host: '127.0.0.1', port: b.port })),
    });
  } catch (err) {
    await teardown();
    throw err;
  }
});

async function teardown(): Promise<void> {
  await db?.end().catch(() => {});
  await nginx?.stop().catch(() => {});
  await Promise.allSettled(backends.map((b) => b.stop()));
  await deps?.stop();
  work.remove();
}
afterAll(teardown);

describe('rollout under load', () => {
  it('a backend SIGTERMed mid-load: zero failed votes with no client retry, every acknowledged vote stored once', async () => {
    const load = runLoad({ url: nginx!.url, votes: 600, parallel: 12, optionIds: ['red', 'green'], progress: false, retries: 0 });
    await new Promise((r) => setTimeout(r, 400));
    const [leaving] = backends;
    process.kill(leaving!.pid, 'SIGTERM');
    const r = await load;
    const exit = await leaving!.srv.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(r.failures).toEqual({});
    expect(r.retries).toEqual({});
    expect(r.succeeded).toBe(600);
    db = await sql(deps.pg);
    const { rows } = await db.query<{ voter_id: string }>('SELECT voter_id FROM votes');
    expect(rows).toHaveLength(600);
    const stored = new Set(rows.map((x) => x.voter_id));
    expect(r.acknowledged.filter((a) => !stored.has(a.voterId))).toEqual([]);
    // Both backends served votes: the leaving one until it drained.
    expect(leaving!.logs()).toMatch(/"msg":"stopped"/);
  });
});
