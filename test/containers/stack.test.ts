// The five services as real containers on a real Docker engine, under the
// seed's rules (charts/rules.ts): start order, limits, health checks, restart
// policies, log rotation; then the seed's load and kill tests through the
// proxy, a CPU burner and a memory hog. One stack for the whole file (its
// start follows the seed's health-check intervals: about 100 s).
// Skips, with the reason, where no Docker engine can be started.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COMPONENTS, HEALTH_CHECKS, LOG_ROTATION, RESOURCES, RUN_AS, SEED_RESTART, START_ORDER, type Component,
} from '../../charts/rules.ts';
import { IMAGE_TABLE } from '../../charts/images.ts';
import { mebibytes, quantityValue } from '../../charts/quantity.ts';
import {
  IMAGES, IMAGE_NAMES, LOG_CONFIG, ServiceContainer, healthArgv, inspectContainer, restartPolicy, startStack,
  type Stack,
} from '../fixtures/containers.ts';
import { docker, ensureDockerEngine, ensureImages, type DockerEngine } from '../fixtures/docker-engine.ts';
import { runKill } from '../load/kill.ts';
import { runLoad, type Ack } from '../load/load.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const engineResult = await ensureDockerEngine();

/** Container's cgroup v1 file, from its PID 1's /proc/<pid>/cgroup on this host. */
function cgroupFile(pid: number, controller: string, file: string): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  for (const line of lines) {
    const [, ctrls, path] = line.split(':');
    if (ctrls?.split(',').includes(controller)) {
      const mount = readdirSync('/sys/fs/cgroup').find((d) => d.split(',').includes(controller));
      return `/sys/fs/cgroup/${mount ?? controller}${path}/${file}`;
    }
  }
  throw new Error(`no ${controller} cgroup (v1) for pid ${pid}: this test reads cgroup v1 (cpuacct.usage)`);
}

/** SIGKILL to a container's PID 1 from the host's pid namespace (where init is killable). */
async function killFromHost(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    // Not root (a docker-group user): a helper container in the host's pid namespace does it.
    await docker(['run', '--rm', '--pid', 'host', '--user', '0', `securevote/base:bookworm`, 'kill', '-9', String(pid)]);
  }
  // Returns once the process is gone, so the kill tool's recovery clock starts
  // with the outage, not a few ms before it.
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  for (let i = 0; i < 100 && alive(); i++) await sleep(50);
}

