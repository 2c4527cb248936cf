/**
 * The Grafana dashboard of one SecureVote: the seed's success metrics
 * (availability, recovery, CPU and memory against each limit, health) and
 * the vote rate and latency. Rendered per instance, so each limit is the
 * spec's own number and every query selects this instance only. Shipped in a
 * ConfigMap that Grafana's dashboard sidecar picks up (charts/monitoring.ts).
 */
import { instanceSelectors } from './alerts.ts';
import { quantityValue } from './quantity.ts';
import { COMPONENTS } from './rules.ts';
import type { SecureVoteSpec } from './spec.ts';

export interface PanelTarget {
  readonly expr: string;
  readonly legendFormat: string;
  readonly refId: string;
}

export interface Panel {
  readonly id: number;
  readonly title: string;
  readonly description: string;
  readonly type: 'timeseries' | 'stat';
  readonly unit: string;
  readonly targets: readonly PanelTarget[];
}

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** The panels, as data (the test runs every target's query against Prometheus). */
export function dashboardPanels(instance: string, namespace: string | undefined, spec: SecureVoteSpec): Panel[] {
  const { sel, votes, pods } = instanceSelectors(instance, namespace);
  const ref = (i: number): string => String.fromCharCode(65 + i);
  let id = 0;
  const panel = (title: string, description: string, type: Panel['type'], unit: string, targets: [string, string][]): Panel => ({
    id: ++id,
    title,
    description,
    type,
    unit,
    targets: targets.map(([expr, legendFormat], i) => ({ expr, legendFormat, refId: ref(i) })),
  });
  return [
    panel('Availability', "Votes not answered 5xx, over 5 minutes (the seed's target: above 99%).", 'stat', 'percentunit', [
      [`1 - (sum(rate(http_request_duration_seconds_count{${votes},status=~"5.."}[5m])) or vector(0)) / sum(rate(http_request_duration_seconds_count{${votes}}[5m]))`, 'availability'],
    ]),
    panel('Health', 'Pods answering their metrics scrape, per component (the seed: 100% healthy).', 'timeseries', 'short', [
      [`sum by (component) (up{${sel()}})`, '{{component}}'],
    ]),
    panel('Recovery', "Time since each process last started: a restart shows as a drop to zero (the seed's recovery target: under 30 s).", 'timeseries', 's', [
      [`time() - max by (component) (process_start_time_seconds{${sel(',component=~"backend|frontend"')}})`, '{{component}}'],
      [`time() - max by (component) (pg_postmaster_start_time_seconds{${sel()}})`, 'database'],
      [`time() - max by (component) (redis_start_time_seconds{${sel()}})`, 'cache'],
    ]),
    panel('CPU against its limit', "Each component's busiest main container, as a share of its CPU limit (the seed: under 80% under load).", 'timeseries', 'percentunit', COMPONENTS.map((c): [string, string] => [
      `max(rate(container_cpu_usage_seconds_total{${pods(c)}}[5m])) / ${quantityValue(spec[c].resources.limits.cpu)}`,
      c,
    ])),
    panel('Memory against its limit', "Each component's largest main container working set, as a share of its memory limit.", 'timeseries', 'percentunit', COMPONENTS.map((c): [string, string] => [
      `max(container_memory_working_set_bytes{${pods(c)}}) / ${quantityValue(spec[c].resources.limits.memory)}`,
      c,
    ])),
    panel('Votes', 'Votes answered per second, by status.', 'timeseries', 'reqps', [
      [`sum by (status) (rate(http_request_duration_seconds_count{${votes}}[1m]))`, '{{status}}'],
    ]),
    panel('Vote latency', 'POST /api/vote, 50th and 99th percentiles over 5 minutes.', 'timeseries', 's', [
      [`histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{${votes}}[5m])))`, 'p50'],
      [`histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{${votes}}[5m])))`, 'p99'],
    ]),
    panel('Votes not acknowledged', 'Votes refused, by reason (duplicate, invalid, unavailable, error).', 'timeseries', 'reqps', [
      [`sum by (reason) (rate(securevote_votes_rejected_total{${sel()}}[5m]))`, '{{reason}}'],
    ]),
  ];
}

/** The dashboard JSON (Grafana's schema 39): two panels a row, a Prometheus data source to pick. */
export function dashboard(instance: string, namespace: string | undefined, spec: SecureVoteSpec): Record<string, unknown> {
  const panels = dashboardPanels(instance, namespace, spec).map((p, i) => ({
    id: p.id,
    title: p.title,
    description: p.description,
    type: p.type,
    datasource: DATASOURCE,
    gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
    fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
    options: p.type === 'stat' ? { reduceOptions: { calcs: ['lastNotNull'] } } : { legend: { displayMode: 'list', placement: 'bottom' } },
    targets: p.targets.map((t) => ({ datasource: DATASOURCE, expr: t.expr, legendFormat: t.legendFormat, refId: t.refId })),
  }));
  return {
    uid: `securevote-${namespace ?? ''}-${instance}`.slice(0, 40),
    title: `SecureVote ${namespace === undefined ? '' : `${namespace}/`}${instance}`,
    tags: ['securevote'],
    schemaVersion: 39,
    editable: false,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [{ name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {}, hide: 0 }],
    },
    panels,
  };
}
