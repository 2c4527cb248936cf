// JSON log lines to stdout (pino). Redaction is a safety net: the code never
// passes a secret to the logger in the first place.
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'password', '*.password', 'secret', '*.secret', 'cookieSecret', '*.cookieSecret',
  'req.headers.cookie', 'req.headers.authorization', 'headers.cookie', 'headers.authorization',
  'res.headers["set-cookie"]', 'headers["set-cookie"]',
  // PostgreSQL's detail names the row's values: a voter's id, their choice and request key.
  'err.detail',
];

export function createLogger(level: string, service = 'backend'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  });
}
