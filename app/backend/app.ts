// The express application: middleware order, routes, JSON errors. Built from
// a context so tests and main assemble it the same way.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import type { AppContext } from './context.ts';
import { errorHandler, notFound } from './errors.ts';
import { healthRouter } from './health.ts';
import type { Metrics } from './metrics.ts';
import { resultsHandler } from './results.ts';
import { apiRouter } from './routes.ts';
import { voteHandler } from './vote.ts';

/** Observes every answered request; the route label is the matched pattern, so the label set stays bounded. */
function requestMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const stop = metrics.httpDuration.startTimer();
    res.once('finish', () => {
      // An error leaving a router resets req.baseUrl; the router noted its mount path.
      const base = typeof res.locals.routeBase === 'string' ? res.locals.routeBase : req.baseUrl;
      const route = req.route ? `${base}${String(req.route.path)}` : 'unmatched';
      stop({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}

export function createApp(ctx: AppContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Behind nginx (a loopback or private address): req.secure follows X-Forwarded-Proto.
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.use(requestMetrics(ctx.metrics));
  app.use((_req, res, next) => {
    res.set('X-Content-Type-Options', 'nosniff');
    next();
  });
  app.use(healthRouter(ctx));
  app.get('/metrics', async (_req, res) => {
    res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
  app.use('/api', apiRouter(ctx));
  app.use(notFound);
  app.use(errorHandler(ctx.log));
  return app;
}

/**
 * The server's listener: GET /api/results and the usual POST /api/vote go
 * straight to their handlers (the same ones express routes to, so one
 * behaviour), everything else to express.
 */
export function createRequestListener(ctx: AppContext): RequestListener {
  const app = createApp(ctx);
  const results = resultsHandler(ctx);
  const vote = voteHandler(ctx);
  // express's req.secure, from the same compiled 'trust proxy' setting.
  const trust = app.get('trust proxy fn') as (addr: string | undefined, i: number) => boolean;
  const secure = (req: IncomingMessage): boolean => {
    const own = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    if (!trust(req.socket.remoteAddress, 0)) return own === 'https';
    return String(req.headers['x-forwarded-proto'] || own).split(',', 1)[0]!.trim() === 'https';
  };
  const observe = (res: ServerResponse, method: string, route: string): void => {
    const stop = ctx.metrics.httpDuration.startTimer();
    res.once('finish', () => stop({ method, route, status: String(res.statusCode) }));
  };
  return (req, res) => {
    if (req.method === 'GET' && req.url === '/api/results') {
      observe(res, 'GET', '/api/results');
      void results(req, res);
      return;
    }
    if (req.method === 'POST' && req.url === '/api/vote' && vote.canReadDirectly(req)) {
      observe(res, 'POST', '/api/vote');
      void vote.direct(req, res, secure(req));
      return;
    }
    app(req, res);
  };
}
