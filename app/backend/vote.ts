// POST /api/vote, written against plain node:http request/response objects
// (like results.ts). The server calls it directly for the usual request (a
// JSON body of known, small length, no content encoding): express's
// per-request set-up, router and body parser cost several times the vote's
// own work. Every other request (a chunked or compressed body, another
// charset, an oversized one, a wrong content type) goes through express's
// route, which parses with express.json and then calls the same `cast`, so
// there is one behaviour.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppContext } from './context.ts';
import { isUnavailable, reasonOf } from './db.ts';
import type { RejectReason } from './metrics.ts';
import { HttpError, logError, toHttpError, unavailable } from './errors.ts';
import { castVote, type CastOutcome } from './votes.ts';
import { IDEMPOTENCY_KEY, VOTER_COOKIE, VOTER_COOKIE_MAX_AGE_MS } from './voter.ts';

/** A vote is `{"optionId":"..."}`: a few dozen bytes. Anything near this is not a vote. */
export const VOTE_BODY_LIMIT_BYTES = 1024;

const BASE_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};
const JSON_TYPE = 'application/json; charset=utf-8';
// The media type and the one charset the direct path reads itself.
const PLAIN_JSON = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/** The raw value of the first `sv_voter` cookie (cookie header semantics: first wins, quotes dropped, %-decoded). */
export function voterCookieOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== VOTER_COOKIE) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (value.includes('%')) {
      try {
        value = decodeURIComponent(value);
      } catch {
        // kept as sent: it then fails verification (400), like any malformed cookie
      }
    }
    return value;
  }
  return undefined;
}

/** The Set-Cookie value of a new voter (the same attributes express's res.cookie wrote). */
function voterSetCookie(value: string, secure: boolean): string {
  const expires = new Date(Date.now() + VOTER_COOKIE_MAX_AGE_MS).toUTCString();
  return `${VOTER_COOKIE}=${encodeURIComponent(value)}; Max-Age=${Math.floor(VOTER_COOKIE_MAX_AGE_MS / 1000)}; Path=/; Expires=${expires}; HttpOnly${secure ? '; Secure' : ''}; SameSite=Strict`;
}

