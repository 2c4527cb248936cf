// charts/backup.sh and charts/restore.sh, the programs the backup Job and the
// restore init container run, against a real PostgreSQL 15 (the local
// launcher), run as the postgres user as in the database image: a backup
// taken while votes are written records exactly its snapshot and verifies;
// a restore brings back every vote row; a changed file is refused; only the
// newest verified backups stay; a failed backup removes nothing.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../app/backend/migrations.ts';
import { PG_BIN, startPostgres, type PostgresServer } from '../../app/local/postgres.ts';
import { asUser, freePort } from '../../app/local/process.ts';
import { ENTRYPOINT, runBackupScript, scriptDir, scriptPasswordFile } from '../../app/local/backup.ts';
import { scratch } from '../app/backend-fixture.ts';

const run = promisify(execFile);
const OPTIONS = ['cats', 'dogs'];

let tmp: ReturnType<typeof scratch>;
let server: PostgresServer;
let pool: pg.Pool;
let backups: string;

const dirFor = (name: string): string => scriptDir(join(tmp.dir, name));
const script = (name: 'backup.sh' | 'restore.sh', env: Record<string, string>) => runBackupScript(name, dirFor(`scratch-${randomUUID().slice(0, 8)}`), env);

function backupEnv(name: string, keep = 7): Record<string, string> {
  return { ...server.env(), SECUREVOTE: 'polls', BACKUP_NAME: name, BACKUP_DIR: backups, KEEP: String(keep) };
}

async function vote(n: number): Promise<void> {
  const values = Array.from({ length: n }, () => [randomUUID(), OPTIONS[Math.floor(Math.random() * OPTIONS.length)]!]);
  await pool.query(
    `INSERT INTO votes (voter_id, option_id, request_key) SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[])`,
    [values.map((v) => v[0]), values.map((v) => v[1]), values.map(() => randomUUID())],
  );
}

const count = async (p: pg.Pool | pg.Client = pool) => Number((await p.query('SELECT count(*) AS n FROM votes')).rows[0].n);

beforeAll(async () => {
  tmp = scratch('backup-scripts');
  server = await startPostgres({ dir: join(tmp.dir, 'live') });
  pool = new pg.Pool({ host: server.host, port: server.port, user: server.user, database: server.database, password: server.password, max: 4 });
  // A server going away sends each idle client a FATAL (57P01); without a
  // listener pg-pool throws it from the socket, failing the whole file instead
  // of the query that meets the dead server (seen once, at the file's end).
  pool.on('error', () => {});
  for (const m of MIGRATIONS) await pool.query(m.sql);
  await vote(1000);
  backups = dirFor('backups');
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await server?.stop();
  tmp?.remove();
});

