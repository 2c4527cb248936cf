/**
 * What a Prometheus Operator user expects beside a monitored SecureVote:
 * a PodMonitor (every pod's `metrics` port, with `securevote` and
 * `component` labels on each series), a PrometheusRule (charts/alerts.ts)
 * and a Grafana dashboard in a ConfigMap its sidecar picks up
 * (charts/dashboard.ts). The first two need the cluster to serve
 * monitoring.coreos.com/v1: the operator skips them where it does not, and
 * says so in a condition; `cdk8s synth` renders them for a pipeline.
 */
import { ApiObject } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { alertGroups } from './alerts.ts';
import { dashboard } from './dashboard.ts';
import { instanceLabels, instanceSelector } from './labels.ts';
import type { StackContext } from './names.ts';
import { METRICS } from './rules.ts';

/** The API group of the Prometheus Operator's objects. */
export const MONITORING_GROUP = 'monitoring.coreos.com';
export const MONITORING_API_VERSION = `${MONITORING_GROUP}/v1`;

/** The label Grafana's dashboard sidecar looks for (kube-prometheus-stack's default). */
export const GRAFANA_DASHBOARD_LABEL = { grafana_dashboard: '1' } as const;

export interface MonitoringProps {
  readonly context: StackContext;
  /** The namespace the objects go to (the rules select series by it). @default none: the instance name alone selects */
  readonly namespace?: string;
}

export class Monitoring extends Construct {
  readonly podMonitor: ApiObject;
  readonly rule: ApiObject;
  readonly dashboard: kplus.ConfigMap;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const ctx = props.context;
    const name = ctx.identity.name;
    const labels = { ...(ctx.spec.monitoring.labels ?? {}), ...instanceLabels(ctx.identity) };

    this.podMonitor = new ApiObject(this, 'pod-monitor', {
      apiVersion: MONITORING_API_VERSION,
      kind: 'PodMonitor',
      metadata: { name, labels },
      spec: {
        selector: { matchLabels: instanceSelector(ctx.identity) },
        podMetricsEndpoints: [
          {
            port: METRICS.portName,
            path: METRICS.path,
            // No interval: the Prometheus's own (its owner sets how often it scrapes everything).
            // Every series says which instance and component it comes from; the rules and the dashboard select by them.
            relabelings: [
              { sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_instance'], targetLabel: 'securevote', action: 'replace' },
              { sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_component'], targetLabel: 'component', action: 'replace' },
            ],
          },
        ],
      },
    });

    this.rule = new ApiObject(this, 'rule', {
      apiVersion: MONITORING_API_VERSION,
      kind: 'PrometheusRule',
      metadata: { name, labels },
      spec: { groups: alertGroups(name, props.namespace, ctx.spec) },
    });

    this.dashboard = new kplus.ConfigMap(this, 'dashboard', {
      metadata: { name: `${name}-dashboard`, labels: { ...instanceLabels(ctx.identity), ...GRAFANA_DASHBOARD_LABEL } },
      data: { [`securevote-${props.namespace ?? 'default'}-${name}.json`]: `${JSON.stringify(dashboard(name, props.namespace, ctx.spec), null, 2)}\n` },
    });
  }
}

/** Whether an object needs the Prometheus Operator's CRDs (the operator skips it where they are not served). */
export function needsMonitoringCrds(obj: { readonly apiVersion?: unknown }): boolean {
  return typeof obj.apiVersion === 'string' && obj.apiVersion.startsWith(`${MONITORING_GROUP}/`);
}