function send(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string>): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, { ...BASE_HEADERS, ...headers, 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export interface VoteHandler {
  /** Records a parsed body; answers 201 or the JSON error. Never throws. */
  cast(req: IncomingMessage, res: ServerResponse, body: unknown, secure: boolean): Promise<void>;
  /** True when `direct` can read this request's body itself. */
  canReadDirectly(req: IncomingMessage): boolean;
  /** Reads the body (bounded), parses it as express.json({strict: true}) would, then `cast`. */
  direct(req: IncomingMessage, res: ServerResponse, secure: boolean): Promise<void>;
}

export function voteHandler(ctx: AppContext): VoteHandler {
  const { config, pool, cache, metrics, voters, state, database } = ctx;
  const optionIds = new Set(config.options.map((o) => o.id));

  function reject(reason: RejectReason, e: HttpError): never {
    metrics.reject(reason);
    throw e;
  }

  async function record(req: IncomingMessage, body: unknown, secure: boolean, headers: Record<string, string>): Promise<string> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      reject('invalid', new HttpError(400, 'invalid_body', 'the body must be a JSON object: {"optionId":"..."}'));
    }
    const optionId = (body as { optionId?: unknown }).optionId;
    if (optionId === undefined || optionId === null) {
      reject('invalid', new HttpError(400, 'missing_field', 'optionId is required'));
    }
    if (typeof optionId !== 'string') reject('invalid', new HttpError(400, 'invalid_field', 'optionId must be a string'));
    const cookie = voters.verify(voterCookieOf(req.headers.cookie));
    if (cookie.kind === 'bad') {
      reject('bad_cookie', new HttpError(400, 'bad_cookie', 'the voter cookie is malformed or its signature does not verify'));
    }
    if (!optionIds.has(optionId)) {
      reject('unknown_option', new HttpError(422, 'unknown_option', 'optionId is not one of the options (see GET /api/options)'));
    }
    const rawKey = req.headers['idempotency-key'];
    let requestKey: string | undefined;
    if (rawKey !== undefined) {
      if (typeof rawKey !== 'string' || !IDEMPOTENCY_KEY.test(rawKey.trim())) {
        reject('invalid', new HttpError(400, 'bad_idempotency_key', 'Idempotency-Key must be a UUID, the same on every retry of one vote'));
      }
      requestKey = rawKey.trim().toLowerCase();
    }
    if (!state.schemaReady) reject('unavailable', unavailable('the database'));

    let voterId: string;
    if (cookie.kind === 'ok') {
      voterId = cookie.voterId;
    } else {
      // A retry whose first reply (and its Set-Cookie) was lost carries the
      // same Idempotency-Key, so it maps to the same voter and cannot count
      // twice. Without a key, a random voter. Set even if the insert then
      // fails, for a retry that does carry the cookie.
      const minted = requestKey !== undefined ? voters.fromKey(requestKey) : voters.mint();
      voterId = minted.voterId;
      headers['Set-Cookie'] = voterSetCookie(minted.cookie, secure);
    }

    let outcome: CastOutcome;
    try {
      outcome = await castVote(pool, voterId, optionId, requestKey);
      database.set(true);
    } catch (err) {
      if (isUnavailable(err)) {
        database.set(false, reasonOf(err));
        reject('unavailable', unavailable('the database'));
      }
      metrics.reject('error');
      throw err;
    }
    if (outcome === 'duplicate') reject('duplicate', new HttpError(409, 'already_voted', 'this voter has already voted'));
    if (outcome === 'replay') {
      // The same vote again (its first reply was lost): acknowledged once already, counted once.
      ctx.log.debug({ route: '/vote' }, 'vote replayed by its Idempotency-Key');
      return optionId;
    }
    await cache.invalidate();
    metrics.votesAcknowledged.inc({ option: optionId });
    return optionId;
  }

  async function cast(req: IncomingMessage, res: ServerResponse, body: unknown, secure: boolean): Promise<void> {
    const headers: Record<string, string> = {};
    try {
      const optionId = await record(req, body, secure, headers);
      send(res, 201, { optionId }, headers);
    } catch (err) {
      const e = toHttpError(err);
      logError(ctx.log, e, err, { method: req.method, route: '/vote' });
      send(res, e.status, { error: e.code, message: e.message }, { ...headers, ...e.headers });
    }
  }

  function fail(res: ServerResponse, status: number, code: string, message: string): void {
    send(res, status, { error: code, message }, {});
  }

  return {
    cast,
    canReadDirectly(req) {
      const h = req.headers;
      if (h['transfer-encoding'] !== undefined || h['content-length'] === undefined) return false;
      if (h['content-encoding'] !== undefined && h['content-encoding'].toLowerCase() !== 'identity') return false;
      if (!PLAIN_JSON.test(h['content-type'] ?? '')) return false;
      // Node's parser has checked Content-Length is a valid number.
      return Number(h['content-length']) <= VOTE_BODY_LIMIT_BYTES;
    },
    async direct(req, res, secure) {
      let text: string;
      try {
        text = await new Promise<string>((resolve, reject) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.once('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
          req.once('error', reject);
          req.once('aborted', () => reject(new Error('aborted')));
        });
      } catch {
        fail(res, 400, 'bad_request', 'the request was aborted');
        return;
      }
      // As body-parser: utf-8 decoding drops a byte order mark; an empty body is {}.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      let body: unknown = {};
      if (text.length > 0) {
        const first = /[^\x20\x09\x0a\x0d]/.exec(text)?.[0]; // JSON's whitespace only
        try {
          if (first !== '{' && first !== '[') throw new SyntaxError('strict: not an object or array');
          body = JSON.parse(text);
        } catch {
          fail(res, 400, 'malformed_json', 'the request body is not valid JSON');
          return;
        }
      }
      await cast(req, res, body, secure);
    },
  };
}
