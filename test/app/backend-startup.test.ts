// Start-up and schema migrations: the one-shot migrate.ts and the backend's
// own start-up migration, run twice and concurrently; waiting for a database
// that is not there yet; configuration errors.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, MIGRATION_LOCK_KEY } from '../../app/backend/migrations.ts';
import {
  MIGRATE, MAIN, ROOT, get, scratch, sql, startBackend, startDeps, vote, waitHealth, type Backend, type Deps,
} from './backend-fixture.ts';

const work = scratch('backend-startup');
let deps: Deps;
let db: pg.Client;
const backends: Backend[] = [];

beforeAll(async () => {
  try {
    deps = await startDeps(work.dir);
    db = await sql(deps.pg);
  } catch (err) {
    await teardown();
    throw err;
  }
});

async function teardown(): Promise<void> {
  await db?.end().catch(() => {});
  await Promise.allSettled(backends.map((b) => b.stop()));
  await deps?.stop();
  work.remove();
}
afterAll(teardown);

/** Runs a node script to its end; returns its exit code and output. */
function runNode(script: string, env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not finish in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

async function freshDatabase(name: string): Promise<Record<string, string>> {
  await db.query(`CREATE DATABASE ${name} OWNER securevote`); // name is a constant of this file
  return { ...deps.env(), PGDATABASE: name };
}

async function versions(database: string): Promise<number[]> {
  const c = await sql({ ...deps.pg, database } as typeof deps.pg);
  try {
    const { rows } = await c.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    return rows.map((r) => r.version);
  } finally {
    await c.end();
  }
}

const allVersions = MIGRATIONS.map((m) => m.version);

describe('migrations', () => {
  it('migrate.ts run 4 times at once on a fresh database: all succeed, each migration applied exactly once', async () => {
    const env = await freshDatabase('mig_concurrent');
    // Hold the migration lock so all 4 runners are truly at the same point,
    // then let them race for it.
    const holder = await sql({ ...deps.pg, database: 'mig_concurrent' } as typeof deps.pg);
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
      const running = Array.from({ length: 4 }, () => runNode(MIGRATE, env));
      for (let i = 0; ; i++) {
        const { rows } = await holder.query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'mig_concurrent' AND wait_event = 'advisory'",
        );
        if (Number(rows[0]!.n) === 4) break;
        if (i > 400) throw new Error('the 4 runners never all waited on the migration lock');
        await new Promise((r) => setTimeout(r, 25));
      }
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
      const runs = await Promise.all(running);
      for (const r of runs) expect(r.code, r.out).toBe(0);
      const applied = runs.map((r) => (r.out.match(/"msg":"migration applied"/g) ?? []).length);
      expect(applied.reduce((a, b) => a + b, 0)).toBe(MIGRATIONS.length);
    } finally {
      await holder.end();
    }
    expect(await versions('mig_concurrent')).toEqual(allVersions);
    // And once more, later: nothing to do.
    const again = await runNode(MIGRATE, env);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toMatch(/"msg":"schema up to date"/);
    expect(await versions('mig_concurrent')).toEqual(allVersions);
  });

  it('3 backends starting at once on a fresh database all become healthy on one schema', async () => {
    const env = await freshDatabase('mig_replicas');
    const started = await Promise.all([0, 1, 2].map((i) => startBackend(join(work.dir, `replica-${i}`), env)));
    backends.push(...started);
    expect(await versions('mig_replicas')).toEqual(allVersions);
    // One vote per replica with the same cookie: only the first counts.
    const first = await vote(started[0]!.url, 'red');
    expect(first.status).toBe(201);
    expect((await vote(started[1]!.url, 'blue', first.cookie)).status).toBe(409);
    expect((await vote(started[2]!.url, 'green', first.cookie)).status).toBe(409);
    await Promise.all(started.map((b) => b.stop()));
    backends.length = 0;
  });
});

describe('start-up before the database', () => {
  it('the backend and migrate.ts wait with backoff (info lines, no stack), then proceed when PostgreSQL arrives', async () => {
    await deps.pg.stop();
    let down = true;
    try {
      const b = await startBackend(join(work.dir, 'early'), deps.env(), { waitHealthy: false });
      backends.push(b);
      expect((await get(b.url, '/livez')).status).toBe(200);
      // The cache connects on its own schedule (later on a busy machine): wait for it, the database still down.
      const h = await waitHealth(b.url, 503, 'ok');
      expect(h.body).toEqual({ status: 'unhealthy', checks: { database: 'down', cache: 'ok' } });
      const v = await vote(b.url, 'red');
      expect(v.status).toBe(503);
      expect(v.headers.get('retry-after')).toMatch(/^\d+$/);
      const migrating = runNode(MIGRATE, deps.env());
      await new Promise((r) => setTimeout(r, 1_500)); // let both retry a few times
      await deps.pg.restart();
      down = false;
      await waitHealth(b.url, 200);
      expect((await vote(b.url, 'red')).status).toBe(201);
      const m = await migrating;
      expect(m.code, m.out).toBe(0);
      for (const text of [b.logs(), m.out]) {
        expect(text).toMatch(/"level":"info".*"msg":"[a-z-]+: waiting for the database"/);
        expect(text).not.toMatch(/"level":"(warn|error|fatal)"/);
        expect(text).not.toMatch(/\n\s+at /); // no stack trace
      }
    } finally {
      // The next tests need the database: a failure above must not leave it stopped.
      if (down) await deps.pg.restart();
    }
  });
});

describe('configuration errors exit 1 with a message naming the problem, never a value', () => {
  const cases: Array<[string, (env: Record<string, string>) => Record<string, string>, RegExp]> = [
    ['no cookie secret', ({ COOKIE_SECRET_FILE: _, ...env }) => env, /COOKIE_SECRET or COOKIE_SECRET_FILE is required/],
    ['a missing password file', (env) => ({ ...env, PGPASSWORD_FILE: '/nonexistent/pw' }), /PGPASSWORD_FILE: cannot read/],
    ['bad VOTE_OPTIONS', (env) => ({ ...env, VOTE_OPTIONS: '[{"id":"Bad Id","label":"x"}]' }), /VOTE_OPTIONS\[0\]\.id/],
    ['a bad port', (env) => ({ ...env, PORT: 'eighty' }), /PORT: expected an integer/],
  ];
  it.each(cases)('%s', async (_name, edit, message) => {
    const r = await runNode(MAIN, edit({ ...deps.env(), PORT: '0', HOST: '127.0.0.1' }));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/"level":"fatal"/);
    expect(r.out).toMatch(message);
  });

  it('a wrong database password is permanent: exit 1, and the password is not logged', async () => {
    const wrong = join(work.dir, 'wrong-password');
    writeFileSync(wrong, 'definitely-not-the-password-4711\n', { mode: 0o600 });
    const r = await runNode(MAIN, { ...deps.env(), PGPASSWORD_FILE: wrong, PORT: '0', HOST: '127.0.0.1' });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/"level":"fatal".*start-up failed/);
    expect(r.out).toMatch(/password authentication failed/);
    expect(r.out).not.toContain('definitely-not-the-password-4711');
    expect(r.out).not.toContain(deps.pg.password);
  });
});
