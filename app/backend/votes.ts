// The votes of record, in PostgreSQL. Parameterized SQL only.
import type { Results } from './cache.ts';
import type { VoteOption } from './config.ts';
import { query, type Pool } from './db.ts';

export type CastOutcome = 'created' | 'replay' | 'duplicate';

/**
 * Inserts the vote in its own (autocommit) transaction. It resolves only once
 * COMMIT returned, i.e. durably written (synchronous_commit is on). The
 * primary key on voter_id makes a second vote a no-op, atomically: no
 * read-then-write race between concurrent requests. When the voter already
 * has a row, that row is read (a new statement, so it sees a concurrent
 * insert that just committed): the same request key and option means this is
 * a retry of that very vote ('replay', answered 201 again), anything else a
 * second vote ('duplicate', 409).
 */
export async function castVote(pool: Pool, voterId: string, optionId: string, requestKey?: string): Promise<CastOutcome> {
  // Named: each connection parses and plans it once.
  const { rowCount } = await query(pool, {
    name: 'cast-vote-keyed',
    text: 'INSERT INTO votes (voter_id, option_id, request_key) VALUES ($1, $2, $3) ON CONFLICT (voter_id) DO NOTHING',
    values: [voterId, optionId, requestKey ?? null],
  });
  if (rowCount === 1) return 'created';
  if (requestKey === undefined) return 'duplicate';
  const { rows } = await query<{ option_id: string; request_key: string | null }>(pool, {
    name: 'stored-vote',
    text: 'SELECT option_id, request_key FROM votes WHERE voter_id = $1',
    values: [voterId],
  });
  const stored = rows[0];
  return stored !== undefined && stored.request_key === requestKey && stored.option_id === optionId ? 'replay' : 'duplicate';
}

/** Counts per configured option, in the configured order; votes for options no longer configured are left out. */
export async function countVotes(pool: Pool, options: readonly VoteOption[]): Promise<Results> {
  const { rows } = await query<{ option_id: string; votes: string }>(pool, {
    name: 'count-votes',
    text: 'SELECT option_id, count(*) AS votes FROM votes WHERE option_id = ANY($1::text[]) GROUP BY option_id',
    values: [options.map((o) => o.id)],
  });
  const counts = new Map(rows.map((r) => [r.option_id, Number(r.votes)]));
  const results = options.map((o) => ({ id: o.id, label: o.label, votes: counts.get(o.id) ?? 0 }));
  return { results, total: results.reduce((sum, r) => sum + r.votes, 0) };
}
