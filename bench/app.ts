// make bench-app: one run on this machine, every figure from the same run.
//  ceilings: pgbench's durable single-row insert at 30 clients (a scratch
//            PostgreSQL, same settings as the stack's) and wrk on a static file
//            served by nginx (the proxy's own ceiling);
//  measured: the load tool through nginx at 30 parallel voters (each vote a new
//            voter, acknowledged once committed), and wrk on /api/results.
// Goals (ratios of the same run): votes/s >= 50% of pgbench tps with p99 < 50 ms;
// results reads >= 50% of the nginx static ceiling.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PG_BIN, startPostgres } from '../app/local/postgres.ts';
import { startNginx } from '../app/local/nginx.ts';
import { freePort } from '../app/local/process.ts';
import { downStack, upStack } from '../app/local/stack.ts';
import { runLoad } from '../test/load/load.ts';

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CLIENTS = 30;
const WRK = process.env.WRK ?? '/usr/bin/wrk';
const WORK = resolve(process.env.SECUREVOTE_WORK ?? '.work');

interface Row {
  name: string;
  what: string;
  perSecond: number;
  p50?: number;
  p99?: number;
}

function say(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

/** pgbench: 30 clients, each transaction one durable INSERT of a vote-shaped row. */
async function pgbenchCeiling(dir: string): Promise<Row> {
  const pg = await startPostgres({ dir: join(dir, 'pgbench-postgres') });
  try {
    // The password reaches libpq through a 0600 passfile, never argv or a log.
    const passfile = join(dir, 'pgpass');
    writeFileSync(passfile, `${pg.host}:${pg.port}:${pg.database}:${pg.user}:${pg.password}\n`, { mode: 0o600 });
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', PGPASSFILE: passfile, PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: pg.user, PGDATABASE: pg.database };
    await run(join(PG_BIN, 'psql'), ['-v', 'ON_ERROR_STOP=1', '-q', '-c',
      'CREATE TABLE bench_votes (voter_id uuid PRIMARY KEY, option_id text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())'], { env });
    const script = join(dir, 'insert-vote.sql');
    writeFileSync(script, "INSERT INTO bench_votes (voter_id, option_id) VALUES (gen_random_uuid(), 'cats');\n");
    say(`pgbench: ${CLIENTS} clients, ${SECONDS} s, one durable INSERT per transaction (synchronous_commit on)`);
    const { stdout } = await run(join(PG_BIN, 'pgbench'),
      ['-n', '-c', String(CLIENTS), '-j', '2', '-T', String(SECONDS), '-r', '-f', script], { env, timeout: (SECONDS + 60) * 1000 });
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
    const lat = /latency average = ([\d.]+) ms/.exec(stdout);
    if (!tps) throw new Error(`pgbench: no tps in its output:\n${stdout}`);
    return { name: 'pgbench insert', what: `pgbench -c ${CLIENTS} -j 2 -T ${SECONDS}, 1 INSERT/tx`, perSecond: Number(tps[1]), p50: lat ? Number(lat[1]) : undefined };
  } finally {
    await pg.stop();
  }
}

/** wrk with 2 threads and 30 connections; requests/s and latency percentiles (ms). */
async function wrk(name: string, what: string, url: string): Promise<Row> {
  say(`wrk: ${url} (${CLIENTS} connections, ${SECONDS} s)`);
  const { stdout } = await run(WRK, ['-t', '2', '-c', String(CLIENTS), '-d', `${SECONDS}s`, '--latency', url], { timeout: (SECONDS + 30) * 1000 });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  if (!rps) throw new Error(`wrk: no Requests/sec in its output:\n${stdout}`);
  const ms = (label: string): number | undefined => {
    const m = new RegExp(`\\s${label}%\\s+([\\d.]+)(us|ms|s)`).exec(stdout);
    if (!m) return undefined;
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  if (non2xx) throw new Error(`wrk: ${non2xx[1]} non-2xx responses from ${url}`);
  return { name, what, perSecond: Number(rps[1]), p50: ms('50'), p99: ms('99') };
}

function fmt(n: number | undefined, digits = 1): string {
  return n === undefined ? '-' : n.toFixed(digits);
}

async function main(): Promise<number> {
  const dir = join(WORK, 'bench-app');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const rows: Row[] = [];
  let votes: { perSecond: number; p99: number; ok: number; failed: number } | undefined;
  try {
    rows.push(await pgbenchCeiling(dir));

    const staticDir = join(dir, 'static');
    mkdirSync(staticDir, { recursive: true });
    // About the size of a /api/results answer, so both measure the same bytes.
    writeFileSync(join(staticDir, 'bench.json'), JSON.stringify({ results: [{ id: 'cats', label: 'Cats', votes: 1234 }, { id: 'dogs', label: 'Dogs', votes: 1180 }], total: 2414 }) + '\n');
    chmodSync(dir, 0o755); // nginx's workers (nobody, when we are root) read the file
    chmodSync(staticDir, 0o755);

    say('starting the stack (PostgreSQL, Redis, backend, frontend, nginx)');
    const stack = await upStack({ dir: join(dir, 'stack'), ports: { proxy: await freePort() }, proxyStaticRoot: staticDir });
    rows.push(await wrk('nginx static', `wrk -t2 -c${CLIENTS} -d${SECONDS}s /static/bench.json`, `${stack.url}/static/bench.json`));

    say(`load tool: ${CLIENTS} parallel voters, ${SECONDS} s`);
    const load = await runLoad({ url: stack.url, votes: 1_000_000, parallel: CLIENTS, maxDurationMs: SECONDS * 1000 });
    const failed = Object.values(load.failures).reduce((a, b) => a + b, 0);
    votes = { perSecond: load.votesPerSecond, p99: load.latency.p99, ok: load.succeeded, failed };
    rows.push({ name: 'votes (load tool)', what: `${CLIENTS} parallel new voters, ${SECONDS} s, ${load.succeeded} ok / ${failed} failed`, perSecond: load.votesPerSecond, p50: load.latency.p50, p99: load.latency.p99 });

    rows.push(await wrk('results reads', `wrk -t2 -c${CLIENTS} -d${SECONDS}s /api/results`, `${stack.url}/api/results`));

    // Diagnostics, not goals: the same two loads straight to the backend,
    // to tell the proxy's share of the cost from the backend's.
    const direct = `http://127.0.0.1:${stack.ports.backend}`;
    say(`load tool: ${CLIENTS} parallel voters, ${SECONDS} s, straight to the backend`);
    const d = await runLoad({ url: direct, votes: 1_000_000, parallel: CLIENTS, maxDurationMs: SECONDS * 1000 });
    const dFailed = Object.values(d.failures).reduce((a, b) => a + b, 0);
    rows.push({ name: '(votes, no proxy)', what: `same, to the backend's port: ${d.succeeded} ok / ${dFailed} failed`, perSecond: d.votesPerSecond, p50: d.latency.p50, p99: d.latency.p99 });
    rows.push(await wrk('(results, no proxy)', `same wrk, to the backend's port`, `${direct}/api/results`));

    // What the opt-in proxy micro-cache (renderNginxConf resultsCacheSeconds) would give.
    const cached = await startNginx({
      dir: join(dir, 'nginx-cached'),
      frontend: { host: '127.0.0.1', port: stack.ports.frontend },
      backend: { host: '127.0.0.1', port: stack.ports.backend },
      resultsCacheSeconds: 1,
    });
    try {
      rows.push(await wrk('(results, 1 s proxy cache)', 'same wrk, nginx with resultsCacheSeconds: 1', `${cached.url}/api/results`));
    } finally {
      await cached.stop();
    }
  } finally {
    await downStack(join(dir, 'stack')).catch(() => {});
  }

  const by = (n: string): Row => rows.find((r) => r.name === n)!;
  const voteRatio = by('votes (load tool)').perSecond / by('pgbench insert').perSecond;
  const readRatio = by('results reads').perSecond / by('nginx static').perSecond;
  const voteOk = voteRatio >= 0.5 && (votes?.p99 ?? Infinity) < 50 && votes?.failed === 0;
  const readOk = readRatio >= 0.5;

  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    `machine: ${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${new Date().toISOString()}`,
    '',
    '| measure | how | per second | p50 ms | p99 ms |',
    '|---|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.name} | ${r.what} | ${fmt(r.perSecond)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} |`),
    '',
    `votes/s ÷ pgbench tps   = ${(voteRatio * 100).toFixed(1)}% (goal ≥ 50%, p99 ${fmt(votes?.p99, 2)} ms < 50 ms, no failure): ${voteOk ? 'MET' : 'NOT MET'}`,
    `results reads ÷ static  = ${(readRatio * 100).toFixed(1)}% (goal ≥ 50%): ${readOk ? 'MET' : 'NOT MET'}`,
    '(pgbench p50 column: its latency average; rows in parentheses are diagnostics, not goals)',
    `load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on the machine skews every figure)`,
  ];
  const report = lines.join('\n');
  console.log(report);
  writeFileSync(join(WORK, 'bench-app.md'), report + '\n');
  rmSync(dir, { recursive: true, force: true });
  // Goals are reported, not enforced: a busy shared machine must not fail `make bench`.
  return 0;
}

main().then((code) => process.exit(code), (err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
