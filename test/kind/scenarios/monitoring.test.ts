// Monitoring on a real Prometheus and Prometheus Operator (built here from
// their Go modules), under the seed's load: spec.monitoring turned on rolls
// every component with its metrics port; every target the PodMonitor
// generates is up through the NetworkPolicies, while a pod outside the
// monitoring namespace still can't reach a metrics port; every dashboard
// query returns data; and the alerts fire under their fault, for real: the
// cache pod gone (a warning, votes keep succeeding), the database pod gone
// (critical), each kept away by a cordoned node for as long as it takes, then
// resolved once back. Runs last (vitest.config.ts): monitoring stays on.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { COMPONENTS, METRICS } from '../../../charts/rules.ts';
import { installMonitoring, monitoringImages, query, targets, waitAlerts, type Alert } from '../monitoring-stack.ts';
import { describeScenario, figures, patchSpec, podsOf, underLoad, waitCondition, waitReady, type Stack } from './stack.ts';

const run = promisify(execFile);
const INSTANCE = 'securevote';

// Connects to host:port from inside a pod: 'open', or why not (a dropped SYN times out).
const PROBE = `const s = require('node:net').connect({ host: process.argv[1], port: Number(process.argv[2]), timeout: 4000 });
s.on('connect', () => { console.log('open'); process.exit(0); });
s.on('timeout', () => { console.log('timeout'); process.exit(0); });
s.on('error', (e) => { console.log(e.code ?? e.message); process.exit(0); });`;

const firing = (name: string, component: string) => (as: Alert[]): boolean =>
  as.some((a) => a.labels['alertname'] === name && a.labels['securevote'] === INSTANCE && a.labels['component'] === component && a.state === 'firing');
const gone = (name: string) => (as: Alert[]): boolean => !as.some((a) => a.labels['alertname'] === name && a.labels['securevote'] === INSTANCE);

async function node(s: Stack): Promise<string> {
  return s.kubectl(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}']);
}

/** Deletes a component's pod with the node cordoned (no pod comes back), until `fired` says so; then uncordons. Returns ms from delete to fired. */
async function awayUntil(s: Stack, component: 'database' | 'cache', fired: () => Promise<unknown>): Promise<number> {
  const n = await node(s);
  const [pod] = await podsOf(s, component);
  if (!pod) throw new Error(`no ${component} pod`);
  await s.kubectl(['cordon', n]);
  try {
    const at = Date.now();
    await s.kubectl(['-n', s.namespace, 'delete', 'pod', pod.name, '--wait=false']);
    await fired();
    return Date.now() - at;
  } finally {
    await s.kubectl(['uncordon', n]);
  }
}

