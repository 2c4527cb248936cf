// What every day-two scenario needs from the shared cluster (cluster.setup.ts):
// kubectl on it, the SecureVote's spec and status, pod identities, the votes
// of record, and `underLoad`, which runs the seed's load through the proxy for
// the whole scenario and then checks every acknowledged vote against
// PostgreSQL.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, inject, it } from 'vitest';
import type { Component } from '../../../charts/rules.ts';
import { runLoad, type Ack, type LoadResult } from '../../load/load.ts';
import { clusterDatabaseNow, STORED_ONCE, storedOnce, votesInClusterDatabase, type StoredCheck } from '../../load/votes-in-postgres.ts';

const run = promisify(execFile);

export interface Stack {
  /** The kind cluster's name (what `kind get nodes --name` takes). */
  readonly cluster: string;
  readonly namespace: string;
  /** The proxy's entry on 127.0.0.1 (a NodePort kind maps). */
  readonly url: string;
  kubectl(args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<string>;
  /** A shell command on one of the cluster's nodes (its container), as root; default the control plane's. */
  onNode(script: string, node?: string): Promise<string>;
  /** The control plane's node: where kind maps the entry's NodePort. */
  readonly controlPlane: string;
}

/**
 * A describe block on the shared cluster, or one skipped test naming why
 * there is none and the command that runs the scenarios.
 */
export function describeScenario(title: string, body: (stack: () => Stack) => void): void {
  const c = inject('scenarioCluster');
  if (!c.ok) {
    console.warn(c.line);
    describe(title, () => it.skip(c.line, () => {}));
    return;
  }
  const stack: Stack = {
    cluster: c.name,
    namespace: c.namespace,
    url: c.url,
    kubectl: async (args, opts = {}) => {
      const p = run(c.kubectl, ['--kubeconfig', c.kubeconfig, ...args], { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 });
      if (opts.input !== undefined) p.child.stdin?.end(opts.input);
      return (await p).stdout.trim();
    },
    controlPlane: `${c.name}-control-plane`,
    onNode: async (script, node = `${c.name}-control-plane`) => (await run('docker', ['exec', node, 'sh', '-c', script], { timeout: 60_000 })).stdout.trim(),
  };
  describe(title, () => body(() => stack));
}

/** The node a local-path claim's volume lives on (the scheduler wrote it on the claim when it placed its first pod). */
export async function claimNode(s: Stack, claim: string): Promise<string> {
  const node = await s.kubectl(['-n', s.namespace, 'get', 'pvc', claim, '-o', 'jsonpath={.metadata.annotations.volume\\.kubernetes\\.io/selected-node}']);
  if (!node) throw new Error(`claim ${claim} names no node`);
  return node;
}

/** The scenarios' SecureVote (SCENARIO_SECUREVOTE), and its kubectl name. */
const INSTANCE = 'securevote';
const SV = `securevote/${INSTANCE}`;

/** Merge-patches the SecureVote's spec (what a user's `kubectl patch` or `apply` does). */
export async function patchSpec(s: Stack, spec: Record<string, unknown>): Promise<void> {
  await s.kubectl(['-n', s.namespace, 'patch', SV, '--type', 'merge', '-p', JSON.stringify({ spec })]);
}

export interface Condition { type: string; status: string; reason?: string; message?: string; observedGeneration?: number }

export async function secureVote(s: Stack): Promise<{ generation: number; status?: { observedGeneration?: number; conditions?: Condition[]; [k: string]: unknown } }> {
  const o = JSON.parse(await s.kubectl(['-n', s.namespace, 'get', SV, '-o', 'json'])) as {
    metadata: { generation: number };
    status?: { observedGeneration?: number; conditions?: Condition[] };
  };
  return { generation: o.metadata.generation, status: o.status };
}

/** Polls until `pred` holds for the SecureVote's current condition of `type` at its current generation. */
export async function waitCondition(s: Stack, type: string, pred: (c: Condition) => boolean, timeoutMs: number): Promise<Condition> {
  const until = Date.now() + timeoutMs;
  let last: Condition | undefined;
  for (;;) {
    const sv = await secureVote(s);
    last = sv.status?.conditions?.find((c) => c.type === type);
    if (last && (last.observedGeneration ?? -1) >= sv.generation && pred(last)) return last;
    if (Date.now() > until) throw new Error(`${type} not as expected after ${timeoutMs} ms: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/**
 * Settled at the current generation: Ready=True (every component has its
 * pods ready) and Progressing=False (every rollout, migration included, is
 * complete). Ready alone stays True while old pods still serve a rollout.
 */
export async function waitReady(s: Stack, timeoutMs = 300_000): Promise<Condition> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const sv = await secureVote(s);
    const at = (type: string) => sv.status?.conditions?.find((c) => c.type === type && (c.observedGeneration ?? -1) >= sv.generation);
    const ready = at('Ready');
    if (ready?.status === 'True' && at('Progressing')?.status === 'False') return ready;
    if (Date.now() > until) throw new Error(`not settled after ${timeoutMs} ms: ${JSON.stringify(sv.status?.conditions)}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

export interface PodIdentity { name: string; uid: string; restarts: number; image: string; node: string; ip: string; ready: boolean }

/** The pods of one component of the scenarios' SecureVote, with what says whether they were replaced or restarted. */
export async function podsOf(s: Stack, component: Component): Promise<PodIdentity[]> {
  const selector = `app.kubernetes.io/instance=${INSTANCE},app.kubernetes.io/component=${component}`;
  const list = JSON.parse(await s.kubectl(['-n', s.namespace, 'get', 'pods', '-l', selector, '-o', 'json'])) as {
    items: {
      metadata: { name: string; uid: string; deletionTimestamp?: string };
      spec: { containers: { image: string }[]; nodeName?: string };
      status: { containerStatuses?: { restartCount: number }[]; podIP?: string; conditions?: { type: string; status: string }[] };
    }[];
  };
  return list.items
    .filter((p) => !p.metadata.deletionTimestamp)
    .map((p) => ({
      name: p.metadata.name,
      uid: p.metadata.uid,
      restarts: (p.status.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0),
      image: p.spec.containers[0]?.image ?? '',
      node: p.spec.nodeName ?? '',
      ip: p.status.podIP ?? '',
      ready: p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    }));
}

/** Every vote of record, voter id → option, read with psql inside the database pod (local socket); with `since`, those written from then on. */
export async function votesOfRecord(s: Stack, since?: string): Promise<Map<string, string>> {
  return votesInClusterDatabase((args) => s.kubectl(args, { timeoutMs: 60_000 }), s.namespace, undefined, since);
}

export type { StoredCheck };
/** What checkStored returns when every acknowledged vote is stored exactly once. */
export const checkStoredOk: StoredCheck = STORED_ONCE;

/**
 * Every acknowledged vote is in PostgreSQL exactly once (storedOnce against
 * the database's rows; with `since`, clusterDatabaseNow's before the votes
 * began, only the rows written from then on: none of theirs is older).
 */
export async function checkStored(s: Stack, acks: readonly Ack[], since?: string): Promise<StoredCheck> {
  return storedOnce(acks, await votesOfRecord(s, since));
}

export interface UnderLoad<T> {
  value: T;
  load: LoadResult;
  stored: StoredCheck;
}

/** The seed's load: 30 voters in parallel, each vote a new voter. */
export const SEED_PARALLEL = 30;

/**
 * Runs the seed's load through the proxy from before the scenario starts
 * until `tailMs` after it ends (bounded: at most `maxVotes` votes and
 * `maxDurationMs`), then checks every acknowledged vote in PostgreSQL.
 */
export async function underLoad<T>(
  s: Stack,
  scenario: () => Promise<T>,
  opts: { maxVotes?: number; maxDurationMs?: number; tailMs?: number; leadMs?: number; parallel?: number; pauseMs?: number } = {},
): Promise<UnderLoad<T>> {
  // The check after reads only the rows written from here on, not every scenario's (the whole table if the clock can't be read).
  const since = await clusterDatabaseNow((args) => s.kubectl(args, { timeoutMs: 60_000 }), s.namespace).catch(() => undefined);
  const stop = new AbortController();
  const parallel = opts.parallel ?? SEED_PARALLEL;
  // The scenario starts once the load flows (as many votes acknowledged as voters in parallel), or after leadMs.
  let flowing = (): void => undefined;
  const flows = new Promise<void>((r) => (flowing = r));
  const load = runLoad({
    url: s.url,
    votes: opts.maxVotes ?? 200_000,
    parallel,
    ...(opts.pauseMs ? { pauseMs: opts.pauseMs } : {}),
    maxDurationMs: opts.maxDurationMs ?? 600_000,
    progress: false,
    signal: stop.signal,
    onAck: (n) => n >= parallel && flowing(),
  });
  // The load must outlast the scenario: one that ran out of votes first proves nothing about the rest.
  let ranOut = false;
  void load.then(() => (ranOut = !stop.signal.aborted), () => undefined);
  let value: T;
  try {
    let lead: NodeJS.Timeout | undefined;
    await Promise.race([flows, new Promise((r) => (lead = setTimeout(r, opts.leadMs ?? 2_000)))]);
    clearTimeout(lead);
    value = await scenario();
    await new Promise((r) => setTimeout(r, opts.tailMs ?? 3_000));
  } finally {
    stop.abort();
  }
  const result = await load;
  if (ranOut) throw new Error(`the load ended (${result.attempted} votes in ${result.durationMs} ms) before the scenario did: raise maxVotes or maxDurationMs`);
  return { value, load: result, stored: await checkStored(s, result.acknowledged, since) };
}

// Connects to host:port from inside a pod: 'open', or why not (a dropped SYN times out).
const CONNECT = `const s = require('node:net').connect({ host: process.argv[1], port: Number(process.argv[2]), timeout: 4000 });
s.on('connect', () => { console.log('open'); process.exit(0); });
s.on('timeout', () => { console.log('timeout'); process.exit(0); });
s.on('error', (e) => { console.log(e.code ?? e.message); process.exit(0); });`;

/** A TCP connect from inside a pod whose image has Node (the backend's): 'open', 'timeout', or the error code. */
export async function connectFrom(s: Stack, from: { namespace: string; pod: string; container?: string }, host: string, port: number): Promise<string> {
  const c = from.container ? ['-c', from.container] : [];
  return s.kubectl(['-n', from.namespace, 'exec', from.pod, ...c, '--', 'node', '-e', CONNECT, host, String(port)], { timeoutMs: 30_000 });
}

/** What a voter meets at one moment: a vote, the page, the results. */
export interface Probe { at: number; vote: number; retryAfter: string | null; page: number; results: number }

/** One vote (a new voter), the page and the results, each answer's status; 0 for no answer within 5 s. */
export async function probe(url: string): Promise<Probe> {
  const status = async (path: string, init?: RequestInit): Promise<{ status: number; retryAfter: string | null }> => {
    try {
      const r = await fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(5_000) });
      await r.arrayBuffer();
      return { status: r.status, retryAfter: r.headers.get('retry-after') };
    } catch {
      return { status: 0, retryAfter: null };
    }
  };
  const at = Date.now();
  const [vote, page, results] = await Promise.all([
    status('/api/vote', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ optionId: 'cats' }) }),
    status('/'),
    status('/api/results'),
  ]);
  return { at, vote: vote.status, retryAfter: vote.retryAfter, page: page.status, results: results.status };
}

/** One line for a scenario's figures (the test log, BENCHMARKS.md). */
export function figures(name: string, r: LoadResult): string {
  const failed = Object.entries(r.failures).map(([k, v]) => `${k}:${v}`).join(' ') || 'none';
  const samples = Object.entries(r.failureSamples).map(([k, v]) => `; first ${k} reply ${JSON.stringify(v)}`).join('');
  return `${name}: ${(r.durationMs / 1000).toFixed(1)} s, ${r.attempted} attempted, ${r.succeeded} acknowledged, failed ${failed}, p99 ${r.latency.p99} ms${samples}`;
}