describe('charts/backup.sh and charts/restore.sh on a real PostgreSQL', () => {
  let first: { file: string; sha256: string; votes: number; checksum: string; size: number; verified: boolean };

  it('takes a verified backup while votes keep coming: it records its own snapshot, between the counts before and after', async () => {
    const before = await count();
    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing && n < 400) {
        await vote(5);
        n += 1;
      }
    })();
    const r = await script('backup.sh', backupEnv('polls-1'));
    writing = false;
    await writer;
    const after = await count();
    expect(r.code, r.stderr).toBe(0);
    expect(after, 'votes were written during the backup').toBeGreaterThan(before);
    first = JSON.parse(r.termination);
    expect(first.verified).toBe(true);
    expect(first.votes).toBeGreaterThanOrEqual(before);
    expect(first.votes).toBeLessThanOrEqual(after);
    const file = join(backups, first.file);
    const sha = (await run('sha256sum', [file])).stdout.split(' ')[0];
    expect(first.sha256).toBe(sha);
    expect(first.size).toBe(readFileSync(file).length);
    // The manifest on the volume says the same as the termination message.
    expect(JSON.parse(readFileSync(join(backups, 'polls', 'polls-1.json'), 'utf8'))).toEqual(first);
  });

  it('restores every vote row into a new cluster initialized as the image does, with this instance password', async () => {
    const restored = dirFor('restored');
    const pgdata = join(restored, 'pgdata');
    const password = scriptPasswordFile(restored, 'a-new-password');
    const r = await script('restore.sh', {
      PGDATA: pgdata,
      POSTGRES_USER: 'securevote',
      POSTGRES_DB: 'securevote',
      POSTGRES_PASSWORD_FILE: password,
      ENTRYPOINT: ENTRYPOINT,
      BACKUP_FILE: join(backups, first.file),
      BACKUP_SHA256: first.sha256,
      BACKUP_VOTES: String(first.votes),
      BACKUP_CHECKSUM: first.checksum,
    });
    expect(r.code, r.stderr).toBe(0);
    // Start the restored cluster as the image would, and compare its rows with the live ones.
    const port = await freePort();
    const pgCtl = (...args: string[]) => {
      const [cmd, ...rest] = asUser('postgres', [join(PG_BIN, 'pg_ctl'), '-D', pgdata, '-s', ...args]);
      return run(cmd!, rest);
    };
    await pgCtl('-l', join(restored, 'log'), '-w', '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${restored}`, 'start');
    try {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'securevote', database: 'securevote', password: 'a-new-password' });
      // If a query fails, the stop below reaches this client still connected: the failure must be the query's.
      c.on('error', () => {});
      await c.connect();
      const rows = (await c.query('SELECT voter_id, option_id, created_at, request_key FROM votes ORDER BY voter_id')).rows;
      await c.end();
      expect(rows.length).toBe(first.votes);
      const live = (await pool.query('SELECT voter_id, option_id, created_at, request_key FROM votes WHERE voter_id = ANY($1::uuid[]) ORDER BY voter_id', [rows.map((x) => x.voter_id)])).rows;
      expect(rows).toEqual(live);
    } finally {
      await pgCtl('-m', 'fast', 'stop');
    }
  }, 120_000);

  it('refuses a file changed after the backup, naming its sha256, and leaves no database behind', async () => {
    const path = join(backups, first.file);
    const bytes = readFileSync(path);
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(flipped.length / 2)]! ^= 0xff;
    writeFileSync(path, flipped);
    try {
      const target = dirFor('refused');
      const r = await script('restore.sh', {
        PGDATA: join(target, 'pgdata'),
        POSTGRES_PASSWORD_FILE: server.passwordFile,
        ENTRYPOINT: ENTRYPOINT,
        BACKUP_FILE: path,
        BACKUP_SHA256: first.sha256,
        BACKUP_VOTES: String(first.votes),
        BACKUP_CHECKSUM: first.checksum,
      });
      expect(r.code).not.toBe(0);
      expect(r.termination).toMatch(/^restore refused: backup polls-1 failed verification: its file's sha256 is [0-9a-f]{64}, the backup recorded/);
      expect(readdirSync(target)).toEqual([]);
    } finally {
      writeFileSync(path, bytes);
    }
  });

  it('keeps the newest verified backups only, and a failed backup evicts none', async () => {
    for (const name of ['polls-2', 'polls-3']) {
      const r = await script('backup.sh', backupEnv(name, 2));
      expect(r.code, r.stderr).toBe(0);
    }
    const kept = () => readdirSync(join(backups, 'polls')).sort();
    expect(kept()).toEqual(['polls-2.dump', 'polls-2.json', 'polls-3.dump', 'polls-3.json']);
    const wrong = scriptPasswordFile(dirFor('wrong'), 'not-the-password');
    const r = await script('backup.sh', { ...backupEnv('polls-4', 1), PGPASSWORD_FILE: wrong });
    expect(r.code).not.toBe(0);
    expect(JSON.parse(r.termination)).toMatchObject({ verified: false, message: expect.stringContaining('could not open a snapshot') });
    expect(kept()).toEqual(['polls-2.dump', 'polls-2.json', 'polls-3.dump', 'polls-3.json']);
  });
});
