// The backend's HTTP contract against real PostgreSQL and Redis, the backend
// running as a real `node app/backend/main.ts` child process.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { fileStack, OPTIONS, get, mapLimit, metric, request, vote, voterIdOf } from './backend-fixture.ts';

const stack = fileStack('backend-api');

async function rows(): Promise<number> {
  return Number((await (await stack.db()).query<{ n: string }>('SELECT count(*) AS n FROM votes')).rows[0]!.n);
}

const tally = (body: unknown): Record<string, number> =>
  Object.fromEntries((body as { results: { id: string; votes: number }[] }).results.map((r) => [r.id, r.votes]));

describe('backend contract', () => {
  it('GET /api/options lists the configured options', async () => {
    const r = await get(stack.backend.url, '/api/options');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.body).toEqual({ options: OPTIONS });
  });

  it('GET /health answers the seed JSON when both dependencies are up; /livez is the process only', async () => {
    const h = await get(stack.backend.url, '/health');
    expect(h.status).toBe(200);
    expect(h.body).toEqual({ status: 'healthy', checks: { database: 'ok', cache: 'ok' } });
    const l = await get(stack.backend.url, '/livez');
    expect(l.status).toBe(200);
    expect(l.body).toEqual({ status: 'alive' });
  });

  it('a first vote is 201 once committed, mints a signed HttpOnly SameSite cookie; the same voter again gets 409', async () => {
    const before = await rows();
    const first = await vote(stack.backend.url, 'green');
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ optionId: 'green' });
    const setCookie = first.headers.getSetCookie().find((c) => c.startsWith('sv_voter='))!;
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(first.cookie).toMatch(/^sv_voter=v1\.[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
    const id = voterIdOf(first.cookie!);
    const stored = await (await stack.db()).query('SELECT option_id FROM votes WHERE voter_id = $1', [id]);
    expect(stored.rows).toEqual([{ option_id: 'green' }]);

    for (const option of ['green', 'blue']) {
      const again = await vote(stack.backend.url, option, first.cookie);
      expect(again.status).toBe(409);
      expect(again.body).toEqual({ error: 'already_voted', message: expect.any(String) });
      expect(again.cookie).toBeUndefined();
    }
    expect(await rows()).toBe(before + 1);
  });

  it('GET /api/results counts every option, in order, with the total', async () => {
    const before = await get(stack.backend.url, '/api/results');
    expect(before.status).toBe(200);
    const b = before.body as { results: { id: string; label: string; votes: number }[]; total: number };
    expect(b.results.map(({ id, label }) => ({ id, label }))).toEqual(OPTIONS);
    expect(b.total).toBe(b.results.reduce((s, r) => s + r.votes, 0));
    expect(b.total).toBe(await rows());
    // A vote is visible at once (the cached results are invalidated on commit).
    expect((await vote(stack.backend.url, 'red')).status).toBe(201);
    const after = await get(stack.backend.url, '/api/results');
    expect(tally(after.body).red).toBe(tally(before.body).red! + 1);
    expect((after.body as { total: number }).total).toBe(b.total + 1);
  });
});

