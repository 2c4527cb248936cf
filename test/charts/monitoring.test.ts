// spec.monitoring, as rendered: off by default (nothing extra runs), and on:
// one `metrics` port per pod, the exporters beside PostgreSQL, Redis and
// nginx hardened like every container and outside the seed's budget, no
// password on a command line, the scraper's namespace let in to the metrics
// ports only, and the PodMonitor, PrometheusRule and dashboard a Prometheus
// Operator user expects, each alert with its runbook in the README.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALERT_NAMES, longestScheduleGapSeconds } from '../../charts/alerts.ts';
import { BACKUP, COMPONENTS, METRICS, RESOURCES, type Component } from '../../charts/rules.ts';
import { allContainers, find, NAME, NAMESPACE, ofKind, podOf, podTemplates, render, type K8s } from './helpers.ts';

const ROOT = join(import.meta.dirname, '../..');
const monitored = render({ monitoring: { enabled: true } });
const plain = render();
const metricsPorts = (objects: readonly K8s[], c: Component): K8s[] =>
  (podOf(objects, c).spec['containers'] as K8s[]).flatMap((k) => (k['ports'] ?? []) as K8s[]).filter((p) => p['name'] === METRICS.portName);

describe('spec.monitoring off (the default)', () => {
  it('runs nothing extra: one container a pod, no metrics port, no monitoring object, no scraper edge', () => {
    for (const c of COMPONENTS) {
      expect(podOf(plain, c).spec['containers']).toHaveLength(1);
      expect(metricsPorts(plain, c)).toEqual([]);
    }
    expect(plain.filter((o) => String(o['apiVersion']).startsWith('monitoring.coreos.com/'))).toEqual([]);
    expect(plain.filter((o) => o['metadata'].labels?.grafana_dashboard)).toEqual([]);
    const fromNamespaces = ofKind(plain, 'NetworkPolicy').flatMap((p) => (p['spec'].ingress ?? []) as K8s[]).filter((r) => r['from']?.some((f: K8s) => f['namespaceSelector']));
    expect(fromNamespaces).toEqual([]);
  });
});

