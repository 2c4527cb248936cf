// Votes the database itself refuses (a CHECK added by hand: PostgreSQL
// answers, and refuses the row), against a real PostgreSQL: each is a 500
// with a JSON message; the pool keeps its connections (closing one per
// failed query turned an error storm into a connection storm); the log line
// names the error and the constraint but not the row (the voter, their
// choice); votes are taken again once the constraint is gone.
import { describe, expect, it } from 'vitest';
import { fileStack, mapLimit, OPTIONS, vote, voterIdOf } from './backend-fixture.ts';

const stack = fileStack('backend-sql-errors');
const [first, second] = OPTIONS.map((o) => o.id) as [string, string];

/** The server processes of the backend's pooled connections. */
async function backendConnections(): Promise<Set<number>> {
  const db = await stack.db();
  const r = await db.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = 'securevote-backend'");
  return new Set(r.rows.map((x) => x.pid));
}

describe('votes refused by PostgreSQL itself', () => {
  it('answers 500 with a JSON message, keeps its connections, and logs no row', async () => {
    // Open the pool's connections: votes ten at a time.
    const warm = await mapLimit(Array.from({ length: 40 }), 10, () => vote(stack.backend.url, first));
    expect(warm.every((r) => r.status === 201)).toBe(true);
    const before = await backendConnections();
    expect(before.size).toBeGreaterThan(1);

    const db = await stack.db();
    await db.query('ALTER TABLE votes ADD CONSTRAINT refuse_every_vote CHECK (false) NOT VALID');
    try {
      const refused = await mapLimit(Array.from({ length: 60 }), 10, () => vote(stack.backend.url, second));
      expect(new Set(refused.map((r) => r.status))).toEqual(new Set([500]));
      expect(refused[0]!.body).toEqual({ error: 'internal', message: 'internal error' });
      // Every connection open before is still open: none was closed for a refusal (each was, and every
      // refusal then paid for a new one).
      const after = await backendConnections();
      expect([...before].filter((pid) => !after.has(pid)), `connections closed during ${refused.length} refusals`).toEqual([]);

      // The log says what and where, not whose vote for what.
      const ids = refused.map((r) => r.cookie).filter((c): c is string => c !== undefined).map(voterIdOf);
      expect(ids.length).toBe(refused.length);
      const lines = stack.backend.logs().split('\n').filter((l) => l.includes('refuse_every_vote'));
      expect(lines.length).toBeGreaterThan(0);
      expect(lines[0]).toContain('"code":"23514"');
      expect(lines.filter((l) => l.includes('Failing row') || ids.some((id) => l.includes(id)))).toEqual([]);
    } finally {
      await db.query('ALTER TABLE votes DROP CONSTRAINT refuse_every_vote');
    }
    expect((await vote(stack.backend.url, second)).status).toBe(201);
  });
});
