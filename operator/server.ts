// The operator's HTTP endpoints: /healthz (the process answers: liveness),
// /readyz (ready to work: the leader once its caches are synced, a standby
// once it is campaigning; so a rollout waits for a replica that can lead)
// and /metrics (Prometheus text). node:http only: three routes need no framework.
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.ts';

export interface Probe {
  ready(): boolean;
  /** Why (not) ready, added to the /readyz body. */
  detail?(): Record<string, unknown>;
}

export async function startServer(opts: { host: string; port: number; metrics: Metrics; probe: Probe }): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const reply = (code: number, body: string, type = 'application/json'): void => {
      res.writeHead(code, { 'Content-Type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, JSON.stringify({ message: 'method not allowed' }));
    if (url === '/healthz') return reply(200, JSON.stringify({ status: 'ok' }));
    if (url === '/readyz') {
      const ok = opts.probe.ready();
      return reply(ok ? 200 : 503, JSON.stringify({ status: ok ? 'ready' : 'not ready', ...opts.probe.detail?.() }));
    }
    if (url === '/metrics') {
      opts.metrics.registry.metrics().then(
        (text) => reply(200, text, opts.metrics.registry.contentType),
        () => reply(500, JSON.stringify({ message: 'metrics failed' })),
      );
      return;
    }
    reply(404, JSON.stringify({ message: 'not found' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
