// The operator's Prometheus metrics, on a registry of its own (no global
// default registry, so two operators in one test process don't collide).
import { Counter, Gauge, Histogram, type MetricObjectWithValues, type MetricValue, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueueObserver } from './queue.ts';

/** The controller's name in controller-runtime's metric labels. */
export const CONTROLLER = 'securevote';

/** What the workqueue gauges read at each scrape. */
export interface QueueView {
  depth(): number;
  unfinishedWorkSeconds(): number;
  longestRunningSeconds(): number;
}

/** client-go's workqueue latency buckets (10^-8 to 10^1 seconds, by 10). */
const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

const WORKQUEUE_BUCKETS = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10];

type Condition = { readonly type: string; readonly status: string };
type ConditionLabels = 'namespace' | 'securevote' | 'type' | 'status';

/**
 * securevote_status_condition, whose series are written at each scrape from
 * one small record per SecureVote: kept as prom-client series between
 * scrapes, a resource's 15 held ~4 KB (~4 MB at 1,000).
 */
class ConditionGauge extends Gauge<ConditionLabels> {
  /** Each SecureVote's conditions now, by namespace and name. */
  private readonly now = new Map<string, Map<string, readonly Condition[]>>();

  constructor(registers: Registry[]) {
    super({
      name: 'securevote_status_condition',
      help: "A SecureVote's conditions: 1 for the status each type has now, 0 for the others",
      labelNames: ['namespace', 'securevote', 'type', 'status'],
      registers,
    });
  }

  /** A SecureVote's conditions now (undefined: it is gone, and so are its series). */
  setConditions(namespace: string, securevote: string, conditions: readonly Condition[] | undefined): void {
    let byName = this.now.get(namespace);
    if (conditions === undefined) {
      byName?.delete(securevote);
      if (byName?.size === 0) this.now.delete(namespace);
      return;
    }
    if (!byName) this.now.set(namespace, (byName = new Map()));
    const held = byName.get(securevote);
    // Every reconcile calls this: the same conditions keep the record they have.
    if (held && held.length === conditions.length && held.every((c, i) => c.type === conditions[i]?.type && c.status === conditions[i]?.status)) return;
    // Only the two fields the series read: the conditions' messages and times stay with the resource.
    byName.set(securevote, conditions.map((c) => ({ type: c.type, status: c.status })));
  }

  override async get(): Promise<MetricObjectWithValues<MetricValue<ConditionLabels>>> {
    const out = await super.get();
    for (const [namespace, byName] of this.now) {
      for (const [securevote, conditions] of byName) {
        for (const c of conditions) {
          for (const status of CONDITION_STATUSES) out.values.push({ labels: { namespace, securevote, type: c.type, status }, value: c.status === status ? 1 : 0 });
        }
      }
    }
    return out;
  }
}

export class Metrics {
  readonly registry: Registry;
  readonly reconciles: Counter<'result'>;
  readonly reconcileSeconds: Histogram<'result'>;
  readonly apiErrors: Counter<'class'>;
  readonly apiRequests: Counter<'verb'>;
  readonly renders: Counter;
  readonly queueDepth: Gauge;
  readonly leader: Gauge;
  readonly informerSynced: Gauge<'kind'>;
  readonly informerFailures: Counter<'kind' | 'reason'>;
  readonly backupLastSuccess: Gauge<'namespace' | 'securevote'>;
  readonly backupLastFailure: Gauge<'namespace' | 'securevote'>;
  /** One series per condition type and status of each SecureVote: 1 for its current status, 0 for the others (kube-state-metrics' way). */
  private readonly condition: ConditionGauge;
  // controller-runtime's names, so its dashboards and alerts work on this operator as they are.
  readonly crReconciles: Counter<'controller' | 'result'>;
  readonly crReconcileErrors: Counter<'controller'>;
  readonly crReconcileTime: Histogram<'controller'>;
  readonly crActiveWorkers: Gauge<'controller'>;
  readonly crMaxConcurrent: Gauge<'controller'>;
  readonly queueObserver: QueueObserver;
  private queue: QueueView | undefined;

