// The load and kill tools against the real local stack (app/local/stack.ts) on
// free ports in a scratch dir: what they count, and that the kill check does
// find a vote that is not in PostgreSQL.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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

/** A stand-in backend: `answer` decides each POST /api/vote from its Idempotency-Key and how often that key came. */
async function standIn(answer: (key: string, seen: number, req: IncomingMessage, res: ServerResponse) => void) {
  const seen = new Map<string, number>();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const key = String(req.headers['idempotency-key']);
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      answer(key, n, req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise((r) => server.close(r)) };
}

/** A voter id per key, as the backend derives it (any fixed mapping does here). */
const voterOf = (key: string): string => `00000000-0000-4000-8000-${key.replace(/-/g, '').slice(0, 12)}`;

describe('load tool retries (stand-in backend)', () => {
  it('retries an ambiguous failure with the same key: zero failed votes, retries counted apart, ids from the final reply', async () => {
    // First try of every vote: a lost reply (502), or a cut connection for every third; the retry: 201.
    let cut = 0;
    const s = await standIn((key, n, req, res) => {
      if (n === 1 && cut++ % 3 === 0) return req.socket.destroy();
      if (n === 1) {
        res.writeHead(502, { 'Content-Type': 'application/json', 'Retry-After': '0' });
        return res.end('{"error":"backend unavailable"}');
      }
      res.writeHead(201, { 'Content-Type': 'application/json', 'Set-Cookie': `sv_voter=v1.${voterOf(key)}.sig; Path=/` });
      res.end('{"optionId":"cats"}');
    });
    try {
      const r = await runLoad({ url: s.url, votes: 30, parallel: 5, optionIds: ['cats'], progress: false, maxRetryWaitMs: 20 });
      expect(r.succeeded).toBe(30);
      expect(r.failures).toEqual({});
      expect(r.retriedVotes).toBe(30);
      expect(r.retries).toEqual({ 502: 20, network: 10 });
      expect([...s.seen.values()]).toEqual(Array(30).fill(2)); // each key sent exactly twice: the retry reuses it
      expect(r.acknowledged.map((a) => a.voterId).sort()).toEqual([...s.seen.keys()].map(voterOf).sort());
    } finally {
      await s.close();
    }
  });

  it('gives up after the bounded number of retries and counts the final failure by status', async () => {
    const s = await standIn((_key, _n, _req, res) => {
      res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '0' });
      res.end('{"error":"unavailable"}');
    });
    try {
      const r = await runLoad({ url: s.url, votes: 4, parallel: 2, optionIds: ['cats'], progress: false, retries: 2, maxRetryWaitMs: 10 });
      expect(r.succeeded).toBe(0);
      expect(r.failures).toEqual({ 503: 4 });
      expect(r.retries).toEqual({ 503: 8 });
      expect([...s.seen.values()]).toEqual([3, 3, 3, 3]);
    } finally {
      await s.close();
    }
  });

  it('never retries a definite answer (409, 4xx)', async () => {
    const s = await standIn((_key, _n, _req, res) => {
      res.writeHead(409, { 'Content-Type': 'application/json' });
      res.end('{"error":"already_voted"}');
    });
    try {
      const r = await runLoad({ url: s.url, votes: 3, parallel: 1, optionIds: ['cats'], progress: false });
      expect(r.failures).toEqual({ 409: 3 });
      expect(r.retries).toEqual({});
    } finally {
      await s.close();
    }
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
      // One quick retry each (nginx asks for 5 s): bounded, and counted apart from the final failures.
      const r = await runLoad({ url: stack.url, votes: 20, parallel: 5, optionIds: ['cats'], progress: false, retries: 1, maxRetryWaitMs: 50 });
      expect(r.succeeded).toBe(0);
      expect(r.failures).toEqual({ 503: 20 }); // nginx's own JSON 503 for a dead upstream
      expect(r.retries).toEqual({ 503: 20 });
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