describeScenario('monitoring on a real Prometheus, under load', (stack) => {
  beforeAll(async () => {
    const s = stack();
    const images = await monitoringImages();
    await run(process.env.KIND ?? 'kind', ['load', 'docker-image', '--name', s.cluster, images.prometheus, images.operator, images.reloader], { timeout: 600_000 });
    await installMonitoring((args, opts) => s.kubectl(args, opts), images);
  }, 1_200_000);

  it('turned on: every pod rolls with its metrics port, every target is up through the NetworkPolicies, no acknowledged vote lost', async () => {
    const s = stack();
    await waitReady(s);
    const r = await underLoad(s, async () => {
      await patchSpec(s, { monitoring: { enabled: true } });
      await waitCondition(s, 'Monitored', (c) => c.status === 'True', 180_000);
      await waitReady(s, 600_000);
      const until = Date.now() + 180_000;
      for (;;) {
        const up = (await targets(s.kubectl.bind(s))).filter((t) => t.labels['securevote'] === INSTANCE);
        const healthy = new Set(up.filter((t) => t.health === 'up').map((t) => t.labels['component']));
        if (COMPONENTS.every((c) => healthy.has(c)) && up.every((t) => t.health === 'up')) return up;
        if (Date.now() > until) throw new Error(`targets not all up: ${JSON.stringify(up.map((t) => [t.labels['component'], t.health, t.lastError]))}`);
        await new Promise((res) => setTimeout(res, 2_000));
      }
    });
    console.log(figures('monitoring turned on', r.load));
    for (const c of COMPONENTS) expect(r.value.some((t) => t.labels['component'] === c && t.health === 'up'), c).toBe(true);
    // PostgreSQL restarts once to take its exporter: votes meanwhile are refused with 503 (and Retry-After), nothing else.
    expect(Object.keys(r.load.failures).filter((k) => k !== '503'), 'failures other than 503').toEqual([]);
    expect(r.stored).toEqual({ missing: 0, wrongOption: 0, acknowledgedTwice: 0 });
  }, 900_000);

  it('a pod outside the monitoring namespace cannot reach a metrics port (Prometheus, inside it, scrapes them all: above)', async () => {
    const s = stack();
    const [backend] = await podsOf(s, 'backend');
    const ip = async (c: 'database' | 'cache' | 'proxy'): Promise<string> =>
      s.kubectl(['-n', s.namespace, 'get', 'pods', '-l', `app.kubernetes.io/instance=${INSTANCE},app.kubernetes.io/component=${c}`, '-o', 'jsonpath={.items[0].status.podIP}']);
    const probe = async (c: 'database' | 'cache' | 'proxy'): Promise<string> =>
      s.kubectl(['-n', s.namespace, 'exec', backend!.name, '-c', 'backend', '--', 'node', '-e', PROBE, await ip(c), String(METRICS.ports[c])], { timeoutMs: 30_000 });
    // The exporters listen (Prometheus scrapes them); the policy refuses or drops this pod's connections.
    const seen = { database: await probe('database'), cache: await probe('cache'), proxy: await probe('proxy') };
    expect(Object.values(seen).filter((v) => v === 'open'), JSON.stringify(seen)).toEqual([]);
  }, 120_000);

  it('every dashboard panel query returns at least one series', async () => {
    const s = stack();
    // A refused vote, so the refusals panel has a series (a counter appears at its first count).
    await fetch(`${s.url}/api/vote`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ optionId: 'no-such-option' }) });
    const cm = JSON.parse(await s.kubectl(['-n', s.namespace, 'get', 'configmap', `${INSTANCE}-dashboard`, '-o', 'json'])) as { data: Record<string, string> };
    const dash = JSON.parse(Object.values(cm.data)[0]!) as { panels: { title: string; targets: { expr: string }[] }[] };
    const empty: string[] = [];
    // Prometheus has scraped every target (and the kubelet) every 5 s since monitoring was turned on, above.
    const r = await underLoad(s, async () => {
      for (const p of dash.panels) {
        for (const t of p.targets) if ((await query(s.kubectl.bind(s), t.expr)).length === 0) empty.push(`${p.title}: ${t.expr}`);
      }
    }, { maxDurationMs: 300_000 });
    expect(empty).toEqual([]);
    expect(r.load.failures).toEqual({});
  }, 600_000);

  it('the cache gone: SecureVoteCacheDown fires as a warning while votes keep succeeding, then resolves', async () => {
    const s = stack();
    const k = s.kubectl.bind(s);
    let fired: { at: number; alerts: Alert[] } | undefined;
    let resolvedMs = 0;
    const r = await underLoad(s, async () => {
      const ms = await awayUntil(s, 'cache', async () => {
        fired = await waitAlerts(k, 'SecureVoteCacheDown firing', firing('SecureVoteCacheDown', 'cache'), 180_000);
      });
      const back = Date.now();
      await waitAlerts(k, 'SecureVoteCacheDown resolved', gone('SecureVoteCacheDown'), 300_000);
      resolvedMs = Date.now() - back;
      await waitReady(s);
      return ms;
    });
    console.log(`${figures('cache gone', r.load)}; SecureVoteCacheDown fired ${r.value} ms after the delete, resolved ${resolvedMs} ms after the uncordon`);
    expect(fired?.alerts.find((a) => a.labels['alertname'] === 'SecureVoteCacheDown')?.labels['severity']).toBe('warning');
    expect(r.load.failures, 'votes with the cache away').toEqual({});
    expect(r.stored).toEqual({ missing: 0, wrongOption: 0, acknowledgedTwice: 0 });
  }, 900_000);

  it('the database gone: SecureVoteDatabaseDown fires as critical, then resolves once it is back; no acknowledged vote lost', async () => {
    const s = stack();
    const k = s.kubectl.bind(s);
    let fired: { at: number; alerts: Alert[] } | undefined;
    let resolvedMs = 0;
    const r = await underLoad(s, async () => {
      const ms = await awayUntil(s, 'database', async () => {
        fired = await waitAlerts(k, 'SecureVoteDatabaseDown firing', firing('SecureVoteDatabaseDown', 'database'), 180_000);
      });
      const back = Date.now();
      await waitAlerts(k, 'SecureVoteDatabaseDown resolved', gone('SecureVoteDatabaseDown'), 300_000);
      resolvedMs = Date.now() - back;
      await waitReady(s);
      return ms;
    });
    console.log(`${figures('database gone', r.load)}; SecureVoteDatabaseDown fired ${r.value} ms after the delete, resolved ${resolvedMs} ms after the uncordon`);
    expect(fired?.alerts.find((a) => a.labels['alertname'] === 'SecureVoteDatabaseDown')?.labels['severity']).toBe('critical');
    // Votes meanwhile are refused with 503 and Retry-After, nothing else.
    expect(Object.keys(r.load.failures).filter((k2) => k2 !== '503'), 'failures other than 503').toEqual([]);
    expect(r.stored).toEqual({ missing: 0, wrongOption: 0, acknowledgedTwice: 0 });
  }, 900_000);
});
