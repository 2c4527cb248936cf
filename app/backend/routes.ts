// The vote API: /api/options, /api/vote (vote.ts), /api/results (results.ts).
import express, { Router, type Request, type RequestHandler } from 'express';
import type { AppContext } from './context.ts';
import { HttpError } from './errors.ts';
import { resultsHandler } from './results.ts';
import { VOTE_BODY_LIMIT_BYTES, voteHandler } from './vote.ts';

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
  const { config } = ctx;
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

  // Parsed here only for the requests the server does not read itself (see vote.ts).
  const vote = voteHandler(ctx);
  router.post('/vote', requireJson, express.json({ limit: VOTE_BODY_LIMIT_BYTES, strict: true }), (req, res) =>
    vote.cast(req, res, req.body, req.secure));
  router.all('/vote', methodNotAllowed('POST'));

  const results = resultsHandler(ctx);
  router.get('/results', (req, res) => results(req, res));

  router.all('/options', methodNotAllowed('GET'));
  router.all('/results', methodNotAllowed('GET'));
  return router;
}
