// The real nginx (Debian's) from app/proxy/nginx.conf.template in front of the
// real frontend server and a small real HTTP server standing in for the
// backend (it records what nginx forwards, which the real backend can't tell).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NGINX_BIN, startNginx, type NginxServer } from '../../app/local/nginx.ts';
import { renderNginxConf } from '../../app/proxy/render.ts';
import { freePort, spawnServer, stopPid, waitReady, type SpawnedServer } from '../../app/local/process.ts';
import { SECURITY_HEADERS } from '../../app/frontend/security-headers.ts';

const run = promisify(execFile);

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; bodyBytes: number; remotePort: number }

let dir: string;
let nginx: NginxServer | undefined;
let frontend: SpawnedServer | undefined;
let frontendPort = 0;
let backend: Server | undefined;
const seen: Seen[] = [];
const connections = new Set<Socket>();

function startBackendStandIn(): Promise<number> {
  backend = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes: bytes, remotePort: req.socket.remotePort ?? 0 });
      if (req.url === '/api/crash') {
        req.socket.destroy(); // a backend dying mid-request: nginx sees no response
        return;
      }
      if (req.url === '/api/slow') {
        setTimeout(() => {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end('{"slow":true}');
        }, 800);
        return;
      }
      if (req.url === '/api/busy') {
        res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '7' });
        res.end('{"error":"database unavailable"}');
        return;
      }
      // An upstream's own CSP must not reach the client next to nginx's; no-store is what the backend sends.
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Security-Policy': "default-src *", 'Cache-Control': 'no-store' });
      res.end(JSON.stringify({ path: req.url, bytes }));
    });
  });
  backend.on('connection', (s: Socket) => {
    connections.add(s);
    s.on('close', () => connections.delete(s));
  });
  return new Promise((resolve) => backend!.listen(0, '127.0.0.1', () => resolve((backend!.address() as AddressInfo).port)));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'securevote-proxy-'));
  const backendPort = await startBackendStandIn();
  frontendPort = await freePort();
  const feLog = join(dir, 'frontend.log');
  frontend = spawnServer({
    cmd: [process.execPath, 'app/frontend/server.ts'],
    logFile: feLog,
    env: { PATH: process.env.PATH ?? '', PORT: String(frontendPort), HOST: '127.0.0.1', LOG_LEVEL: 'info' },
  });
  await waitReady(frontend, 'frontend', feLog, async () => {
    try { return (await fetch(`http://127.0.0.1:${frontendPort}/healthz`)).status === 200; } catch { return false; }
  });
  nginx = await startNginx({
    dir: join(dir, 'nginx'),
    frontend: { host: '127.0.0.1', port: frontendPort },
    backend: { host: '127.0.0.1', port: backendPort },
  });
});

