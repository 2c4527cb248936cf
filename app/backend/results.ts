// GET /api/results: from the Redis cache when it holds the current
// generation, else counted in PostgreSQL (and cached), and while PostgreSQL
// is down from the last copy (cache.ts readLast): as is when no vote changed
// it since, else marked `"stale": true` with `"asOf"`, the time it was
// counted, so the page keeps its chart through an outage and says how old
// it is, and no reader takes it for the current count; concurrent readers
// share one such read (coalesced). Written against plain
// node:http request/response objects: express routes to it, and the server
// also calls it directly for this hottest read (express's per-request set-up
// costs several times the work of the read itself).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { coalesced } from './coalesced.ts';
import type { AppContext } from './context.ts';
import { isUnavailable, reasonOf } from './db.ts';
import { logError, toHttpError, unavailable } from './errors.ts';
import { countVotes } from './votes.ts';

const HEADERS = {
  'Content-Type': 'application/json; charset=utf-8',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

function send(res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...HEADERS, ...extra, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export type ResultsHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function resultsHandler(ctx: AppContext): ResultsHandler {
  const { cache, config, database, metrics, pool, state } = ctx;
  /** During a database outage: the last results (marked stale when a vote changed them since); none at all: the 503. */
  async function lastOr(err: unknown): Promise<{ json: string; source: 'cache' | 'stale' }> {
    const last = await cache.readLast();
    if (last === undefined) throw err;
    if (last.current) return { json: last.json, source: 'cache' };
    return { json: JSON.stringify({ ...(JSON.parse(last.json) as object), stale: true, asOf: last.asOf }), source: 'stale' };
  }
  const read = coalesced(async (): Promise<{ json: string; source: 'cache' | 'database' | 'stale' }> => {
    const cached = await cache.read();
    if (cached?.hit !== undefined) return { json: cached.hit, source: 'cache' };
    if (!state.schemaReady) return lastOr(unavailable('the database'));
    let json: string;
    try {
      json = JSON.stringify(await countVotes(pool, config.options));
      database.set(true);
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      database.set(false, reasonOf(err));
      return lastOr(err);
    }
    if (cached) await cache.put(cached.gen, json);
    return { json, source: 'database' };
  });
  return async (req, res) => {
    try {
      const { json, source } = await read();
      metrics.resultsReads.inc({ source });
      send(res, 200, json);
    } catch (err) {
      const e = toHttpError(err);
      logError(ctx.log, e, err, { method: req.method, route: '/api/results' });
      send(res, e.status, JSON.stringify({ error: e.code, message: e.message }), e.headers);
    }
  };
}
