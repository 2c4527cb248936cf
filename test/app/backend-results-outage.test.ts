// Results during a database outage: the page keeps its chart. While
// PostgreSQL is down no vote can commit, so the last results cached under
// the current generation are exact; they are served (beyond the short TTL of
// the ordinary cache entry) until the outage ends. Results that a vote has
// changed since are never served as current: they come marked stale, with
// the time they were counted.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { fileStack, get, vote, waitHealth } from './backend-fixture.ts';

const stack = fileStack('backend-results-outage');

/** Deletes the ordinary (10 s) results entries, as their TTL would: only the outage copy is left. */
async function expireShortEntries(): Promise<void> {
  const r = new Redis({ port: stack.deps.redis.port, host: stack.deps.redis.host, password: stack.deps.redis.password, lazyConnect: true, retryStrategy: () => null });
  try {
    await r.connect();
    const keys = (await r.keys('securevote:results:*')).filter((k) => k !== 'securevote:results:gen');
    if (keys.length > 0) await r.del(...keys);
  } finally {
    r.disconnect();
  }
}

const total = (body: unknown): number => (body as { total: number }).total;

describe('results while PostgreSQL is down', () => {
  it('the last current results are served (200, exact) past the cache TTL; /readyz 200, /health 503, votes 503', async () => {
    for (const o of ['red', 'green', 'blue']) expect((await vote(stack.backend.url, o)).status).toBe(201);
    const before = await get(stack.backend.url, '/api/results');
    expect(total(before.body)).toBe(3);
    await stack.deps.pg.kill();
    await expireShortEntries();
    const during = await get(stack.backend.url, '/api/results');
    expect(during.status).toBe(200);
    expect(during.body).toEqual(before.body);
    expect((await get(stack.backend.url, '/readyz')).status).toBe(200);
    expect((await get(stack.backend.url, '/health')).status).toBe(503);
    const v = await vote(stack.backend.url, 'red');
    expect(v.status).toBe(503);
    expect(v.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('recovers by itself; results a vote changed since are never served as current: marked stale, with when they were counted', async () => {
    await stack.deps.pg.restart();
    await waitHealth(stack.backend.url, 200);
    const counted = Date.now();
    expect(total((await get(stack.backend.url, '/api/results')).body)).toBe(3);
    expect((await vote(stack.backend.url, 'red')).status).toBe(201); // bumps the generation; nobody read the results since
    await stack.deps.pg.kill();
    await expireShortEntries();
    const r = await get(stack.backend.url, '/api/results');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ stale: true, total: 3 });
    const asOf = Date.parse((r.body as { asOf: string }).asOf);
    expect(asOf).toBeGreaterThanOrEqual(counted - 1_000);
    expect(asOf).toBeLessThanOrEqual(Date.now());
    await stack.deps.pg.restart();
    await waitHealth(stack.backend.url, 200);
    expect(total((await get(stack.backend.url, '/api/results')).body)).toBe(4);
  });
});
