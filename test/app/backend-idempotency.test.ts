// A vote retried after an ambiguous failure (a lost reply: 502, 503 from the
// proxy, a timeout) carries the same Idempotency-Key: it must count once and
// be answered 201 again, while a real second vote (a new key) is still 409.
// Real PostgreSQL and Redis, the backend as a real child process.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../app/backend/migrations.ts';
import { createVoterSigner } from '../../app/backend/voter.ts';
import { fileStack, mapLimit, request, sql, voterIdOf, type Reply } from './backend-fixture.ts';

const stack = fileStack('backend-idempotency');

function keyedVote(optionId: string, key: string | undefined, cookie?: string): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== undefined) headers['idempotency-key'] = key;
  if (cookie) headers.cookie = cookie;
  return request(stack.backend.url, '/api/vote', { method: 'POST', headers, body: JSON.stringify({ optionId }) });
}

async function rowsOf(voterId: string): Promise<{ option_id: string; request_key: string | null }[]> {
  return (await (await stack.db()).query<{ option_id: string; request_key: string | null }>('SELECT option_id, request_key FROM votes WHERE voter_id = $1', [voterId])).rows;
}

describe('Idempotency-Key', () => {
  it('the schema gained a nullable request_key (expand only: an old insert without it still works)', async () => {
    expect(MIGRATIONS.at(-1)!.sql).toMatch(/^ALTER TABLE votes ADD COLUMN request_key uuid;$/);
    const { rows } = await (await stack.db()).query<{ is_nullable: string; column_default: string | null }>(
      "SELECT is_nullable, column_default FROM information_schema.columns WHERE table_name = 'votes' AND column_name = 'request_key'",
    );
    expect(rows).toEqual([{ is_nullable: 'YES', column_default: null }]);
    // What an old backend sends, on the new schema.
    const old = randomUUID();
    await (await stack.db()).query('INSERT INTO votes (voter_id, option_id) VALUES ($1, $2)', [old, 'red']);
    expect(await rowsOf(old)).toEqual([{ option_id: 'red', request_key: null }]);
    // That voter retrying with a key is a second vote, not a replay.
    const signer = createVoterSigner(stack.deps.cookieSecret);
    const r = await keyedVote('red', randomUUID(), `sv_voter=${signer.sign(old)}`);
    expect(r.status).toBe(409);
  });

  it('a retry with the same key and no cookie (the first reply was lost): 201 again, the same voter, one row', async () => {
    const key = randomUUID();
    const first = await keyedVote('green', key);
    expect(first.status).toBe(201);
    const retry = await keyedVote('green', key); // the Set-Cookie of the first never arrived
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual({ optionId: 'green' });
    expect(retry.cookie).toBe(first.cookie);
    expect(await rowsOf(voterIdOf(first.cookie!))).toEqual([{ option_id: 'green', request_key: key }]);
    // The same retry with the cookie it now has: still the replay.
    expect((await keyedVote('green', key.toUpperCase(), first.cookie)).status).toBe(201);
    expect(await rowsOf(voterIdOf(first.cookie!))).toHaveLength(1);
  });

  it('a real second vote (a new key) is still 409, with or without the cookie; another option under the same key is 409', async () => {
    const key = randomUUID();
    const first = await keyedVote('blue', key);
    expect(first.status).toBe(201);
    expect((await keyedVote('blue', randomUUID(), first.cookie)).status).toBe(409);
    expect((await keyedVote('red', key, first.cookie)).status).toBe(409);
    expect((await keyedVote('red', key)).status).toBe(409);
    expect(await rowsOf(voterIdOf(first.cookie!))).toEqual([{ option_id: 'blue', request_key: key }]);
  });

  it('concurrent replays of one vote: every one 201, exactly one row', async () => {
    const key = randomUUID();
    const replies = await mapLimit(Array.from({ length: 30 }), 30, () => keyedVote('red', key));
    expect(replies.map((r) => r.status)).toEqual(Array(30).fill(201));
    expect(new Set(replies.map((r) => r.cookie)).size).toBe(1);
    expect(await rowsOf(voterIdOf(replies[0]!.cookie!))).toHaveLength(1);
  });

  it('distinct keys are distinct voters; a malformed key is 400 and stores nothing; no key keeps the random voter', async () => {
    const a = await keyedVote('red', randomUUID());
    const b = await keyedVote('red', randomUUID());
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(voterIdOf(a.cookie!)).not.toBe(voterIdOf(b.cookie!));
    const before = Number((await (await stack.db()).query<{ n: string }>('SELECT count(*) AS n FROM votes')).rows[0]!.n);
    const bad = await keyedVote('red', 'not-a-uuid');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'bad_idempotency_key' });
    expect(Number((await (await stack.db()).query<{ n: string }>('SELECT count(*) AS n FROM votes')).rows[0]!.n)).toBe(before);
    const plain = await keyedVote('red', undefined);
    expect(plain.status).toBe(201);
    expect(await rowsOf(voterIdOf(plain.cookie!))).toEqual([{ option_id: 'red', request_key: null }]);
  });

  it('the voter derived from a key is a signed UUID that only the secret can produce', () => {
    const signer = createVoterSigner(stack.deps.cookieSecret);
    const key = randomUUID();
    const v = signer.fromKey(key);
    expect(v.voterId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(signer.verify(v.cookie)).toEqual({ kind: 'ok', voterId: v.voterId });
    expect(signer.fromKey(key.toUpperCase())).toEqual(v);
    expect(createVoterSigner('another-secret-of-16+').fromKey(key).voterId).not.toBe(v.voterId);
  });
});
