// The operator's Prometheus metrics, on a registry of its own (no global
// default registry, so two operators in one test process don't collide).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry: Registry;
  readonly reconciles: Counter<'result'>;
  readonly reconcileSeconds: Histogram<'result'>;
  readonly apiErrors: Counter<'class'>;
  readonly apiRequests: Counter<'verb'>;
  readonly queueDepth: Gauge;
  readonly leader: Gauge;
  readonly informerSynced: Gauge<'kind'>;
  readonly informerFailures: Counter<'kind' | 'reason'>;
  readonly backupLastSuccess: Gauge<'namespace' | 'securevote'>;
  readonly backupLastFailure: Gauge<'namespace' | 'securevote'>;

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
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'securevote_operator_' });
  }
}
