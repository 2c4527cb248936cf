// A real local Redis for tests and `make up`: a config FILE in its own
// directory holds the password (never a command-line argument), 127.0.0.1
// only, no persistence (Redis is only the results cache, never the record).
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import {
  LOCALHOST, exists, freePort, isAlive, killPid, spawnServer, stopPid, waitReady, type SpawnedServer,
} from './process.ts';

/** redis-server binary; REDIS_SERVER overrides. */
export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';
/** Below the cache's 256Mi memory limit (design: exercise 4), room left for Redis itself. */
export const REDIS_MAXMEMORY = '200mb';

export interface RedisOptions {
  /** Directory owned by this server: redis.conf, redis.log, redis.pid, password. */
  dir: string;
  /** TCP port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Password on first use; later starts reuse dir/password. Random when omitted. */
  password?: string;
  /** Outlive this Node process (make up); stop later with stopRedisDir(dir). Default false. */
  detached?: boolean;
  timeoutMs?: number;
}

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** File holding the password (mode 0600): give it to clients as REDIS_PASSWORD_FILE. */
  readonly passwordFile: string;
  readonly password: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly pid: number;
  /** Backend environment: REDIS_HOST, REDIS_PORT, REDIS_PASSWORD_FILE. */
  env(): Record<string, string>;
  /** SIGTERM, SIGKILL after a timeout. */
  stop(): Promise<void>;
  /** SIGKILL at once: a crash. */
  kill(): Promise<void>;
  /** Stop if running, then start again on the same port with the same config. */
  restart(): Promise<void>;
}

/** AUTH + PING over RESP; true on +OK then +PONG. */
export function redisPing(port: number, password: string, timeoutMs = 1_000): Promise<boolean> {
  const bulk = (...parts: string[]): string =>
    `*${parts.length}\r\n` + parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('');
  return new Promise((done) => {
    const sock = connect({ host: LOCALHOST, port });
    let buf = '';
    const finish = (ok: boolean): void => {
      sock.destroy();
      done(ok);
    };
    sock.setTimeout(timeoutMs, () => finish(false));
    sock.on('error', () => finish(false));
    sock.on('connect', () => sock.write(bulk('AUTH', password) + bulk('PING')));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      if (buf.startsWith('-')) finish(false);
      else if (buf.includes('+PONG')) finish(true);
    });
  });
}

/** Starts a Redis in `opts.dir` and waits until it answers an authenticated PING. */
export async function startRedis(opts: RedisOptions): Promise<RedisServer> {
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const passwordFile = join(dir, 'password');
  if (!exists(passwordFile)) {
    writeFileSync(passwordFile, (opts.password ?? randomBytes(24).toString('base64url')) + '\n', { mode: 0o600 });
  }
  const password = readFileSync(passwordFile, 'utf8').trim();
  // The config file quotes it; these would break the quoting.
  if (!password || /["\\\s]/.test(password)) throw new Error(`redis: the password in ${passwordFile} must be non-empty, without quotes, backslashes or spaces`);
  const port = opts.port ?? (await freePort());
  const configFile = join(dir, 'redis.conf');
  const logFile = join(dir, 'redis.log');
  const pidFile = join(dir, 'redis.pid');
  // Rewritten each start (the port may change); 0600 because it holds the password.
  writeFileSync(configFile, [
    '# SecureVote local cache (app/local/redis.ts)',
    `bind ${LOCALHOST}`,
    `port ${port}`,
    'protected-mode yes',
    'daemonize no',
    `dir ${dir}`,
    `pidfile ${pidFile}`,
    'logfile ""',
    'save ""',
    'appendonly no',
    `maxmemory ${REDIS_MAXMEMORY}`,
    'maxmemory-policy allkeys-lru',
    `requirepass "${password}"`,
    '',
  ].join('\n'), { mode: 0o600 });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let srv: SpawnedServer | undefined;

  async function start(): Promise<void> {
    srv = spawnServer({
      cmd: [REDIS_SERVER, configFile],
      logFile,
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      detached: opts.detached ?? false,
    });
    await waitReady(srv, `redis on ${LOCALHOST}:${port}`, logFile, () => redisPing(port, password), timeoutMs);
  }

  const running = (): boolean => srv !== undefined && !srv.exitedYet() && isAlive(srv.pid);
  const handle: RedisServer = {
    host: LOCALHOST,
    port,
    passwordFile,
    password,
    configFile,
    logFile,
    get pid() {
      return srv?.pid ?? -1;
    },
    env: () => ({ REDIS_HOST: LOCALHOST, REDIS_PORT: String(port), REDIS_PASSWORD_FILE: passwordFile }),
    async stop() {
      if (running()) await stopPid(srv!.pid, { signal: 'SIGTERM', timeoutMs: 10_000 });
    },
    async kill() {
      if (running()) await killPid(srv!.pid);
    },
    async restart() {
      await handle.stop();
      await start();
    },
  };
  await start();
  return handle;
}

/** Stops the Redis running in `dir` (from its redis.pid), e.g. `make down`. */
export async function stopRedisDir(dir: string): Promise<void> {
  const pidFile = join(resolve(dir), 'redis.pid');
  if (!exists(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (Number.isInteger(pid) && pid > 0) await stopPid(pid, { signal: 'SIGTERM', timeoutMs: 10_000 });
}