/** Names and sizes of files in a host directory; through a helper container where it isn't readable (non-root). */
async function listHostDir(dir: string): Promise<{ name: string; size: number }[]> {
  try {
    return readdirSync(dir).map((name) => ({ name, size: statSync(`${dir}/${name}`).size }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES') throw err;
    const out = await docker(['run', '--rm', '-v', `${dir}:/d:ro`, 'securevote/base:bookworm', 'sh', '-c', 'cd /d && stat -c "%n %s" *']);
    return out.split('\n').filter(Boolean).map((l) => {
      const [name = '', size = '0'] = l.split(' ');
      return { name, size: Number(size) };
    });
  }
}

function missingVotes(acks: readonly Ack[], record: Map<string, string>): { missing: string[]; wrongOption: string[] } {
  const missing: string[] = [];
  const wrongOption: string[] = [];
  for (const a of acks) {
    const got = record.get(a.voterId);
    if (got === undefined) missing.push(a.voterId);
    else if (got !== a.optionId) wrongOption.push(a.voterId);
  }
  return { missing, wrongOption };
}

if (!engineResult.ok) {
  describe('containers', () => {
    it.skip(`skipped: ${engineResult.reason}`, () => {});
  });
} else {
  const engine: DockerEngine = engineResult.engine;
  let stack: Stack | undefined;
  const live = (): Stack => {
    if (stack === undefined) throw new Error('the stack did not start');
    return stack;
  };

  describe('the five services as containers, under the seed\'s rules', () => {
    beforeAll(async () => {
      for (const n of IMAGE_NAMES) await ensureImages([n], IMAGE_TABLE.images[n].tag);
      stack = await startStack();
    }, 1_500_000);

    afterAll(async () => {
      await stack?.stop();
      await engine.release();
    }, 120_000);

    it('starts each service only once its dependencies are healthy, per Docker\'s own health log', async () => {
      const s = live();
      for (const service of COMPONENTS) {
        const info = await s.inspect(service);
        expect(info.State.Health?.Status, service).toBe('healthy');
        // Docker's own times: the dependency's first passing check ended
        // before this container's process started.
        const startedAt = Date.parse(s.started[service].dockerStartedAt);
        expect(startedAt, service).toBeGreaterThan(0);
        for (const dep of START_ORDER[service]) {
          const depHealthyAt = Date.parse(s.started[dep].dockerFirstHealthyAt);
          expect(depHealthyAt, `${dep}'s first passing check`).toBeGreaterThan(0);
          expect(depHealthyAt, `${dep} healthy before ${service} started`).toBeLessThanOrEqual(startedAt);
          expect(s.started[dep].healthyAt).toBeLessThanOrEqual(s.started[service].depsHealthyAt);
        }
      }
    });

    it('runs every service with the seed\'s limits, restart policy, health check, log options, read-only and non-root', async () => {
      const s = live();
      for (const service of COMPONENTS) {
        const info = await s.inspect(service);
        const r = RESOURCES[service];
        expect(info.HostConfig.Memory, service).toBe(quantityValue(r.limits.memory));
        expect(info.HostConfig.NanoCpus, service).toBe(Math.round(quantityValue(r.limits.cpu) * 1e9));
        expect(info.HostConfig.RestartPolicy, service).toMatchObject(restartPolicy(SEED_RESTART[service]));
        expect(info.HostConfig.LogConfig, service).toEqual(LOG_CONFIG);
        expect(info.HostConfig.ReadonlyRootfs, service).toBe(true);
        expect(info.Config.Labels, service).toMatchObject({ service, env: 'production' });
        expect(info.Config.User, service).toBe(`${RUN_AS[service]}:${RUN_AS[service]}`);
        // The image's HEALTHCHECK carries the seed's numbers (ns in Docker).
        const h = HEALTH_CHECKS[service];
        expect(info.Config.Healthcheck, service).toMatchObject({
          Interval: h.intervalSeconds * 1e9, Timeout: h.timeoutSeconds * 1e9, Retries: h.retries, StartPeriod: h.startPeriodSeconds * 1e9,
        });
        // On the stack's private network only (not Docker's default bridge), under its name.
        expect(Object.keys(info.NetworkSettings.Networks), service).toEqual([s.network.getName()]);
        expect(info.NetworkSettings.Networks[s.network.getName()]?.Aliases, service).toContain(service);
        // Only the proxy is published, and only on 127.0.0.1.
        const bindings = Object.values(info.HostConfig.PortBindings ?? {}).flatMap((b) => b ?? []);
        if (service === 'proxy') expect(bindings.map((b) => b.HostIp)).toEqual(['127.0.0.1']);
        else expect(bindings, service).toEqual([]);
      }
      // No secret value in any container's environment or command line.
      const secrets = readdirSync(s.secretsDir).map((f) => readFileSync(`${s.secretsDir}/${f}`, 'utf8'));
      for (const service of COMPONENTS) {
        const raw = await docker(['inspect', s.containers[service].getId()]);
        for (const secret of secrets) expect(raw.includes(secret), `${service} inspect shows a secret`).toBe(false);
        const { output } = await s.exec(service, ['cat', '/proc/1/cmdline']);
        for (const secret of secrets) expect(output.includes(secret), `${service} command line shows a secret`).toBe(false);
      }
    });

    it('answers through the proxy: the page, the API, /health with both checks ok', async () => {
      const s = live();
      const page = await fetch(`${s.url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
      const health = await fetch(`${s.url}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'healthy', checks: { database: 'ok', cache: 'ok' } });
      const options = await fetch(`${s.url}/api/options`);
      expect(options.status).toBe(200);
    });

    for (const [votes, parallel] of [[100, 10], [200, 20], [300, 30]] as const) {
      it(`takes the seed's load ${votes}/${parallel} through the proxy with zero failures, every vote recorded`, async () => {
        const s = live();
        const backend = await s.inspect('backend');
        const usageFile = cgroupFile(backend.State.Pid, 'cpuacct', 'cpuacct.usage');
        const u0 = Number(readFileSync(usageFile, 'utf8'));
        const result = await runLoad({ url: s.url, votes, parallel, progress: false });
        const u1 = Number(readFileSync(usageFile, 'utf8'));
        const cpus = (u1 - u0) / 1e9 / (result.durationMs / 1000);
        console.log(`load ${votes}/${parallel}: ${result.votesPerSecond} votes/s, p95 ${result.latency.p95} ms, backend CPU ${cpus.toFixed(2)} of ${quantityValue(RESOURCES.backend.limits.cpu)}`);
        expect(result.failures).toEqual({});
        expect(result.succeeded).toBe(votes);
        expect(missingVotes(result.acknowledged, await s.votes())).toEqual({ missing: [], wrongOption: [] });
      }, 180_000);
    }

    for (const service of COMPONENTS) {
      it(`${service}: SIGKILLed under load, restarted by its policy, healthy again within 30 s, no acknowledged vote lost`, async () => {
        const s = live();
        const before = await s.inspect(service);
        const healthTest = before.Config.Healthcheck?.Test;
        if (healthTest === undefined) throw new Error(`${service} has no health check`);
        let killedAt = 0;
        const result = await runKill({
          // The seed's 30 in parallel, enough votes that the kill lands mid-load.
          url: s.url, votes: 2_000, parallel: 30, progress: false, killAfterMs: 1_000, recoveryTimeoutMs: 60_000,
          maxDurationMs: 120_000,
          // A crash, not `docker kill` (which Docker counts as a manual stop
          // and never restarts): SIGKILL to the container's PID 1 from the host.
          kill: async () => {
            killedAt = Date.now();
            await killFromHost(before.State.Pid);
          },
          checkVotes: async (acks) => missingVotes(acks, await s.votes()),
        });
        // Back: a new process, started by Docker's restart policy, and the
        // image's own health check passing (run here, not at Docker's next interval).
        let healthyAfterMs: number | null = null;
        let after = before;
        while (Date.now() - killedAt < 60_000) {
          after = await s.inspect(service);
          if (after.State.Running && after.State.Pid !== before.State.Pid) {
            const { exitCode } = await s.exec(service, healthArgv(healthTest));
            if (exitCode === 0) {
              healthyAfterMs = Date.now() - killedAt;
              break;
            }
          }
          await sleep(250);
        }
        console.log(`kill ${service}: restarts ${before.RestartCount} → ${after.RestartCount}, healthy after ${healthyAfterMs} ms, ` +
          `/health 200 after ${result.recoveryMs} ms, killed at ${result.killAtMs} of ${Math.round(result.load.durationMs)} ms, ${result.load.succeeded}/${result.load.attempted} acknowledged, failures ${JSON.stringify(result.load.failures)}`);
        expect(result.killAtMs, 'the kill landed while the load ran').toBeLessThan(result.load.durationMs);
        expect(after.RestartCount).toBe(before.RestartCount + 1);
        expect(healthyAfterMs).not.toBeNull();
        expect(healthyAfterMs ?? Infinity).toBeLessThan(30_000);
        expect(result.recoveryMs ?? Infinity).toBeLessThan(30_000);
        expect(result.load.succeeded).toBeGreaterThan(0);
        expect(result.check).toEqual({ missing: [], wrongOption: [] });
      }, 240_000);
    }

    it('keeps a CPU burner inside the backend under its CPU limit (cgroup cpuacct.usage)', async () => {
      const s = live();
      const info = await s.inspect('backend');
      const limit = quantityValue(RESOURCES.backend.limits.cpu);
      const quota = Number(readFileSync(cgroupFile(info.State.Pid, 'cpu', 'cpu.cfs_quota_us'), 'utf8'));
      const period = Number(readFileSync(cgroupFile(info.State.Pid, 'cpu', 'cpu.cfs_period_us'), 'utf8'));
      expect(quota / period).toBeCloseTo(limit, 5);
      const usageFile = cgroupFile(info.State.Pid, 'cpuacct', 'cpuacct.usage');
      const statFile = cgroupFile(info.State.Pid, 'cpu', 'cpu.stat');
      const throttled = (): number => Number(/nr_throttled (\d+)/.exec(readFileSync(statFile, 'utf8'))?.[1] ?? 0);
      // Three busy threads for 8 s: more than the limit allows (and than this
      // 2-core host can give, so the limit, not the host, is what binds when idle).
      const burner = "const {Worker}=require('node:worker_threads');const end=Date.now()+8000;" +
        "for(let i=0;i<3;i++)new Worker('const e='+end+';while(Date.now()<e){}',{eval:true});";
      const u0 = Number(readFileSync(usageFile, 'utf8'));
      const th0 = throttled();
      const t0 = process.hrtime.bigint();
      const r = await s.exec('backend', ['node', '-e', burner]);
      const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
      const used = (Number(readFileSync(usageFile, 'utf8')) - u0) / 1e9;
      const th = throttled() - th0;
      console.log(`cpu burner: ${used.toFixed(2)} CPU-s in ${wallS.toFixed(2)} s = ${(used / wallS).toFixed(2)} CPUs (limit ${limit}), throttled ${th} periods`);
      expect(r.exitCode).toBe(0);
      // 2% over for the accounting granularity (one CFS period at each end).
      expect(used / wallS).toBeLessThanOrEqual(limit * 1.02);
      // The burner did run (how much depends on the shared host's other load).
      expect(used).toBeGreaterThan(0.1);
    }, 60_000);

    it('OOM-kills a memory hog at the backend\'s memory limit, and restarts it (on-failure:5)', async () => {
      const s = live();
      const limit = quantityValue(RESOURCES.backend.limits.memory);
      // The backend's image, limits and restart policy, with a hog as PID 1:
      // Buffers (off the V8 heap) filled until the kernel kills it.
      const hog = await new ServiceContainer(IMAGES.backend)
        .withName(`securevote-${s.runId}-hog`)
        .withLabels({ 'securevote.test.owner': String(process.pid), 'securevote.test.run': s.runId })
        .withCommand(['node', '-e', 'const a=[];for(;;){a.push(Buffer.alloc(16<<20,1));}'])
        .withoutHealthCheck()
        .withHostConfig({
          Memory: limit, MemorySwap: limit, NanoCpus: 1e9, ReadonlyRootfs: true,
          RestartPolicy: restartPolicy(SEED_RESTART.backend), LogConfig: LOG_CONFIG,
        })
        .start();
      try {
        const since = Math.floor(Date.now() / 1000) - 1;
        let info = await inspectContainer(hog.getId());
        const t0 = Date.now();
        while (info.RestartCount < 1 && Date.now() - t0 < 60_000) {
          await sleep(200);
          info = await inspectContainer(hog.getId());
        }
        const events = await docker(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1),
          '--filter', `container=${hog.getId()}`, '--format', '{{.Action}}']);
        const actions = events.split('\n');
        console.log(`memory hog: restarts ${info.RestartCount}, events ${actions.join(',')}`);
        expect(info.RestartCount).toBeGreaterThanOrEqual(1);
        expect(actions).toContain('oom');
        expect(actions.filter((a) => a === 'die').length).toBeGreaterThanOrEqual(1);
        expect(info.HostConfig.Memory).toBe(limit);
      } finally {
        await hog.stop({ remove: true, removeVolumes: true, timeout: 0 });
      }
    }, 120_000);

    it('rotates the proxy\'s json-file log at 10 MiB × 3 under a flood of requests', async () => {
      const s = live();
      const info = await s.inspect('proxy');
      const dir = dirname(info.LogPath);
      const maxFiles = LOG_ROTATION.containerLogMaxFiles;
      const maxBytes = mebibytes(LOG_ROTATION.containerLogMaxSize) * 2 ** 20;
      // Each request logs its ~7 KB URI: 6,000 of them write about 45 MB.
      const filler = 'x'.repeat(7000);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < 6000) {
          next++;
          const res = await fetch(`${s.url}/flood?${filler}`);
          await res.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: 20 }, () => worker()));
      await sleep(1_000);
      const files = (await listHostDir(dir)).filter((f) => f.name.startsWith(`${info.Id}-json.log`));
      console.log(`proxy log files: ${files.map((f) => `${f.name.slice(64)} ${(f.size / 2 ** 20).toFixed(1)} MiB`).join(', ')}`);
      expect(files.length).toBeLessThanOrEqual(maxFiles);
      // Rotation did happen (45 MB can't fit one file), and no file outgrew its size.
      expect(files.length).toBeGreaterThanOrEqual(2);
      for (const f of files) expect(f.size).toBeLessThanOrEqual(maxBytes + 64 * 1024);
    }, 180_000);
  });

}
