// The seed's `load_test.sh URL VOTES PARALLEL`, in TypeScript: VOTES votes,
// PARALLEL at a time, each from a new voter (no cookie is ever sent back), to
// the one URL given. Like the page (app/frontend/public/app.js), each vote
// carries an Idempotency-Key and is retried with it after an ambiguous
// failure (502/503/504, timeout, network error), 3 times, waiting Retry-After
// (up to 10 s) or else 1, 2, 4 s, within a bounded time: a retry of a vote that did commit is recognised by the
// backend, so a scenario can demand zero failed votes. Importable (runLoad) for the container and cluster tests;
// a CLI: node test/load/load.ts URL VOTES PARALLEL
import { writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VOTER_COOKIE } from '../../app/backend/voter.ts';
import { Connection, requestBytes } from './http-client.ts';

export interface LoadOptions {
  /** Base URL of the stack (the proxy), e.g. http://127.0.0.1:8080. */
  url: string;
  /** Votes to cast (1..1,000,000). */
  votes: number;
  /** Votes in flight at once (1..1,000). */
  parallel: number;
  /** Stop starting new votes after this long (default 120 s); in-flight ones finish. */
  maxDurationMs?: number;
  /** Per-request timeout (default 10 s); a timeout counts as a failure `timeout`. */
  requestTimeoutMs?: number;
  /** Option ids to vote for, round-robin; default: GET /api/options. */
  optionIds?: string[];
  /** Progress line on stderr (default true). */
  progress?: boolean;
  /** Stops starting new votes when aborted. */
  signal?: AbortSignal;
  /** Retries of one vote after an ambiguous failure, same Idempotency-Key (default 3; 0 = none). */
  retries?: number;
  /** A vote is not retried once this long has passed since its first try (default 20 s). */
  retryBudgetMs?: number;
  /** Retry-After is honoured up to this long; without one, 1 s doubling (default 10 s: the page's). */
  maxRetryWaitMs?: number;
  /** Each voter waits this long after each vote (default 0): a light, steady load. */
  pauseMs?: number;
  /** Called after each acknowledged vote with how many have been acknowledged so far. */
  onAck?: (acknowledged: number) => void;
}

export interface Ack {
  voterId: string;
  optionId: string;
}

export interface LoadResult {
  attempted: number;
  succeeded: number;
  /** Votes that failed in the end, by the final try's HTTP status, or `timeout` / `network`. */
  failures: Record<string, number>;
  /** The first reply body (up to 200 characters) of each status other than 201, retried or failed: what says who answered. */
  failureSamples: Record<string, string>;
  /** Retries sent (not votes): by the status, `timeout` or `network` that caused each. */
  retries: Record<string, number>;
  /** Votes acknowledged only after at least one retry. */
  retriedVotes: number;
  durationMs: number;
  /** Acknowledged (201) votes per second of wall time. */
  votesPerSecond: number;
  /** Latency of acknowledged votes, ms. */
  latency: { p50: number; p95: number; p99: number; max: number };
  /** Every acknowledged vote, by the voter id of its cookie. */
  acknowledged: Ack[];
  /** True when the time bound or the abort signal stopped it before VOTES. */
  stoppedEarly: boolean;
}

/**
 * The voter id of an acknowledged vote: a `voterId` in the JSON body if the
 * backend sends one, else the uuid inside its signed cookie
 * (`sv_voter=v1.<uuid>.<signature>`, app/backend/voter.ts). The load tool
 * never verifies the signature (it has no secret); it only needs the id to
 * look the vote up in PostgreSQL.
 */
export function voterIdFrom(reply: { body: string; setCookie: string[] }): string | undefined {
  try {
    const parsed = JSON.parse(reply.body) as { voterId?: unknown };
    if (typeof parsed.voterId === 'string') return parsed.voterId;
  } catch {
    // fall back to the cookie
  }
  for (const c of reply.setCookie) {
    const [name, ...rest] = (c.split(';', 1)[0] ?? '').split('=');
    if (name?.trim() !== VOTER_COOKIE) continue;
    let value: string;
    try {
      value = decodeURIComponent(rest.join('='));
    } catch {
      continue;
    }
    const m = /^v1\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\./.exec(value);
    if (m) return m[1];
  }
  return undefined;
}

