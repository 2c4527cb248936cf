// The kind node under a real kubelet (scripts/kind-cluster.sh: the node image
// built here by scripts/kind-image.sh when none other can be had): the
// kubelet runs with the seed's log rotation (charts/kind.ts) and, on a cgroup
// v1 host, failCgroupV1: false; a container over its memory limit is
// OOM-killed and restarted by the kubelet; a container's log is rotated on the
// node and never kept in more than the seed's number of files. Skips with one
// line, as the other kind tests, where kind, kubectl or a node image is missing.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kindClusterYaml } from '../../charts/kind.ts';
import { LOG_ROTATION } from '../../charts/rules.ts';
import { kindReadiness, kubernetesVersion, removeLeftoverClusters } from '../fixtures/containers-kind.ts';
import { REPO } from '../fixtures/docker-engine.ts';

const run = promisify(execFile);

const { pre, engine } = await kindReadiness();

// A pod image every node built here holds (our base with a shell).
const SHELL_IMAGE = `docker.io/securevote/kind-cni:${kubernetesVersion()}`;
const MiB = 1024 * 1024;

interface PodStatus {
  status: { containerStatuses?: { restartCount: number; lastState: { terminated?: { reason: string } } }[] };
  metadata: { uid: string };
}

if (!pre.ok) {
  const line = `kind node tests skipped: ${pre.reason}; to run them: ${pre.command}`;
  console.warn(line);
  describe('the kind node', () => {
    it.skip(line, () => {});
    afterAll(async () => { await engine?.release(); });
  });
} else {
  const ready = pre;
  // sv-test-<pid>: the fixture removes clusters of dead test processes by this name.
  const name = `sv-test-${process.pid}-node`;
  const node = `${name}-control-plane`;
  const dir = mkdtempSync(join(tmpdir(), 'securevote-kind-node-'));
  const kubeconfig = join(dir, 'kubeconfig');
  let created = false;
  const kubectl = async (args: string[], input?: string): Promise<string> => {
    const p = run(ready.kubectl, ['--kubeconfig', kubeconfig, ...args], { timeout: 120_000, maxBuffer: 16 * MiB });
    if (input !== undefined) p.child.stdin?.end(input);
    return (await p).stdout.trim();
  };
  const onNode = async (script: string): Promise<string> => (await run('docker', ['exec', node, 'sh', '-c', script], { timeout: 60_000 })).stdout.trim();
  const pod = (podName: string, memoryLimit: string, script: string): string => JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: podName, namespace: 'default' },
    spec: {
      restartPolicy: 'Always', terminationGracePeriodSeconds: 1,
      containers: [{
        name: 'main', image: SHELL_IMAGE, imagePullPolicy: 'Never', command: ['bash', '-c', script],
        resources: { requests: { cpu: '0', memory: memoryLimit }, limits: { memory: memoryLimit } },
      }],
    },
  });
  async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
    const end = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < end) {
      try {
        const v = await probe();
        if (v !== undefined) return v;
      } catch (e) { last = e; }
      await new Promise((r) => setTimeout(r, 2_000));
    }
    throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (${String(last)})` : ''}`);
  }

  describe('the kind node, under a real kubelet', () => {
    beforeAll(async () => {
      await removeLeftoverClusters(ready.kind);
      writeFileSync(join(dir, 'cluster.yaml'), kindClusterYaml(name));
      created = true;
      await run(join(REPO, 'scripts/kind-cluster.sh'), ['up', name], {
        env: { ...process.env, KIND: ready.kind, KIND_NODE_IMAGE: ready.nodeImage, KIND_CONFIG: join(dir, 'cluster.yaml'), KUBECONFIG: kubeconfig },
        timeout: 420_000,
      });
    }, 480_000);
    afterAll(async () => {
      if (created) await run(ready.kind, ['delete', 'cluster', '--name', name], { timeout: 180_000 }).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      await engine?.release();
    }, 240_000);

    it('runs the kubelet with the seed\'s log rotation (and failCgroupV1: false on cgroup v1)', async () => {
      const config = parse(await onNode('cat /var/lib/kubelet/config.yaml')) as Record<string, unknown>;
      expect(config.containerLogMaxSize).toBe(LOG_ROTATION.containerLogMaxSize);
      expect(config.containerLogMaxFiles).toBe(LOG_ROTATION.containerLogMaxFiles);
      if (!existsSync('/sys/fs/cgroup/cgroup.controllers')) expect(config.failCgroupV1).toBe(false);
      expect(await kubectl(['get', 'node', node, '-o', 'jsonpath={.status.nodeInfo.kubeletVersion}'])).toBe(kubernetesVersion());
    });

    it('OOM-kills a container over its memory limit and the kubelet restarts it', async () => {
      // bash holds a 64 MiB string: twice the 32 MiB limit.
      await kubectl(['apply', '-f', '-'], pod('oom', '32Mi', 'x=$(head -c 67108864 /dev/zero | tr "\\0" a); sleep 3600'));
      const status = await until('an OOMKilled restart', 120_000, async () => {
        const s = JSON.parse(await kubectl(['get', 'pod', 'oom', '-o', 'json'])) as PodStatus;
        const c = s.status.containerStatuses?.[0];
        return c !== undefined && c.restartCount >= 1 && c.lastState.terminated?.reason === 'OOMKilled' ? c : undefined;
      });
      expect(status.lastState.terminated?.reason).toBe('OOMKilled');
      await kubectl(['delete', 'pod', 'oom', '--wait=false']);
    }, 150_000);

    it('rotates a container\'s log on the node and keeps at most the seed\'s number of files', async () => {
      // 40 MiB at about 2 MiB/s: four times the size limit, slow enough for
      // the kubelet's checks (every 10 s) to rotate as it goes.
      const total = 40;
      await kubectl(['apply', '-f', '-'], pod('chatty', '64Mi',
        `for i in $(seq 1 ${total * 2}); do head -c ${MiB / 2} /dev/zero | tr "\\0" x | fold -w 1023; sleep 0.25; done; echo done; sleep 3600`));
      const uid = await until('the pod running', 60_000, async () => {
        const s = JSON.parse(await kubectl(['get', 'pod', 'chatty', '-o', 'json'])) as PodStatus;
        return s.status.containerStatuses?.[0] !== undefined ? s.metadata.uid : undefined;
      });
      const logDir = `/var/log/pods/default_chatty_${uid}/main`;
      // The writer is done once "done" is logged; then one more rotation check.
      await until('the writer to finish', 120_000, async () => ((await onNode(`tail -c 100 ${logDir}/0.log`)).includes('done') ? true : undefined));
      await new Promise((r) => setTimeout(r, 12_000));
      const files = (await onNode(`ls -1 ${logDir}`)).split('\n').filter(Boolean);
      const sizes = (await onNode(`du -b ${logDir}/* | awk '{ s += $1 } END { print s }'`));
      expect(files.length, files.join(' ')).toBeGreaterThan(1); // rotated
      expect(files.length, files.join(' ')).toBeLessThanOrEqual(LOG_ROTATION.containerLogMaxFiles);
      expect(Number(sizes)).toBeLessThan(total * MiB); // older files dropped or compressed
      await kubectl(['delete', 'pod', 'chatty', '--wait=false']);
    }, 240_000);
  });
}
