// A real local PostgreSQL 15 for tests and `make up`: its own data directory,
// 127.0.0.1 only, password (SCRAM) auth for user/database `securevote`, the
// password given to initdb through a file, never on a command line.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import {
  LOCALHOST, asUser, exists, freePort, isAlive, killPid, spawnServer, stopPid, waitReady,
  type SpawnedServer,
} from './process.ts';

const run = promisify(execFile);

/** Debian's PostgreSQL 15 binaries; PG_BIN overrides (another version or layout). */
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** The OS user that runs PostgreSQL when we are root (it refuses to run as root). */
const PG_OS_USER = 'postgres';

export const PG_USER = 'securevote';
export const PG_DATABASE = 'securevote';

export interface PostgresOptions {
  /** Directory owned by this server: data/, postgres.log, password. Reused data survives stop/start. */
  dir: string;
  /** TCP port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Password for a NEW cluster; an existing cluster keeps the one in dir/password. Random when omitted. */
  password?: string;
  /** Outlive this Node process (make up); stop later with stopPostgresDir(dir). Default false. */
  detached?: boolean;
  /** Start-up timeout (default 60 s). */
  timeoutMs?: number;
}

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  /** File holding the password (mode 0600): give it to clients as PGPASSWORD_FILE. */
  readonly passwordFile: string;
  readonly password: string;
  readonly dataDir: string;
  /** The unix socket lives in the data directory. */
  readonly socketDir: string;
  readonly logFile: string;
  /** The postmaster's pid (changes on restart). */
  readonly pid: number;
  /** Backend environment: PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD_FILE. */
  env(): Record<string, string>;
  /** Fast shutdown (SIGINT: disconnect clients, checkpoint), SIGKILL after a timeout. */
  stop(): Promise<void>;
  /** SIGKILL the postmaster and its backends at once: a crash. */
  kill(): Promise<void>;
  /** Stop if running, then start again on the same port with the same data. */
  restart(): Promise<void>;
}

/**
 * PostgreSQL (as user postgres when we are root) cannot enter a directory
 * whose ancestors deny it search permission, e.g. a 0700 mkdtemp dir. Scratch
 * dirs under the temp dir get o+x (search, not read); elsewhere we say so.
 */
export function ensureTraversable(dir: string): void {
  if (process.getuid?.() !== 0) return;
  const tmp = realpathSync(tmpdir());
  let d = dirname(realpathSync(dir));
  const fixes: string[] = [];
  while (d !== dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) fixes.push(d);
    d = dirname(d);
  }
  for (const f of fixes) {
    if (f === tmp || f.startsWith(tmp + sep)) chmodSync(f, statSync(f).mode | 0o001);
    else throw new Error(`postgres: user ${PG_OS_USER} cannot enter ${f}; use a data dir it can reach (chmod o+x ${f})`);
  }
}

export function pgUid(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const out = execFileSync('id', ['-u', PG_OS_USER], { encoding: 'utf8' }).trim();
  const gid = execFileSync('id', ['-g', PG_OS_USER], { encoding: 'utf8' }).trim();
  return { uid: Number(out), gid: Number(gid) };
}

function chownTree(path: string, ids: { uid: number; gid: number } | undefined): void {
  if (ids) execFileSync('chown', ['-R', `${ids.uid}:${ids.gid}`, path]);
}

