// The node every scenario runs on enforces the seed's limits: a container
// over its memory limit is OOM-killed and restarted by the kubelet; a
// container's log is rotated on the node (charts/kind.ts: the seed's
// rotation; test/containers/kind.test.ts reads the kubelet's config) and
// never kept in more than the seed's number of files. Its pods live in a
// namespace of their own and the stack is not touched, so no load runs here.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LOG_ROTATION } from '../../../charts/rules.ts';
import { kubernetesVersion } from '../../fixtures/containers-kind.ts';
import { describeScenario, type Stack } from './stack.ts';

// A pod image every node built here holds (our base with a shell).
const SHELL_IMAGE = `docker.io/securevote/kind-cni:${kubernetesVersion()}`;
const MiB = 1024 * 1024;
const NAMESPACE = 'node-limits';

interface PodStatus {
  status: { containerStatuses?: { restartCount: number; lastState: { terminated?: { reason: string } } }[] };
  metadata: { uid: string };
}

// On the control plane's node, where s.onNode reads the kubelet's files.
const pod = (node: string, podName: string, memoryLimit: string, script: string): string => JSON.stringify({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: podName, namespace: NAMESPACE },
  spec: {
    restartPolicy: 'Always', terminationGracePeriodSeconds: 1, nodeSelector: { 'kubernetes.io/hostname': node },
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
      last = undefined;
    } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 2_000));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (${String(last)})` : ''}`);
}

describeScenario('the node, under a real kubelet', (stack) => {
  let s: Stack;
  const kubectl = (args: string[], input?: string): Promise<string> => s.kubectl(args, input === undefined ? {} : { input });
  beforeAll(async () => {
    s = stack();
    await kubectl(['create', 'namespace', NAMESPACE]);
  });
  afterAll(async () => {
    await kubectl(['delete', 'namespace', NAMESPACE, '--wait=false']).catch(() => undefined);
  });

  it('OOM-kills a container over its memory limit and the kubelet restarts it', async () => {
    // bash holds a 64 MiB string: twice the 32 MiB limit.
    await kubectl(['apply', '-f', '-'], pod(s.controlPlane, 'oom', '32Mi', 'x=$(head -c 67108864 /dev/zero | tr "\\0" a); sleep 3600'));
    const status = await until('an OOMKilled restart', 120_000, async () => {
      const p = JSON.parse(await kubectl(['-n', NAMESPACE, 'get', 'pod', 'oom', '-o', 'json'])) as PodStatus;
      const c = p.status.containerStatuses?.[0];
      return c !== undefined && c.restartCount >= 1 && c.lastState.terminated?.reason === 'OOMKilled' ? c : undefined;
    });
    expect(status.lastState.terminated?.reason).toBe('OOMKilled');
    await kubectl(['-n', NAMESPACE, 'delete', 'pod', 'oom', '--wait=false']);
  }, 150_000);

  it('rotates a container\'s log on the node and keeps at most the seed\'s number of files', async () => {
    // 40 MiB at about 2 MiB/s: four times the size limit, slow enough for
    // the kubelet's checks (every 10 s) to rotate as it goes.
    const total = 40;
    await kubectl(['apply', '-f', '-'], pod(s.controlPlane, 'chatty', '64Mi',
      `for i in $(seq 1 ${total * 2}); do head -c ${MiB / 2} /dev/zero | tr "\\0" x | fold -w 1023; sleep 0.25; done; echo done; sleep 3600`));
    const uid = await until('the pod running', 60_000, async () => {
      const p = JSON.parse(await kubectl(['-n', NAMESPACE, 'get', 'pod', 'chatty', '-o', 'json'])) as PodStatus;
      return p.status.containerStatuses?.[0] !== undefined ? p.metadata.uid : undefined;
    });
    const logDir = `/var/log/pods/${NAMESPACE}_chatty_${uid}/main`;
    // The writer is done once "done" is logged: at the end of 0.log, or of the
    // file just rotated away from it (rotated files older than that are compressed).
    const tails = `for f in ${logDir}/*; do case "$f" in *.gz) ;; *) tail -c 100 "$f" ;; esac; done`;
    await until('the writer to finish', 240_000, async () => ((await s.onNode(tails)).includes('done') ? true : undefined));
    await new Promise((r) => setTimeout(r, 12_000)); // one more rotation check
    const files = (await s.onNode(`ls -1 ${logDir}`)).split('\n').filter(Boolean);
    const sizes = await s.onNode(`du -b ${logDir}/* | awk '{ s += $1 } END { print s }'`);
    expect(files.length, files.join(' ')).toBeGreaterThan(1); // rotated
    expect(files.length, files.join(' ')).toBeLessThanOrEqual(LOG_ROTATION.containerLogMaxFiles);
    expect(Number(sizes)).toBeLessThan(total * MiB); // older files dropped or compressed
    const restarts = JSON.parse(await kubectl(['-n', NAMESPACE, 'get', 'pod', 'chatty', '-o', 'json'])) as PodStatus;
    expect(restarts.status.containerStatuses?.[0]?.restartCount, 'the writer restarted: its log is not the one measured').toBe(0);
    await kubectl(['-n', NAMESPACE, 'delete', 'pod', 'chatty', '--wait=false']);
  }, 330_000);
});
