// The backend process: `node app/backend/main.ts`. Listens at once (so
// liveness answers), waits for the database with backoff and migrates the
// schema in the background (/readyz says 503 until the first attempt is
// over, /health until the schema is there), and drains on SIGTERM (drain.ts):
// not ready at once, still accepting for DRAIN_LINGER_MS, in-flight requests
// finished within DRAIN_TIMEOUT_MS, then the pools closed.
import { createServer } from 'node:http';
import { createRequestListener } from './app.ts';
import { createResultsCache } from './cache.ts';
import { ConfigError, describeConfig, loadConfig, type Config } from './config.ts';
import type { AppContext } from './context.ts';
import { createPool, retryWithBackoff } from './db.ts';
import { trackDependency } from './dependency.ts';
import { createDrainer, envMs } from './drain.ts';
import { createLogger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { startMetricsServer } from './metrics-server.ts';
import { migrate } from './migrations.ts';
import { createVoterSigner } from './voter.ts';

let config: Config;
/** Still accepting after SIGTERM (charts/rules.ts SHUTDOWN), then in-flight requests get DRAIN_TIMEOUT_MS. */
let drainLingerMs: number;
let drainTimeoutMs: number;
try {
  config = loadConfig(process.env);
  try {
    drainLingerMs = envMs(process.env, 'DRAIN_LINGER_MS', 2_000);
    drainTimeoutMs = envMs(process.env, 'DRAIN_TIMEOUT_MS', 20_000);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
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
  state: { schemaReady: false, started: false, draining: false },
};

metrics.watchPool(ctx.pool);

process.on('unhandledRejection', (reason) => {
  log.error({ err: reason }, 'unhandled promise rejection');
});
process.on('uncaughtException', (err) => {
  log.fatal({ err }, 'uncaught exception; exiting');
  process.exit(1);
});

const server = createServer();
const drainer = createDrainer(server, { lingerMs: drainLingerMs, timeoutMs: drainTimeoutMs, log });
server.on('request', drainer.wrap(createRequestListener(ctx)));
// Longer than nginx's upstream keepalive_timeout (4 s, app/proxy/render.ts), so nginx closes first.
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

if (config.metricsPort !== undefined) {
  startMetricsServer(metrics.registry, config.metricsPort, config.host, log).catch((err: unknown) => {
    log.fatal({ err }, 'metrics server error');
    process.exit(1);
  });
}

const startup = new AbortController();
// After the first attempt, whatever its outcome, the pod can serve its own
// part (readiness); the retry goes on in the background during an outage.
const attempt = () =>
  migrate(ctx.pool, log).finally(() => {
    ctx.state.started = true;
  });
retryWithBackoff('start-up', attempt, log, { signal: startup.signal })
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
  log.info({ signal }, 'SIGTERM: draining');
  startup.abort();
  await drainer.drain();
  await Promise.allSettled([ctx.pool.end(), ctx.cache.close()]);
  log.info('stopped');
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
