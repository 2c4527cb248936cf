// Outages for real: Redis and then PostgreSQL are SIGKILLed under a running
// backend and restarted on the same port; the backend must keep its promises
// and recover by itself. Last, SIGTERM drains an in-flight request.
import { Redis } from 'ioredis';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../../app/local/process.ts';
import { fileStack, get, mapLimit, metric, sql, vote, voterIdOf, waitHealth } from './backend-fixture.ts';

/** Voter ids the backend answered 201 for: each must be in PostgreSQL at the end. */
const acknowledged: string[] = [];
const stack = fileStack('backend-outage');

async function castAcked(option: string): Promise<void> {
  const r = await vote(stack.backend.url, option);
  expect(r.status).toBe(201);
  acknowledged.push(voterIdOf(r.cookie!));
}

const total = async (): Promise<number> => ((await get(stack.backend.url, '/api/results')).body as { total: number }).total;
/** The results cache's generation counter, read straight from Redis. */
async function generation(): Promise<string | null> {
  const r = new Redis({ port: stack.deps.redis.port, host: stack.deps.redis.host, password: stack.deps.redis.password, lazyConnect: true, retryStrategy: () => null });
  try {
    await r.connect();
    return await r.get('securevote:results:gen');
  } finally {
    r.disconnect();
  }
}
let genBeforeOutage: string | null = null;

