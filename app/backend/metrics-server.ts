// /metrics on a port of its own (METRICS_PORT), apart from the port users'
// requests come in on: a NetworkPolicy can then let a scraper reach the
// metrics and nothing else. node:http only; one route.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface MetricsLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Serves GET /metrics from `registry`; anything else is a 404 (JSON). Resolves once listening. */
export function startMetricsServer(registry: Registry, port: number, host: string, log: MetricsLog): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"not found"}\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (err: unknown) => {
        log.error({ err }, 'metrics: collecting failed');
        res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"error":"metrics unavailable"}\n');
      },
    );
  });
  // Keep-alive connections from a scraper must not hold a draining process open.
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      log.info({ port: typeof addr === 'object' && addr ? addr.port : port }, 'metrics listening');
      resolve(server);
    });
  });
}
