// Schema migrations: an ordered list, each applied once in its own
// transaction and recorded in schema_migrations. A session advisory lock
// serialises concurrent runners (several replicas starting at once, or the
// migration Job beside them): the others wait, then find nothing left to do.
import type { Pool } from './db.ts';
import type { Logger } from './log.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'votes',
    // One row per voter: the primary key is what turns a second vote into a
    // 409, atomically, with no read-then-write race.
    sql: `
      CREATE TABLE votes (
        voter_id   uuid        PRIMARY KEY,
        option_id  text        NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX votes_option_id_idx ON votes (option_id);
    `,
  },
  {
    version: 2,
    name: 'votes-request-key',
    // Expand only: a nullable column, no default, no rewrite of the table, no
    // constraint. Old backends keep inserting (voter_id, option_id) and get
    // NULL; new ones store the vote's Idempotency-Key, so a retry of the same
    // vote is recognised (201 again) and a second vote is not (409).
    sql: `ALTER TABLE votes ADD COLUMN request_key uuid;`,
  },
];

/**
 * The role a metrics exporter logs in as: pg_monitor (statistics and
 * settings, never a table's rows), no password, so it can log in only where
 * pg_hba trusts it (the database pod's Unix socket). Roles live outside a
 * database, so a restored dump does not bring it back: it is ensured at
 * every run, not recorded as a migration.
 */
export const MONITOR_ROLE = 'securevote_monitor';
const ENSURE_MONITOR_ROLE = `
  DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${MONITOR_ROLE}') THEN
      CREATE ROLE ${MONITOR_ROLE} LOGIN;
    END IF;
  END $$;
  GRANT pg_monitor TO ${MONITOR_ROLE};`;

/** pg_advisory_lock key: a fixed 64-bit number ("securevote migrations"), shared by every runner. */
export const MIGRATION_LOCK_KEY = '7311256049837781093';

/** Applies the migrations not applied yet; returns the versions it applied (empty when up to date). */
export async function migrate(pool: Pool, log: Logger, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  let broken = false;
  // A checked-out client's broken socket is an 'error' event too: unheard, it would crash the process.
  const onError = (): void => {
    broken = true;
  };
  client.on('error', onError);
  try {
    // Session lock, released below or by PostgreSQL when the connection dies.
    await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`
        CREATE TABLE IF NOT EXISTS schema_migrations (
          version    integer     PRIMARY KEY,
          name       text        NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const done = new Set(rows.map((r) => r.version));
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw err;
        }
        applied.push(m.version);
        log.info({ version: m.version, name: m.name }, 'migration applied');
      }
      // Without the right to create roles (a database of someone else's), metrics lose PostgreSQL's part, votes lose nothing.
      await client.query(ENSURE_MONITOR_ROLE).catch((err: unknown) => {
        log.warn({ role: MONITOR_ROLE, reason: (err as Error).message }, 'monitoring role not ensured');
      });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch(() => {
        broken = true;
      });
    }
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    // A connection in an unknown state is destroyed, not returned to the pool.
    client.removeListener('error', onError);
    client.release(broken);
  }
  if (applied.length === 0) log.info({ version: migrations.at(-1)?.version ?? 0 }, 'schema up to date');
  return applied;
}