/** The server process of the backend's connection that waits on a lock: a vote truly in flight. */
async function waitingBackend(db: pg.Client): Promise<number> {
  for (let i = 0; ; i++) {
    const { rows } = await db.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = 'securevote-backend' AND wait_event_type = 'Lock'",
    );
    if (rows[0]) return rows[0].pid;
    if (i > 200) throw new Error('the vote never reached the lock');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const cacheReads = async (): Promise<number> =>
  metric((await get(stack.backend.url, '/metrics')).text, 'securevote_results_reads_total', 'source="cache"');

describe('Redis outage', () => {
  it('Redis killed: votes still 201, results exact from PostgreSQL, /health 200 degraded with the cache down', async () => {
    await castAcked('red');
    await total(); // warm the cache
    genBeforeOutage = await generation();
    await stack.deps.redis.kill();
    for (let i = 0; i < 5; i++) await castAcked('green');
    const results = await get(stack.backend.url, '/api/results');
    expect(results.status).toBe(200);
    expect((results.body as { total: number }).total).toBe(acknowledged.length);
    const h = await waitHealth(stack.backend.url, 200, 'down');
    expect(h.body).toEqual({ status: 'degraded', checks: { database: 'ok', cache: 'down' } });
    const m = (await get(stack.backend.url, '/metrics')).text;
    expect(metric(m, 'securevote_dependency_up', 'dependency="cache"')).toBe(0);
  });

  it('Redis restarted: the same backend uses the cache again, and stays exact', async () => {
    await stack.deps.redis.restart();
    const h = await waitHealth(stack.backend.url, 200, 'ok');
    expect(h.body).toEqual({ status: 'healthy', checks: { database: 'ok', cache: 'ok' } });
    await total(); // fills the (empty) cache
    const before = await cacheReads();
    expect(await total()).toBe(acknowledged.length);
    expect(await cacheReads()).toBe(before + 1);
    await castAcked('blue');
    expect(await total()).toBe(acknowledged.length); // invalidated by the vote
    // The emptied Redis got a fresh random generation, not a restart from 1
    // that could meet an entry written late under an old number.
    const gen = await generation();
    expect(Number(gen)).toBeGreaterThan(1024);
    expect(Number(genBeforeOutage)).toBeGreaterThan(1024);
    expect(gen).not.toBe(genBeforeOutage);
  });
});

describe('PostgreSQL outage', () => {
  let refusedCookie = '';

  it('the server process of a vote in flight killed: that vote 503 with Retry-After, the backend stays up', async () => {
    // The vote waits on a lock inside PostgreSQL, so its connection is checked
    // out when its server process dies: the socket closes under a running
    // query, which is when pg's client emits 'error' (unheard, a crash).
    const lock = await sql(stack.deps.pg);
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE votes IN ACCESS EXCLUSIVE MODE');
      const inFlight = vote(stack.backend.url, 'red');
      const pid = await waitingBackend(lock);
      process.kill(pid, 'SIGKILL'); // PostgreSQL then resets every connection and recovers
      const r = await inFlight;
      expect(r.status, r.text).toBe(503);
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(r.body).toEqual({ error: 'unavailable', message: expect.any(String) });
    } finally {
      await lock.end().catch(() => {});
    }
    expect(isAlive(stack.backend.pid)).toBe(true);
    await waitHealth(stack.backend.url, 200, 'ok');
    await castAcked('red');
  });

  it('PostgreSQL killed under load: acknowledged votes survive, the rest get 503 with Retry-After', async () => {
    // 200 voters, 20 in flight; PostgreSQL is SIGKILLed after the 50th answer.
    let answered = 0;
    let killed: Promise<void> | undefined;
    const replies = await mapLimit(Array.from({ length: 200 }), 20, async () => {
      const r = await vote(stack.backend.url, 'red');
      if (++answered === 50) killed = stack.deps.pg.kill();
      return r;
    });
    await killed;
    for (const r of replies) {
      expect([201, 503], r.text).toContain(r.status);
      if (r.status === 201) acknowledged.push(voterIdOf(r.cookie!));
    }
    const refused = replies.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(r.body).toEqual({ error: 'unavailable', message: expect.any(String) });
    }
  });

  it('while PostgreSQL is down: votes 503, /health 503, /readyz and /livez 200, the process stays up', async () => {
    const r = await vote(stack.backend.url, 'blue');
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
    const h = await get(stack.backend.url, '/health');
    expect(h.status).toBe(503);
    expect(h.body).toEqual({ status: 'unhealthy', checks: { database: 'down', cache: 'ok' } });
    // Readiness is "this pod can serve its own part": it stays in its Service
    // (cached results, the 503 + Retry-After above), unlike /health.
    const ready = await get(stack.backend.url, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready' });
    expect((await get(stack.backend.url, '/livez')).status).toBe(200);
    // Results: from the cache if it still holds them, else 503; never a 500.
    const res = await get(stack.backend.url, '/api/results');
    expect([200, 503]).toContain(res.status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(isAlive(stack.backend.pid)).toBe(true);
    // The refused voter keeps its cookie, so a retry after recovery is the same voter.
    expect(r.cookie).toBeDefined();
    refusedCookie = r.cookie!;
  });

  it('PostgreSQL restarted: the same backend recovers by itself, no acknowledged vote lost', async () => {
    await stack.deps.pg.restart();
    const h = await waitHealth(stack.backend.url, 200, 'ok');
    expect(h.body).toEqual({ status: 'healthy', checks: { database: 'ok', cache: 'ok' } });
    const retry = await vote(stack.backend.url, 'blue', refusedCookie);
    expect(retry.status).toBe(201); // the 503 stored nothing
    acknowledged.push(voterIdOf(refusedCookie));
    const db = await stack.db();
    const { rows } = await db.query<{ voter_id: string }>('SELECT voter_id FROM votes');
    const stored = new Set(rows.map((r) => r.voter_id));
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    expect(await total()).toBe(stored.size);
    expect(isAlive(stack.backend.pid)).toBe(true);
    expect(stack.backend.logs()).not.toMatch(/"level":"fatal"/);
  });
});

describe('SIGTERM', () => {
  it('drains an in-flight request, then exits 0', async () => {
    const db = await stack.db();
    // Hold the votes table so the next vote waits inside PostgreSQL.
    await db.query('BEGIN');
    await db.query('LOCK TABLE votes IN ACCESS EXCLUSIVE MODE');
    const inFlight = vote(stack.backend.url, 'green');
    await waitingBackend(db);
    process.kill(stack.backend.pid, 'SIGTERM');
    // Draining: not ready at once, but still answering while the listener
    // lingers; the process is still up.
    await new Promise((r) => setTimeout(r, 300));
    expect(isAlive(stack.backend.pid)).toBe(true);
    const ready = await get(stack.backend.url, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ status: 'draining' });
    const h = await get(stack.backend.url, '/health');
    expect(h.status).toBe(503);
    expect((h.body as { status: string }).status).toBe('draining');
    await db.query('COMMIT');
    const r = await inFlight;
    expect(r.status).toBe(201);
    acknowledged.push(voterIdOf(r.cookie!));
    const exit = await stack.backend.srv.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(stack.backend.logs()).toMatch(/"msg":"stopped"/);
    const { rows } = await db.query('SELECT 1 FROM votes WHERE voter_id = $1', [voterIdOf(r.cookie!)]);
    expect(rows).toHaveLength(1);
  });
});