/** Nearest-rank percentile of a sorted array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

async function fetchOptionIds(base: URL, timeoutMs: number): Promise<string[]> {
  let lastError = '';
  const req = requestBytes('GET', base.host, '/api/options', { Accept: 'application/json' });
  for (let attempt = 0; attempt < 20; attempt++) {
    const conn = new Connection(base.hostname, Number(base.port || 80), timeoutMs);
    try {
      const r = await conn.exchange(req);
      if (r.status === 200) {
        const ids = ((JSON.parse(r.body) as { options?: { id: string }[] }).options ?? []).map((o) => o.id);
        if (ids.length > 0) return ids;
        lastError = 'no options';
      } else lastError = `HTTP ${r.status}`;
    } catch (err) {
      lastError = (err as Error).message;
    } finally {
      conn.close();
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`load: GET ${base.origin}/api/options failed: ${lastError}`);
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`load: ${name} must be an integer ${min}..${max}, got ${String(v)}`);
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  checkInt('votes', opts.votes, 1, 1_000_000);
  checkInt('parallel', opts.parallel, 1, 1_000);
  const base = new URL(opts.url);
  if (base.protocol !== 'http:') throw new Error(`load: only http:// URLs, got ${opts.url}`);
  const requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
  const maxDurationMs = opts.maxDurationMs ?? 120_000;
  // One keep-alive connection per voter in flight; cookies are never sent,
  // so every vote is a new voter.
  const conns: Connection[] = [];
  try {
    const optionIds = opts.optionIds ?? (await fetchOptionIds(base, requestTimeoutMs));
    const retriesMax = opts.retries ?? 3;
    checkInt('retries', retriesMax, 0, 20);
    const retryBudgetMs = opts.retryBudgetMs ?? 20_000;
    const maxRetryWaitMs = opts.maxRetryWaitMs ?? 10_000;
    const voteRequest = (optionId: string, key: string): Buffer =>
      requestBytes('POST', base.host, '/api/vote', { 'Content-Type': 'application/json', Accept: 'application/json', 'Idempotency-Key': key }, JSON.stringify({ optionId }));
    const failures: Record<string, number> = {};
    const failureSamples: Record<string, string> = {};
    const retries: Record<string, number> = {};
    let retriedVotes = 0;
    const latencies: number[] = [];
    const acknowledged: Ack[] = [];
    let next = 0;
    let done = 0;
    let stoppedEarly = false;
    const started = performance.now();
    const deadline = started + maxDurationMs;
    const progressOn = opts.progress ?? true;
    const tty = process.stderr.isTTY === true;
    const line = (): string => {
      const s = (performance.now() - started) / 1000;
      const failed = done - acknowledged.length;
      return `load: ${done}/${opts.votes} done, ${acknowledged.length} ok, ${failed} failed, ${(acknowledged.length / Math.max(s, 1e-3)).toFixed(1)} votes/s, ${s.toFixed(1)} s`;
    };
    const ticker = progressOn
      ? setInterval(() => process.stderr.write(tty ? `\r${line()}\x1b[K` : `${line()}\n`), tty ? 250 : 1_000)
      : undefined;

    async function voter(): Promise<void> {
      const conn = new Connection(base.hostname, Number(base.port || 80), requestTimeoutMs);
      conns.push(conn);
      for (;;) {
        if (opts.signal?.aborted || performance.now() > deadline) {
          if (next < opts.votes) stoppedEarly = true;
          return;
        }
        const i = next++;
        if (i >= opts.votes) return;
        const optionId = optionIds[i % optionIds.length]!;
        const request = voteRequest(optionId, randomUUID());
        const t0 = performance.now();
        // The final outcome of this vote: a reply, or `timeout` / `network`.
        let outcome: string;
        for (let attempt = 0; ; attempt++) {
          let wait: number | undefined;
          try {
            const r = await conn.exchange(request);
            if (r.status === 201) {
              const voterId = voterIdFrom(r);
              if (voterId === undefined) outcome = '201-without-voter-id';
              else {
                outcome = '201';
                acknowledged.push({ voterId, optionId });
                opts.onAck?.(acknowledged.length);
                latencies.push(performance.now() - t0);
                if (attempt > 0) retriedVotes++;
              }
              break;
            }
            outcome = String(r.status);
            failureSamples[outcome] ??= r.body.slice(0, 200);
            if (r.status === 502 || r.status === 503 || r.status === 504) wait = r.retryAfter !== undefined ? r.retryAfter * 1000 : undefined;
            else break;
          } catch (err) {
            outcome = (err as NodeJS.ErrnoException).code === 'ETIMEDOUT_LOAD' ? 'timeout' : 'network';
          }
          // Ambiguous: the vote may have committed. Retry with the same key while the bounds allow.
          wait = Math.min(wait ?? 1_000 * 2 ** attempt, maxRetryWaitMs);
          const now = performance.now();
          if (attempt >= retriesMax || now + wait - t0 > retryBudgetMs || now + wait > deadline + retryBudgetMs || opts.signal?.aborted) break;
          retries[outcome] = (retries[outcome] ?? 0) + 1;
          await new Promise((r) => setTimeout(r, wait));
        }
        if (outcome !== '201') failures[outcome] = (failures[outcome] ?? 0) + 1;
        done++;
        if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
      }
    }

    try {
      await Promise.all(Array.from({ length: opts.parallel }, () => voter()));
    } finally {
      if (ticker) clearInterval(ticker);
      if (progressOn) process.stderr.write(tty ? `\r${line()}\x1b[K\n` : `${line()}\n`);
    }
    const durationMs = performance.now() - started;
    latencies.sort((a, b) => a - b);
    const round = (n: number): number => Math.round(n * 100) / 100;
    return {
      attempted: done,
      succeeded: acknowledged.length,
      failures,
      failureSamples,
      retries,
      retriedVotes,
      durationMs: round(durationMs),
      votesPerSecond: round(acknowledged.length / (durationMs / 1000)),
      latency: {
        p50: round(percentile(latencies, 50)),
        p95: round(percentile(latencies, 95)),
        p99: round(percentile(latencies, 99)),
        max: round(latencies.at(-1) ?? 0),
      },
      acknowledged,
      stoppedEarly,
    };
  } finally {
    for (const c of conns) c.close();
  }
}

/** The summary the CLI prints (also used by the kill tool and the bench). */
export function formatLoadResult(r: LoadResult): string {
  const failures = Object.entries(r.failures).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none';
  return [
    `votes attempted:    ${r.attempted}${r.stoppedEarly ? ' (stopped early: time bound)' : ''}`,
    `votes acknowledged: ${r.succeeded}`,
    `failures:           ${failures}`,
    `retries:            ${Object.entries(r.retries).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'} (${r.retriedVotes} votes acknowledged after a retry)`,
    ...Object.entries(r.failureSamples).map(([k, v]) => `first ${k} reply:    ${JSON.stringify(v)}`),
    `duration:           ${(r.durationMs / 1000).toFixed(2)} s`,
    `votes/s:            ${r.votesPerSecond.toFixed(1)}`,
    `latency (201) ms:   p50 ${r.latency.p50}  p95 ${r.latency.p95}  p99 ${r.latency.p99}  max ${r.latency.max}`,
  ].join('\n');
}

