// The whole stack as local processes (make up / make down, and the browser
// test): PostgreSQL, Redis, backend, frontend, nginx, started in the seed's
// order (database and cache, then backend, then frontend, then proxy), each
// waited on until healthy. Everything lives in one directory: data, logs,
// pid files, generated secrets (files, mode 0600; never on a command line),
// and stack.json (ports and file paths, no secret). `up` is idempotent: it
// keeps what is running and starts what is not, on the same ports.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNginx, stopNginxDir } from './nginx.ts';
import { PG_DATABASE, PG_USER, startPostgres, stopPostgresDir } from './postgres.ts';
import { LOCALHOST, exists, freePort, isAlive, spawnServer, stopPid, waitReady } from './process.ts';
import { startRedis, stopRedisDir } from './redis.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BACKEND_MAIN = join(REPO, 'app/backend/main.ts');
const FRONTEND_MAIN = join(REPO, 'app/frontend/server.ts');

export interface StackPorts {
  proxy: number;
  frontend: number;
  backend: number;
  postgres: number;
  redis: number;
}

/** stack.json: what other tools (kill CLI, bench) need to reach the stack. No secret values. */
export interface StackState {
  url: string;
  ports: StackPorts;
  postgres: { host: string; port: number; user: string; database: string; passwordFile: string; dir: string };
  redis: { host: string; port: number; passwordFile: string; dir: string };
  cookieSecretFile: string;
  pids: Record<keyof StackPorts, number>;
}

export interface StackOptions {
  /** The stack's directory (make up: $(WORK)/stack). */
  dir: string;
  /** Ports; the proxy defaults to 8080, the others to free ports picked once and kept in stack.json. */
  ports?: Partial<StackPorts>;
  /** Outlive this Node process (make up). Default false (tests: stopped with the test process at the latest). */
  detached?: boolean;
  /** VOTE_OPTIONS for the backend (JSON); the backend's default list when unset. */
  voteOptions?: string;
  /** Extra environment for the backend (e.g. PG_POOL_MAX for the bench). */
  backendEnv?: Record<string, string>;
  /** Benchmark only: nginx also serves this directory under /static/ (see renderNginxConf). */
  proxyStaticRoot?: string;
  /** Progress lines (make up prints them); default silent. */
  log?: (line: string) => void;
}

