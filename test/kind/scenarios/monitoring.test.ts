// Monitoring on a real Prometheus and Prometheus Operator (built here from
// their Go modules), under the seed's load: spec.monitoring turned on rolls
// every component with its metrics port; every target the PodMonitor
// generates is up through the NetworkPolicies, while a pod outside the
// monitoring namespace still can't reach a metrics port; every dashboard
// query returns data; and the alerts fire under their fault, for real: the
// cache pod gone (a warning, votes keep succeeding), the database pod gone
// (critical), each kept away by cordoned nodes for as long as it takes, then
// resolved once back; votes failing for real (a CHECK refusing their rows):
// the critical vote-errors alert active on them, its labels and message
// those an on-call reads. That it fires after its `for` is Prometheus's rule
// evaluation, tested with promtool on the same rules (alert-rules.test.ts),
// not waited for here. Runs last (vitest.config.ts): monitoring stays on.
import { beforeAll, expect, it } from 'vitest';
import { COMPONENTS, METRICS } from '../../../charts/rules.ts';
import { psqlInCluster } from '../../load/votes-in-postgres.ts';
import { alerts, query, targets, waitAlerts, waitPrometheus, type Alert } from '../monitoring-stack.ts';
import { connectFrom, describeScenario, figures, patchSpec, podsOf, underLoad, waitCondition, waitReady, type Stack } from './stack.ts';

const INSTANCE = 'securevote';

const firing = (name: string, component: string) => (as: Alert[]): boolean =>
  as.some((a) => a.labels['alertname'] === name && a.labels['securevote'] === INSTANCE && a.labels['component'] === component && a.state === 'firing');
const gone = (name: string) => (as: Alert[]): boolean => !as.some((a) => a.labels['alertname'] === name && a.labels['securevote'] === INSTANCE);

async function nodes(s: Stack): Promise<string[]> {
  return (await s.kubectl(['get', 'nodes', '-o', 'name'])).split('\n').filter(Boolean);
}

/** A statement as the app's role, over the database pod's socket. */
async function psql(s: Stack, sql: string): Promise<void> {
  await psqlInCluster((args) => s.kubectl(args), s.namespace, INSTANCE, sql);
}

/** Deletes a component's pod with every node cordoned (no pod comes back), until `fired` says so; then uncordons. Returns ms from delete to fired. */
async function awayUntil(s: Stack, component: 'database' | 'cache', fired: () => Promise<unknown>): Promise<number> {
  const n = await nodes(s);
  const [pod] = await podsOf(s, component);
  if (!pod) throw new Error(`no ${component} pod`);
  await s.kubectl(['cordon', ...n]);
  try {
    const at = Date.now();
    await s.kubectl(['-n', s.namespace, 'delete', 'pod', pod.name, '--wait=false']);
    await fired();
    return Date.now() - at;
  } finally {
    await s.kubectl(['uncordon', ...n]);
  }
}

describeScenario('monitoring on a real Prometheus, under load', (stack) => {
  // The cluster's Prometheus (cluster.setup.ts installed it at the start), answering.
  beforeAll(async () => {
    const s = stack();
    await waitPrometheus((args, opts) => s.kubectl(args, opts));
  }, 360_000);

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
      connectFrom(s, { namespace: s.namespace, pod: backend!.name, container: 'backend' }, await ip(c), METRICS.ports[c]);
    // The exporters listen (Prometheus scrapes them); the policy refuses or drops this pod's connections.
    const seen = { database: await probe('database'), cache: await probe('cache'), proxy: await probe('proxy') };
    expect(Object.values(seen).filter((v) => v === 'open'), JSON.stringify(seen)).toEqual([]);
  }, 120_000);

  it('every dashboard panel query returns at least one series', async () => {
    const s = stack();
    const cm = JSON.parse(await s.kubectl(['-n', s.namespace, 'get', 'configmap', `${INSTANCE}-dashboard`, '-o', 'json'])) as { data: Record<string, string> };
    const dash = JSON.parse(Object.values(cm.data)[0]!) as { panels: { title: string; targets: { expr: string }[] }[] };
    let empty = dash.panels.flatMap((p) => p.targets.map((t) => ({ title: p.title, expr: t.expr })));
    // Prometheus scrapes every target (and the kubelet) every 5 s since monitoring was turned on, above;
    // a rate() needs two samples, so a query still empty is asked again for a minute.
    const r = await underLoad(s, async () => {
      const until = Date.now() + 60_000;
      while (empty.length > 0 && Date.now() < until) {
        const still: typeof empty = [];
        for (const q of empty) if ((await query(s.kubectl.bind(s), q.expr)).length === 0) still.push(q);
        empty = still;
        if (empty.length > 0) await new Promise((res) => setTimeout(res, 5_000));
      }
    }, { maxDurationMs: 300_000 });
    expect(empty, `panels without a series:\n${empty.map((q) => `${q.title}: ${q.expr}`).join('\n')}`).toEqual([]);
    expect(r.load.failures).toEqual({});
  }, 600_000);

  it('votes failing (a CHECK that refuses every new row): SecureVoteVoteErrors turns active as critical on the real 500s, naming their share; no acknowledged vote lost', async () => {
    const s = stack();
    const k = s.kubectl.bind(s);
    const isIt = (a: Alert): boolean => a.labels['alertname'] === 'SecureVoteVoteErrors';
    // Before the fault the votes are healthy: the alert is not even pending.
    expect((await alerts(k)).filter(isIt)).toEqual([]);
    let active: { ms: number; alert: Alert } | undefined;
    const r = await underLoad(s, async () => {
      const at = Date.now();
      // What a botched schema change by hand does: PostgreSQL answers, and refuses every vote's row.
      await psql(s, 'ALTER TABLE votes ADD CONSTRAINT refuse_every_vote CHECK (false) NOT VALID');
      try {
        const p = await waitAlerts(k, 'SecureVoteVoteErrors active', (as) => as.some(isIt), 120_000);
        active = { ms: p.at - at, alert: p.alerts.find(isIt)! };
      } finally {
        await psql(s, 'ALTER TABLE votes DROP CONSTRAINT refuse_every_vote');
      }
    }, { maxVotes: 1_000_000 });
    console.log(`${figures('votes failing', r.load)}; SecureVoteVoteErrors ${active?.alert.state} ${active?.ms} ms after the change: ${active?.alert.annotations['description']}`);
    // Active since the 500s began: pending for its `for`, then firing (promtool's test of the same rule).
    expect(active?.alert.state).toBe('pending');
    expect(active?.alert.labels).toMatchObject({ severity: 'critical', namespace: s.namespace, securevote: INSTANCE });
    expect(active?.alert.annotations['description']).toMatch(/^\d+(\.\d+)?% of votes answered 5xx/);
    // The fault's votes, and only they, fail: a 500 each (the database answers, refusing the row).
    expect(Object.keys(r.load.failures), 'failures other than 500').toEqual(['500']);
    expect(r.stored).toEqual({ missing: 0, wrongOption: 0, acknowledgedTwice: 0 });
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
