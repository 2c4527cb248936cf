// The processes the chart configures, run for real with the synthesized
// settings: Redis from the cache container's own start script, ConfigMap
// and probe (password through the hashed ACL file, never argv); PostgreSQL
// 15 with the database ConfigMap as its whole config and the probe's
// pg_isready on the socket. Paths that are volumes in the pod become a
// scratch dir; nothing else is changed.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_BIN } from '../../app/local/postgres.ts';
import { asUser, freePort, spawnServer, stopPid, waitReady, type SpawnedServer } from '../../app/local/process.ts';
import { redisMaxmemoryMb } from '../../charts/cache.ts';
import { defaultSpec } from '../../charts/spec.ts';
import { find, mainContainer, NAME, render } from './helpers.ts';

const run = promisify(execFile);
const objects = render();
const PASSWORD = 'correct-horse-battery-staple';

/** Exit code of a command (0 on success). */
async function exitCode(cmd: string[], env: NodeJS.ProcessEnv): Promise<number> {
  try {
    await run(cmd[0]!, cmd.slice(1), { env, timeout: 10_000 });
    return 0;
  } catch (err) {
    return ((err as { code?: number }).code as number) ?? 1;
  }
}

describe('Redis as the cache pod runs it', () => {
  let dir: string;
  let port: number;
  let server: SpawnedServer | undefined;
  let env: NodeJS.ProcessEnv;
  let probe: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'securevote-redis-'));
    for (const d of ['etc', 'run', 'data', 'secrets']) mkdirSync(join(dir, d));
    port = await freePort();
    // A Secret file as an operator or a user writes it, trailing newline included.
    writeFileSync(join(dir, 'secrets', 'redis-password'), `${PASSWORD}\n`);
    const conf = (find(objects, 'ConfigMap', `${NAME}-cache-config`)['data']['redis.conf'] as string)
      .replace(/^bind .*$/m, 'bind 127.0.0.1')
      .replace(/^port 6379$/m, `port ${port}`)
      .replace(/^dir \/data$/m, `dir ${dir}/data`)
      .replace('aclfile /run/redis/users.acl', `aclfile ${dir}/run/users.acl`);
    writeFileSync(join(dir, 'etc', 'redis.conf'), conf);
    const cache = mainContainer(objects, 'cache');
    const script = (cache['command'][2] as string).replaceAll('/run/redis/', `${dir}/run/`).replaceAll('/etc/securevote/', `${dir}/etc/`);
    probe = (cache['readinessProbe'].exec.command as string[]).map((a) => a.replace('-p 6379', `-p ${port}`));
    env = { PATH: process.env['PATH'], REDIS_PASSWORD_FILE: join(dir, 'secrets', 'redis-password') };
    const log = join(dir, 'redis.log');
    server = spawnServer({ cmd: ['sh', '-c', script], env, logFile: log });
    await waitReady(server, 'redis', log, async () => (await exitCode(probe, env)) === 0);
  });

  afterAll(async () => {
    if (server) await stopPid(server.pid);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the probe with the password from the file; refuses without it or with another one', async () => {
    expect(await exitCode(probe, env)).toBe(0);
    writeFileSync(join(dir, 'secrets', 'other'), 'not-the-password');
    expect(await exitCode(probe, { ...env, REDIS_PASSWORD_FILE: join(dir, 'secrets', 'other') })).not.toBe(0);
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping'], { env: { PATH: process.env['PATH'] } });
    expect(stdout).toContain('NOAUTH');
  });

  it('keeps the password off every command line and out of the files it writes', () => {
    const cmdline = readFileSync(`/proc/${server!.pid}/cmdline`, 'utf8').split('\0').join(' ');
    expect(cmdline).toContain('redis-server');
    expect(cmdline).not.toContain(PASSWORD);
    const acl = readFileSync(join(dir, 'run', 'users.acl'), 'utf8');
    expect(acl).toMatch(/^user default on #[0-9a-f]{64} ~\* &\* \+@all\n$/);
    expect(acl).not.toContain(PASSWORD);
  });

  it('runs with maxmemory below its limit and an eviction policy', async () => {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--no-raw', 'config', 'get', 'maxmemory*'], {
      env: { PATH: process.env['PATH'], REDISCLI_AUTH: PASSWORD },
    });
    expect(stdout).toContain(String(redisMaxmemoryMb(defaultSpec()) * 1024 * 1024));
    expect(stdout).toContain('allkeys-lru');
  });
});

