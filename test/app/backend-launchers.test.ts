// The local launchers the backend tests, `make up`, the browser test and the
// bench all build on: real PostgreSQL and Redis, checked for what they promise.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startPostgres, stopPostgresDir, type PostgresServer } from '../../app/local/postgres.ts';
import { descendants, isAlive } from '../../app/local/process.ts';
import { redisPing, startRedis, stopRedisDir, type RedisServer } from '../../app/local/redis.ts';
import { scratch } from './backend-fixture.ts';

const work = scratch('backend-launchers');
const running: Array<PostgresServer | RedisServer> = [];
afterAll(async () => {
  await Promise.allSettled(running.map((s) => s.stop()));
  work.remove();
});

async function query(p: PostgresServer, text: string, password = p.password): Promise<pg.QueryResult> {
  const c = new pg.Client({ host: p.host, port: p.port, user: p.user, database: p.database, password });
  c.on('error', () => {});
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

/** Local addresses listening on `port` (from ss). */
function listeners(port: number): string[] {
  const out = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
  return out.trim().split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/)[3]!);
}

const cmdlineOf = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');

describe('startPostgres', () => {
  const dir = join(work.dir, 'pg');

  it('runs PostgreSQL on 127.0.0.1 only, SCRAM passwords, durable commits, no password on its command line', async () => {
    const p = await startPostgres({ dir });
    running.push(p);
    expect(listeners(p.port)).toEqual([`127.0.0.1:${p.port}`]);
    expect(cmdlineOf(p.pid)).not.toContain(p.password);
    expect(readFileSync(p.passwordFile, 'utf8').trim()).toBe(p.password);
    expect(statSync(p.passwordFile).mode & 0o077).toBe(0);
    const settings = await query(p, "SELECT name, setting FROM pg_settings WHERE name IN ('synchronous_commit','fsync','password_encryption','listen_addresses') ORDER BY name");
    expect(Object.fromEntries(settings.rows.map((r) => [r.name, r.setting]))).toEqual({
      fsync: 'on', listen_addresses: '127.0.0.1', password_encryption: 'scram-sha-256', synchronous_commit: 'on',
    });
    await expect(query(p, 'SELECT 1', 'wrong-password')).rejects.toThrow(/password authentication failed/);
    expect((await query(p, 'SELECT current_database() AS db, current_user AS u')).rows).toEqual([{ db: 'securevote', u: 'securevote' }]);
  });

  it('kill() is a crash (postmaster and backends gone); restart() recovers on the same port with the data', async () => {
    const p = running[0] as PostgresServer;
    await query(p, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
    const { pid, port } = p;
    const children = descendants(pid);
    expect(children.length).toBeGreaterThan(0);
    await p.kill();
    expect(isAlive(pid)).toBe(false);
    for (const c of children) expect(isAlive(c)).toBe(false);
    await p.restart();
    expect(p.port).toBe(port);
    expect(p.pid).not.toBe(pid);
    expect((await query(p, 'SELECT n FROM kept')).rows).toEqual([{ n: 42 }]);
  });

  it('stop() then a new start on the same dir keeps the data and the password (make down / make up)', async () => {
    const p = running.shift() as PostgresServer;
    await p.stop();
    expect(isAlive(p.pid)).toBe(false);
    const again = await startPostgres({ dir, detached: true });
    try {
      expect(again.password).toBe(p.password);
      expect((await query(again, 'SELECT n FROM kept')).rows).toEqual([{ n: 42 }]);
    } finally {
      // A detached server is stopped by its directory, as `make down` does.
      await stopPostgresDir(dir);
    }
    expect(isAlive(again.pid)).toBe(false);
  });
});

describe('startRedis', () => {
  const dir = join(work.dir, 'redis');

  it('requires the password (kept in a 0600 config file, not on the command line), binds 127.0.0.1', async () => {
    const r = await startRedis({ dir, password: 'launcher-test-password-1234' });
    running.push(r);
    expect(listeners(r.port)).toEqual([`127.0.0.1:${r.port}`]);
    expect(cmdlineOf(r.pid)).not.toContain(r.password);
    expect(readFileSync(r.configFile, 'utf8')).toContain(`requirepass "${r.password}"`);
    expect(statSync(r.configFile).mode & 0o077).toBe(0);
    expect(await redisPing(r.port, r.password)).toBe(true);
    expect(await redisPing(r.port, 'wrong')).toBe(false);
  });

  it('kill() then restart() on the same port; stopRedisDir stops a detached one', async () => {
    const r = running.pop() as RedisServer;
    const { pid, port } = r;
    await r.kill();
    expect(isAlive(pid)).toBe(false);
    expect(await redisPing(port, r.password)).toBe(false);
    await r.restart();
    expect(r.port).toBe(port);
    expect(await redisPing(port, r.password)).toBe(true);
    await r.stop();
    const d = await startRedis({ dir, detached: true });
    expect(d.password).toBe(r.password);
    await stopRedisDir(dir);
    expect(isAlive(d.pid)).toBe(false);
  });
});
