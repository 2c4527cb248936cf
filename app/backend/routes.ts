// The vote API: /api/options, /api/vote, /api/results (results.ts).
import cookieParser from 'cookie-parser';
import express, { Router, type Request, type RequestHandler } from 'express';
import type { AppContext } from './context.ts';
import { HttpError, unavailable } from './errors.ts';
import { isUnavailable, reasonOf } from './db.ts';
import { resultsHandler } from './results.ts';
import { castVote } from './votes.ts';
import { VOTER_COOKIE, VOTER_COOKIE_MAX_AGE_MS } from './voter.ts';

/** A vote is `{"optionId":"..."}`: a few dozen bytes. Anything near this is not a vote. */
export const VOTE_BODY_LIMIT = '1kb';

function mediaType(req: Request): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** 415 unless the request says it is JSON (checked before any parsing). */
const requireJson: RequestHandler = (req, _res, next) => {
  if (mediaType(req) !== 'application/json') {
    throw new HttpError(415, 'unsupported_media_type', 'Content-Type must be application/json');
  }
  next();
};

const methodNotAllowed = (allow: string): RequestHandler => (req, res) => {
  res.set('Allow', allow);
  throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed here; use ${allow}`);
};

export function apiRouter(ctx: AppContext): Router {
  const { config, pool, cache, metrics, voters, state, database } = ctx;
  const optionIds = new Set(config.options.map((o) => o.id));
  const optionsBody = JSON.stringify({ options: config.options });
  const router = Router();

  router.use((req, res, next) => {
    res.locals.routeBase = req.baseUrl; // for the route label of the request metrics
    res.set('Cache-Control', 'no-store');
    next();
  });

  router.get('/options', (_req, res) => {
    res.type('application/json').send(optionsBody);
  });

  router.post('/vote', requireJson, cookieParser(), express.json({ limit: VOTE_BODY_LIMIT, strict: true }), async (req, res) => {
    function reject(reason: string, e: HttpError): never {
      metrics.votesRejected.inc({ reason });
      throw e;
    }
    const body: unknown = req.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      reject('invalid', new HttpError(400, 'invalid_body', 'the body must be a JSON object: {"optionId":"..."}'));
    }
    const optionId = (body as { optionId?: unknown }).optionId;
    if (optionId === undefined || optionId === null) {
      reject('invalid', new HttpError(400, 'missing_field', 'optionId is required'));
    }
    if (typeof optionId !== 'string') reject('invalid', new HttpError(400, 'invalid_field', 'optionId must be a string'));
    const cookie = voters.verify((req.cookies as Record<string, string> | undefined)?.[VOTER_COOKIE]);
    if (cookie.kind === 'bad') {
      reject('bad_cookie', new HttpError(400, 'bad_cookie', 'the voter cookie is malformed or its signature does not verify'));
    }
    if (!optionIds.has(optionId)) {
      reject('unknown_option', new HttpError(422, 'unknown_option', 'optionId is not one of the options (see GET /api/options)'));
    }
    if (!state.schemaReady) reject('unavailable', unavailable('the database'));

    let voterId: string;
    if (cookie.kind === 'ok') {
      voterId = cookie.voterId;
    } else {
      // Set even if the insert then fails: a retry after an ambiguous failure
      // must come back as the same voter, so it cannot count twice.
      const minted = voters.mint();
      voterId = minted.voterId;
      res.cookie(VOTER_COOKIE, minted.cookie, {
        httpOnly: true,
        sameSite: 'strict',
        secure: req.secure,
        path: '/',
        maxAge: VOTER_COOKIE_MAX_AGE_MS,
      });
    }

    let outcome: 'created' | 'duplicate';
    try {
      outcome = await castVote(pool, voterId, optionId);
      database.set(true);
    } catch (err) {
      if (isUnavailable(err)) {
        database.set(false, reasonOf(err));
        reject('unavailable', unavailable('the database'));
      }
      metrics.votesRejected.inc({ reason: 'error' });
      throw err;
    }
    if (outcome === 'duplicate') reject('duplicate', new HttpError(409, 'already_voted', 'this voter has already voted'));
    await cache.invalidate();
    metrics.votesAcknowledged.inc({ option: optionId });
    res.status(201).json({ optionId });
  });
  router.all('/vote', methodNotAllowed('POST'));

  const results = resultsHandler(ctx);
  router.get('/results', (req, res) => results(req, res));

  router.all('/options', methodNotAllowed('GET'));
  router.all('/results', methodNotAllowed('GET'));
  return router;
}