describe('PostgreSQL 15 with the database ConfigMap as its whole config', () => {
  let dir: string;
  let port: number;
  let server: SpawnedServer | undefined;
  let probe: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'securevote-pg-'));
    chmodSync(dir, 0o755);
    port = await freePort();
    for (const d of ['data', 'run', 'etc']) mkdirSync(join(dir, d), { mode: 0o700 });
    const conf = (find(objects, 'ConfigMap', `${NAME}-database-config`)['data']['postgresql.conf'] as string)
      .replace("unix_socket_directories = '/var/run/postgresql'", `unix_socket_directories = '${dir}/run'`)
      .replace(/^port = 5432$/m, `port = ${port}`)
      .replace("listen_addresses = '*'", "listen_addresses = '127.0.0.1'");
    writeFileSync(join(dir, 'etc', 'postgresql.conf'), conf);
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const uid = Number(stdout.trim());
      for (const d of ['', 'data', 'run', 'etc', 'etc/postgresql.conf']) chownSync(join(dir, d), uid, uid);
    }
    const initdb = asUser('postgres', [join(PG_BIN, 'initdb'), '-D', join(dir, 'data'), '-U', 'securevote', '--auth-local=trust', '-E', 'UTF8']);
    await run(initdb[0]!, initdb.slice(1), { env: { PATH: process.env['PATH'], LANG: 'C.UTF-8' } });
    // The container's args after the image's entrypoint: postgres -c config_file=<the ConfigMap's file>.
    const args = (mainContainer(objects, 'database')['args'] as string[]).map((a) => a.replace('/etc/securevote/', `${dir}/etc/`));
    expect(args[0]).toBe('postgres');
    const log = join(dir, 'postgres.log');
    server = spawnServer({
      cmd: asUser('postgres', [join(PG_BIN, 'postgres'), '-D', join(dir, 'data'), ...args.slice(1)]),
      env: { PATH: process.env['PATH'], LANG: 'C.UTF-8' },
      logFile: log,
    });
    probe = (mainContainer(objects, 'database')['readinessProbe'].exec.command as string[]).map((a) =>
      a === '/var/run/postgresql' ? `${dir}/run` : a === '5432' ? String(port) : a,
    );
    await waitReady(server, 'postgres', log, async () => (await exitCode(probe, { PATH: process.env['PATH'] })) === 0);
  });

  afterAll(async () => {
    if (server) await stopPid(server.pid);
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts every setting and runs with them (pg_isready on the socket, as the probes do)', async () => {
    const settings = ['shared_buffers', 'max_connections', 'work_mem', 'effective_cache_size', 'huge_pages', 'max_wal_size'];
    const { stdout } = await run('psql', ['-h', `${dir}/run`, '-p', String(port), '-U', 'securevote', '-d', 'postgres', '-Atc', settings.map((s) => `SHOW ${s};`).join(' ')], {
      env: { PATH: process.env['PATH'] },
    });
    const conf = readFileSync(join(dir, 'etc', 'postgresql.conf'), 'utf8');
    const expected = settings.map((s) => new RegExp(`^${s} = (.*)$`, 'm').exec(conf)![1]!);
    expect(stdout.trim().split('\n')).toEqual(expected);
  });

  it("keeps pg_hba.conf in the data directory (the image's initdb writes it there)", async () => {
    const { stdout } = await run('psql', ['-h', `${dir}/run`, '-p', String(port), '-U', 'securevote', '-d', 'postgres', '-Atc', 'SHOW hba_file'], {
      env: { PATH: process.env['PATH'] },
    });
    expect(stdout.trim()).toBe(join(dir, 'data', 'pg_hba.conf'));
  });
});

describe("the init containers' wait, as the pods run it", () => {
  /** The backend's first init container's command (every wait container runs the same one). */
  const wait = () => find(objects, 'Deployment', `${NAME}-backend`)['spec'].template.spec.initContainers[0].command as string[];

  it('returns once the name resolves, logging one JSON line', async () => {
    const cmd = wait();
    const { stdout } = await run(cmd[0]!, cmd.slice(1), { env: { PATH: process.env['PATH'], WAIT_HOST: 'localhost' }, timeout: 10_000 });
    expect(stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ msg: 'ready', host: 'localhost' }]);
  });

  it('keeps waiting while the name does not resolve, saying so in JSON (never "connection refused")', async () => {
    const cmd = wait();
    const dir = mkdtempSync(join(tmpdir(), 'securevote-wait-'));
    const log = join(dir, 'wait.log');
    const proc = spawnServer({ cmd, env: { PATH: process.env['PATH'], WAIT_HOST: 'no-such-service.invalid' }, logFile: log });
    try {
      await waitReady(proc, 'the first wait line', log, async () => readFileSync(log, 'utf8').includes('\n'), 10_000);
      expect(proc.exitedYet()).toBe(false);
      const first = JSON.parse(readFileSync(log, 'utf8').split('\n')[0]!);
      expect(first).toEqual({ msg: 'waiting for a ready endpoint', host: 'no-such-service.invalid' });
    } finally {
      await stopPid(proc.pid);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("gives up after WAIT_SECONDS (the dependency's start budget) and exits 0, so the app's own retry takes over", async () => {
    const cmd = wait();
    const started = Date.now();
    const { stdout } = await run(cmd[0]!, cmd.slice(1), {
      env: { PATH: process.env['PATH'], WAIT_HOST: 'no-such-service.invalid', WAIT_SECONDS: '3' },
      timeout: 20_000,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1)).toEqual({ msg: 'not ready within its start budget; starting anyway, the app retries', host: 'no-such-service.invalid', seconds: 3 });
  });
});
