// Prometheus metrics on a registry of our own (no module-level singleton).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Dependency = 'database' | 'cache';

/** Why a vote was not acknowledged: each is a series from the start, at 0, so rate() and the dashboard see it before the first. */
export const REJECT_REASONS = ['invalid', 'bad_cookie', 'unknown_option', 'duplicate', 'unavailable', 'error'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];
export const RESULT_SOURCES = ['cache', 'database', 'stale'] as const;

export interface Metrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly votesAcknowledged: Counter<'option'>;
  /** Counts a vote not acknowledged (securevote_votes_rejected_total), by its reason. */
  reject(reason: RejectReason): void;
  readonly resultsReads: Counter<'source'>;
  readonly dependencyUp: Gauge<'dependency'>;
  setUp(dep: Dependency, up: boolean): void;
  /** Where the pool gauge reads its counts, at each scrape (the pool exists after the metrics). */
  watchPool(pool: PoolCounts): void;
}

/** pg.Pool's own counters. */
export interface PoolCounts {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route (the matched pattern, not the raw path) and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const votesAcknowledged = new Counter({
    name: 'securevote_votes_acknowledged_total',
    help: 'Votes answered 201, i.e. committed durably in PostgreSQL',
    labelNames: ['option'],
    registers: [registry],
  });
  const votesRejected = new Counter({
    name: 'securevote_votes_rejected_total',
    help: `Votes not acknowledged, by reason (${REJECT_REASONS.join(', ')})`,
    labelNames: ['reason'],
    registers: [registry],
  });
  const resultsReads = new Counter({
    name: 'securevote_results_reads_total',
    help: `Results served, by source (${RESULT_SOURCES.join(', ')})`,
    labelNames: ['source'],
    registers: [registry],
  });
  const dependencyUp = new Gauge({
    name: 'securevote_dependency_up',
    help: '1 when the dependency answered its last check or call, else 0',
    labelNames: ['dependency'],
    registers: [registry],
  });
  let pool: PoolCounts | undefined;
  new Gauge({
    name: 'securevote_db_pool_connections',
    help: 'The PostgreSQL pool: connections open (total), idle, and queries waiting for one (waiting)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      if (pool === undefined) return;
      this.set({ state: 'total' }, pool.totalCount);
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'waiting' }, pool.waitingCount);
    },
  });
  for (const reason of REJECT_REASONS) votesRejected.inc({ reason }, 0);
  for (const source of RESULT_SOURCES) resultsReads.inc({ source }, 0);
  dependencyUp.set({ dependency: 'database' }, 0);
  dependencyUp.set({ dependency: 'cache' }, 0);
  return {
    registry, httpDuration, votesAcknowledged, resultsReads, dependencyUp,
    reject: (reason) => votesRejected.inc({ reason }),
    setUp: (dep, up) => dependencyUp.set({ dependency: dep }, up ? 1 : 0),
    watchPool: (p) => {
      pool = p;
    },
  };
}
