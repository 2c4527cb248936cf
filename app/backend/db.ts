// The PostgreSQL pool: created once, its errors handled (a dropped connection
// must never crash the process), and a start-up wait with backoff so that a
// database that is still starting is waited for, not fought.
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DatabaseConfig } from './config.ts';
import type { Logger } from './log.ts';

export type Pool = pg.Pool;

export function createPool(c: DatabaseConfig, log: Logger, onDown: (reason: string) => void = () => {}): pg.Pool {
  const pool = new pg.Pool({
    host: c.host,
    port: c.port,
    database: c.database,
    user: c.user,
    password: c.password,
    max: c.poolMax,
    application_name: 'securevote-backend',
    // Fail fast while the database is away instead of piling requests up.
    connectionTimeoutMillis: 3_000,
    query_timeout: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client whose server went away emits 'error' on the pool; without a
  // listener Node would crash the process.
  pool.on('error', (err: Error & { code?: string }) => {
    log.debug({ code: err.code, reason: err.message }, 'idle database connection lost');
    onDown(err.code ?? err.message);
  });
  return pool;
}

/**
 * One statement on a pooled connection, as pool.query, except that an error
 * the server answered (a constraint, a bad statement) gives the connection
 * back: pg-pool's query() closes it on any error, so under a storm of such
 * errors every query paid for a new connection (TCP, SCRAM, a server
 * process) and the backend served a tenth of its votes. A connection-level
 * failure (a FATAL from the server, a client-side timeout, a broken socket)
 * still closes it.
 *
 * A checked-out client emits 'error' when its socket breaks, even with the
 * query failing too; pg-pool only listens while the client is idle, so
 * without this listener a database killed mid-query crashed the process.
 */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(pool: Pool, q: string | pg.QueryConfig): Promise<pg.QueryResult<R>> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error): void => {
    broken = err;
  };
  client.on('error', onError);
  try {
    const result = await client.query<R>(q);
    client.removeListener('error', onError);
    client.release(broken);
    return result;
  } catch (err) {
    client.removeListener('error', onError);
    const answered = broken === undefined && err instanceof pg.DatabaseError && err.severity !== 'FATAL' && err.severity !== 'PANIC';
    client.release(answered ? undefined : (broken ?? (err as Error)));
    throw err;
  }
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovering)
  '53300', // too_many_connections
]);

/**
 * True when the error means "the database is not reachable right now" (retry
 * later, 503) rather than a bug or a bad query (500).
 */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  // pg's own client-side failures carry no code.
  return /timeout exceeded when trying to connect|Connection terminated|Query read timeout|Client has encountered a connection error|connect ECONNREFUSED/i.test(
    err.message,
  );
}

/** A short, loggable reason: the error code, else the message. */
export function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}

export interface RetryOptions {
  /** First delay; doubles up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Give up after this long (undefined: never). */
  deadlineMs?: number;
  /** Stop waiting (process shutting down). */
  signal?: AbortSignal;
}

/**
 * Runs `attempt` until it succeeds, backing off between tries. Each failure is
 * one info line (attempt, reason code, next delay): no stack traces, no spam.
 */
export async function retryWithBackoff<T>(what: string, attempt: () => Promise<T>, log: Logger, o: RetryOptions = {}): Promise<T> {
  const started = Date.now();
  let delay = o.initialDelayMs ?? 250;
  const max = o.maxDelayMs ?? 5_000;
  for (let n = 1; ; n++) {
    o.signal?.throwIfAborted();
    try {
      const result = await attempt();
      if (n > 1) log.info({ attempt: n }, `${what}: ready`);
      return result;
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      if (o.deadlineMs !== undefined && Date.now() - started + delay > o.deadlineMs) throw err;
      log.info({ attempt: n, reason: reasonOf(err), retryInMs: delay }, `${what}: waiting for the database`);
      await sleep(delay, undefined, { signal: o.signal });
      delay = Math.min(delay * 2, max);
    }
  }
}