/** Creates the cluster once: initdb with SCRAM auth, local settings, then database securevote. */
async function initCluster(dir: string, dataDir: string, passwordFile: string): Promise<void> {
  const ids = pgUid();
  const marker = join(dir, 'initialized');
  if (exists(marker)) return;
  // A half-made cluster (crash during init) is redone from scratch.
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { mode: 0o700 });
  chownTree(dataDir, ids);
  const initLog = join(dir, 'initdb.log');
  try {
    const cmd = asUser(PG_OS_USER, [
      join(PG_BIN, 'initdb'), '-D', dataDir, '-U', PG_USER, `--pwfile=${passwordFile}`,
      '--auth-host=scram-sha-256', '--auth-local=scram-sha-256',
      '--encoding=UTF8', '--locale=C.UTF-8', '--no-instructions',
    ]);
    await run(cmd[0]!, cmd.slice(1));
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    writeFileSync(initLog, `${e.stdout ?? ''}${e.stderr ?? ''}`);
    throw new Error(`initdb failed; see ${initLog}:\n${e.stderr ?? ''}`);
  }
  // Settings live in the cluster's own config; the port is per start (-p).
  appendFileSync(join(dataDir, 'postgresql.conf'), [
    '',
    '# SecureVote local server (app/local/postgres.ts)',
    `listen_addresses = '${LOCALHOST}'`,
    `unix_socket_directories = '${dataDir}'`,
    "password_encryption = 'scram-sha-256'",
    'synchronous_commit = on   # a vote is acknowledged only once durable',
    'fsync = on',
    'shared_buffers = 128MB    # sized for the 512Mi database limit',
    'max_connections = 100',
    '',
  ].join('\n'));
  // Single-user mode: no server, no network, no password needed to create the database.
  const cmd = asUser(PG_OS_USER, [join(PG_BIN, 'postgres'), '--single', '-D', dataDir, 'postgres']);
  execFileSync(cmd[0]!, cmd.slice(1), {
    input: `CREATE DATABASE ${PG_DATABASE} OWNER ${PG_USER};\n`,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  writeFileSync(marker, new Date().toISOString() + '\n');
}

async function pgReady(port: number): Promise<boolean> {
  try {
    await run(join(PG_BIN, 'pg_isready'), ['-q', '-h', LOCALHOST, '-p', String(port), '-d', PG_DATABASE, '-U', PG_USER, '-t', '2']);
    return true;
  } catch {
    return false;
  }
}

/** Starts (initialising on first use) a PostgreSQL in `opts.dir` and waits until it accepts connections. */
export async function startPostgres(opts: PostgresOptions): Promise<PostgresServer> {
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ids = pgUid();
  if (ids) chmodSync(dir, 0o711); // postgres may enter, not list
  ensureTraversable(dir);
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const passwordFile = join(dir, 'password');
  if (!exists(passwordFile)) {
    writeFileSync(passwordFile, (opts.password ?? randomBytes(24).toString('base64url')) + '\n', { mode: 0o600 });
  }
  if (ids) chownSync(passwordFile, ids.uid, ids.gid); // initdb reads it as postgres
  const password = readFileSync(passwordFile, 'utf8').trim();
  await initCluster(dir, dataDir, passwordFile);

  const port = opts.port ?? (await freePort());
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let srv: SpawnedServer | undefined;

  async function start(): Promise<void> {
    // A crash leaves postmaster.pid behind; postgres itself checks it is stale.
    srv = spawnServer({
      cmd: asUser(PG_OS_USER, [join(PG_BIN, 'postgres'), '-D', dataDir, '-p', String(port)]),
      logFile,
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
      detached: opts.detached ?? false,
    });
    await waitReady(srv, `postgres on ${LOCALHOST}:${port}`, logFile, () => pgReady(port), timeoutMs);
  }

  const running = (): boolean => srv !== undefined && !srv.exitedYet() && isAlive(srv.pid);
  const handle: PostgresServer = {
    host: LOCALHOST,
    port,
    user: PG_USER,
    database: PG_DATABASE,
    passwordFile,
    password,
    dataDir,
    socketDir: dataDir,
    logFile,
    get pid() {
      return srv?.pid ?? -1;
    },
    env: () => ({
      PGHOST: LOCALHOST, PGPORT: String(port), PGUSER: PG_USER, PGDATABASE: PG_DATABASE, PGPASSWORD_FILE: passwordFile,
    }),
    async stop() {
      if (running()) await stopPid(srv!.pid, { signal: 'SIGINT', timeoutMs: 20_000 });
    },
    async kill() {
      if (running()) await killPid(srv!.pid, { group: true });
    },
    async restart() {
      await handle.stop();
      await start();
    },
  };
  await start();
  return handle;
}

/** Stops the PostgreSQL running in `dir` (from its postmaster.pid), e.g. `make down`. */
export async function stopPostgresDir(dir: string): Promise<void> {
  const pidFile = join(resolve(dir), 'data', 'postmaster.pid');
  if (!exists(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0) await stopPid(pid, { signal: 'SIGINT', timeoutMs: 20_000 });
}
