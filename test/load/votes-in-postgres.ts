// Checks acknowledged votes against the record: PostgreSQL's `votes` table
// (voter_id uuid primary key, option_id text; app/backend/migrations.ts). The
// backend exposes no list of voters, so the kill tool asks the database.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { MAIN_CONTAINER } from '../../charts/alerts.ts';
import { DATABASE } from '../../charts/rules.ts';
import type { Ack } from './load.ts';

export interface PgConnection {
  host: string;
  port: number;
  user: string;
  database: string;
  password: string;
}

/** PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD_FILE (wins) or PGPASSWORD; the backend's defaults. */
export function pgConnectionFromEnv(env: NodeJS.ProcessEnv = process.env): PgConnection {
  const file = env.PGPASSWORD_FILE;
  const password = file ? readFileSync(file, 'utf8').replace(/[\r\n]+$/, '') : env.PGPASSWORD;
  if (!password) throw new Error('votes check: PGPASSWORD_FILE or PGPASSWORD is required');
  return {
    host: env.PGHOST ?? '127.0.0.1',
    port: Number(env.PGPORT ?? 5432),
    user: env.PGUSER ?? 'securevote',
    database: env.PGDATABASE ?? 'securevote',
    password,
  };
}

export interface VotesCheck {
  /** Acknowledged voters with no row. */
  missing: string[];
  /** Acknowledged voters whose row names another option. */
  wrongOption: string[];
}

/** Looks every acknowledged vote up by voter id (batches of 5,000, parameterized). */
export async function checkVotesInPostgres(acks: readonly Ack[], conn: PgConnection): Promise<VotesCheck> {
  const client = new pg.Client({ ...conn, connectionTimeoutMillis: 10_000, statement_timeout: 30_000 });
  await client.connect();
  try {
    const found = new Map<string, string>();
    for (let i = 0; i < acks.length; i += 5_000) {
      const ids = acks.slice(i, i + 5_000).map((a) => a.voterId);
      const { rows } = await client.query<{ voter_id: string; option_id: string }>(
        'SELECT voter_id::text AS voter_id, option_id FROM votes WHERE voter_id = ANY($1::uuid[])',
        [ids],
      );
      for (const r of rows) found.set(r.voter_id, r.option_id);
    }
    const missing: string[] = [];
    const wrongOption: string[] = [];
    for (const a of acks) {
      const option = found.get(a.voterId);
      if (option === undefined) missing.push(a.voterId);
      else if (option !== a.optionId) wrongOption.push(a.voterId);
    }
    return { missing, wrongOption };
  } finally {
    await client.end();
  }
}

/** Runs the project's kubectl with a cluster's kubeconfig: its standard output. */
export type KubectlRun = (args: string[]) => Promise<string> | string;

/** psql as the app's role in the database pod of an instance, over its local socket: the rows of `sql`, unaligned, space-separated. */
export async function psqlInCluster(
  kubectl: KubectlRun,
  namespace: string,
  instance: string,
  sql: string,
): Promise<string> {
  // The instance's own database: a namespace may hold several SecureVotes.
  const selector = `app.kubernetes.io/instance=${instance},app.kubernetes.io/component=database`;
  const pod = await kubectl(['-n', namespace, 'get', 'pods', '-l', selector, '-o', 'jsonpath={.items[0].metadata.name}']);
  if (!pod) throw new Error(`no database pod in ${namespace}`);
  return kubectl(['-n', namespace, 'exec', pod, '-c', MAIN_CONTAINER.database, '--', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
    '-A', '-t', '-F', ' ', '-h', '/var/run/postgresql', '-U', DATABASE.user, '-d', DATABASE.name, '-c', sql]);
}

/**
 * The database's own clock, now: every row a load started after this writes
 * has a `created_at` at or after it (the column defaults to the inserting
 * transaction's start), so a check of that load can read only those rows.
 */
export async function clusterDatabaseNow(
  kubectl: KubectlRun,
  namespace: string,
  instance = 'securevote',
): Promise<string> {
  const now = (await psqlInCluster(kubectl, namespace, instance, "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")).trim();
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(now)) throw new Error(`the database's clock: unexpected ${JSON.stringify(now)}`);
  return now;
}

/**
 * Every vote of record on a cluster, voter id → option: psql inside the
 * database pod of `namespace` over its local socket, through `kubectl`
 * (a function running the project's kubectl with the cluster's kubeconfig).
 * With `since` (clusterDatabaseNow's), only the rows written from then on.
 */
export async function votesInClusterDatabase(
  kubectl: KubectlRun,
  namespace: string,
  instance = 'securevote',
  since?: string,
): Promise<Map<string, string>> {
  if (since !== undefined && !/^[\dT:.Z-]+$/.test(since)) throw new Error(`since: not a timestamp: ${JSON.stringify(since)}`);
  const where = since === undefined ? '' : ` WHERE created_at >= '${since}'::timestamptz`;
  const out = await psqlInCluster(kubectl, namespace, instance, `SELECT voter_id, option_id FROM votes${where}`);
  return new Map(out.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

/** The acknowledged votes missing from, or different in, a record of votes. */
export function compareWithRecord(acks: readonly Ack[], record: ReadonlyMap<string, string>): VotesCheck {
  return {
    missing: acks.filter((a) => !record.has(a.voterId)).map((a) => a.voterId),
    wrongOption: acks.filter((a) => record.has(a.voterId) && record.get(a.voterId) !== a.optionId).map((a) => a.voterId),
  };
}

/** Acknowledged votes against a record of votes (voter id → option). */
export interface StoredCheck {
  /** Acknowledged votes with no row. */
  missing: number;
  /** Acknowledged votes whose row names another option. */
  wrongOption: number;
  /** Voters acknowledged more than once by the load (a vote counted twice). */
  acknowledgedTwice: number;
}

/** What storedOnce returns when every acknowledged vote is stored exactly once. */
export const STORED_ONCE: StoredCheck = { missing: 0, wrongOption: 0, acknowledgedTwice: 0 };

/** Every acknowledged vote in the record exactly once: its row (the voter id is the key), with its option, acknowledged once. */
export function storedOnce(acks: readonly Ack[], record: ReadonlyMap<string, string>): StoredCheck {
  const seen = new Set<string>();
  const out = { missing: 0, wrongOption: 0, acknowledgedTwice: 0 };
  for (const a of acks) {
    if (seen.has(a.voterId)) out.acknowledgedTwice++;
    seen.add(a.voterId);
    const option = record.get(a.voterId);
    if (option === undefined) out.missing++;
    else if (option !== a.optionId) out.wrongOption++;
  }
  return out;
}
