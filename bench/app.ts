// make bench-app: one run on this machine, every figure from the same run.
//  ceilings: pgbench's durable single-row insert at 30 clients (on the stack's
//            own PostgreSQL, into a table shaped like votes) and wrk on a
//            static file served by the stack's nginx (the proxy's own ceiling);
//  measured: the load tool through nginx at 30 parallel voters (each vote a new
//            voter, acknowledged once committed), and wrk on /api/results.
// Goals (ratios of the same run): votes/s >= 50% of pgbench tps with p99 < 50 ms;
// results reads >= 50% of the nginx static ceiling.
// Fairness: every measure has 30 in flight, a warm-up (not counted) and the
// same duration, and all run on the same cores as the stack. Others' work on
// a shared machine comes and goes, so each round runs the four in alternating
// slices of about 2 s (pgbench, votes, static, results, again...), each ratio
// is taken within a round, and the table shows the median of BENCH_ROUNDS.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PG_BIN } from '../app/local/postgres.ts';
import { startNginx } from '../app/local/nginx.ts';
import { freePort } from '../app/local/process.ts';
import { downStack, upStack, type StackState } from '../app/local/stack.ts';
import { runLoad } from '../test/load/load.ts';

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_SECONDS = 2;
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

interface Pgbench {
  run(seconds: number): Promise<Row>;
}

/** pgbench on the stack's PostgreSQL: 30 clients, each transaction one durable INSERT of a vote-shaped row. */
async function pgbenchOn(stack: StackState, dir: string): Promise<Pgbench> {
  const p = stack.postgres;
  // The password reaches libpq through a 0600 passfile, never argv or a log.
  const passfile = join(dir, 'pgpass');
  writeFileSync(passfile, `${p.host}:${p.port}:${p.database}:${p.user}:${readFileSync(p.passwordFile, 'utf8').trim()}\n`, { mode: 0o600 });
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', PGPASSFILE: passfile, PGHOST: p.host, PGPORT: String(p.port), PGUSER: p.user, PGDATABASE: p.database };
  await run(join(PG_BIN, 'psql'), ['-v', 'ON_ERROR_STOP=1', '-q', '-c',
    'CREATE TABLE bench_votes (voter_id uuid PRIMARY KEY, option_id text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())'], { env });
  const script = join(dir, 'insert-vote.sql');
  writeFileSync(script, "INSERT INTO bench_votes (voter_id, option_id) VALUES (gen_random_uuid(), 'cats');\n");
  return {
    async run(seconds) {
      const { stdout } = await run(join(PG_BIN, 'pgbench'),
        ['-n', '-c', String(CLIENTS), '-j', '2', '-T', String(seconds), '-f', script], { env, timeout: (seconds + 60) * 1000 });
      const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
      const lat = /latency average = ([\d.]+) ms/.exec(stdout);
      if (!tps) throw new Error(`pgbench: no tps in its output:\n${stdout}`);
      return { name: 'pgbench insert', what: `pgbench -c ${CLIENTS} -j 2 -T ${seconds}, 1 INSERT/tx`, perSecond: Number(tps[1]), p50: lat ? Number(lat[1]) : undefined };
    },
  };
}

