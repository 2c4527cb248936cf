// charts/backup.sh and charts/restore.sh run here, as the database image runs
// them: as the postgres user (when we are root), Debian's PostgreSQL 15 on
// PATH, the query of record in the environment, the termination message in
// a file. For the script tests and `make bench-backup`.
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { VOTES_SUM_SQL } from '../../charts/backup.ts';
import { ensureTraversable, PG_BIN, pgUid } from './postgres.ts';
import { asUser } from './process.ts';

const run = promisify(execFile);
const CHARTS = resolve(import.meta.dirname, '../../charts');
/** The image's entrypoint, which restore.sh initializes the new cluster with. */
export const ENTRYPOINT = resolve(import.meta.dirname, '../../images/postgres/entrypoint.sh');

/** Hands a path to the user the scripts run as (PostgreSQL's, when we are root). */
export function giveToScripts(path: string): string {
  const ids = pgUid();
  if (ids) chownSync(path, ids.uid, ids.gid);
  return path;
}

/** A directory the scripts can write, and reach through its parents. */
export function scriptDir(path: string): string {
  mkdirSync(path, { recursive: true });
  ensureTraversable(path);
  return giveToScripts(path);
}

/** A password file only the scripts can read. */
export function scriptPasswordFile(dir: string, password: string): string {
  const path = join(dir, 'password');
  writeFileSync(path, `${password}\n`, { mode: 0o600 });
  return giveToScripts(path);
}

export interface ScriptRun {
  /** 0 on success. */
  readonly code: number;
  readonly stderr: string;
  /** What the script left as its termination message ('' if none). */
  readonly termination: string;
  readonly ms: number;
}

/** Runs one script with `env` (plus PATH, the query of record, a scratch and a termination file in `scratch`). */
export async function runBackupScript(name: 'backup.sh' | 'restore.sh', scratch: string, env: Record<string, string>): Promise<ScriptRun> {
  const termination = join(scriptDir(scratch), 'termination-log');
  const message = () => (existsSync(termination) ? readFileSync(termination, 'utf8').trim() : '');
  const [cmd, ...args] = asUser('postgres', ['bash', join(CHARTS, name)]);
  const started = Date.now();
  try {
    const { stderr } = await run(cmd!, args, {
      env: { PATH: `${PG_BIN}:/usr/bin:/bin`, LANG: 'C.UTF-8', SCRATCH: scratch, TMPDIR: scratch, TERMINATION_LOG: termination, VOTES_SUM_SQL, ...env },
      timeout: 1_800_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stderr, termination: message(), ms: Date.now() - started };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stderr: e.stderr ?? String(err), termination: message(), ms: Date.now() - started };
  }
}
