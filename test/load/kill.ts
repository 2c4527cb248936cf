// The seed's kill_test.sh, in TypeScript: runs a load, kills a component
// mid-load (a shell command or a callback: SIGKILL of a local pid, `docker
// kill`, deleting a pod...), measures the time until GET /health is 200 again,
// then checks that every acknowledged vote is in PostgreSQL.
// CLI: node test/load/kill.ts URL VOTES PARALLEL --kill CMD [--restart CMD] [--after-ms N] [--stack DIR]
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { formatLoadResult, isMain, runLoad, type Ack, type LoadResult } from './load.ts';
import { checkVotesInPostgres, pgConnectionFromEnv, type PgConnection, type VotesCheck } from './votes-in-postgres.ts';

const run = promisify(execFile);

export type Action = string | (() => Promise<void> | void);

export interface KillOptions {
  url: string;
  votes: number;
  parallel: number;
  /** The brutal stop: a bash command line or a callback. */
  kill: Action;
  /** For stacks with no supervisor (make up): what brings the component back, run right after the kill. */
  restart?: Action;
  /** Kill this long after the load starts (default 1,000 ms). */
  killAfterMs?: number;
  /** Give up waiting for /health after this long (default 60 s). */
  recoveryTimeoutMs?: number;
  /** Bound of the load itself (default 120 s). */
  maxDurationMs?: number;
  /** Returns the acknowledged votes that are not in the record. */
  checkVotes: (acks: Ack[]) => Promise<VotesCheck>;
  progress?: boolean;
}

export interface KillResult {
  load: LoadResult;
  /** When the kill ran, ms after the load started. */
  killAtMs: number;
  /** ms from the kill to the first 200 on /health; null when it never came back in time. */
  recoveryMs: number | null;
  /** Whether /health was seen failing at least once after the kill. */
  sawOutage: boolean;
  check: VotesCheck;
  /** Recovered, and every acknowledged vote is in the record with its option. */
  ok: boolean;
}

async function runAction(what: string, action: Action): Promise<void> {
  if (typeof action === 'function') {
    await action();
    return;
  }
  try {
    await run('bash', ['-c', action], { timeout: 120_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${what} command failed: ${e.stderr?.trim() || e.message}`);
  }
}

async function healthStatus(url: string): Promise<number> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

export async function runKill(opts: KillOptions): Promise<KillResult> {
  const url = opts.url.replace(/\/+$/, '');
  const killAfterMs = opts.killAfterMs ?? 1_000;
  const recoveryTimeoutMs = opts.recoveryTimeoutMs ?? 60_000;
  const started = performance.now();
  const loadPromise = runLoad({
    url, votes: opts.votes, parallel: opts.parallel, maxDurationMs: opts.maxDurationMs, progress: opts.progress,
  });
  // A load that fails early must not leave the kill timer waiting unobserved.
  loadPromise.catch(() => {});

  await new Promise((r) => setTimeout(r, killAfterMs));
  const killAtMs = performance.now() - started;
  await runAction('kill', opts.kill);
  const killedAt = performance.now();
  const restart = opts.restart === undefined ? Promise.resolve() : runAction('restart', opts.restart);
  restart.catch(() => {});

  let recoveryMs: number | null = null;
  let sawOutage = false;
  while (performance.now() - killedAt < recoveryTimeoutMs) {
    const status = await healthStatus(url);
    if (status === 200) {
      recoveryMs = Math.round(performance.now() - killedAt);
      break;
    }
    sawOutage = true;
    await new Promise((r) => setTimeout(r, 100));
  }
  await restart;
  const load = await loadPromise;
  const check = await opts.checkVotes(load.acknowledged);
  return {
    load,
    killAtMs: Math.round(killAtMs),
    recoveryMs,
    sawOutage,
    check,
    ok: recoveryMs !== null && check.missing.length === 0 && check.wrongOption.length === 0,
  };
}

export function formatKillResult(r: KillResult): string {
  return [
    formatLoadResult(r.load),
    `kill at:            ${(r.killAtMs / 1000).toFixed(2)} s into the load`,
    `recovery:           ${r.recoveryMs === null ? 'NOT recovered in time' : `${(r.recoveryMs / 1000).toFixed(2)} s until /health 200`}${r.sawOutage ? '' : ' (no outage seen on /health)'}`,
    `acknowledged votes in PostgreSQL: ${r.load.acknowledged.length - r.check.missing.length}/${r.load.acknowledged.length}` +
      (r.check.wrongOption.length ? `, ${r.check.wrongOption.length} with another option` : ''),
    `result:             ${r.ok ? 'OK' : 'FAILED'}`,
  ].join('\n');
}

/**
 * PostgreSQL connection for the CLI: the PG* environment when PGHOST is set,
 * else the `make up` stack's state file (--stack DIR, default $SECUREVOTE_WORK/stack, then stack.json).
 */
function connectionForCli(stackFlag: string | undefined): PgConnection {
  if (process.env.PGHOST && stackFlag === undefined) return pgConnectionFromEnv();
  const stackDir = stackFlag ?? join(process.env.SECUREVOTE_WORK ?? '.work', 'stack');
  let state: { postgres?: { host: string; port: number; user: string; database: string; passwordFile: string } };
  try {
    state = JSON.parse(readFileSync(join(stackDir, 'stack.json'), 'utf8')) as typeof state;
  } catch {
    throw new Error(`kill: set PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD_FILE, or run \`make up\` first (no ${stackDir}/stack.json)`);
  }
  const p = state.postgres;
  if (!p) throw new Error(`kill: ${stackDir}/stack.json has no postgres entry`);
  return pgConnectionFromEnv({ PGHOST: p.host, PGPORT: String(p.port), PGUSER: p.user, PGDATABASE: p.database, PGPASSWORD_FILE: p.passwordFile });
}

const USAGE = 'usage: node test/load/kill.ts URL VOTES PARALLEL --kill CMD [--restart CMD] [--after-ms N] [--recovery-timeout-s N] [--stack DIR]';

async function main(argv: string[]): Promise<number> {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const v = argv[i + 1];
      if (v === undefined) {
        console.error(USAGE);
        return 2;
      }
      flags.set(a, v);
      i++;
    } else positional.push(a);
  }
  const [url, votes, parallel] = positional;
  const kill = flags.get('--kill');
  const known = new Set(['--kill', '--restart', '--after-ms', '--recovery-timeout-s', '--stack']);
  if (!url || !votes || !parallel || positional.length !== 3 || !kill || [...flags.keys()].some((k) => !known.has(k))) {
    console.error(USAGE);
    return 2;
  }
  const conn = connectionForCli(flags.get('--stack'));
  const r = await runKill({
    url,
    votes: Number(votes),
    parallel: Number(parallel),
    kill,
    restart: flags.get('--restart'),
    killAfterMs: Number(flags.get('--after-ms') ?? 1_000),
    recoveryTimeoutMs: Number(flags.get('--recovery-timeout-s') ?? 60) * 1000,
    checkVotes: (acks) => checkVotesInPostgres(acks, conn),
  });
  console.log(formatKillResult(r));
  return r.ok ? 0 : 1;
}

if (isMain(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  });
}
