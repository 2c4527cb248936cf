// Everything a request handler needs, built once in main (or a test) and
// passed down: no module-level singletons.
import type { ResultsCache } from './cache.ts';
import type { Config } from './config.ts';
import type { DependencyState } from './dependency.ts';
import type { Pool } from './db.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { VoterSigner } from './voter.ts';

export interface AppState {
  /** The database answered and the schema is migrated: the API may use it. */
  schemaReady: boolean;
  /**
   * The first start-up attempt is over (schema migrated, or the database found
   * away and the retry left running in the background): the pod can serve its
   * own part (cached results, 503 + Retry-After for votes) and /readyz says so.
   */
  started: boolean;
  /** SIGTERM received: readiness reports 503 while in-flight requests finish. */
  draining: boolean;
}

export interface AppContext {
  readonly config: Config;
  readonly log: Logger;
  readonly pool: Pool;
  /** The database's up/down state (gauge + one log line per transition). */
  readonly database: DependencyState;
  readonly cache: ResultsCache;
  readonly metrics: Metrics;
  readonly voters: VoterSigner;
  readonly state: AppState;
}