export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(metaUrl);
}

const USAGE = 'usage: node test/load/load.ts URL VOTES PARALLEL [--max-seconds N] [--json] [--acks FILE]';

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const rest = argv.filter((a) => a !== '--json');
  let maxSeconds = 120;
  const ms = rest.indexOf('--max-seconds');
  if (ms >= 0) {
    maxSeconds = Number(rest[ms + 1]);
    rest.splice(ms, 2);
  }
  // --acks FILE: every acknowledged vote (voter id, option) as JSON, for a check against the database.
  let acksFile: string | undefined;
  const ai = rest.indexOf('--acks');
  if (ai >= 0) {
    acksFile = rest[ai + 1];
    rest.splice(ai, 2);
  }
  const [url, votes, parallel] = rest;
  if (!url || !votes || !parallel || rest.length !== 3 || !(maxSeconds > 0)) {
    console.error(USAGE);
    return 2;
  }
  const r = await runLoad({ url, votes: Number(votes), parallel: Number(parallel), maxDurationMs: maxSeconds * 1000 });
  if (acksFile) writeFileSync(acksFile, JSON.stringify(r.acknowledged));
  if (json) console.log(JSON.stringify({ ...r, acknowledged: r.acknowledged.length }));
  else console.log(formatLoadResult(r));
  return r.succeeded === r.attempted && !r.stoppedEarly ? 0 : 1;
}

if (isMain(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  });
}
