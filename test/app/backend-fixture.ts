// Shared by the backend tests: real PostgreSQL and Redis from the local
// launchers, the backend as a real child process (`node app/backend/main.ts`
// on this Node 22), and a small HTTP helper.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type PostgresServer } from '../../app/local/postgres.ts';
import { freePort, isAlive, killPid, spawnServer, stopPid, waitReady, type SpawnedServer } from '../../app/local/process.ts';
import { startRedis, type RedisServer } from '../../app/local/redis.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const MAIN = join(ROOT, 'app/backend/main.ts');
export const MIGRATE = join(ROOT, 'app/backend/migrate.ts');
export const OPTIONS = [
  { id: 'red', label: 'Red' },
  { id: 'green', label: 'Green' },
  { id: 'blue', label: 'Blue' },
];

export function scratch(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `sv-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Deps {
  pg: PostgresServer;
  redis: RedisServer;
  cookieSecretFile: string;
  cookieSecret: string;
  /** Everything the backend needs, secrets as *_FILE only. */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

export async function startDeps(dir: string, opts: { redis?: boolean } = {}): Promise<Deps> {
  const [pgs, redis] = await Promise.all([
    startPostgres({ dir: join(dir, 'pg') }),
    opts.redis === false ? Promise.resolve(undefined) : startRedis({ dir: join(dir, 'redis') }),
  ]);
  const cookieSecret = randomBytes(32).toString('base64url');
  const cookieSecretFile = join(dir, 'cookie-secret');
  writeFileSync(cookieSecretFile, cookieSecret + '\n', { mode: 0o600 });
  return {
    pg: pgs,
    redis: redis as RedisServer,
    cookieSecret,
    cookieSecretFile,
    env: () => ({
      ...pgs.env(),
      ...(redis ? redis.env() : {}),
      COOKIE_SECRET_FILE: cookieSecretFile,
      VOTE_OPTIONS: JSON.stringify(OPTIONS),
    }),
    async stop() {
      await Promise.allSettled([pgs.stop(), redis?.stop()]);
    },
  };
}

export interface Backend {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly logFile: string;
  readonly srv: SpawnedServer;
  logs(): string;
  /** SIGTERM (drain), SIGKILL after a timeout. */
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** Starts `node app/backend/main.ts`; by default waits until /livez answers. */
export async function startBackend(dir: string, env: Record<string, string>, opts: { waitHealthy?: boolean } = {}): Promise<Backend> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const logFile = join(dir, `backend-${port}.log`);
  const url = `http://127.0.0.1:${port}`;
  const srv = spawnServer({
    cmd: [process.execPath, MAIN],
    logFile,
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'debug', ...env },
  });
  await waitReady(srv, `backend on ${url}`, logFile, async () => (await get(url, '/livez').catch(() => undefined))?.status === 200);
  if (opts.waitHealthy !== false) await waitHealth(url, 200);
  return {
    url,
    port,
    pid: srv.pid,
    logFile,
    srv,
    logs: () => readFileSync(logFile, 'utf8'),
    stop: () => stopPid(srv.pid, { signal: 'SIGTERM', timeoutMs: 25_000 }),
    kill: () => (isAlive(srv.pid) ? killPid(srv.pid) : Promise.resolve()),
  };
}

export interface Reply {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
  /** The `sv_voter=...` pair from Set-Cookie, ready for a Cookie header. */
  cookie: string | undefined;
}

export async function request(url: string, path: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(url + path, { ...init, signal: init.signal ?? AbortSignal.timeout(15_000) });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const set = res.headers.getSetCookie().find((c) => c.startsWith('sv_voter='));
  return { status: res.status, headers: res.headers, body, text, cookie: set?.split(';')[0] };
}

export const get = (url: string, path: string): Promise<Reply> => request(url, path);

export function vote(url: string, optionId: unknown, cookie?: string): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (cookie) headers.cookie = cookie;
  return request(url, '/api/vote', { method: 'POST', headers, body: JSON.stringify({ optionId }) });
}

/** The voter id inside a `sv_voter=v1.<uuid>.<sig>` cookie. */
export function voterIdOf(cookie: string): string {
  const id = cookie.split('=')[1]?.split('.')[1];
  if (!id) throw new Error(`not a voter cookie: ${cookie}`);
  return id;
}

/** Polls /health until it answers `status` (and, when given, the cache check). */
export async function waitHealth(url: string, status: number, cache?: 'ok' | 'down', timeoutMs = 30_000): Promise<Reply> {
  const deadline = Date.now() + timeoutMs;
  let last: Reply | undefined;
  for (;;) {
    last = await get(url, '/health').catch(() => undefined);
    const checks = (last?.body as { checks?: { cache?: string } } | undefined)?.checks;
    if (last?.status === status && (cache === undefined || checks?.cache === cache)) return last;
    if (Date.now() > deadline) throw new Error(`/health did not become ${status}${cache ? ` cache=${cache}` : ''}; last: ${last?.status} ${last?.text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A direct client to the test's PostgreSQL (for counting rows, locking tables). */
export async function sql(p: PostgresServer): Promise<pg.Client> {
  const c = new pg.Client({ host: p.host, port: p.port, user: p.user, database: p.database, password: p.password });
  c.on('error', () => {}); // the outage tests kill the server under it
  await c.connect();
  return c;
}

/** One test file's stack: its dependencies, a backend on them, and a SQL client when asked. */
export interface FileStack {
  /** Its scratch directory (servers' data and logs). */
  readonly dir: string;
  readonly deps: Deps;
  readonly backend: Backend;
  /** A client on the stack's PostgreSQL, opened on first use, again after the server dropped it, and closed with the stack. */
  db(): Promise<pg.Client>;
}

/**
 * PostgreSQL and Redis in a scratch directory and a backend on them (with
 * `env` added), started before the file's tests and stopped after them, also
 * when the start fails half-way. Call it at the top of a test file.
 */
export function fileStack(name: string, env: Record<string, string> = {}): FileStack {
  const work = scratch(name);
  let deps: Deps | undefined;
  let backend: Backend | undefined;
  let client: pg.Client | undefined;
  const stop = async (): Promise<void> => {
    await client?.end().catch(() => {});
    await backend?.stop().catch(() => {});
    await deps?.stop();
    work.remove();
  };
  beforeAll(async () => {
    try {
      deps = await startDeps(work.dir);
      backend = await startBackend(work.dir, { ...deps.env(), ...env });
    } catch (err) {
      await stop();
      throw err;
    }
  });
  afterAll(stop);
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error(`${name}: the stack did not start`);
    return v;
  };
  return {
    dir: work.dir,
    get deps() {
      return started(deps);
    },
    get backend() {
      return started(backend);
    },
    async db() {
      if (!client) {
        const c = await sql(started(deps).pg);
        // The outage tests kill the server under it: the next call opens a new one.
        c.on('error', () => {
          if (client === c) client = undefined;
        });
        client = c;
      }
      return client;
    },
  };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The value of a Prometheus sample line (0 when absent). */
export function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}
