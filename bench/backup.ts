// make bench-backup: charts/backup.sh and charts/restore.sh on this machine's
// PostgreSQL 15 (the local launcher, as the database image runs them: the
// postgres user, Debian's binaries), for 1,000 and 100,000 votes: the
// backup's time (dump, then the throwaway restore that verifies it) and
// size, the restore's time; and what a backup costs the votes: single-row
// inserts from 10 clients, their latency in the seconds before the backup
// and while it runs, as a ratio within the same run.
//   node bench/backup.ts [--votes 1000,100000]
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { MIGRATIONS } from '../app/backend/migrations.ts';
import { ENTRYPOINT, runBackupScript, scriptDir, scriptPasswordFile } from '../app/local/backup.ts';
import { startPostgres } from '../app/local/postgres.ts';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};
const SIZES = arg('votes', '1000,100000').split(',').map(Number);
const WORK = resolve(process.env.SECUREVOTE_WORK ?? '.work', 'bench-backup');
const WRITERS = 10;

rmSync(WORK, { recursive: true, force: true });
scriptDir(WORK);
const server = await startPostgres({ dir: join(WORK, 'pg') });
const pool = new pg.Pool({ host: server.host, port: server.port, user: server.user, database: server.database, password: server.password, max: WRITERS + 2 });
// Idle clients see the server stop at the end: not an error of the benchmark.
pool.on('error', () => {});

/** Single-row inserts (a vote each) from WRITERS clients until `stop`; each insert's latency. */
async function votesWhile(stop: () => boolean): Promise<number[]> {
  const ms: number[] = [];
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (!stop()) {
        const t = performance.now();
        await pool.query('INSERT INTO votes (voter_id, option_id, request_key) VALUES ($1, $2, $3)', [randomUUID(), 'cats', randomUUID()]);
        ms.push(performance.now() - t);
      }
    }),
  );
  return ms;
}
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

const rows: string[] = [];
try {
  for (const m of MIGRATIONS) await pool.query(m.sql);
  for (const n of SIZES) {
    await pool.query('TRUNCATE votes');
    await pool.query(
      "INSERT INTO votes (voter_id, option_id, request_key, created_at) SELECT gen_random_uuid(), (ARRAY['cats','dogs'])[1 + i % 2], gen_random_uuid(), now() - i * interval '1 second' FROM generate_series(1, $1) i",
      [n],
    );
    await pool.query('VACUUM ANALYZE votes');
    const backups = scriptDir(join(WORK, `backups-${n}`));
    const backupEnv = (name: string) => ({ ...server.env(), SECUREVOTE: 'bench', BACKUP_NAME: name, BACKUP_DIR: backups, KEEP: '2' });
    // 1. The backup and the restore of exactly n votes, nothing else running.
    const b = await runBackupScript('backup.sh', join(WORK, `scratch-${n}`), backupEnv(`bench-${n}`));
    if (b.code !== 0) throw new Error(`backup of ${n} votes failed: ${b.termination || b.stderr}`);
    const result = JSON.parse(b.termination) as { size: number; votes: number; sha256: string; checksum: string; file: string };
    const target = scriptDir(join(WORK, `restored-${n}`));
    const r = await runBackupScript('restore.sh', join(WORK, `scratch-restore-${n}`), {
      PGDATA: join(target, 'pgdata'), POSTGRES_USER: 'securevote', POSTGRES_DB: 'securevote',
      POSTGRES_PASSWORD_FILE: scriptPasswordFile(target, 'bench'), ENTRYPOINT,
      BACKUP_FILE: join(backups, result.file), BACKUP_SHA256: result.sha256, BACKUP_VOTES: String(result.votes), BACKUP_CHECKSUM: result.checksum,
    });
    if (r.code !== 0) throw new Error(`restore of ${n} votes failed: ${r.termination || r.stderr}`);
    // 2. Votes before a second backup (the baseline), then while it runs.
    const baseEnd = Date.now() + 5_000;
    const before = await votesWhile(() => Date.now() > baseEnd);
    let running = true;
    const during = votesWhile(() => !running);
    const b2 = await runBackupScript('backup.sh', join(WORK, `scratch-${n}-2`), backupEnv(`bench-${n}-under-votes`));
    running = false;
    const duringMs = await during;
    if (b2.code !== 0) throw new Error(`backup under votes failed: ${b2.termination || b2.stderr}`);
    rows.push(
      `| ${result.votes.toLocaleString('en')} | ${(b.ms / 1000).toFixed(1)} s | ${(result.size / 1024).toFixed(0)} KiB | ${(r.ms / 1000).toFixed(1)} s | ` +
        `${pct(before, 50).toFixed(1)} / ${pct(before, 99).toFixed(1)} ms | ${pct(duringMs, 50).toFixed(1)} / ${pct(duringMs, 99).toFixed(1)} ms | ${(pct(duringMs, 99) / pct(before, 99)).toFixed(2)} | ${(b2.ms / 1000).toFixed(1)} s |`,
    );
    rmSync(target, { recursive: true, force: true });
  }
} finally {
  await pool.end();
  await server.stop();
}
console.log(`machine: ${cpus().length} vCPU, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log('| votes | backup (dump + verify) | dump size | restore | vote insert p50 / p99 before | during a backup | p99 ratio | that backup |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
