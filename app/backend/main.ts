// The backend process: `node app/backend/main.ts`. Listens at once (so
// liveness answers), waits for the database with backoff and migrates the
// schema in the background (readiness says 503 until then), and drains on
// SIGTERM: stop accepting, finish in-flight requests, close the pools.
import { createServer } from 'node:http';
import { createRequestListener } from './app.ts';
import { createResultsCache } from './cache.ts';
import { ConfigError, describeConfig, loadConfig, type Config } from './config.ts';
import type { AppContext } from './context.ts';
import { createPool, retryWithBackoff } from './db.ts';
import { trackDependency } from './dependency.ts';
import { createLogger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { migrate } from './migrations.ts';
import { createVoterSigner } from './voter.ts';

/** In-flight requests get this long after SIGTERM (below Kubernetes' 30 s grace period). */
const DRAIN_TIMEOUT_MS = 20_000;

let config: Config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  // A bad configuration is permanent: say what is wrong (never a value) and exit.
  createLogger('info').fatal({ reason: err.message }, 'invalid configuration');
  process.exit(1);
}

const log = createLogger(config.logLevel);
const metrics = createMetrics();
const database = trackDependency('database', log, metrics);
const ctx: AppContext = {
  config,
  log,
  metrics,
  database,
  pool: createPool(config.database, log, (reason) => database.set(false, reason)),
  cache: createResultsCache(config.cache, config.options, log, (up) => metrics.setUp('cache', up)),
  voters: createVoterSigner(config.cookieSecret),
  state: { schemaReady: false, draining: false },
};

process.on('unhandledRejection', (reason) => {
  log.error({ err: reason }, 'unhandled promise rejection');
});
process.on('uncaughtException', (err) => {
  log.fatal({ err }, 'uncaught exception; exiting');
  process.exit(1);
});

const server = createServer(createRequestListener(ctx));
// Longer than nginx's upstream keepalive_timeout (60 s), so nginx closes first.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.requestTimeout = 30_000;
server.on('error', (err) => {
  log.fatal({ err }, 'HTTP server error');
  process.exit(1);
});
server.listen(config.port, config.host, () => {
  const addr = server.address();
  log.info({ config: describeConfig(config), port: typeof addr === 'object' && addr ? addr.port : config.port }, 'listening');
});

const startup = new AbortController();
retryWithBackoff('start-up', () => migrate(ctx.pool, log), log, { signal: startup.signal })
  .then(() => {
    ctx.state.schemaReady = true;
    database.set(true);
    log.info('ready: database reachable and schema migrated');
  })
  .catch((err: unknown) => {
    if (startup.signal.aborted) return;
    log.fatal({ err }, 'start-up failed (not a transient database outage)');
    process.exit(1);
  });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  ctx.state.draining = true;
  log.info({ signal }, 'draining: no new connections, finishing in-flight requests');
  startup.abort();
  const idle = setInterval(() => server.closeIdleConnections(), 100);
  const force = setTimeout(() => {
    log.warn('drain timeout; closing remaining connections');
    server.closeAllConnections();
  }, DRAIN_TIMEOUT_MS);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  clearInterval(idle);
  clearTimeout(force);
  await Promise.allSettled([ctx.pool.end(), ctx.cache.close()]);
  log.info('stopped');
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