  constructor(opts: { processMetrics?: boolean } = {}) {
    this.registry = new Registry();
    const registers = [this.registry];
    this.reconciles = new Counter({
      name: 'securevote_operator_reconciles_total',
      help: 'Reconciles by result (ok, requeue, error class)',
      labelNames: ['result'],
      registers,
    });
    this.reconcileSeconds = new Histogram({
      name: 'securevote_operator_reconcile_duration_seconds',
      help: 'Reconcile duration by result',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.apiErrors = new Counter({
      name: 'securevote_operator_api_errors_total',
      help: 'Failed reconciles by error class',
      labelNames: ['class'],
      registers,
    });
    this.apiRequests = new Counter({
      name: 'securevote_operator_api_requests_total',
      help: 'Requests the reconcile sent to the API server, by verb (informer list/watch excluded)',
      labelNames: ['verb'],
      registers,
    });
    this.renders = new Counter({
      name: 'securevote_operator_renders_total',
      help: "SecureVote children rendered (the construct synthesized): the rendering cache's misses",
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'securevote_operator_queue_depth',
      help: 'Keys waiting for a worker',
      registers,
    });
    this.leader = new Gauge({
      name: 'securevote_operator_leader',
      help: '1 while this replica holds the lease',
      registers,
    });
    this.informerSynced = new Gauge({
      name: 'securevote_operator_informer_synced',
      help: '1 once the kind\'s first list succeeded (the cache is filled), by kind',
      labelNames: ['kind'],
      registers,
    });
    this.informerFailures = new Counter({
      name: 'securevote_operator_informer_failures_total',
      help: 'Failed informer lists or watches, each followed by a backoff, by kind and reason',
      labelNames: ['kind', 'reason'],
      registers,
    });
    // Timestamps, not ages: an alert computes `time() - x`, which keeps growing when backups stop.
    this.backupLastSuccess = new Gauge({
      name: 'securevote_backup_last_success_timestamp_seconds',
      help: 'When the newest verified backup of an instance completed (Unix seconds)',
      labelNames: ['namespace', 'securevote'],
      registers,
    });
    this.backupLastFailure = new Gauge({
      name: 'securevote_backup_last_failure_timestamp_seconds',
      help: 'When the newest failed backup of an instance ended (Unix seconds)',
      labelNames: ['namespace', 'securevote'],
      registers,
    });
    this.condition = new ConditionGauge(registers);
    const controller = { controller: CONTROLLER };
    this.crReconciles = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller (result: success, error, requeue_after)',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.crReconcileErrors = new Counter({ name: 'controller_runtime_reconcile_errors_total', help: 'Total number of reconciliation errors per controller', labelNames: ['controller'], registers });
    this.crReconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60],
      registers,
    });
    this.crActiveWorkers = new Gauge({ name: 'controller_runtime_active_workers', help: 'Number of currently used workers per controller', labelNames: ['controller'], registers });
    this.crMaxConcurrent = new Gauge({ name: 'controller_runtime_max_concurrent_reconciles', help: 'Maximum number of concurrent reconciles per controller', labelNames: ['controller'], registers });
    const wq = { name: CONTROLLER, controller: CONTROLLER };
    const wqLabels = ['name', 'controller'];
    const view = (): QueueView | undefined => this.queue;
    new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames: wqLabels, registers, collect() { const q = view(); if (q) this.set(wq, q.depth()); } });
    new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help: 'How many seconds of work has been done that is in progress and hasn\'t been observed by work_duration',
      labelNames: wqLabels,
      registers,
      collect() { const q = view(); if (q) this.set(wq, q.unfinishedWorkSeconds()); },
    });
    new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running',
      labelNames: wqLabels,
      registers,
      collect() { const q = view(); if (q) this.set(wq, q.longestRunningSeconds()); },
    });
    const adds = new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: wqLabels, registers });
    const retries = new Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames: wqLabels, registers });
    const waits = new Histogram({ name: 'workqueue_queue_duration_seconds', help: 'How long in seconds an item stays in workqueue before being requested', labelNames: wqLabels, buckets: WORKQUEUE_BUCKETS, registers });
    const work = new Histogram({ name: 'workqueue_work_duration_seconds', help: 'How long in seconds processing an item from workqueue takes', labelNames: wqLabels, buckets: WORKQUEUE_BUCKETS, registers });
    this.queueObserver = {
      added: () => adds.inc(wq),
      retried: () => retries.inc(wq),
      waited: (s) => waits.observe(wq, s),
      worked: (s) => work.observe(wq, s),
    };
    this.crActiveWorkers.set(controller, 0);
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'securevote_operator_' });
  }

  /** The queue the workqueue gauges read, and its worker count. */
  watchQueue(queue: QueueView, concurrency: number): void {
    this.queue = queue;
    this.crMaxConcurrent.set({ controller: CONTROLLER }, concurrency);
  }

  /** A SecureVote's conditions now (undefined: it is gone, and so are its series). */
  setConditions(namespace: string, securevote: string, conditions: readonly Condition[] | undefined): void {
    this.condition.setConditions(namespace, securevote, conditions);
  }
}