afterAll(async () => {
  try {
    await nginx?.stop();
    if (frontend && !frontend.exitedYet()) await stopPid(frontend.pid);
    for (const s of connections) s.destroy();
    await new Promise((r) => (backend ? backend.close(r) : r(undefined)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function expectSecurityHeaders(res: Response): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    expect(res.headers.get(name), name).toBe(value); // exactly one copy: a doubled header reads "a, b"
  }
  expect(res.headers.get('server')).toBe('nginx'); // server_tokens off: no version
}

describe('proxy (real nginx)', () => {
  it('answers /nginx-health itself', async () => {
    const before = seen.length;
    const res = await fetch(`${nginx!.url}/nginx-health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'healthy' });
    expectSecurityHeaders(res);
    expect(seen.length).toBe(before);
  });

  it('routes / to the frontend page, with one set of security headers', async () => {
    const res = await fetch(`${nginx!.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('<title>SecureVote</title>');
    expect(html).toContain('<script src="/app.js" defer></script>');
    expect(html).not.toMatch(/<script>(?!<\/script>)/); // no inline script: the strict CSP holds
    expectSecurityHeaders(res);
    const js = await fetch(`${nginx!.url}/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    // Revalidation: the page's files are no-cache with an ETag, so a deploy shows at once.
    expect(js.headers.get('cache-control')).toBe('no-cache');
    const again = await fetch(`${nginx!.url}/app.js`, { headers: { 'if-none-match': js.headers.get('etag')! } });
    expect(again.status).toBe(304);
    const head = await fetch(`${nginx!.url}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const missing = await fetch(`${nginx!.url}/../../etc/passwd`);
    expect(missing.status).toBe(404);
  });

  it('routes /api/ and /health to the backend with forwarding headers, and replaces its CSP', async () => {
    const res = await fetch(`${nginx!.url}/api/results?x=1`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ path: '/api/results?x=1', bytes: 0 });
    expectSecurityHeaders(res);
    const got = seen.at(-1)!;
    expect(got.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(got.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(got.headers['x-forwarded-proto']).toBe('http');

    const health = await fetch(`${nginx!.url}/health`);
    expect(health.status).toBe(200);
    expect(seen.at(-1)!.url).toBe('/health');
  });

  it('keeps upstream connections alive instead of one per request', async () => {
    const before = seen.length;
    for (let i = 0; i < 10; i++) await (await fetch(`${nginx!.url}/api/options`)).text();
    const ports = new Set(seen.slice(before).map((s) => s.remotePort));
    expect(seen.length - before).toBe(10);
    expect(ports.size).toBeLessThan(10);
  });

  it('passes a body under 16k, refuses a larger one with a JSON 413 before the backend', async () => {
    const ok = await fetch(`${nginx!.url}/api/vote`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(15_000) });
    expect(ok.status).toBe(200);
    expect(seen.at(-1)!.bodyBytes).toBe(15_000);

    const before = seen.length;
    const big = await fetch(`${nginx!.url}/api/vote`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(17 * 1024) });
    expect(big.status).toBe(413);
    expect(big.headers.get('content-type')).toBe('application/json');
    expect(((await big.json()) as { error: string }).error).toMatch(/too large/);
    expectSecurityHeaders(big);
    expect(seen.length).toBe(before);
  });

  it("passes the backend's own 503 untouched", async () => {
    const res = await fetch(`${nginx!.url}/api/busy`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(await res.json()).toEqual({ error: 'database unavailable' });
  });

  it('turns a dead upstream connection into a JSON 503 with Retry-After (after the retries on the next peers)', async () => {
    const res = await fetch(`${nginx!.url}/api/crash`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await res.json()).toEqual({ error: 'backend unavailable' });
    expectSecurityHeaders(res);
  });

  it('retries a request that reached no backend on the next one: with one backend refusing, no vote fails', async () => {
    const refusing = await freePort(); // nothing listens: connection refused, as from a pod going away
    const live = (backend!.address() as AddressInfo).port;
    const retrying = await startNginx({
      dir: join(dir, 'nginx-retry'),
      frontend: { host: '127.0.0.1', port: 9 }, // unused here
      backend: [{ host: '127.0.0.1', port: refusing }, { host: '127.0.0.1', port: live }],
    });
    try {
      const before = seen.filter((x) => x.url === '/api/vote').length;
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await fetch(`${retrying.url}/api/vote`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"optionId":"red"}' });
        await res.text();
        statuses.push(res.status);
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
      // Each vote reached the live backend exactly once (a POST that was sent is never replayed).
      expect(seen.filter((x) => x.url === '/api/vote').length - before).toBe(6);
      await new Promise((r) => setTimeout(r, 200));
      const log = readFileSync(retrying.logFile, 'utf8');
      // The refused attempt shows in the access log: "<refused>, <live>" (status 502, then 200).
      expect(log).toContain(`"upstream":"127.0.0.1:${refusing}, 127.0.0.1:${live}"`);
    } finally {
      await retrying.stop();
    }
  });

  it('stops gracefully on SIGQUIT (the image STOPSIGNAL): an in-flight request still gets its answer', async () => {
    expect(readFileSync(join(import.meta.dirname, '../../app/proxy/Dockerfile'), 'utf8')).toMatch(/^STOPSIGNAL SIGQUIT$/m);
    const quitting = await startNginx({
      dir: join(dir, 'nginx-quit'),
      frontend: { host: '127.0.0.1', port: 9 },
      backend: { host: '127.0.0.1', port: (backend!.address() as AddressInfo).port },
    });
    const inFlight = fetch(`${quitting.url}/api/slow`);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(quitting.pid, 'SIGQUIT');
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ slow: true });
    await quitting.stop();
  });

  it('the Kubernetes variant lists the one Service address several times, never marked down', () => {
    const conf = renderNginxConf({ frontend: { host: 'fe', port: 3000 }, backend: { host: 'be', port: 5000 } });
    expect(conf.match(/server be:5000 max_fails=0;/g)).toHaveLength(3);
    expect(conf).toMatch(/proxy_next_upstream error timeout;/);
  });

  it('does not expose the backend metrics or other paths outside /api/ and /health', async () => {
    const before = seen.length;
    const res = await fetch(`${nginx!.url}/metrics`);
    expect(res.status).toBe(404); // it went to the frontend, which has no such page
    expect(seen.length).toBe(before);
  });

  it('writes one JSON access-log line per request, without cookies', async () => {
    await fetch(`${nginx!.url}/api/log-probe`, { headers: { cookie: 'voter=secret-cookie-value' } });
    await new Promise((r) => setTimeout(r, 200));
    const lines = readFileSync(nginx!.logFile, 'utf8').split('\n').filter((l) => l.startsWith('{'));
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const probe = entries.find((e) => e.uri === '/api/log-probe');
    expect(probe).toMatchObject({ service: 'proxy', method: 'GET', status: 200 });
    expect(readFileSync(nginx!.logFile, 'utf8')).not.toContain('secret-cookie-value');
  });

  it('the resolver variant (containers) and the Kubernetes variant pass nginx -t', async () => {
    for (const [name, extra] of [['resolver', { resolver: '127.0.0.11' }], ['names', {}]] as const) {
      const d = join(dir, `conf-${name}`);
      mkdirSync(join(d, 'tmp'), { recursive: true });
      const conf = join(d, 'nginx.conf');
      // Service names nginx can't resolve here are fine with a resolver (resolved per request);
      // without one nginx resolves at start, so that variant uses resolvable names.
      writeFileSync(conf, renderNginxConf({
        frontend: { host: name === 'resolver' ? 'frontend' : 'localhost', port: 3000 },
        backend: { host: name === 'resolver' ? 'backend' : 'localhost', port: 5000 },
        pidPath: join(d, 'nginx.pid'), tempDir: join(d, 'tmp'), ...extra,
      }));
      // stdout to a file: the config opens /dev/stdout, which can't be a socket (Node's child pipes are).
      const log = join(d, 'nginx-t.log');
      await run('sh', ['-c', 'exec "$@" >"$LOG" 2>&1', 'sh', NGINX_BIN, '-t', '-p', d, '-c', conf, '-e', 'stderr'], { env: { ...process.env, LOG: log } })
        .catch(() => {});
      expect(readFileSync(log, 'utf8')).toContain('test is successful');
    }
  });

  it('does not cache /api/results by default; with resultsCacheSeconds, one upstream request per window', async () => {
    const count = (): number => seen.filter((x) => x.url === '/api/results').length;
    let before = count();
    for (let i = 0; i < 3; i++) await (await fetch(`${nginx!.url}/api/results`)).text();
    expect(count() - before).toBe(3);

    const cached = await startNginx({
      dir: join(dir, 'nginx-cached'),
      frontend: { host: '127.0.0.1', port: 9 }, // unused here
      backend: { host: '127.0.0.1', port: (backend!.address() as AddressInfo).port },
      resultsCacheSeconds: 60,
    });
    try {
      before = count();
      const statuses: (string | null)[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${cached.url}/api/results`);
        await res.text();
        expectSecurityHeaders(res);
        statuses.push(res.headers.get('x-cache-status'));
      }
      expect(statuses).toEqual(['MISS', 'HIT', 'HIT', 'HIT', 'HIT']);
      expect(count() - before).toBe(1);
    } finally {
      await cached.stop();
    }
  });

  it('frontend: /healthz, /readyz, 405 on POST, and a clean exit on SIGTERM (not ready at once, still serving the page)', async () => {
    const res = await fetch(`${nginx!.url}/`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(405);
    const direct = `http://127.0.0.1:${frontendPort}`;
    expect((await fetch(`${direct}/readyz`)).status).toBe(200);
    process.kill(frontend!.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    const ready = await fetch(`${direct}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'draining' });
    expect((await fetch(`${nginx!.url}/`)).status).toBe(200); // the page, while the listener lingers
    const exit = await frontend!.exited;
    expect(exit.code).toBe(0);
    const gone = await fetch(`${nginx!.url}/`);
    expect(gone.status).toBe(502); // nginx's own error when the frontend is gone
  });
});
