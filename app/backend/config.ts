// The backend's configuration, read once from the environment. Secrets come
// from a file (*_FILE, which wins) or the plain variable, and are kept out of
// anything that gets logged (see `describeConfig`).
import { readFileSync } from 'node:fs';

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface VoteOption {
  readonly id: string;
  readonly label: string;
}

export interface DatabaseConfig {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  readonly poolMax: number;
}

export interface CacheConfig {
  readonly host: string;
  readonly port: number;
  readonly password: string | undefined;
}

export interface Config {
  readonly port: number;
  /** Where /metrics is served too, on its own (METRICS_PORT); unset: only on `port`. */
  readonly metricsPort: number | undefined;
  readonly host: string;
  readonly logLevel: string;
  readonly database: DatabaseConfig;
  readonly cache: CacheConfig;
  readonly cookieSecret: string;
  readonly options: readonly VoteOption[];
}

/** Used when VOTE_OPTIONS is unset. */
export const DEFAULT_OPTIONS: readonly VoteOption[] = [
  { id: 'cats', label: 'Cats' },
  { id: 'dogs', label: 'Dogs' },
];

const OPTION_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** `NAME_FILE` (contents, trailing newlines dropped) wins over `NAME`; undefined when neither is set. */
export function secret(env: Env, name: string): string | undefined {
  const file = env[`${name}_FILE`];
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const value = text.replace(/[\r\n]+$/, '');
    if (!value) throw new ConfigError(`${name}_FILE: ${file} is empty`);
    return value;
  }
  const value = env[name];
  return value === '' ? undefined : value;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name}: expected an integer in ${min}..${max}, got "${raw}"`);
  return n;
}

function str(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

/** VOTE_OPTIONS: JSON `[{"id":"...","label":"..."}]`, 1..50 options, unique lowercase ids. */
export function parseOptions(raw: string | undefined): readonly VoteOption[] {
  if (raw === undefined || raw.trim() === '') return DEFAULT_OPTIONS;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('VOTE_OPTIONS: not valid JSON');
  }
  if (!Array.isArray(parsed) || parsed.length < 1 || parsed.length > 50) {
    throw new ConfigError('VOTE_OPTIONS: expected a JSON array of 1 to 50 {"id","label"} objects');
  }
  const seen = new Set<string>();
  return parsed.map((o: unknown, i) => {
    const { id, label } = (o ?? {}) as { id?: unknown; label?: unknown };
    if (typeof id !== 'string' || !OPTION_ID.test(id)) {
      throw new ConfigError(`VOTE_OPTIONS[${i}].id: expected lowercase letters, digits, "-" or "_" (1-63 chars)`);
    }
    if (typeof label !== 'string' || label.trim() === '' || label.length > 200) {
      throw new ConfigError(`VOTE_OPTIONS[${i}].label: expected a non-empty string of at most 200 chars`);
    }
    if (seen.has(id)) throw new ConfigError(`VOTE_OPTIONS[${i}].id: "${id}" appears twice`);
    seen.add(id);
    return { id, label };
  });
}

/** The database part alone: all the one-shot migration needs. */
export function loadDatabaseConfig(env: Env): DatabaseConfig {
  const password = secret(env, 'PGPASSWORD');
  if (!password) throw new ConfigError('PGPASSWORD or PGPASSWORD_FILE is required');
  return {
    host: str(env, 'PGHOST', '127.0.0.1'),
    port: int(env, 'PGPORT', 5432, 1, 65535),
    database: str(env, 'PGDATABASE', 'securevote'),
    user: str(env, 'PGUSER', 'securevote'),
    password,
    poolMax: int(env, 'PG_POOL_MAX', 10, 1, 1000),
  };
}

export function loadConfig(env: Env): Config {
  const cookieSecret = secret(env, 'COOKIE_SECRET');
  if (!cookieSecret) throw new ConfigError('COOKIE_SECRET or COOKIE_SECRET_FILE is required');
  if (cookieSecret.length < 16) throw new ConfigError('COOKIE_SECRET: at least 16 characters');
  const logLevel = str(env, 'LOG_LEVEL', 'info');
  if (!LOG_LEVELS.has(logLevel)) throw new ConfigError(`LOG_LEVEL: one of ${[...LOG_LEVELS].join(', ')}`);
  return {
    port: int(env, 'PORT', 5000, 0, 65535),
    metricsPort: env.METRICS_PORT ? int(env, 'METRICS_PORT', 0, 0, 65535) : undefined,
    host: str(env, 'HOST', '0.0.0.0'),
    logLevel,
    database: loadDatabaseConfig(env),
    cache: {
      host: str(env, 'REDIS_HOST', '127.0.0.1'),
      port: int(env, 'REDIS_PORT', 6379, 1, 65535),
      password: secret(env, 'REDIS_PASSWORD'),
    },
    cookieSecret,
    options: parseOptions(env.VOTE_OPTIONS),
  };
}

/** What may be logged about the configuration: everything but the secrets. */
export function describeConfig(c: Config): Record<string, unknown> {
  return {
    port: c.port,
    host: c.host,
    logLevel: c.logLevel,
    database: { host: c.database.host, port: c.database.port, database: c.database.database, user: c.database.user, poolMax: c.database.poolMax },
    cache: { host: c.cache.host, port: c.cache.port, auth: c.cache.password ? 'password' : 'none' },
    options: c.options.map((o) => o.id),
  };
}