describe('bad input: a 4xx with a JSON body naming the problem, nothing stored', () => {
  const json = { 'content-type': 'application/json' };
  const cases: Array<[string, RequestInit, number, string]> = [
    ['malformed JSON', { headers: json, body: '{"optionId":' }, 400, 'malformed_json'],
    ['a JSON string, not an object', { headers: json, body: '"red"' }, 400, 'malformed_json'],
    ['an array', { headers: json, body: '["red"]' }, 400, 'invalid_body'],
    ['an empty body', { headers: json, body: '' }, 400, 'missing_field'],
    ['missing optionId', { headers: json, body: '{}' }, 400, 'missing_field'],
    ['optionId null', { headers: json, body: '{"optionId":null}' }, 400, 'missing_field'],
    ['optionId not a string', { headers: json, body: '{"optionId":7}' }, 400, 'invalid_field'],
    ['unknown option', { headers: json, body: '{"optionId":"purple"}' }, 422, 'unknown_option'],
    ['text/plain', { headers: { 'content-type': 'text/plain' }, body: '{"optionId":"red"}' }, 415, 'unsupported_media_type'],
    ['a form', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'optionId=red' }, 415, 'unsupported_media_type'],
    ['no content type', { body: new Uint8Array(Buffer.from('{"optionId":"red"}')) }, 415, 'unsupported_media_type'],
    ['a latin1 charset', { headers: { 'content-type': 'application/json; charset=latin1' }, body: '{"optionId":"red"}' }, 415, 'unsupported_charset'],
    ['an oversized body', { headers: json, body: JSON.stringify({ optionId: 'red', pad: 'x'.repeat(4096) }) }, 413, 'body_too_large'],
    ['a 1 MB body', { headers: json, body: JSON.stringify({ optionId: 'red', pad: 'x'.repeat(1 << 20) }) }, 413, 'body_too_large'],
  ];

  it.each(cases)('%s', async (_name, init, status, code) => {
    const before = await rows();
    const r = await request(stack.backend.url, '/api/vote', { method: 'POST', ...init });
    expect(r.status).toBe(status);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.body).toEqual({ error: code, message: expect.any(String) });
    expect(r.text).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack trace
    expect(await rows()).toBe(before);
  });

  it('a forged, tampered or malformed voter cookie is 400 bad_cookie', async () => {
    const good = (await vote(stack.backend.url, 'blue')).cookie!;
    const id = voterIdOf(good);
    const sig = good.split('.')[2]!;
    const otherId = '00000000-0000-4000-8000-000000000000';
    const signedWithAnotherSecret = createHmac('sha256', 'not-the-secret-0123456789').update(`v1.${otherId}`).digest('base64url');
    const rightSecret = createHmac('sha256', stack.deps.cookieSecret).update(`v1.${otherId}`).digest('base64url');
    const bad = [
      'sv_voter=garbage',
      `sv_voter=v1.${otherId}.${sig}`, // another voter id under this voter's signature
      `sv_voter=v1.${otherId}.${signedWithAnotherSecret}`, // forged with a guessed secret
      `sv_voter=v2.${otherId}.${rightSecret}`, // unknown version
      `sv_voter=v1.${id}.${sig.slice(0, -1)}`, // truncated signature
      `sv_voter=v1.${id}`,
      'sv_voter=',
    ];
    const before = await rows();
    for (const cookie of bad) {
      const r = await vote(stack.backend.url, 'red', cookie);
      expect(r.status, cookie).toBe(400);
      expect(r.body).toEqual({ error: 'bad_cookie', message: expect.any(String) });
    }
    expect(await rows()).toBe(before);
    // The genuine cookie still identifies its voter.
    expect((await vote(stack.backend.url, 'red', good)).status).toBe(409);
    // A cookie signed with the right secret is accepted: the check is the signature, not a list.
    expect((await vote(stack.backend.url, 'red', `sv_voter=v1.${otherId}.${rightSecret}`)).status).toBe(201);
  });

  it('a JSON-looking voter cookie (j:...) is 400 bad_cookie too, never parsed as JSON', async () => {
    const good = (await vote(stack.backend.url, 'blue')).cookie!;
    const value = good.slice('sv_voter='.length);
    for (const cookie of [`sv_voter=j:"${value}"`, 'sv_voter=j:{"a":1}', 'sv_voter=j:[1]']) {
      const r = await vote(stack.backend.url, 'red', cookie);
      expect(r.status, cookie).toBe(400);
      expect(r.body).toEqual({ error: 'bad_cookie', message: expect.any(String) });
    }
  });

  it('POST /api/vote answers the same through express (a chunked body) as through the direct path', async () => {
    // A body of known length is read by the server itself; a chunked one goes through express.json.
    const post = (body: string, chunked: boolean, headers: Record<string, string> = {}): Promise<Awaited<ReturnType<typeof request>>> =>
      request(stack.backend.url, '/api/vote', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        ...(chunked
          ? { body: new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(body)); c.close(); } }), duplex: 'half' }
          : { body }),
      } as RequestInit);
    const cookieAttributes = (r: Awaited<ReturnType<typeof request>>): string | undefined =>
      r.headers.getSetCookie().find((c) => c.startsWith('sv_voter='))?.replace(/^sv_voter=[^;]*/, '').replace(/Expires=[^;]*/, 'Expires=?');
    const bodies = ['{"optionId":"red"}', '\ufeff {"optionId":"green"}', '', '{}', '{"optionId":', '"red"', '["red"]', '{"optionId":7}', '{"optionId":"purple"}'];
    for (const body of bodies) {
      for (const headers of [{}, { 'x-forwarded-proto': 'https' }] as Record<string, string>[]) {
        const direct = await post(body, false, headers);
        const routed = await post(body, true, headers);
        expect(routed.status, body).toBe(direct.status);
        expect(routed.body, body).toEqual(direct.body);
        expect(cookieAttributes(routed), body).toBe(cookieAttributes(direct));
        for (const h of ['content-type', 'cache-control', 'x-content-type-options', 'retry-after']) {
          expect(routed.headers.get(h), `${body} ${h}`).toBe(direct.headers.get(h));
        }
      }
    }
    const minted = await post('{"optionId":"red"}', false, { 'x-forwarded-proto': 'https' });
    expect(cookieAttributes(minted)).toBe('; Max-Age=31536000; Path=/; Expires=?; HttpOnly; Secure; SameSite=Strict');
  });

  it('/api/results answers the same through express (with a query) as through the direct path', async () => {
    const direct = await get(stack.backend.url, '/api/results');
    const routed = await get(stack.backend.url, '/api/results?via=express');
    expect(routed.status).toBe(200);
    expect(routed.body).toEqual(direct.body);
    for (const h of ['content-type', 'cache-control', 'x-content-type-options']) {
      expect(routed.headers.get(h), h).toBe(direct.headers.get(h));
    }
    const post = await request(stack.backend.url, '/api/results', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.body).toEqual({ error: 'method_not_allowed', message: expect.any(String) });
  });

  it('wrong methods get 405 and unknown routes 404, both JSON', async () => {
    const m = await get(stack.backend.url, '/api/vote');
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('POST');
    expect(m.body).toEqual({ error: 'method_not_allowed', message: expect.any(String) });
    const n = await get(stack.backend.url, '/api/nope');
    expect(n.status).toBe(404);
    expect(n.body).toEqual({ error: 'not_found', message: expect.any(String) });
  });
});