function readState(dir: string): StackState | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]?.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Is `pid` alive AND running `needle` (a stale pid file may name a reused pid)? */
function runs(pid: number | undefined, needle: string): pid is number {
  if (pid === undefined || !isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
  } catch {
    return false;
  }
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** A secret generated once into a 0600 file, reused afterwards (cookies stay valid across restarts). */
function secretFile(path: string): string {
  if (!exists(path)) writeFileSync(path, randomBytes(32).toString('base64url') + '\n', { mode: 0o600 });
  return path;
}

async function pickPorts(dir: string, wanted: Partial<StackPorts>): Promise<StackPorts> {
  const previous = readState(dir)?.ports;
  const pick = async (k: keyof StackPorts, dflt?: number): Promise<number> => wanted[k] ?? previous?.[k] ?? dflt ?? (await freePort());
  return {
    proxy: await pick('proxy', 8080),
    frontend: await pick('frontend'),
    backend: await pick('backend'),
    postgres: await pick('postgres'),
    redis: await pick('redis'),
  };
}

/** Starts (or completes) the stack in `opts.dir` and returns its state once nginx answers. */
export async function upStack(opts: StackOptions): Promise<StackState> {
  const dir = resolve(opts.dir);
  const say = opts.log ?? (() => {});
  const detached = opts.detached ?? false;
  // 0711: PostgreSQL runs as user postgres (we may be root) and must reach its
  // data dir below; nobody may list this one. Secrets inside are 0600 files.
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  chmodSync(dir, 0o711);
  const ports = await pickPorts(dir, opts.ports ?? {});

  // 1. database and cache (independent of each other).
  const pgDir = join(dir, 'postgres');
  const redisDir = join(dir, 'redis');
  const pgPid = readPid(join(pgDir, 'data', 'postmaster.pid'));
  let pg: { pid: number; passwordFile: string };
  if (runs(pgPid, 'postgres')) {
    say(`postgres: already running (pid ${pgPid})`);
    pg = { pid: pgPid, passwordFile: join(pgDir, 'password') };
  } else {
    say(`postgres: starting on ${LOCALHOST}:${ports.postgres}`);
    pg = await startPostgres({ dir: pgDir, port: ports.postgres, detached });
  }
  const redisPid = readPid(join(redisDir, 'redis.pid'));
  let redis: { pid: number; passwordFile: string };
  if (runs(redisPid, 'redis-server')) {
    say(`redis: already running (pid ${redisPid})`);
    redis = { pid: redisPid, passwordFile: join(redisDir, 'password') };
  } else {
    say(`redis: starting on ${LOCALHOST}:${ports.redis}`);
    redis = await startRedis({ dir: redisDir, port: ports.redis, detached });
  }
  const cookieSecretFile = secretFile(join(dir, 'cookie-secret'));

  // 2. backend: waits for both (above), runs the migrations itself, ready when /health is 200.
  const backendDir = join(dir, 'backend');
  mkdirSync(backendDir, { recursive: true });
  const backendPid = await ensureNode({
    name: 'backend', dir: backendDir, main: BACKEND_MAIN, port: ports.backend, detached, say,
    ready: `http://${LOCALHOST}:${ports.backend}/health`,
    env: {
      PGHOST: LOCALHOST, PGPORT: String(ports.postgres), PGUSER: PG_USER, PGDATABASE: PG_DATABASE,
      PGPASSWORD_FILE: pg.passwordFile,
      REDIS_HOST: LOCALHOST, REDIS_PORT: String(ports.redis), REDIS_PASSWORD_FILE: redis.passwordFile,
      COOKIE_SECRET_FILE: cookieSecretFile,
      ...(opts.voteOptions ? { VOTE_OPTIONS: opts.voteOptions } : {}),
      ...opts.backendEnv,
    },
  });

  // 3. frontend, once the backend is healthy.
  const frontendDir = join(dir, 'frontend');
  mkdirSync(frontendDir, { recursive: true });
  const frontendPid = await ensureNode({
    name: 'frontend', dir: frontendDir, main: FRONTEND_MAIN, port: ports.frontend, detached, say,
    ready: `http://${LOCALHOST}:${ports.frontend}/healthz`, env: {},
  });

  // 4. proxy, once both are healthy.
  const nginxDir = join(dir, 'nginx');
  const url = `http://${LOCALHOST}:${ports.proxy}`;
  let nginxPid = readPid(join(nginxDir, 'nginx.pid'));
  if (runs(nginxPid, 'nginx') && (await httpOk(`${url}/nginx-health`))) {
    say(`nginx: already running (pid ${nginxPid})`);
  } else {
    say(`nginx: starting on ${LOCALHOST}:${ports.proxy}`);
    const n = await startNginx({
      dir: nginxDir, port: ports.proxy, detached, staticRoot: opts.proxyStaticRoot,
      frontend: { host: LOCALHOST, port: ports.frontend },
      backend: { host: LOCALHOST, port: ports.backend },
    });
    nginxPid = n.pid;
  }

  const state: StackState = {
    url,
    ports,
    postgres: { host: LOCALHOST, port: ports.postgres, user: PG_USER, database: PG_DATABASE, passwordFile: pg.passwordFile, dir: pgDir },
    redis: { host: LOCALHOST, port: ports.redis, passwordFile: redis.passwordFile, dir: redisDir },
    cookieSecretFile,
    pids: { postgres: pg.pid, redis: redis.pid, backend: backendPid, frontend: frontendPid, proxy: nginxPid },
  };
  writeFileSync(join(dir, 'stack.json'), JSON.stringify(state, null, 2) + '\n');
  return state;
}

interface NodeServiceSpec {
  name: string;
  dir: string;
  main: string;
  port: number;
  ready: string;
  env: Record<string, string>;
  detached: boolean;
  say: (line: string) => void;
}

/** Starts `node <main>` unless its pid file names a live one; waits for its health URL either way. */
async function ensureNode(s: NodeServiceSpec): Promise<number> {
  const pidFile = join(s.dir, `${s.name}.pid`);
  const logFile = join(s.dir, `${s.name}.log`);
  const existing = readPid(pidFile);
  if (runs(existing, s.main)) {
    s.say(`${s.name}: already running (pid ${existing})`);
    try {
      await waitReadyUrl(s.ready, 60_000);
    } catch {
      throw new Error(`${s.name} (pid ${existing}) is running but ${s.ready} is not 200; see ${logFile}`);
    }
    return existing;
  }
  s.say(`${s.name}: starting on ${LOCALHOST}:${s.port}`);
  const srv = spawnServer({
    cmd: [process.execPath, s.main],
    logFile,
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PORT: String(s.port), HOST: LOCALHOST, LOG_LEVEL: 'info', ...s.env },
    detached: s.detached,
  });
  writeFileSync(pidFile, `${srv.pid}\n`);
  await waitReady(srv, `${s.name} on ${LOCALHOST}:${s.port}`, logFile, () => httpOk(s.ready), 60_000);
  return srv.pid;
}

async function waitReadyUrl(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await httpOk(url))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${url}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Stops the stack in `dir` by its pid files, proxy first, database last. Data stays. */
export async function downStack(dir: string, log: (line: string) => void = () => {}): Promise<void> {
  const d = resolve(dir);
  log('nginx: stopping');
  await stopNginxDir(join(d, 'nginx'));
  for (const [name, main] of [['frontend', FRONTEND_MAIN], ['backend', BACKEND_MAIN]] as const) {
    const pidFile = join(d, name, `${name}.pid`);
    const pid = readPid(pidFile);
    if (runs(pid, main)) {
      log(`${name}: stopping (pid ${pid})`);
      await stopPid(pid, { signal: 'SIGTERM', timeoutMs: 15_000 });
    }
    rmSync(pidFile, { force: true });
  }
  log('redis: stopping');
  await stopRedisDir(join(d, 'redis'));
  log('postgres: stopping');
  await stopPostgresDir(join(d, 'postgres'));
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const dirFlag = rest.indexOf('--dir');
  const dir = dirFlag >= 0 && rest[dirFlag + 1] ? rest[dirFlag + 1]! : join(process.env.SECUREVOTE_WORK ?? join(REPO, '.work'), 'stack');
  const say = (l: string): void => console.error(`stack: ${l}`);
  if (cmd === 'up') {
    const portFlag = rest.indexOf('--port');
    const proxy = portFlag >= 0 ? Number(rest[portFlag + 1]) : undefined;
    const state = await upStack({ dir, detached: true, log: say, ...(proxy ? { ports: { proxy } } : {}) });
    console.log(`SecureVote is up: ${state.url}`);
    console.log(`  data, logs, pids and secrets: ${dir}`);
    console.log('  stop it with: make down');
    return 0;
  }
  if (cmd === 'down') {
    await downStack(dir, say);
    console.log('SecureVote is down (data kept; `make up` starts it again).');
    return 0;
  }
  console.error('usage: node app/local/stack.ts up|down [--dir DIR] [--port PROXY_PORT]');
  return 2;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
    console.error(`stack: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
