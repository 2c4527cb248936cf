/**
 * The alerting rules of one SecureVote: few, symptom-based, each with a
 * runbook section in the README (`#runbook-<alert>`). Critical only where
 * voters are hurt. Thresholds come from rules.ts ALERTS (two of them from
 * the seed's success metrics); the limits and the backup schedule from the
 * instance's own spec, so the rule says exactly what this instance promises.
 *
 * Series are found by the labels the PodMonitor gives every target
 * (`securevote`, `component`: charts/monitoring.ts), the operator's metrics
 * by their own `namespace` and `securevote` labels (its ServiceMonitor keeps
 * them: honorLabels), the container metrics of the kubelet (cAdvisor) and
 * kube-state-metrics by pod name, as kube-prometheus scrapes them.
 */
import { parseCron, nextRun } from './cron.ts';
import { quantityValue } from './quantity.ts';
import { ALERTS, BACKUP, COMPONENTS, type Component } from './rules.ts';
import type { SecureVoteSpec } from './spec.ts';

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: 'critical' | 'warning' };
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook_url: string };
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly AlertRule[];
}

/** Where the runbooks live: the README's section per alert. */
export const RUNBOOK_BASE = 'https://github.com/securevote/securevote/blob/main/README.md';

export function runbookUrl(alert: string): string {
  return `${RUNBOOK_BASE}#runbook-${alert.toLowerCase()}`;
}

/** The alerts every instance gets, in the README's order. */
export const ALERT_NAMES = [
  'SecureVoteVotePathDown',
  'SecureVoteVoteErrors',
  'SecureVoteVoteSlow',
  'SecureVoteDatabaseDown',
  'SecureVoteCacheDown',
  'SecureVotePodRestarting',
  'SecureVoteMemoryNearLimit',
  'SecureVoteDegraded',
  'SecureVoteBackupStale',
] as const;
export type AlertName = (typeof ALERT_NAMES)[number];

/** A pod name pattern of a component's pods: Deployments add two hashes, the StatefulSet an ordinal. */
export function podPattern(instance: string, c: Component): string {
  return c === 'database' ? `${instance}-database-[0-9]+` : `${instance}-${c}-[a-z0-9]+-[a-z0-9]+`;
}

/** The main container of each component's pods (charts/<component>.ts). */
export const MAIN_CONTAINER: Readonly<Record<Component, string>> = {
  database: 'postgres',
  cache: 'redis',
  backend: 'backend',
  frontend: 'frontend',
  proxy: 'nginx',
};

/**
 * The longest wait between two scheduled backups over the next year (a
 * schedule's gaps differ: "0 3 * * 1-5" waits three days over a weekend).
 */
export function longestScheduleGapSeconds(schedule: string, from = new Date(Date.UTC(2027, 0, 1))): number {
  const cron = parseCron(schedule);
  let prev = nextRun(cron, from);
  let longest = 0;
  const end = from.getTime() + 366 * 86_400_000;
  // Bounded: a schedule every minute reaches 2,000 runs long before a year.
  for (let i = 0; i < 2_000 && prev !== undefined && prev.getTime() < end; i++) {
    const next = nextRun(cron, prev);
    if (next === undefined) break;
    longest = Math.max(longest, (next.getTime() - prev.getTime()) / 1000);
    prev = next;
  }
  return longest;
}

const seconds = (s: number): string => `${Math.ceil(s)}s`;

/** The label matchers of one instance's series, shared by the alerts and the dashboard. */
export function instanceSelectors(instance: string, namespace: string | undefined) {
  // Without a namespace (a chart rendered for kubectl's current one), the instance name alone selects.
  const ns = namespace === undefined ? '' : `namespace="${namespace}",`;
  const sel = (extra = ''): string => `${ns}securevote="${instance}"${extra}`;
  return {
    ns,
    sel,
    /** POST /api/vote as the backend counts it. */
    votes: sel(',component="backend",route="/api/vote",method="POST"'),
    /** A component's main container, as the kubelet's cAdvisor names it. */
    pods: (c: Component): string => `${ns}pod=~"${podPattern(instance, c)}",container="${MAIN_CONTAINER[c]}"`,
  };
}

