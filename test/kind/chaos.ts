// The seed's success metrics as one run on a kind cluster: the seed's load
// through the proxy for the whole run while, every `everyMs`, a random pod of
// a non-database component is killed: its main process SIGKILLed on its node
// (a crash, as the seed's kill test does with `docker kill`), and the pod
// deleted, so its ReplicaSet replaces it (Chaos Mesh's pod-kill, kube-monkey).
// The pod is deleted so that it is replaced, not restarted: the kubelet holds
// a container that crashes again back 10 s, then 20, then 40 (its guard
// against crash loops, not the stack's recovery), and a random pick kills one
// pod three or four times in five minutes (measured: back in 33 s and 47 s).
// Measured: availability (acknowledged / attempted), each kill's time until
// its component has as many Ready pods as before, every component's peak CPU
// and memory from the metrics API against its limits, and the acknowledged
// votes missing from PostgreSQL. Used by nodes/chaos.test.ts (one minute) and
// bench/chaos.ts (five).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { quantityValue } from '../../charts/quantity.ts';
import type { Component } from '../../charts/rules.ts';
import { runLoad, type LoadResult } from '../load/load.ts';
import { storedOnce, votesInClusterDatabase, type StoredCheck } from '../load/votes-in-postgres.ts';

const run = promisify(execFile);

/** What a chaos run needs of a cluster: kubectl on it, the stack's namespace and entry. */
export interface ChaosTarget {
  readonly namespace: string;
  /** The proxy's entry on 127.0.0.1. */
  readonly url: string;
  /** The SecureVote's name (its pods' instance label). */
  readonly instance: string;
  kubectl(args: string[], opts?: { timeoutMs?: number }): Promise<string>;
}

export const KILLABLE = ['backend', 'frontend', 'proxy', 'cache'] as const satisfies readonly Component[];

export interface Kill {
  readonly component: Component;
  readonly pod: string;
  /** ms after the run started. */
  readonly atMs: number;
  /** ms from the kill until the component had as many Ready pods as before it; null: not within the bound. */
  readonly recoveredMs: number | null;
}

export interface Peak {
  /** Highest CPU use seen, in percent of the container's CPU limit. */
  cpuPercentOfLimit: number;
  /** Highest working set seen, in percent of the container's memory limit. */
  memoryPercentOfLimit: number;
}

export interface ChaosResult {
  readonly load: LoadResult;
  readonly kills: readonly Kill[];
  /** Per component, over the run (metrics API samples, main container). */
  readonly peaks: Partial<Record<Component, Peak>>;
  readonly samples: number;
  /** Every acknowledged vote against PostgreSQL's rows. */
  readonly stored: StoredCheck;
}

interface PodJson {
  metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName?: string; containers: Array<{ name: string; resources?: { limits?: Record<string, string> } }> };
  status: { containerStatuses?: Array<{ name: string; restartCount: number; containerID?: string; ready: boolean }>; conditions?: Array<{ type: string; status: string }> };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function pods(t: ChaosTarget): Promise<PodJson[]> {
  const out = await t.kubectl(['-n', t.namespace, 'get', 'pods', '-l', `app.kubernetes.io/instance=${t.instance}`, '-o', 'json']);
  return (JSON.parse(out) as { items: PodJson[] }).items.filter((p) => !p.metadata.deletionTimestamp);
}

const componentOf = (p: PodJson): string | undefined => p.metadata.labels?.['app.kubernetes.io/component'];
const ready = (p: PodJson): boolean => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/**
 * The kill: SIGKILL of the pod's main container process on its node (a kind
 * node is a container: `docker exec`), then the pod deleted with a one-second
 * grace, which the dead process cannot use, so the ReplicaSet creates its
 * replacement at once and the kubelet never restarts it.
 */
async function kill(t: ChaosTarget, p: PodJson): Promise<void> {
  const main = p.status.containerStatuses?.find((c) => c.name === p.spec.containers[0]?.name);
  const id = main?.containerID?.replace(/^containerd:\/\//, '');
  if (!id || !p.spec.nodeName) throw new Error(`pod ${p.metadata.name} has no running main container`);
  await run('docker', ['exec', p.spec.nodeName, 'sh', '-c', `kill -9 "$(crictl inspect -o go-template --template '{{.info.pid}}' ${id})"`], { timeout: 30_000 });
  await t.kubectl(['-n', t.namespace, 'delete', 'pod', p.metadata.name, '--grace-period=1', '--wait=false']);
}

/** ms until `component` has `count` Ready pods other than `victim`, or null after `timeoutMs`. */
async function recovery(t: ChaosTarget, component: string, victim: string, count: number, timeoutMs: number): Promise<number | null> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    await sleep(250);
    const now = await pods(t).catch(() => null);
    if (now && now.filter((p) => componentOf(p) === component && p.metadata.name !== victim && ready(p)).length >= count) return Date.now() - start;
  }
  return null;
}

