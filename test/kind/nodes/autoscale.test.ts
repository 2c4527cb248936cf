// The backend autoscaled on CPU: a HorizontalPodAutoscaler fed by the
// cluster's metrics-server (built here, in the node image). The seed's load
// (30 voters, bounded in time) takes it from its minimum up a step within
// 2 minutes; then a light load (2 voters, a pause after each vote) runs
// while it comes back to its minimum, the removed pod drained as in a
// rollout. No failed vote on the way up or down; every acknowledged vote is
// stored once.
import { afterAll, expect, it } from 'vitest';
import { checkStoredOk, describeScenario, figures, patchSpec, podsOf, underLoad, waitReady, type Stack } from '../scenarios/stack.ts';

const AUTOSCALING = { minReplicas: 1, maxReplicas: 2, targetCPUUtilizationPercentage: 100, scaleDownStabilizationSeconds: 15 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Hpa { status?: { currentReplicas?: number; desiredReplicas?: number; currentMetrics?: Array<{ resource?: { current?: { averageUtilization?: number } } }> } }

async function hpa(s: Stack): Promise<Hpa | undefined> {
  const out = await s.kubectl(['-n', s.namespace, 'get', 'hpa', 'securevote-backend', '-o', 'json', '--ignore-not-found']);
  return out ? (JSON.parse(out) as Hpa) : undefined;
}

/** Waits until the backend has `n` ready pods and no others; returns ms waited and the utilization last seen. */
async function backendsReady(s: Stack, n: number, timeoutMs: number): Promise<{ ms: number; utilization: number | undefined }> {
  const start = Date.now();
  let seen: Hpa | undefined;
  for (;;) {
    seen = await hpa(s);
    const pods = await podsOf(s, 'backend');
    if (pods.length === n && pods.every((p) => p.ready)) {
      return { ms: Date.now() - start, utilization: seen?.status?.currentMetrics?.[0]?.resource?.current?.averageUtilization };
    }
    if (Date.now() - start > timeoutMs) throw new Error(`the backend did not reach ${n} ready pods within ${timeoutMs} ms: ${pods.length} pods, autoscaler ${JSON.stringify(seen?.status)}`);
    await sleep(2_000);
  }
}

describeScenario('autoscaling the backend under load', (stack) => {
  afterAll(async () => {
    const s = stack();
    await patchSpec(s, { backend: { autoscaling: null } });
    await waitReady(s);
  }, 300_000);

  it('scales up a step within 2 minutes of the seed\'s load and back to its minimum after it, with no failed vote', async () => {
    const s = stack();
    await waitReady(s);
    const up = await underLoad(s, async () => {
      await patchSpec(s, { backend: { autoscaling: AUTOSCALING } });
      return backendsReady(s, AUTOSCALING.maxReplicas, 120_000);
    });
    console.log(`${figures('seed load, autoscaled up', up.load)}; ${AUTOSCALING.maxReplicas} backends ready after ${up.value.ms} ms at ${up.value.utilization}% of the CPU request`);
    // Light enough that two backends' average stays well under half the
    // target (what 2 → 1 needs): with 4 voters and a 200 ms pause the
    // autoscaler last read 48%, and coming down took 62 s in one run and
    // 128 s in another; with this load, 43 s.
    const down = await underLoad(s, () => backendsReady(s, AUTOSCALING.minReplicas, 300_000), { parallel: 2, pauseMs: 500 });
    console.log(`${figures('light load, autoscaled down', down.load)}; back to ${AUTOSCALING.minReplicas} after ${down.value.ms} ms at ${down.value.utilization}%`);
    for (const r of [up, down]) {
      expect(r.load.failures).toEqual({});
      expect(r.stored).toEqual(checkStoredOk);
    }
    // The light load was served throughout the scale-down.
    expect(down.load.succeeded).toBeGreaterThan(0);
  }, 600_000);
});