describe('spec.monitoring on', () => {
  it.each(COMPONENTS)('%s: its pod has exactly one port named metrics, on its own number', (c) => {
    expect(metricsPorts(monitored, c)).toEqual([{ name: METRICS.portName, containerPort: METRICS.ports[c] }]);
    const userPorts = (podOf(monitored, c).spec['containers'] as K8s[])[0]!['ports'].filter((p: K8s) => p['name'] !== METRICS.portName);
    expect(userPorts.map((p: K8s) => p['containerPort'])).not.toContain(METRICS.ports[c]);
  });

  it.each(['database', 'cache', 'proxy'] as const)('%s: an exporter beside it, hardened, with requests and limits of its own; the main container keeps the seed table', (c) => {
    const [main, exporter] = podOf(monitored, c).spec['containers'] as K8s[];
    expect(exporter!['command']).toEqual([METRICS.exporters[c]]);
    expect(exporter!['securityContext']).toMatchObject({
      runAsNonRoot: true,
      runAsUser: METRICS.exporterUid,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(exporter!['resources']).toMatchObject({ requests: METRICS.exporterResources.requests, limits: METRICS.exporterResources.limits });
    expect(main!['resources']).toMatchObject({ requests: RESOURCES[c].requests, limits: RESOURCES[c].limits });
  });

  it('puts no password on a command line or in a plain variable: PostgreSQL is read over its socket, Redis gets its password from the Secret', () => {
    const db = (podOf(monitored, 'database').spec['containers'] as K8s[])[1]!;
    const dsn = db['env'].find((e: K8s) => e['name'] === 'DATA_SOURCE_NAME')['value'] as string;
    expect(dsn).toMatch(/host=\/var\/run\/postgresql /);
    expect(dsn).not.toMatch(/password/i);
    const redis = (podOf(monitored, 'cache').spec['containers'] as K8s[])[1]!;
    expect(redis['env']).toEqual([{ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: `${NAME}-credentials`, key: 'redis-password' } } }]);
    for (const pod of podTemplates(monitored)) {
      for (const k of allContainers(pod)) {
        expect([...(k['command'] ?? []), ...(k['args'] ?? [])].join(' ')).not.toMatch(/pass(word)?[=:]/i);
      }
    }
  });

  it("nginx's counters are served on 127.0.0.1 only, for the exporter", () => {
    const conf = find(monitored, 'ConfigMap', `${NAME}-proxy-config`)['data']['nginx.conf'] as string;
    expect(conf).toContain(`listen 127.0.0.1:${METRICS.stubStatusPort};`);
    expect(conf).toMatch(/location = \/stub_status \{\s+stub_status;/);
    const exporter = (podOf(monitored, 'proxy').spec['containers'] as K8s[])[1]!;
    expect(exporter['args']).toContain(`--nginx.scrape-uri=http://127.0.0.1:${METRICS.stubStatusPort}/stub_status`);
    expect(find(plain, 'ConfigMap', `${NAME}-proxy-config`)['data']['nginx.conf']).not.toContain('stub_status');
  });

  it('lets the scraper namespace reach each metrics port, and only that port', () => {
    for (const c of COMPONENTS) {
      const policy = find(monitored, 'NetworkPolicy', `${NAME}-allow-${c}`);
      const fromNamespaces = (policy['spec'].ingress as K8s[]).filter((r) => r['from']?.some((f: K8s) => f['namespaceSelector']));
      expect(fromNamespaces).toEqual([
        { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': METRICS.scraperNamespace } } }], ports: [{ protocol: 'TCP', port: METRICS.ports[c] }] },
      ]);
    }
    const other = render({ monitoring: { enabled: true, scraperNamespaceLabels: { 'team.example/monitoring': 'true' } } });
    const rule = (find(other, 'NetworkPolicy', `${NAME}-allow-backend`)['spec'].ingress as K8s[]).find((r) => r['from']?.[0]?.namespaceSelector);
    expect(rule!['from']).toEqual([{ namespaceSelector: { matchLabels: { 'team.example/monitoring': 'true' } } }]);
  });

  it("renders a PodMonitor over the instance's pods' metrics ports, labelling every series with its instance and component", () => {
    const pm = find(monitored, 'PodMonitor', NAME);
    expect(pm['apiVersion']).toBe('monitoring.coreos.com/v1');
    expect(pm['metadata'].namespace).toBe(NAMESPACE);
    for (const c of COMPONENTS) {
      expect(Object.entries(pm['spec'].selector.matchLabels).every(([k, v]) => podOf(monitored, c).labels[k] === v)).toBe(true);
    }
    const ep = pm['spec'].podMetricsEndpoints[0];
    expect(ep).toMatchObject({ port: METRICS.portName, path: '/metrics' });
    expect(ep.relabelings.map((r: K8s) => r['targetLabel'])).toEqual(['securevote', 'component']);
  });

  it('adds spec.monitoring.labels to the PodMonitor and the PrometheusRule, for a Prometheus that selects by them', () => {
    const labelled = render({ monitoring: { enabled: true, labels: { release: 'kps' } } });
    expect(find(labelled, 'PodMonitor', NAME)['metadata'].labels.release).toBe('kps');
    expect(find(labelled, 'PrometheusRule', NAME)['metadata'].labels.release).toBe('kps');
  });

  it('renders every alert once, critical only where voters are hurt, each with a runbook section the README has', () => {
    const rules = (find(render({ monitoring: { enabled: true }, backup: { schedule: '0 3 * * *' } }), 'PrometheusRule', NAME)['spec'].groups as K8s[]).flatMap((g) => g['rules'] as K8s[]);
    expect(rules.map((r) => r['alert'])).toEqual([...ALERT_NAMES]);
    expect(rules.filter((r) => r['labels'].severity === 'critical').map((r) => r['alert'])).toEqual(['SecureVoteVotePathDown', 'SecureVoteVoteErrors', 'SecureVoteDatabaseDown']);
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    // GitHub's heading anchors: lowercase, spaces to dashes, punctuation dropped.
    const anchors = new Set([...readme.matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')));
    for (const r of rules) {
      const anchor = String(r['annotations'].runbook_url).split('#')[1];
      expect(anchors, `${r['alert']}: README has no #${anchor}`).toContain(anchor);
    }
  });

  it('alerts on stale backups only with a schedule, after its longest gap plus a backup deadline', () => {
    const alerts = (objects: readonly K8s[]) => (find(objects, 'PrometheusRule', NAME)['spec'].groups[0].rules as K8s[]).map((r) => r['alert']);
    expect(alerts(monitored)).not.toContain('SecureVoteBackupStale');
    const weekdays = render({ monitoring: { enabled: true }, backup: { schedule: '0 3 * * 1-5' } });
    const stale = (find(weekdays, 'PrometheusRule', NAME)['spec'].groups[0].rules as K8s[]).find((r) => r['alert'] === 'SecureVoteBackupStale')!;
    // Friday 03:00 to Monday 03:00.
    expect(longestScheduleGapSeconds('0 3 * * 1-5')).toBe(3 * 86_400);
    expect(stale['expr']).toMatch(new RegExp(`> ${3 * 86_400 + BACKUP.deadlineSeconds}$`));
  });

  it('ships a dashboard Grafana picks up, every query selecting this instance', () => {
    const cm = find(monitored, 'ConfigMap', `${NAME}-dashboard`);
    expect(cm['metadata'].labels.grafana_dashboard).toBe('1');
    const [file, json] = Object.entries(cm['data'] as Record<string, string>)[0]!;
    expect(file).toBe(`securevote-${NAMESPACE}-${NAME}.json`);
    const dash = JSON.parse(json) as K8s;
    const exprs = (dash['panels'] as K8s[]).flatMap((p) => (p['targets'] as K8s[]).map((t) => t['expr'] as string));
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    for (const e of exprs) expect(e).toContain(`namespace="${NAMESPACE}"`);
  });
});
