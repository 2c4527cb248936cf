// Two operator processes on a real API server, each behind its own proxy
// that timestamps every request it forwards. The leader's Lease requests
// are then stalled (held, never answered): its renewals hang while its
// reconcile could still write. The proof: the stalled leader's last write
// ends before the new leader's first write starts (no overlap in time),
// the stalled one stops writing before its lease could expire, and it exits
// non-zero so its Deployment would restart it as a candidate.
import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import { type RequestOptions, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../fixtures/controlplane.ts';
import { Api, createNamespace, installCrd, svYaml } from './cluster.ts';
import { type OperatorProcess, startOperator, waitFor, writeProxyKubeconfig } from './helpers.ts';

interface Forwarded {
  readonly method: string;
  readonly path: string;
  /** When the proxy sent it on to the API server. */
  readonly sentAt: number;
  /** When the API server's answer ended (undefined: never, or dropped). */
  doneAt: number | undefined;
}

interface StallingProxy {
  readonly kubeconfigPath: string;
  readonly forwarded: Forwarded[];
  /** Every request that reached the proxy, stalled or not. */
  readonly arrived: Array<{ readonly method: string; readonly path: string; readonly at: number }>;
  /** Requests whose path matches are held from now on: never forwarded, never answered. */
  stall(match: RegExp): void;
  /** Writes to anything but the Lease. */
  writes(): Forwarded[];
  close(): Promise<void>;
}

const LEASE_PATH = /\/apis\/coordination\.k8s\.io\/v1\/namespaces\/[^/]+\/leases/;

async function startStallingProxy(kc: KubeConfig, dir: string, name: string): Promise<StallingProxy> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no cluster in kubeconfig');
  const target = new URL(cluster.server);
  const tls: RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const forwarded: Forwarded[] = [];
  const arrived: StallingProxy['arrived'] = [];
  let stalled: RegExp | undefined;
  const server: Server = createServer((req: IncomingMessage, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    arrived.push({ method: req.method ?? 'GET', path, at: Date.now() });
    if (stalled?.test(path)) {
      // A black hole: the request is read and forgotten; the client's own deadline must end it.
      req.resume();
      return;
    }
    const { 'accept-encoding': _ae, ...rest } = req.headers;
    const entry: Forwarded = { method: req.method ?? 'GET', path, sentAt: Date.now(), doneAt: undefined };
    forwarded.push(entry);
    const up = httpsRequest(
      {
        ...tls,
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...rest, host: target.host, ...((tls.headers as Record<string, string> | undefined) ?? {}) },
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        res.flushHeaders();
        upRes.on('end', () => (entry.doneAt = Date.now()));
        upRes.pipe(res);
      },
    );
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: String(err) }));
    });
    req.pipe(up);
    res.on('close', () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const kubeconfigPath = join(dir, `${name}.kubeconfig`);
  writeProxyKubeconfig(kubeconfigPath, port);
  return {
    kubeconfigPath,
    forwarded,
    arrived,
    stall: (match) => (stalled = match),
    writes: () => forwarded.filter((f) => f.method !== 'GET' && !LEASE_PATH.test(f.path)),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

let cp: ControlPlane;
let dir: string;
let api: Api;
const running: OperatorProcess[] = [];
const proxies: StallingProxy[] = [];
const LEASE_NS = 'securevote-system';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sv-op-fencing-'));
  cp = await startControlPlane();
  await installCrd(cp);
  await createNamespace(cp, LEASE_NS);
  api = new Api(cp);
});

