// Every error becomes a JSON answer `{"error": code, "message": text}` with a
// 4xx or 5xx status, never a stack trace or an HTML page.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isUnavailable, reasonOf } from './db.ts';
import type { Logger } from './log.ts';

/** Seconds a client should wait before retrying while a dependency is away. */
export const RETRY_AFTER_SECONDS = 2;

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export const unavailable = (what: string): HttpError =>
  new HttpError(503, 'unavailable', `${what} is temporarily unavailable; retry later`, { 'Retry-After': String(RETRY_AFTER_SECONDS) });

// body-parser's error types, answered with our own words (its messages can
// quote the request body).
const BODY_ERRORS: Record<string, [number, string, string]> = {
  'entity.parse.failed': [400, 'malformed_json', 'the request body is not valid JSON'],
  'entity.too.large': [413, 'body_too_large', 'the request body is too large'],
  'entity.verify.failed': [400, 'bad_request', 'the request body was rejected'],
  'request.aborted': [400, 'bad_request', 'the request was aborted'],
  'request.size.invalid': [400, 'bad_request', 'the request body size does not match Content-Length'],
  'charset.unsupported': [415, 'unsupported_charset', 'the request charset is not supported; use utf-8'],
  'encoding.unsupported': [415, 'unsupported_encoding', 'the request content encoding is not supported'],
  'parameters.too.many': [413, 'body_too_large', 'too many parameters'],
  'stream.encoding.set': [500, 'internal', 'internal error'],
  'stream.not.readable': [400, 'bad_request', 'the request body could not be read'],
};

export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const type = (err as { type?: unknown } | null)?.type;
  if (typeof type === 'string' && BODY_ERRORS[type]) {
    const [status, code, message] = BODY_ERRORS[type];
    return new HttpError(status, code, message);
  }
  if (isUnavailable(err)) return unavailable('the database');
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) return new HttpError(status, 'bad_request', 'bad request');
  return new HttpError(500, 'internal', 'internal error');
}

export function sendError(res: Parameters<RequestHandler>[1], e: HttpError): void {
  res.status(e.status).set(e.headers).json({ error: e.code, message: e.message });
}

export const notFound: RequestHandler = (req, res) => {
  sendError(res, new HttpError(404, 'not_found', `no route for ${req.method} ${req.path.slice(0, 100)}`));
};

/**
 * The full error goes to the log only (stack included for 500s). A 503 is an
 * outage already logged once by its dependency's state: debug here.
 */
export function logError(log: Logger, e: HttpError, err: unknown, where: Record<string, unknown>): void {
  if (e.status === 503) log.debug({ ...where, reason: reasonOf(err) }, e.message);
  else if (e.status >= 500) log.error({ ...where, err }, e.message);
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = toHttpError(err);
    logError(log, e, err, { method: req.method, route: req.route?.path ?? req.path });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendError(res, e);
  };
}
