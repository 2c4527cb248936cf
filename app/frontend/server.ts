// The vote page's server: a few static files, its own /healthz (liveness)
// and /readyz (readiness: 503 once draining, never a question about the
// backend: the page can be served while the API is away), security headers,
// JSON logs. The page talks to /api/* on its own origin (through the proxy),
// so this server holds no state and no secret. SIGTERM drains
// (app/backend/drain.ts: the same graceful shutdown as the backend).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createDrainer, envMs } from '../backend/drain.ts';
import { startMetricsServer } from '../backend/metrics-server.ts';
import { SECURITY_HEADERS } from './security-headers.ts';

const PUBLIC_DIR = new URL('./public/', import.meta.url);

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
  readonly cache: string;
}

function load(file: string, type: string, cache: string): Asset {
  const body = readFileSync(new URL(file, PUBLIC_DIR));
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return { body, type, etag, cache };
}

// Read once at start: the set of files is fixed, so no path from a request ever
// reaches the filesystem.
function loadAssets(): Map<string, Asset> {
  const revalidate = 'no-cache';
  return new Map([
    ['/', load('index.html', 'text/html; charset=utf-8', revalidate)],
    ['/app.js', load('app.js', 'text/javascript; charset=utf-8', revalidate)],
    ['/app.css', load('app.css', 'text/css; charset=utf-8', revalidate)],
    ['/favicon.svg', load('favicon.svg', 'image/svg+xml', 'public, max-age=86400')],
  ]);
}

export interface FrontendOptions {
  port?: number;
  host?: string;
  logLevel?: string;
  /** After SIGTERM: still accepting for this long. @default 2000 */
  drainLingerMs?: number;
  /** Then in-flight requests get this long. @default 10000 */
  drainTimeoutMs?: number;
}

/** Request duration by route (a known path, else `unmatched`: the label set stays bounded) and status. */
function createMetrics(): { registry: Registry; httpDuration: Histogram<'method' | 'route' | 'status'> } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route (a known path, else unmatched) and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return { registry, httpDuration };
}

export function createFrontend(opts: FrontendOptions = {}) {
  const log = pino({ level: opts.logLevel ?? 'info', base: { service: 'frontend' } });
  const assets = loadAssets();
  const metrics = createMetrics();
  const routes = new Set(['/healthz', '/readyz', '/index.html', ...assets.keys()]);

  function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
    res.end(body);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const started = process.hrtime.bigint();
    const stop = metrics.httpDuration.startTimer();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    res.on('finish', () => {
      const method = req.method === 'GET' || req.method === 'HEAD' ? req.method : 'other';
      stop({ method, route: routes.has(path) ? path : 'unmatched', status: String(res.statusCode) });
      log.info({
        method: req.method, url: req.url, status: res.statusCode,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
        requestId: req.headers['x-request-id'],
      }, 'request');
    });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'application/json', JSON.stringify({ error: 'method not allowed' }) + '\n', { Allow: 'GET, HEAD' });
      return;
    }
    if (path === '/healthz') {
      send(res, 200, 'application/json', '{"status":"ok"}\n', { 'Cache-Control': 'no-store' });
      return;
    }
    if (path === '/readyz') {
      const draining = drainer.draining;
      send(res, draining ? 503 : 200, 'application/json', `{"status":"${draining ? 'draining' : 'ready'}"}\n`, { 'Cache-Control': 'no-store' });
      return;
    }
    const asset = path === '/index.html' ? assets.get('/') : assets.get(path);
    if (!asset) {
      send(res, 404, 'application/json', JSON.stringify({ error: 'not found' }) + '\n');
      return;
    }
    const headers = { ETag: asset.etag, 'Cache-Control': asset.cache };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, { ...SECURITY_HEADERS, ...headers });
      res.end();
      return;
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...SECURITY_HEADERS, ...headers, 'Content-Type': asset.type, 'Content-Length': asset.body.length });
      res.end();
      return;
    }
    send(res, 200, asset.type, asset.body, headers);
  }

  const server = createServer();
  const drainer = createDrainer(server, { lingerMs: opts.drainLingerMs ?? 2_000, timeoutMs: opts.drainTimeoutMs ?? 10_000, log });
  server.on('request', drainer.wrap(handle));
  // Behind nginx's keepalive pool: keep idle upstream connections longer than nginx does (4 s there), so nginx closes first.
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 20_000;
  server.requestTimeout = 30_000;
  return { server, log, registry: metrics.registry, drain: () => drainer.drain() };
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? '0.0.0.0';
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`PORT must be 1-65535, got ${process.env.PORT}`);
  const metricsPort = process.env.METRICS_PORT ? Number(process.env.METRICS_PORT) : undefined;
  if (metricsPort !== undefined && (!Number.isInteger(metricsPort) || metricsPort < 1 || metricsPort > 65535)) {
    throw new Error(`METRICS_PORT must be 1-65535, got ${process.env.METRICS_PORT}`);
  }
  const { server, log, registry, drain } = createFrontend({
    logLevel: process.env.LOG_LEVEL ?? 'info',
    drainLingerMs: envMs(process.env, 'DRAIN_LINGER_MS', 2_000),
    drainTimeoutMs: envMs(process.env, 'DRAIN_TIMEOUT_MS', 10_000),
  });
  server.listen(port, host, () => log.info({ port, host }, 'frontend listening'));
  if (metricsPort !== undefined) await startMetricsServer(registry, metricsPort, host, log);

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining');
    void drain().then(() => {
      log.info('stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

// Run only as the entry point (`node app/frontend/server.ts`), not when imported by a test.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(JSON.stringify({ level: 'fatal', service: 'frontend', msg: String(err) }));
    process.exit(1);
  });
}
