// The load and kill tools against the real local stack (app/local/stack.ts) on
// free ports in a scratch dir: what they count, and that the kill check does
// find a vote that is not in PostgreSQL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, killPid } from '../../app/local/process.ts';
import { downStack, upStack, type StackState } from '../../app/local/stack.ts';
import { runKill } from './kill.ts';
import { percentile, runLoad, voterIdFrom } from './load.ts';
import { checkVotesInPostgres, pgConnectionFromEnv, type PgConnection } from './votes-in-postgres.ts';

let dir: string;
let stack: StackState;
let pg: PgConnection;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'securevote-load-'));
  stack = await upStack({ dir: join(dir, 'stack'), ports: { proxy: await freePort() } });
  const p = stack.postgres;
  pg = pgConnectionFromEnv({ PGHOST: p.host, PGPORT: String(p.port), PGUSER: p.user, PGDATABASE: p.database, PGPASSWORD_FILE: p.passwordFile });
});

afterAll(async () => {
  try {
    if (dir) await downStack(join(dir, 'stack'));
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

describe('helpers', () => {
  it('reads the voter id from the backend cookie, not from any other cookie', () => {
    const id = '467174b0-8092-4d57-9677-3381775edfc7';
    expect(voterIdFrom({ body: '{"optionId":"cats"}', setCookie: [`sv_voter=v1.${id}.sig; Path=/; HttpOnly`] })).toBe(id);
    expect(voterIdFrom({ body: '{}', setCookie: [`other=v1.${id}.sig`] })).toBeUndefined();
    expect(voterIdFrom({ body: '{}', setCookie: ['sv_voter=garbage'] })).toBeUndefined();
  });

  it('computes nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBe(0);
  });

  it('rejects nonsense arguments', async () => {
    await expect(runLoad({ url: stack.url, votes: 0, parallel: 1 })).rejects.toThrow(/votes must be an integer/);
    await expect(runLoad({ url: 'https://example.org', votes: 1, parallel: 1 })).rejects.toThrow(/only http/);
  });
});

describe('load tool', () => {
  it('casts every vote as a new voter and each acknowledged vote is in PostgreSQL', async () => {
    const r = await runLoad({ url: stack.url, votes: 200, parallel: 20, progress: false });
    expect(r.attempted).toBe(200);
    expect(r.succeeded).toBe(200);
    expect(r.failures).toEqual({});
    expect(new Set(r.acknowledged.map((a) => a.voterId)).size).toBe(200);
    expect(r.latency.p50).toBeGreaterThan(0);
    expect(r.latency.p99).toBeGreaterThanOrEqual(r.latency.p50);
    const check = await checkVotesInPostgres(r.acknowledged, pg);
    expect(check).toEqual({ missing: [], wrongOption: [] });
  });

  it('the check reports votes that are not in the record', async () => {
    const check = await checkVotesInPostgres([{ voterId: '00000000-0000-4000-8000-000000000000', optionId: 'cats' }], pg);
    expect(check.missing).toEqual(['00000000-0000-4000-8000-000000000000']);
  });

  it('counts failures by status when the backend is gone', async () => {
    await killPid(stack.pids.backend);
    try {
      // Options given: GET /api/options needs the backend too.
      const r = await runLoad({ url: stack.url, votes: 20, parallel: 5, optionIds: ['cats'], progress: false });
      expect(r.succeeded).toBe(0);
      expect(r.failures).toEqual({ 503: 20 }); // nginx's own JSON 503 for a dead upstream
    } finally {
      stack = await upStack({ dir: join(dir, 'stack') });
    }
  });
});

describe('kill tool', () => {
  it('SIGKILLs the backend mid-load, sees /health come back, finds every acknowledged vote', async () => {
    const r = await runKill({
      url: stack.url,
      votes: 400,
      parallel: 10,
      killAfterMs: 300,
      kill: () => killPid(stack.pids.backend),
      restart: async () => {
        stack = await upStack({ dir: join(dir, 'stack') });
      },
      checkVotes: (acks) => checkVotesInPostgres(acks, pg),
      progress: false,
    });
    expect(r.sawOutage).toBe(true);
    expect(r.recoveryMs).not.toBeNull();
    expect(r.load.succeeded).toBeGreaterThan(0);
    expect(r.check).toEqual({ missing: [], wrongOption: [] });
    expect(r.ok).toBe(true);
  });

  it('SIGKILLs PostgreSQL (postmaster and backends, a crash) mid-load: every acknowledged vote survives', async () => {
    const r = await runKill({
      url: stack.url,
      votes: 600,
      parallel: 10,
      killAfterMs: 300,
      kill: () => killPid(stack.pids.postgres, { group: true }),
      // Same data dir and port; the backend reconnects by itself (it is not restarted).
      restart: async () => {
        stack = await upStack({ dir: join(dir, 'stack') });
      },
      checkVotes: (acks) => checkVotesInPostgres(acks, pg),
      progress: false,
    });
    expect(r.sawOutage).toBe(true);
    expect(r.recoveryMs).not.toBeNull();
    expect(r.load.succeeded).toBeGreaterThan(0);
    expect(r.check).toEqual({ missing: [], wrongOption: [] });
  });

  it('reports a failure when an acknowledged vote is missing', async () => {
    const r = await runKill({
      url: stack.url,
      votes: 20,
      parallel: 2,
      killAfterMs: 0,
      kill: () => {},
      checkVotes: async () => ({ missing: ['x'], wrongOption: [] }),
      progress: false,
    });
    expect(r.ok).toBe(false);
  });
});