/** wrk with 2 threads and 30 connections; requests/s and latency percentiles (ms). */
async function wrk(name: string, what: string, url: string, seconds = SECONDS): Promise<Row> {
  const { stdout } = await run(WRK, ['-t', '2', '-c', String(CLIENTS), '-d', `${seconds}s`, '--latency', url], { timeout: (seconds + 30) * 1000 });
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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The round whose figure is the median (its latencies go with it). */
function medianRow(rows: Row[]): Row {
  const m = median(rows.map((r) => r.perSecond));
  return rows.reduce((best, r) => (Math.abs(r.perSecond - m) < Math.abs(best.perSecond - m) ? r : best));
}

const load1 = (): string => loadavg()[0]!.toFixed(2);

async function votesRow(url: string, name: string, what: (ok: number, failed: number) => string, seconds = SECONDS): Promise<Row & { failed: number; ok: number }> {
  const load = await runLoad({ url, votes: 1_000_000, parallel: CLIENTS, maxDurationMs: seconds * 1000, progress: false });
  const failed = Object.values(load.failures).reduce((a, b) => a + b, 0);
  return { name, what: what(load.succeeded, failed), perSecond: load.votesPerSecond, p50: load.latency.p50, p99: load.latency.p99, failed, ok: load.succeeded };
}

async function main(): Promise<number> {
  if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || !(SECONDS > 0)) throw new Error('BENCH_ROUNDS must be an integer >= 1 and BENCH_SECONDS > 0');
  const dir = join(WORK, 'bench-app');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const loadAtStart = loadavg().map((l) => l.toFixed(2)).join(' ');
  const rounds: Array<{ pg: Row; stat: Row; votes: Row & { failed: number }; results: Row; load: string }> = [];
  const diagnostics: Row[] = [];
  try {
    const staticDir = join(dir, 'static');
    mkdirSync(staticDir, { recursive: true });
    // About the size of a /api/results answer, so both measure the same bytes.
    writeFileSync(join(staticDir, 'bench.json'), JSON.stringify({ results: [{ id: 'cats', label: 'Cats', votes: 1234 }, { id: 'dogs', label: 'Dogs', votes: 1180 }], total: 2414 }) + '\n');
    chmodSync(dir, 0o755); // nginx's workers (nobody, when we are root) read the file
    chmodSync(staticDir, 0o755);

    say('starting the stack (PostgreSQL, Redis, backend, frontend, nginx)');
    const stack = await upStack({ dir: join(dir, 'stack'), ports: { proxy: await freePort() }, proxyStaticRoot: staticDir });
    const pgbench = await pgbenchOn(stack, dir);
    const staticUrl = `${stack.url}/static/bench.json`;
    const resultsUrl = `${stack.url}/api/results`;
    const W = WARMUP_SECONDS;

    // Within a round each pair (pgbench and votes, static and results) runs in
    // alternating slices, so both halves of a ratio meet the same bursts of
    // others' work: per second is the mean of the slices, p50 their median,
    // p99 the worst slice's.
    const slices = Math.max(1, Math.min(5, Math.floor(SECONDS)));
    const slice = Math.floor(SECONDS / slices);
    const combine = (parts: Row[], name: string, what: string): Row => ({
      name, what,
      perSecond: parts.reduce((a, r) => a + r.perSecond, 0) / parts.length,
      p50: parts.every((r) => r.p50 !== undefined) ? median(parts.map((r) => r.p50!)) : undefined,
      p99: parts.every((r) => r.p99 !== undefined) ? Math.max(...parts.map((r) => r.p99!)) : undefined,
    });
    for (let i = 1; i <= ROUNDS; i++) {
      say(`round ${i}/${ROUNDS} (load average ${load1()}): ${W} s warm-up each, then ${slices} x ${slice} s of pgbench, votes, nginx static, results`);
      await pgbench.run(W);
      await votesRow(stack.url, '', () => '', W);
      await wrk('', '', staticUrl, W);
      await wrk('', '', resultsUrl, W);
      const parts: { pg: Row[]; votes: Array<Row & { failed: number; ok: number }>; stat: Row[]; results: Row[] } = { pg: [], votes: [], stat: [], results: [] };
      for (let k = 0; k < slices; k++) {
        parts.pg.push(await pgbench.run(slice));
        parts.votes.push(await votesRow(stack.url, '', () => '', slice));
        parts.stat.push(await wrk('', '', staticUrl, slice));
        parts.results.push(await wrk('', '', resultsUrl, slice));
      }
      const ok = parts.votes.reduce((a, r) => a + r.ok, 0);
      const failed = parts.votes.reduce((a, r) => a + r.failed, 0);
      const pg = combine(parts.pg, 'pgbench insert', `pgbench -c ${CLIENTS} -j 2, 1 INSERT/tx`);
      const votes = { ...combine(parts.votes, 'votes (load tool)', `${CLIENTS} parallel new voters, ${ok} ok / ${failed} failed`), failed };
      const stat = combine(parts.stat, 'nginx static', `wrk -t2 -c${CLIENTS} /static/bench.json`);
      const results = combine(parts.results, 'results reads', `wrk -t2 -c${CLIENTS} /api/results`);
      rounds.push({ pg, stat, votes, results, load: load1() });
      say(`round ${i}: pgbench ${fmt(pg.perSecond)} tps, static ${fmt(stat.perSecond)}/s, votes ${fmt(votes.perSecond)}/s (p99 ${fmt(votes.p99, 2)} ms), results ${fmt(results.perSecond)}/s`);
    }

    // Diagnostics, not goals: the same two loads straight to the backend,
    // to tell the proxy's share of the cost from the backend's.
    const direct = `http://127.0.0.1:${stack.ports.backend}`;
    say(`diagnostics: votes and results straight to the backend, then the proxy micro-cache`);
    diagnostics.push(await votesRow(direct, '(votes, no proxy)', (ok, failed) => `same, to the backend's port: ${ok} ok / ${failed} failed`));
    diagnostics.push(await wrk('(results, no proxy)', `same wrk, to the backend's port`, `${direct}/api/results`));

    // What the opt-in proxy micro-cache (renderNginxConf resultsCacheSeconds) would give.
    const cached = await startNginx({
      dir: join(dir, 'nginx-cached'),
      frontend: { host: '127.0.0.1', port: stack.ports.frontend },
      backend: { host: '127.0.0.1', port: stack.ports.backend },
      resultsCacheSeconds: 1,
    });
    try {
      diagnostics.push(await wrk('(results, 1 s proxy cache)', 'same wrk, nginx with resultsCacheSeconds: 1', `${cached.url}/api/results`));
    } finally {
      await cached.stop();
    }
  } finally {
    await downStack(join(dir, 'stack')).catch(() => {});
  }

  // Ratios within each round (the same minutes of the same machine), then their median.
  const voteRatios = rounds.map((r) => r.votes.perSecond / r.pg.perSecond);
  const readRatios = rounds.map((r) => r.results.perSecond / r.stat.perSecond);
  const voteRatio = median(voteRatios);
  const readRatio = median(readRatios);
  const votes = medianRow(rounds.map((r) => r.votes)) as Row & { failed: number };
  const failedVotes = rounds.reduce((a, r) => a + r.votes.failed, 0);
  const voteOk = voteRatio >= 0.5 && (votes.p99 ?? Infinity) < 50 && failedVotes === 0;
  const readOk = readRatio >= 0.5;
  const pct = (xs: number[]): string => xs.map((x) => `${(x * 100).toFixed(1)}%`).join(', ');

  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const per = (pick: (r: (typeof rounds)[number]) => Row): string => rounds.map((r) => fmt(pick(r).perSecond, 0)).join(' / ');
  // The median figure; its latencies are those of the round nearest to it.
  const summary = (rows: Row[]): Row => ({ ...medianRow(rows), perSecond: median(rows.map((r) => r.perSecond)) });
  const table: Array<[Row, string]> = [
    [summary(rounds.map((r) => r.pg)), per((r) => r.pg)],
    [summary(rounds.map((r) => r.stat)), per((r) => r.stat)],
    [summary(rounds.map((r) => r.votes)), per((r) => r.votes)],
    [summary(rounds.map((r) => r.results)), per((r) => r.results)],
    ...diagnostics.map((d): [Row, string] => [d, '']),
  ];
  const lines = [
    `command: make bench (node bench/app.ts, BENCH_SECONDS=${SECONDS} per measure per round in alternating slices, BENCH_ROUNDS=${ROUNDS}, ${WARMUP_SECONDS} s warm-up before each measure)`,
    `machine: ${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${new Date().toISOString()}`,
    `load average: ${loadAtStart} at the start, ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end (${rounds.map((r) => r.load).join(', ')} after each round; other work on the machine skews every figure)`,
    '',
    '| measure | how | per second (median) | each round | p50 ms | p99 ms |',
    '|---|---|---:|---:|---:|---:|',
    ...table.map(([r, each]) => `| ${r.name} | ${r.what} | ${fmt(r.perSecond)} | ${each} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} |`),
    '',
    `votes/s ÷ pgbench tps   = ${(voteRatio * 100).toFixed(1)}% (median of rounds: ${pct(voteRatios)}; goal ≥ 50%, p99 ${fmt(votes.p99, 2)} ms < 50 ms, no failure): ${voteOk ? 'MET' : 'NOT MET'}`,
    `results reads ÷ static  = ${(readRatio * 100).toFixed(1)}% (median of rounds: ${pct(readRatios)}; goal ≥ 50%): ${readOk ? 'MET' : 'NOT MET'}`,
    '(pgbench p50 column: its latency average; per second: mean of a round\'s slices, p50 their median, p99 the worst slice; a median row\'s p50/p99: the round nearest the median; rows in parentheses: diagnostics, not goals, measured once after the rounds)',
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