describe('concurrency', () => {
  it('1,000 distinct voters voting at once: exactly 1,000 rows and exact results', async () => {
    const beforeRows = await rows();
    const before = tally((await get(stack.backend.url, '/api/results')).body);
    const picks = Array.from({ length: 1000 }, (_, i) => OPTIONS[i % 7 % 3]!.id);
    const replies = await mapLimit(picks, 100, (option) => vote(stack.backend.url, option));
    expect(replies.filter((r) => r.status !== 201).map((r) => `${r.status} ${r.text}`)).toEqual([]);
    expect(new Set(replies.map((r) => voterIdOf(r.cookie!))).size).toBe(1000);
    expect(await rows()).toBe(beforeRows + 1000);
    const after = (await get(stack.backend.url, '/api/results')).body as { total: number };
    for (const o of OPTIONS) {
      expect(tally(after)[o.id]).toBe(before[o.id]! + picks.filter((p) => p === o.id).length);
    }
    expect(after.total).toBe(beforeRows + 1000);
  });

  it('the same voter voting 50 times at once is counted once', async () => {
    const beforeRows = await rows();
    // A validly signed voter id never used yet: 50 requests race to be its first vote.
    const id = '11111111-2222-4333-8444-555555555555';
    const fresh = `sv_voter=v1.${id}.${createHmac('sha256', stack.deps.cookieSecret).update(`v1.${id}`).digest('base64url')}`;
    const replies = await mapLimit(Array.from({ length: 50 }), 50, () => vote(stack.backend.url, 'blue', fresh));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 409)).toHaveLength(49);
    expect(await rows()).toBe(beforeRows + 1);
  });
});

describe('metrics and cache', () => {
  it('results are served from Redis until a vote invalidates them', async () => {
    const m0 = (await get(stack.backend.url, '/metrics')).text;
    await get(stack.backend.url, '/api/results');
    const r1 = await get(stack.backend.url, '/api/results');
    const m1 = (await get(stack.backend.url, '/metrics')).text;
    expect(metric(m1, 'securevote_results_reads_total', 'source="cache"')).toBeGreaterThan(metric(m0, 'securevote_results_reads_total', 'source="cache"'));
    await vote(stack.backend.url, 'blue');
    const r2 = await get(stack.backend.url, '/api/results');
    expect(tally(r2.body).blue).toBe(tally(r1.body).blue! + 1);
  });

  it('/metrics has the latency histogram by route and status, acknowledged votes and dependency gauges', async () => {
    const r = await get(stack.backend.url, '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(r.text).toMatch(/^http_request_duration_seconds_bucket\{.*route="\/api\/vote".*status="201".*\} \d+/m);
    expect(r.text).toMatch(/^http_request_duration_seconds_count\{method="POST",route="\/api\/vote",status="409"\} \d+/m);
    expect(r.text).toMatch(/^http_request_duration_seconds_count\{method="GET",route="\/health",status="200"\} \d+/m);
    expect(r.text).toMatch(/^http_request_duration_seconds_count\{method="GET",route="\/api\/results",status="200"\} \d+/m);
    const acked = OPTIONS.reduce((s, o) => s + metric(r.text, 'securevote_votes_acknowledged_total', `option="${o.id}"`), 0);
    expect(acked).toBe(await rows()); // every row was acknowledged by this backend
    expect(metric(r.text, 'securevote_dependency_up', 'dependency="database"')).toBe(1);
    expect(metric(r.text, 'securevote_dependency_up', 'dependency="cache"')).toBe(1);
  });
});

describe('secrets', () => {
  it('no secret in any process command line, in the backend environment, or in the logs', async () => {
    const secrets = [stack.deps.pg.password, stack.deps.redis.password, stack.deps.cookieSecret];
    const ps = execFileSync('ps', ['-eo', 'pid,args', '--no-headers'], { encoding: 'utf8' });
    for (const s of secrets) expect(ps).not.toContain(s);
    for (const pid of [stack.backend.pid, stack.deps.pg.pid, stack.deps.redis.pid]) {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      for (const s of secrets) expect(cmdline).not.toContain(s);
    }
    const environ = readFileSync(`/proc/${stack.backend.pid}/environ`, 'utf8');
    for (const s of secrets) expect(environ).not.toContain(s);
    // The backend logs at debug level in this test: still no secret, and every line is JSON.
    const logs = stack.backend.logs();
    expect(logs.length).toBeGreaterThan(0);
    for (const s of secrets) expect(logs).not.toContain(s);
    for (const line of logs.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    // Nor in the servers' own logs.
    for (const f of [stack.deps.pg.logFile, stack.deps.redis.logFile, join(stack.dir, 'pg', 'postgres.log')]) {
      const text = readFileSync(f, 'utf8');
      for (const s of secrets) expect(text).not.toContain(s);
    }
  });
});