export function alertGroups(instance: string, namespace: string | undefined, spec: SecureVoteSpec): RuleGroup[] {
  const { ns, sel, votes, pods } = instanceSelectors(instance, namespace);
  const who = `SecureVote ${namespace === undefined ? '' : `${namespace}/`}${instance}`;
  const rule = (alert: AlertName, severity: 'critical' | 'warning', expr: string, forDuration: string, summary: string, description: string): AlertRule => ({
    alert,
    expr,
    for: forDuration,
    labels: { severity },
    annotations: { summary, description, runbook_url: runbookUrl(alert) },
  });

  // Memory: the working set against the limit the spec gives each main container.
  const memory = COMPONENTS.map(
    (c) => `container_memory_working_set_bytes{${pods(c)}} / ${quantityValue(spec[c].resources.limits.memory)}`,
  ).join('\n  or\n');

  const rules: AlertRule[] = [
    rule(
      'SecureVoteVotePathDown', 'critical',
      `max by (namespace, securevote, component) (up{${sel(',component=~"backend|proxy"')}}) == 0 or absent(up{${sel(',component="backend"')}}) or absent(up{${sel(',component="proxy"')}})`,
      ALERTS.downFor,
      `${who}: no vote can be taken`,
      `No {{ $labels.component }} pod of ${who} answers its metrics scrape: every vote fails.`,
    ),
    rule(
      'SecureVoteVoteErrors', 'critical',
      `sum by (namespace, securevote) (rate(http_request_duration_seconds_count{${votes},status=~"5.."}[5m])) / sum by (namespace, securevote) (rate(http_request_duration_seconds_count{${votes}}[5m])) > ${ALERTS.voteErrorRatio}`,
      '2m',
      `${who}: votes failing`,
      `{{ $value | humanizePercentage }} of votes answered 5xx over 5 minutes (above ${ALERTS.voteErrorRatio * 100}%: the seed's availability target is above 99%).`,
    ),
    rule(
      'SecureVoteVoteSlow', 'warning',
      `histogram_quantile(0.99, sum by (namespace, securevote, le) (rate(http_request_duration_seconds_bucket{${votes}}[5m]))) > ${ALERTS.voteP99Seconds}`,
      '10m',
      `${who}: votes slow`,
      `The 99th percentile of POST /api/vote is {{ $value | humanizeDuration }} (above ${ALERTS.voteP99Seconds} s).`,
    ),
    rule(
      'SecureVoteDatabaseDown', 'critical',
      `max by (namespace, securevote, component) (pg_up{${sel(',component="database"')}}) == 0 or absent(pg_up{${sel(',component="database"')}})`,
      ALERTS.downFor,
      `${who}: PostgreSQL down`,
      `PostgreSQL of ${who} does not answer its exporter (or its pod is gone): votes are refused with 503 and Retry-After until it is back.`,
    ),
    rule(
      'SecureVoteCacheDown', 'warning',
      `max by (namespace, securevote, component) (redis_up{${sel(',component="cache"')}}) == 0 or absent(redis_up{${sel(',component="cache"')}})`,
      ALERTS.downFor,
      `${who}: Redis down (votes continue)`,
      `Redis of ${who} does not answer its exporter (or its pod is gone): votes are still taken; results are read from PostgreSQL.`,
    ),
    rule(
      'SecureVotePodRestarting', 'warning',
      `increase(kube_pod_container_status_restarts_total{${ns}pod=~"${COMPONENTS.map((c) => podPattern(instance, c)).join('|')}"}[15m]) >= ${ALERTS.restartsIn15m}`,
      '0m',
      `${who}: a container restarting`,
      `{{ $labels.pod }}/{{ $labels.container }} restarted {{ $value | humanize }} times in 15 minutes.`,
    ),
    rule(
      'SecureVoteMemoryNearLimit', 'warning',
      `(\n  ${memory}\n) > ${ALERTS.memoryNearLimit}`,
      '5m',
      `${who}: a container near its memory limit`,
      `{{ $labels.pod }}/{{ $labels.container }} uses {{ $value | humanizePercentage }} of its memory limit: next, the kernel kills it.`,
    ),
    rule(
      'SecureVoteDegraded', 'warning',
      `securevote_status_condition{${sel(',type="Degraded",status="True"')}} == 1`,
      ALERTS.degradedFor,
      `${who}: the operator cannot reconcile it`,
      `${who} is Degraded: the operator's last reconcile failed (kubectl describe securevote ${instance}${namespace === undefined ? '' : ` -n ${namespace}`} says why). What runs keeps running; changes are not applied.`,
    ),
  ];
  if (spec.backup.schedule !== undefined) {
    const limit = longestScheduleGapSeconds(spec.backup.schedule) + BACKUP.deadlineSeconds;
    rules.push(
      rule(
        'SecureVoteBackupStale', 'warning',
        `time() - securevote_backup_last_success_timestamp_seconds{${sel()}} > ${Math.ceil(limit)}`,
        '0m',
        `${who}: no recent verified backup`,
        `The newest verified backup of ${who} is {{ $value | humanizeDuration }} old: longer than the schedule's longest gap plus a backup's deadline (${seconds(limit)}).`,
      ),
    );
  }
  return [{ name: `securevote.${namespace === undefined ? '' : `${namespace}.`}${instance}`, rules }];
}
