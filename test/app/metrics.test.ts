// What a scraper reads from each process, against the real ones: the
// backend's and the frontend's own /metrics on a port apart from the users'
// (METRICS_PORT), and the exporters of the exporters image (built from
// their Go modules) with the very arguments the chart gives them, in front
// of a real nginx (stub_status on 127.0.0.1) and a real Redis with its
// password. PostgreSQL's exporter needs the pod's trusted socket; the kind
// tests run it.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFrontend } from '../../app/frontend/server.ts';
import { freePort, spawnServer, stopPid, waitReady, type SpawnedServer } from '../../app/local/process.ts';
import { startNginx, type NginxServer } from '../../app/local/nginx.ts';
import { startRedis, type RedisServer } from '../../app/local/redis.ts';
import { startMetricsServer } from '../../app/backend/metrics-server.ts';
import { MONITOR_ROLE } from '../../app/backend/migrations.ts';
import { METRICS, PORTS } from '../../charts/rules.ts';
import { fileStack, get, metric, vote } from './backend-fixture.ts';
import { podOf, render, type K8s } from '../charts/helpers.ts';
import { REPO } from '../fixtures/docker-engine.ts';

const run = promisify(execFile);
const binary = async (name: string): Promise<string> => (await run(join(REPO, 'scripts/controlplane-build.sh'), ['--path', name])).stdout.trim();
const text = async (url: string): Promise<{ status: number; body: string }> => {
  const r = await fetch(url);
  return { status: r.status, body: await r.text() };
};

describe('the backend, with METRICS_PORT', async () => {
  const metricsPort = await freePort();
  const stack = fileStack('backend-metrics', { METRICS_PORT: String(metricsPort) });

  it('serves /metrics on its own port, and nothing else there', async () => {
    await vote(stack.backend.url, 'green');
    const m = await text(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(m.status).toBe(200);
    expect(metric(m.body, 'securevote_votes_acknowledged_total', 'option="green"')).toBeGreaterThanOrEqual(1);
    expect(m.body).toMatch(/securevote_dependency_up\{dependency="database"\} 1/);
    expect(m.body).toMatch(/securevote_db_pool_connections\{state="total"\} [1-9]/);
    expect(m.body).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/api\/vote",status="201"\} [1-9]/);
    const other = await text(`http://127.0.0.1:${metricsPort}/api/options`);
    expect(other.status).toBe(404);
    expect(JSON.parse(other.body)).toEqual({ error: 'not found' });
  });

  it('counts a refusal on a series that was there at 0 before it (rate() needs a sample before the first)', async () => {
    const before = await text(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(before.body).toMatch(/^securevote_votes_rejected_total\{reason="unknown_option"\} 0$/m);
    expect((await vote(stack.backend.url, 'no-such-option')).status).toBe(422);
    const after = await text(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metric(after.body, 'securevote_votes_rejected_total', 'reason="unknown_option"')).toBe(1);
  });

  it(`ensures the ${MONITOR_ROLE} role: it may read statistics, never a vote`, async () => {
    const db = await stack.db();
    const role = await db.query<{ member: boolean; login: boolean }>(
      `SELECT pg_has_role($1, 'pg_monitor', 'member') AS member, rolcanlogin AS login FROM pg_roles WHERE rolname = $1`, [MONITOR_ROLE]);
    expect(role.rows).toEqual([{ member: true, login: true }]);
    expect((await db.query(`SELECT has_table_privilege($1, 'votes', 'SELECT') AS can`, [MONITOR_ROLE])).rows).toEqual([{ can: false }]);
  });
});

describe('the frontend', () => {
  it('counts requests by route and status, an unknown path as unmatched, on its metrics port', async () => {
    const { server, registry, drain } = createFrontend({ logLevel: 'silent' });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    const mport = await freePort();
    const ms = await startMetricsServer(registry, mport, '127.0.0.1', { info: () => {}, error: () => {} });
    try {
      await (await fetch(`http://127.0.0.1:${port}/`)).text();
      await (await fetch(`http://127.0.0.1:${port}/no/such/page`)).text();
      const m = (await text(`http://127.0.0.1:${mport}/metrics`)).body;
      expect(m).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/",status="200"\} 1/);
      expect(m).toMatch(/http_request_duration_seconds_count\{method="GET",route="unmatched",status="404"\} 1/);
    } finally {
      ms.close();
      await drain();
    }
  });
});

/** The chart's exporter container for a component, its arguments pointed at this machine's ports. */
function exporterCommand(c: 'cache' | 'proxy', listen: number, target: number): { cmd: string; args: string[]; env: K8s[] } {
  const k = (podOf(render({ monitoring: { enabled: true } }), c).spec['containers'] as K8s[])[1]!;
  const local = String(c === 'cache' ? PORTS.cache : METRICS.stubStatusPort);
  const args = (k['args'] as string[]).map((a) => a.replace(`:${METRICS.ports[c]}`, `127.0.0.1:${listen}`).replace(`127.0.0.1:${local}`, `127.0.0.1:${target}`));
  return { cmd: (k['command'] as string[])[0]!, args, env: (k['env'] ?? []) as K8s[] };
}

describe('the exporters image\'s exporters, as the chart runs them', () => {
  let dir: string;
  let nginx: NginxServer | undefined;
  let redis: RedisServer | undefined;
  const exporters: SpawnedServer[] = [];
  let status = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'securevote-exporters-'));
    status = await freePort();
    [nginx, redis] = await Promise.all([
      startNginx({ dir: join(dir, 'nginx'), frontend: { host: '127.0.0.1', port: 9 }, backend: { host: '127.0.0.1', port: 9 }, stubStatusPort: status }),
      startRedis({ dir: join(dir, 'redis') }),
    ]);
  });
  afterAll(async () => {
    for (const e of exporters) await stopPid(e.pid, { signal: 'SIGTERM', timeoutMs: 5_000 }).catch(() => {});
    await Promise.allSettled([nginx?.stop(), redis?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(c: 'cache' | 'proxy', target: number, env: Record<string, string>): Promise<string> {
    const listen = await freePort();
    const { cmd, args } = exporterCommand(c, listen, target);
    const bin = await binary(cmd);
    expect(existsSync(bin), `${bin}: scripts/docker-images.sh exporters builds it`).toBe(true);
    const logFile = join(dir, `${cmd}.log`);
    const srv = spawnServer({ cmd: [bin, ...args], logFile, cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
    exporters.push(srv);
    const url = `http://127.0.0.1:${listen}/metrics`;
    await waitReady(srv, cmd, logFile, async () => (await text(url).catch(() => undefined))?.status === 200, 20_000);
    return (await text(url)).body;
  }

  it("nginx-prometheus-exporter reads nginx's stub_status on 127.0.0.1", async () => {
    await (await fetch(`${nginx!.url}/nginx-health`)).text();
    const m = await start('proxy', status, {});
    expect(m).toMatch(/^nginx_up 1$/m);
    expect(m).toMatch(/^nginx_connections_accepted [1-9]/m);
  });

  it('redis_exporter logs in with the password from its environment (the chart gives it from the Secret)', async () => {
    const { env } = exporterCommand('cache', 0, 0);
    expect(env.map((e) => e['name'])).toEqual(['REDIS_PASSWORD']);
    const m = await start('cache', redis!.port, { REDIS_PASSWORD: redis!.password });
    expect(m).toMatch(/^redis_up 1$/m);
    expect(m).not.toContain(redis!.password);
  });
});