/** One metrics API sample folded into the peaks (main container of each pod). */
async function sample(t: ChaosTarget, peaks: Partial<Record<Component, Peak>>): Promise<boolean> {
  const raw = await t.kubectl(['get', '--raw', `/apis/metrics.k8s.io/v1beta1/namespaces/${t.namespace}/pods`]).catch(() => '');
  if (!raw) return false;
  const metrics = JSON.parse(raw) as { items: Array<{ metadata: { name: string }; containers: Array<{ name: string; usage: { cpu: string; memory: string } }> }> };
  const byName = new Map((await pods(t)).map((p) => [p.metadata.name, p]));
  for (const m of metrics.items) {
    const p = byName.get(m.metadata.name);
    const c = p && (componentOf(p) as Component | undefined);
    const main = p?.spec.containers[0];
    const used = m.containers.find((x) => x.name === main?.name)?.usage;
    if (!c || !main || !used) continue;
    const limits = main.resources?.limits ?? {};
    const peak = (peaks[c] ??= { cpuPercentOfLimit: 0, memoryPercentOfLimit: 0 });
    if (limits['cpu']) peak.cpuPercentOfLimit = Math.max(peak.cpuPercentOfLimit, (100 * quantityValue(used.cpu)) / quantityValue(limits['cpu']));
    if (limits['memory']) peak.memoryPercentOfLimit = Math.max(peak.memoryPercentOfLimit, (100 * quantityValue(used.memory)) / quantityValue(limits['memory']));
  }
  return true;
}

/**
 * The run: the load for `durationMs` (30 voters, each vote a new voter), a
 * kill every `everyMs` from `everyMs` on, usage sampled every 15 s; then
 * every acknowledged vote looked up in PostgreSQL.
 */
export async function runChaos(t: ChaosTarget, opts: { durationMs: number; everyMs: number; recoveryBoundMs?: number; log?: (line: string) => void }): Promise<ChaosResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const started = Date.now();
  const load = runLoad({ url: t.url, votes: 1_000_000, parallel: 30, maxDurationMs: opts.durationMs, progress: false });
  const kills: Kill[] = [];
  const peaks: Partial<Record<Component, Peak>> = {};
  let samples = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      if (await sample(t, peaks)) samples++;
      await sleep(15_000);
    }
  })();
  try {
    for (let at = opts.everyMs; at < opts.durationMs; at += opts.everyMs) {
      await sleep(Math.max(0, started + at - Date.now()));
      const candidates = (await pods(t)).filter((p) => (KILLABLE as readonly string[]).includes(componentOf(p) ?? '') && ready(p));
      const victim = candidates[Math.floor(Math.random() * candidates.length)];
      if (!victim) throw new Error('no ready pod to kill');
      const component = componentOf(victim) as Component;
      const readyBefore = candidates.filter((p) => componentOf(p) === component).length;
      const atMs = Date.now() - started;
      await kill(t, victim);
      const recoveredMs = await recovery(t, component, victim.metadata.name, readyBefore, opts.recoveryBoundMs ?? 60_000);
      kills.push({ component, pod: victim.metadata.name, atMs, recoveredMs });
      log(`chaos: killed ${victim.metadata.name} at ${(atMs / 1000).toFixed(0)} s, Ready again in ${recoveredMs ?? 'never'} ms`);
    }
  } finally {
    sampling = false;
  }
  const result = await load;
  await sampler;
  const stored = storedOnce(result.acknowledged, await votesInClusterDatabase((args) => t.kubectl(args, { timeoutMs: 60_000 }), t.namespace, t.instance));
  return { load: result, kills, peaks, samples, stored };
}

/** Acknowledged / attempted, in percent. */
export function availability(r: LoadResult): number {
  return r.attempted === 0 ? 0 : (100 * r.succeeded) / r.attempted;
}
