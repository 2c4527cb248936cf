// spec.monitoring as the API server and the operator see it, on a real
// control plane (kwok nodes), with the operator as its own ServiceAccount
// (the install chart's RBAC): where the cluster serves no
// monitoring.coreos.com/v1 the SecureVote is Ready and its Monitored
// condition says what was skipped and why; once the Prometheus Operator's
// CRDs (from its Go module, example/prometheus-operator-crd) are installed,
// the operator finds them by itself and applies the PodMonitor and the
// PrometheusRule, undoes a hand edit, and deletes both when monitoring is
// turned off. Its /metrics carries the condition gauge and
// controller-runtime's workqueue series.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../fixtures/controlplane.ts';
import { Api, condition, createNamespace, createVolumes, installCrd, startOperatorAsInstalled, svYaml, waitReady } from './cluster.ts';
import { type OperatorProcess, REPO, waitFor } from './helpers.ts';

const run = promisify(execFile);
let cp: ControlPlane;
let dir: string;
let api: Api;
let op: OperatorProcess;
const NS = 'monitored';
const MON = 'monitoring.coreos.com/v1';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sv-op-monitoring-'));
  cp = await startControlPlane({ controllers: true, scheduler: true, kwokNodes: 1 });
  await installCrd(cp);
  await createVolumes(cp, 4);
  await createNamespace(cp, NS);
  api = new Api(cp);
  // Discovery answers held 2 s instead of a minute: the test need not wait.
  op = await startOperatorAsInstalled(cp, dir, 'op-monitoring', { DISCOVERY_SECONDS: '2' });
}, 120_000);

afterAll(async () => {
  await op?.stop();
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const monitored = (ns: string, name: string, status: string, reason: string) =>
  waitFor(`${name} Monitored=${status} (${reason})`, async () => {
    const c = condition(await api.sv(ns, name), 'Monitored');
    return c?.status === status && c.reason === reason ? c : undefined;
  }, 90_000);

describe('without the Prometheus Operator', () => {
  it('the instance is Ready, its pods serve metrics, and Monitored says what was skipped and why', async () => {
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('shop', { monitoring: { enabled: true } }) });
    await waitReady(api, NS, 'shop');
    const c = await monitored(NS, 'shop', 'False', 'MonitoringCRDsAbsent');
    expect(c.message).toMatch(/skipped the PodMonitor and PrometheusRule: the cluster does not serve monitoring\.coreos\.com\/v1/);
    const proxy = await api.get('apps/v1', 'Deployment', NS, 'shop-proxy');
    const containers = (proxy?.['spec'] as { template: { spec: { containers: { name: string }[] } } }).template.spec.containers;
    expect(containers.map((k) => k.name)).toEqual(['nginx', 'exporter']);
  });

  it('an instance without monitoring gets no Monitored condition', async () => {
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('plain', {}) });
    const sv = await waitReady(api, NS, 'plain');
    expect(condition(sv, 'Monitored')).toBeUndefined();
  });
});

describe('with the Prometheus Operator', () => {
  beforeAll(async () => {
    const source = (await run(join(REPO, 'scripts/controlplane-build.sh'), ['--source', 'prometheus-operator'])).stdout.trim();
    await cp.kubectl(['apply', '--server-side', '-f', join(source, 'example/prometheus-operator-crd')]);
    await cp.kubectl(['wait', '--for=condition=Established', 'crd/podmonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com', '--timeout=60s']);
  }, 120_000);

  it('finds the CRDs by itself and applies the PodMonitor and the PrometheusRule', async () => {
    await monitored(NS, 'shop', 'True', 'MonitorsApplied');
    const pm = await api.get(MON, 'PodMonitor', NS, 'shop');
    expect(pm?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'SecureVote', name: 'shop', controller: true });
    const rule = await api.get(MON, 'PrometheusRule', NS, 'shop');
    const alerts = (rule?.['spec'] as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts).toContain('SecureVoteDatabaseDown');
  });

  it('undoes a hand edit of the rule at its next pass', async () => {
    await cp.kubectl(['-n', NS, 'patch', 'prometheusrule', 'shop', '--type', 'json', '-p', '[{"op":"replace","path":"/spec/groups","value":[]}]']);
    // Any change of the resource wakes a pass; so does the resync.
    await cp.kubectl(['-n', NS, 'annotate', 'sv', 'shop', 'touched=1', '--overwrite']);
    await waitFor('the rule restored', async () => {
      const rule = await api.get(MON, 'PrometheusRule', NS, 'shop');
      return ((rule?.['spec'] as { groups: unknown[] }).groups.length ?? 0) > 0 ? rule : undefined;
    }, 60_000);
  });

  it('turning monitoring off deletes them and drops the condition', async () => {
    await cp.kubectl(['apply', '-n', NS, '-f', '-'], { input: svYaml('shop', { monitoring: { enabled: false } }) });
    await waitFor('PodMonitor and PrometheusRule deleted', async () =>
      (await api.get(MON, 'PodMonitor', NS, 'shop')) === undefined && (await api.get(MON, 'PrometheusRule', NS, 'shop')) === undefined ? true : undefined, 60_000);
    await waitFor('no Monitored condition', async () => (condition(await api.sv(NS, 'shop'), 'Monitored') === undefined ? true : undefined), 60_000);
  });

  it("its /metrics has each instance's conditions and controller-runtime's workqueue series", async () => {
    const text = await (await fetch(`http://127.0.0.1:${op.port}/metrics`)).text();
    expect(text).toMatch(/securevote_status_condition\{namespace="monitored",securevote="plain",type="Ready",status="True"\} 1/);
    expect(text).toMatch(/securevote_status_condition\{namespace="monitored",securevote="plain",type="Ready",status="False"\} 0/);
    expect(text).toMatch(/workqueue_adds_total\{name="securevote",controller="securevote"\} [1-9]/);
    expect(text).toMatch(/controller_runtime_reconcile_total\{controller="securevote",result="requeue_after"\} [1-9]/);
    expect(text).toMatch(/workqueue_depth\{name="securevote",controller="securevote"\} \d/);
  });
});