afterAll(async () => {
  for (const p of running) await p.kill();
  for (const p of proxies) await p.close();
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const holder = async (): Promise<string | null | undefined> =>
  ((await api.get('coordination.k8s.io/v1', 'Lease', LEASE_NS, 'securevote-operator'))?.spec as { holderIdentity?: string | null } | undefined)?.holderIdentity;

describe('a leader whose lease requests stall', () => {
  it('stops writing before its lease can expire, never overlaps the new leader, and exits 1', async () => {
    const ns = 'fencing';
    await createNamespace(cp, ns);
    const proxyA = await startStallingProxy(cp.kubeConfig, dir, 'proxy-a');
    const proxyB = await startStallingProxy(cp.kubeConfig, dir, 'proxy-b');
    proxies.push(proxyA, proxyB);
    const a = await startOperator({ kubeconfigPath: proxyA.kubeconfigPath, dir, name: 'fence-a' });
    running.push(a);
    await waitFor('fence-a leads and is ready', async () => (await holder()) === 'fence-a' && (await a.get('/readyz')).status === 200, 90_000);
    const b = await startOperator({ kubeconfigPath: proxyB.kubeconfigPath, dir, name: 'fence-b' });
    running.push(b);

    // Keep the leader busy writing: a spec change every few hundred ms.
    let changing = true;
    let n = 0;
    const changes = (async () => {
      while (changing) {
        await cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: svYaml('fenced', { frontend: { replicas: 1 + (n++ % 2) } }) });
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    await waitFor('fence-a writes', async () => proxyA.writes().length >= 5, 30_000);
    // At least one renewal (a PUT) went through, so the term's start is known.
    await waitFor('fence-a renews', async () => proxyA.forwarded.some((f) => LEASE_PATH.test(f.path) && f.method === 'PUT'), 30_000);

    // The leader's renewals now hang; its other requests still go through.
    const lastRenewal = Math.max(...proxyA.forwarded.filter((f) => LEASE_PATH.test(f.path) && f.method === 'PUT').map((f) => f.sentAt));
    proxyA.stall(LEASE_PATH);
    const stalledAt = Date.now();
    const exitA = await Promise.race([a.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000))]);
    await waitFor('fence-b leads', async () => (await holder()) === 'fence-b', 30_000);
    await waitFor('fence-b writes', async () => proxyB.writes().length >= 3, 30_000);
    changing = false;
    await changes;

    const aWrites = proxyA.writes();
    const bWrites = proxyB.writes();
    const aLastEnd = Math.max(...aWrites.map((w) => w.doneAt ?? w.sentAt));
    const aLastSent = Math.max(...aWrites.map((w) => w.sentAt));
    const bFirst = Math.min(...bWrites.map((w) => w.sentAt));
    console.log(
      `stalled leader: last renewal sent +0 ms, stall +${stalledAt - lastRenewal} ms, last write sent +${aLastSent - lastRenewal} ms, ` +
        `ended +${aLastEnd - lastRenewal} ms; new leader's first write +${bFirst - lastRenewal} ms; writes ${aWrites.length} then ${bWrites.length}`,
    );
    // It kept writing after the stall (the fence, not the stall, stopped it)...
    expect(aLastSent).toBeGreaterThan(stalledAt);
    // ...and stopped within its renew deadline (6 s), before the lease (8 s) could expire.
    expect(aLastSent - lastRenewal).toBeLessThanOrEqual(6_000);
    expect(aLastEnd - lastRenewal).toBeLessThan(8_000);
    // No overlap: every write of the old leader ended before the new one's first.
    expect(aLastEnd).toBeLessThan(bFirst);
    // A lost lease ends the process with 1.
    expect(exitA?.code).toBe(1);
    expect(a.logLines().map((l) => l.msg)).toEqual(expect.arrayContaining(['lost the lease; writes are fenced off']));
    await b.stop();
  });

  it('when every request of the leader hangs, it attempts no write after its term, and exits 1', async () => {
    const ns = 'blackhole';
    await createNamespace(cp, ns);
    const proxyC = await startStallingProxy(cp.kubeConfig, dir, 'proxy-c');
    const proxyD = await startStallingProxy(cp.kubeConfig, dir, 'proxy-d');
    proxies.push(proxyC, proxyD);
    const c = await startOperator({ kubeconfigPath: proxyC.kubeconfigPath, dir, name: 'fence-c' });
    running.push(c);
    await waitFor('fence-c leads and is ready', async () => (await holder()) === 'fence-c' && (await c.get('/readyz')).status === 200, 90_000);
    const d = await startOperator({ kubeconfigPath: proxyD.kubeconfigPath, dir, name: 'fence-d' });
    running.push(d);
    let changing = true;
    let n = 0;
    const changes = (async () => {
      while (changing) {
        await cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: svYaml('holed', { frontend: { replicas: 1 + (n++ % 2) } }) });
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    await waitFor('fence-c writes', async () => proxyC.writes().length >= 5, 30_000);

    const lastRenewal = Math.max(...proxyC.forwarded.filter((f) => LEASE_PATH.test(f.path) && f.method === 'PUT').map((f) => f.sentAt));
    // Everything new hangs; the watches already open keep delivering events.
    proxyC.stall(/./);
    const stalledAt = Date.now();
    const exitC = await Promise.race([c.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000))]);
    await waitFor('fence-d leads', async () => (await holder()) === 'fence-d', 30_000);
    await waitFor('fence-d writes', async () => proxyD.writes().length >= 3, 30_000);
    changing = false;
    await changes;

    const attempts = proxyC.arrived.filter((r) => r.method !== 'GET' && !LEASE_PATH.test(r.path));
    const lastAttempt = Math.max(...attempts.map((r) => r.at));
    const dFirst = Math.min(...proxyD.writes().map((w) => w.sentAt));
    console.log(
      `black-holed leader: stall +${stalledAt - lastRenewal} ms, last write attempt +${lastAttempt - lastRenewal} ms, ` +
        `exit ${exitC?.code}; new leader's first write +${dFirst - lastRenewal} ms`,
    );
    // No write left the process after its term (renew deadline 6 s after the last renewal).
    expect(lastAttempt - lastRenewal).toBeLessThanOrEqual(6_000);
    expect(lastAttempt).toBeLessThan(dFirst);
    expect(exitC?.code).toBe(1);
    await d.stop();
  });
});
