// Results during a database outage: the page keeps its chart. While
// PostgreSQL is down no vote can commit, so the last results cached under
// the current generation are exact; they are served (beyond the short TTL of
// the ordinary cache entry) until the outage ends. Results that a vote has
// changed since are never served as current: they come marked stale, with
// the time they were counted.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, scratch, startBackend, startDeps, vote, waitHealth, type Backend, type Deps } from './backend-fixture.ts';

const work = scratch('backend-results-outage');
let deps: Deps;
let backend: Backend;

beforeAll(async () => {
  try {
    deps = await startDeps(work.dir);
    backend = await startBackend(work.dir, deps.env());
  } catch (err) {
    await teardown();
    throw err;
  }
});

async function teardown(): Promise<void> {
  await backend?.stop().catch(() => {});
  await deps?.stop();
  work.remove();
}
afterAll(teardown);

/** Deletes the ordinary (10 s) results entries, as their TTL would: only the outage copy is left. */
async function expireShortEntries(): Promise<void> {
  const r = new Redis({ port: deps.redis.port, host: deps.redis.host, password: deps.redis.password, lazyConnect: true, retryStrategy: () => null });
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
    for (const o of ['red', 'green', 'blue']) expect((await vote(backend.url, o)).status).toBe(201);
    const before = await get(backend.url, '/api/results');
    expect(total(before.body)).toBe(3);
    await deps.pg.kill();
    await expireShortEntries();
    const during = await get(backend.url, '/api/results');
    expect(during.status).toBe(200);
    expect(during.body).toEqual(before.body);
    expect((await get(backend.url, '/readyz')).status).toBe(200);
    expect((await get(backend.url, '/health')).status).toBe(503);
    const v = await vote(backend.url, 'red');
    expect(v.status).toBe(503);
    expect(v.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('recovers by itself; results a vote changed since are never served as current: marked stale, with when they were counted', async () => {
    await deps.pg.restart();
    await waitHealth(backend.url, 200);
    const counted = Date.now();
    expect(total((await get(backend.url, '/api/results')).body)).toBe(3);
    expect((await vote(backend.url, 'red')).status).toBe(201); // bumps the generation; nobody read the results since
    await deps.pg.kill();
    await expireShortEntries();
    const r = await get(backend.url, '/api/results');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ stale: true, total: 3 });
    const asOf = Date.parse((r.body as { asOf: string }).asOf);
    expect(asOf).toBeGreaterThanOrEqual(counted - 1_000);
    expect(asOf).toBeLessThanOrEqual(Date.now());
    await deps.pg.restart();
    await waitHealth(backend.url, 200);
    expect(total((await get(backend.url, '/api/results')).body)).toBe(4);
  });
});
