// The results cache in Redis. Redis is never the only copy of anything: a
// miss, an error or an outage means "ask PostgreSQL". While Redis is away,
// commands fail at once (no offline queue, short command timeout) and the
// client reconnects by itself with backoff.
//
// Invalidation is by generation: every committed vote INCRs a counter; a
// cached entry carries the generation it was computed under and counts only
// while that is still the current one. A read computed before a vote can thus
// never be served after it, even if it is written back late. If the INCR
// itself fails (Redis away), the entry's TTL bounds the staleness and the
// next successful call retries the INCR. The counter starts from a random
// base whenever Redis has none (first use, or a restart emptied it), so a
// late write from before a restart can never match a later generation.
import { createHash, randomInt } from 'node:crypto';
import { Redis } from 'ioredis';
import type { CacheConfig, VoteOption } from './config.ts';
import type { Logger } from './log.ts';

export interface Results {
  readonly results: ReadonlyArray<{ id: string; label: string; votes: number }>;
  readonly total: number;
}

/** Serialised once when stored, sent as is on a hit. */
export type ResultsJson = string;

export interface CacheRead {
  /** The generation read with the entry: pass it back to `put`. */
  readonly gen: string;
  readonly hit: ResultsJson | undefined;
}

/** The last results counted, for a database outage. */
export interface LastResults {
  readonly json: ResultsJson;
  /** No vote committed since they were counted. */
  readonly current: boolean;
  /** When they were counted (ISO 8601). */
  readonly asOf: string;
}

export interface ResultsCache {
  /** The cached results (hit) or the generation to store fresh ones under; undefined when Redis is unusable. */
  read(): Promise<CacheRead | undefined>;
  put(gen: string, results: ResultsJson): Promise<void>;
  /**
   * While PostgreSQL is away: the last results stored, `current` when still
   * of the current generation (no vote invalidated them since, so they are
   * exact: no vote can commit while the database is down), else the latest
   * ones with the time they were counted; undefined when there are none.
   */
  readLast(): Promise<LastResults | undefined>;
  /** After a committed vote; never throws. */
  invalidate(): Promise<void>;
  ping(): Promise<boolean>;
  isUp(): boolean;
  close(): Promise<void>;
}

/** A cached entry lives at most this long (bounds staleness if an invalidation was lost). */
export const RESULTS_TTL_SECONDS = 10;
/**
 * The copy read only during a database outage (readLast) lives this long: a
 * short outage keeps the results on the page; a lost invalidation (Redis away
 * during a vote, no other call since to retry it) could make it stale for at
 * most this long, and only while the database is down.
 */
export const LAST_RESULTS_TTL_SECONDS = 300;

export function createResultsCache(
  c: CacheConfig,
  options: readonly VoteOption[],
  log: Logger,
  onUp: (up: boolean) => void = () => {},
): ResultsCache {
  // The key names the option list, so a changed VOTE_OPTIONS never reads old labels.
  const fingerprint = createHash('sha256').update(JSON.stringify(options)).digest('hex').slice(0, 12);
  const genKey = 'securevote:results:gen';
  const dataKey = `securevote:results:${fingerprint}`;
  const lastKey = `securevote:results-last:${fingerprint}`;
  let up = false;
  let pendingInvalidate = false;

  const redis = new Redis({
    host: c.host,
    port: c.port,
    password: c.password,
    connectionName: 'securevote-backend',
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1_000,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
  });
  const setUp = (next: boolean, reason?: string): void => {
    if (next === up) return;
    up = next;
    onUp(next);
    // One line per state change, not one per reconnect attempt.
    if (next) log.info('cache connected');
    else log.warn({ reason }, 'cache unavailable; results are read from the database');
  };
  redis.on('ready', () => setUp(true));
  redis.on('error', (err: Error & { code?: string }) => setUp(false, err.code ?? err.message));
  redis.on('close', () => setUp(false, 'connection closed'));

  // A random base far from any earlier sequence (INCR goes up to 2^63).
  const randomBase = (): string => String(randomInt(1, 2 ** 47) * 1024);
  const BUMP = "if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end return redis.call('INCR', KEYS[1])";

  async function flushInvalidate(): Promise<void> {
    if (!pendingInvalidate) return;
    await redis.eval(BUMP, 1, genKey, randomBase());
    pendingInvalidate = false;
  }

  /** The current generation, creating a random one when Redis has none. */
  async function initGeneration(): Promise<string> {
    await redis.set(genKey, randomBase(), 'NX');
    const gen = await redis.get(genKey);
    if (gen === null) throw new Error('cache generation vanished');
    return gen;
  }

  // Coalesced INCRs: a vote needs one INCR that STARTS after its commit.
  // While one is in flight, the votes committed meanwhile share the next one,
  // so Redis sees at most one INCR in flight and one queued, whatever the load.
  let inflight: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  function incrAfterNow(): Promise<void> {
    pendingInvalidate = true;
    if (!inflight) {
      inflight = flushInvalidate().finally(() => {
        inflight = undefined;
      });
      return inflight;
    }
    queued ??= inflight
      .catch(() => {})
      .then(() => {
        queued = undefined;
        return incrAfterNow();
      });
    return queued;
  }

  return {
    async read() {
      if (redis.status !== 'ready') return undefined;
      try {
        // An invalidation that failed earlier is retried first; one in flight
        // belongs to a vote not yet acknowledged, so it need not be waited for.
        if (pendingInvalidate && !inflight) await incrAfterNow();
        const [gen, raw] = await redis.mget(genKey, dataKey);
        const current = gen ?? (await initGeneration());
        // Entry format: "<gen>\n<results JSON>".
        const nl = raw ? raw.indexOf('\n') : -1;
        if (raw && nl > 0 && raw.slice(0, nl) === current) return { gen: current, hit: raw.slice(nl + 1) };
        return { gen: current, hit: undefined };
      } catch (err) {
        log.debug({ reason: (err as Error).message }, 'cache read failed');
        return undefined;
      }
    },
    async put(gen, results) {
      if (redis.status !== 'ready') return;
      try {
        const entry = `${gen}\n${results}`;
        const last = `${gen}\n${new Date().toISOString()}\n${results}`;
        await redis.multi().set(dataKey, entry, 'EX', RESULTS_TTL_SECONDS).set(lastKey, last, 'EX', LAST_RESULTS_TTL_SECONDS).exec();
      } catch (err) {
        log.debug({ reason: (err as Error).message }, 'cache write failed');
      }
    },
    async readLast() {
      if (redis.status !== 'ready') return undefined;
      try {
        if (pendingInvalidate && !inflight) await incrAfterNow();
        const [gen, raw] = await redis.mget(genKey, lastKey);
        const a = raw ? raw.indexOf('\n') : -1;
        const b = raw && a > 0 ? raw.indexOf('\n', a + 1) : -1;
        if (!raw || b < 0) return undefined;
        return { json: raw.slice(b + 1), current: gen !== null && raw.slice(0, a) === gen, asOf: raw.slice(a + 1, b) };
      } catch (err) {
        log.debug({ reason: (err as Error).message }, 'cache read failed');
        return undefined;
      }
    },
    async invalidate() {
      if (redis.status !== 'ready') {
        pendingInvalidate = true;
        return;
      }
      try {
        await incrAfterNow();
      } catch (err) {
        log.debug({ reason: (err as Error).message }, 'cache invalidation failed; retried on next use');
      }
    },
    async ping() {
      if (redis.status !== 'ready') return false;
      try {
        return (await redis.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    isUp: () => up && redis.status === 'ready',
    async close() {
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}
